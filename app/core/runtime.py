"""What `create_app(settings)` builds once per app: engine, sessions, storage, signer, hasher."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from sqlalchemy import event
from sqlalchemy.engine import Engine, make_url
from sqlalchemy.orm import sessionmaker

from app.core.checkpointer import SAFETY_NET_PAGES, WalCheckpointer
from app.core.config import Settings
from app.core.db import is_sqlite_file, make_engine, make_session_factory, writing
from app.core.group_commit import GroupCommit
from app.core.metrics import Metrics
from app.core.passwords import PasswordHashing
from app.core.recycling import Recycler, for_worker
from app.core.storage import Storage, make_storage
from app.core.tokens import TokenSigner, load_or_create_private_key
from app.core.writelock import WriteLock, for_sqlite_url


@dataclass
class Runtime:
    settings: Settings
    engine: Engine
    write_engine: Engine
    session_factory: sessionmaker
    storage: Storage
    signer: TokenSigner
    passwords: PasswordHashing
    metrics: Metrics
    group_commit: GroupCommit | None = None  # SQLite: the writer that groups concurrent writes
    write_lock: WriteLock | None = None  # SQLite: taken by the service's writing transactions
    checkpointer: WalCheckpointer | None = None  # SQLite file: WAL checkpoints in the background
    import_worker: Any = None  # the package import worker of this process, once started
    recycler: Recycler | None = None  # ends this worker after many statements (`rmtc serve --workers N`)

    @classmethod
    def build(cls, settings: Settings, *, metrics: Metrics | None = None) -> Runtime:
        settings.data_dir.mkdir(parents=True, exist_ok=True)
        url = settings.resolved_database_url
        checkpointer = None
        autocheckpoint = 10_000
        if is_sqlite_file(url) and settings.sqlite_checkpoint_interval > 0:
            checkpointer = WalCheckpointer(make_url(url).database, interval=settings.sqlite_checkpoint_interval)
            autocheckpoint = SAFETY_NET_PAGES
        engine = make_engine(url, pool_size=settings.database_pool_size, echo=settings.database_echo,
                             wal_autocheckpoint=autocheckpoint)
        write_lock = for_sqlite_url(url) if settings.is_sqlite else None
        session_factory = make_session_factory(writing(engine, write_lock), settings.public_base_url)
        group_commit = None
        if settings.is_sqlite:
            writer = (make_engine(url, echo=settings.database_echo, sqlite_writer=True, wal_autocheckpoint=autocheckpoint)
                      if is_sqlite_file(url) else engine)
            if checkpointer is not None:  # a SQLite file: the writer is an engine of its own
                event.listen(engine, "commit", checkpointer.poke)
                event.listen(writer, "commit", checkpointer.poke)
            # The writer takes the lock itself (around its whole group), not at BEGIN.
            group_commit = GroupCommit(session_factory, writing(writer), read_engine=engine, lock=write_lock)
        return cls(
            settings=settings,
            engine=engine,
            write_engine=writing(engine, write_lock),
            session_factory=session_factory,
            group_commit=group_commit,
            write_lock=write_lock,
            checkpointer=checkpointer,
            storage=make_storage(settings),
            signer=TokenSigner(settings, load_or_create_private_key(settings)),
            passwords=PasswordHashing(settings),
            metrics=metrics or Metrics(),
            recycler=for_worker(settings.worker_recycle_statements, settings.data_dir),
        )

    def close(self) -> None:
        if self.group_commit is not None:
            self.group_commit.close()
            self.group_commit.write_engine.dispose()
        if self.checkpointer is not None:
            self.checkpointer.close()
        if self.write_lock is not None:
            self.write_lock.close()
        self.engine.dispose()
