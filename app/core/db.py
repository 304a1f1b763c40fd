"""Database foundation: declarative Base, portable column types, engine and session factories.

The same models run on SQLite (embedded default) and PostgreSQL (production): UUIDs use
SQLAlchemy's portable `Uuid`, JSON uses JSONB on PostgreSQL, datetimes are timezone-aware
(stored as UTC) and enums are stored as plain strings with a CHECK constraint.
"""

from __future__ import annotations

import datetime as dt
import enum
import functools
import json
import logging
import re
import sqlite3
import uuid
from collections import namedtuple
from collections.abc import Callable
from typing import Any

import orjson
from sqlalchemy import JSON, DateTime, Enum, MetaData, String, TypeDecorator, Uuid, create_engine, event
from sqlalchemy.dialects.postgresql import JSONB
from sqlalchemy.engine import Engine
from sqlalchemy.exc import OperationalError
from sqlalchemy.orm import DeclarativeBase, Mapped, Session, mapped_column, sessionmaker
from sqlalchemy.pool import StaticPool

from app.core.writelock import WriteLock, WriteLockTimeout

NAMING_CONVENTION = {
    "ix": "ix_%(column_0_label)s",
    "uq": "uq_%(table_name)s_%(column_0_N_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}


def utcnow() -> dt.datetime:
    return dt.datetime.now(dt.UTC)


class UTCDateTime(TypeDecorator[dt.datetime]):
    """Timezone-aware datetime stored as UTC; SQLite gives naive values back, we re-attach UTC."""

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: dt.datetime | None, dialect: Any) -> dt.datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            raise ValueError("naive datetime given to a UTCDateTime column")
        return value.astimezone(dt.UTC)

    def process_result_value(self, value: dt.datetime | None, dialect: Any) -> dt.datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            return value.replace(tzinfo=dt.UTC)
        return value.astimezone(dt.UTC)


PortableJSON = JSON().with_variant(JSONB(), "postgresql")


def str_enum(enum_cls: type[enum.Enum], name: str) -> Enum:
    """A non-native enum (VARCHAR + CHECK), so adding a value never needs a type migration."""
    return Enum(
        enum_cls,
        name=name,
        native_enum=False,
        create_constraint=True,
        length=max(len(m.value) for m in enum_cls),
        values_callable=lambda members: [m.value for m in members],
        validate_strings=True,
    )


class Base(DeclarativeBase):
    metadata = MetaData(naming_convention=NAMING_CONVENTION)
    type_annotation_map = {
        dt.datetime: UTCDateTime(),
        uuid.UUID: Uuid(),
        dict[str, Any]: PortableJSON,
        dict[str, str]: PortableJSON,
        list[str]: PortableJSON,
        str: String(),
    }


class TimestampMixin:
    created_at: Mapped[dt.datetime] = mapped_column(default=utcnow)
    updated_at: Mapped[dt.datetime] = mapped_column(default=utcnow, onupdate=utcnow)


def _sqlite_pragmas(dbapi_connection: Any, _record: Any, *, autocheckpoint: int = 10_000) -> None:
    cursor = dbapi_connection.cursor()
    cursor.execute("PRAGMA foreign_keys=ON")
    cursor.execute("PRAGMA journal_mode=WAL")
    cursor.execute("PRAGMA synchronous=NORMAL")
    cursor.execute("PRAGMA busy_timeout=10000")
    # Checkpoint the WAL every ~40 MiB instead of every ~4 MiB: a page changed by many commits
    # is copied into the database once per checkpoint, and large write batches (xAPI statement
    # batches dirty thousands of index pages) no longer checkpoint on nearly every commit. The
    # WAL file is truncated back to 64 MiB after a checkpoint.
    # With background checkpoints (app.core.checkpointer) the threshold is a safety net only.
    cursor.execute(f"PRAGMA wal_autocheckpoint={int(autocheckpoint)}")
    cursor.execute("PRAGMA journal_size_limit=67108864")
    cursor.close()
    # SQLite's built-in lower() folds ASCII only; searches over names in Serbian, Macedonian or
    # Greek need the Unicode-aware one PostgreSQL has.
    dbapi_connection.create_function("lower", 1, _unicode_lower, deterministic=True)


def _sqlite_writer_cache(dbapi_connection: Any, _record: Any) -> None:
    dbapi_connection.execute(f"PRAGMA cache_size=-{SQLITE_WRITER_CACHE_KIB}")


def _unicode_lower(value: Any) -> Any:
    return value.lower() if isinstance(value, str) else value


WRITE_OPTION = "rmtc_write"
WRITE_LOCK_OPTION = "rmtc_write_lock"
_HELD_LOCK = "rmtc_held_write_lock"
WRITE_LOCK_TIMEOUT = 10.0  # seconds, as SQLite's busy timeout


def _sqlite_begin(conn: Any) -> None:
    options = conn.get_execution_options()
    if options.get("isolation_level") == "AUTOCOMMIT":
        return
    # A writing transaction takes the write lock at BEGIN, so two concurrent read-then-write
    # transactions queue (busy_timeout) instead of failing when upgrading a read lock. Reading
    # transactions use a deferred BEGIN and never block anyone (WAL).
    if options.get(WRITE_OPTION):
        lock = options.get(WRITE_LOCK_OPTION)
        if lock is not None and _HELD_LOCK not in conn.info:
            # The service's write lock first (see app.core.writelock), held until the connection
            # goes back to the pool (`_release_write_lock`), after its commit or rollback.
            try:
                lock.acquire(timeout=WRITE_LOCK_TIMEOUT)
            except WriteLockTimeout as exc:
                raise OperationalError("BEGIN IMMEDIATE", {}, sqlite3.OperationalError("database is locked")) from exc
            conn.info[_HELD_LOCK] = lock
        conn.exec_driver_sql("BEGIN IMMEDIATE")
    else:
        conn.exec_driver_sql("BEGIN")


def _release_write_lock(_dbapi_connection: Any, record: Any) -> None:
    lock = record.info.pop(_HELD_LOCK, None)
    if lock is not None:
        lock.release()


def json_dumps(value: Any) -> str:
    """JSON columns are written with orjson (several times faster than the json module, which
    matters for xAPI statements); what orjson refuses (integers beyond 64 bits, non-string
    keys) falls back to the json module."""
    try:
        return orjson.dumps(value).decode()
    except TypeError:
        return json.dumps(value)


_LONG_NUMBER = re.compile(r"\d{20}")


def json_loads(value: str | bytes) -> Any:
    # orjson reads integers beyond 64 bits as floats, the json module keeps them exact; such a
    # number has 20 digits or more.
    text = value.decode() if isinstance(value, bytes) else value
    if _LONG_NUMBER.search(text):
        return json.loads(text)
    try:
        return orjson.loads(text)
    except orjson.JSONDecodeError:  # e.g. NaN written by the json module
        return json.loads(text)


def is_sqlite_file(url: str) -> bool:
    return url.startswith("sqlite") and url not in ("sqlite://", "sqlite:///:memory:")


# The page cache of the SQLite writer's connection (KiB). A connection's cache is emptied
# whenever another connection has written, so only the connection that does most of the writing
# keeps one: the group commit's. Inserting statements touches index pages all over their
# B-trees; with SQLite's default of 2 MiB most of those touches were reads from the OS (a batch
# of 1000 statements took ~12% more CPU at 30k statements).
SQLITE_WRITER_CACHE_KIB = 64 * 1024


def make_engine(url: str, *, pool_size: int = 10, echo: bool = False, sqlite_writer: bool = False,
                wal_autocheckpoint: int = 10_000) -> Engine:
    """An engine; `sqlite_writer`: one connection of a SQLite file, with a large page cache,
    for a process's single writer; `wal_autocheckpoint`: SQLite's WAL threshold (pages) at
    which a commit checkpoints."""
    if url.startswith("sqlite"):
        in_memory = not is_sqlite_file(url)
        engine = create_engine(
            url,
            echo=echo,
            json_serializer=json_dumps,
            json_deserializer=json_loads,
            connect_args={"check_same_thread": False, "timeout": 30},
            poolclass=StaticPool if in_memory else None,
            **({"pool_size": 1, "max_overflow": 0} if sqlite_writer and not in_memory else {}),
        )
        event.listen(engine, "connect", functools.partial(_sqlite_pragmas, autocheckpoint=wal_autocheckpoint))
        if sqlite_writer:
            event.listen(engine, "connect", _sqlite_writer_cache)

        @event.listens_for(engine, "connect")
        def _no_pysqlite_transactions(dbapi_connection: Any, _record: Any) -> None:
            # pysqlite's own transaction handling is broken; let SQLAlchemy emit BEGIN.
            dbapi_connection.isolation_level = None

        event.listen(engine, "begin", _sqlite_begin)
        event.listen(engine, "checkin", _release_write_lock)
        return engine
    return create_engine(url, echo=echo, pool_size=pool_size, max_overflow=pool_size, pool_pre_ping=True,
                         json_serializer=json_dumps, json_deserializer=json_loads)


def after_commit(session: Session, callback: Callable[[], None]) -> None:
    """Run `callback` once the request's transaction has committed (never if it rolls back).

    Used for side effects outside the database that must not happen for a change that did not
    land, e.g. deleting storage objects of a deleted package or a replaced cover image.
    """
    session.info.setdefault("after_commit", []).append(callback)


def run_after_commit(session: Session) -> None:
    session.info.pop("after_rollback", None)
    callbacks = session.info.pop("after_commit", [])
    for callback in callbacks:
        try:
            callback()
        except Exception:  # the commit stands; a failed cleanup is logged, not raised
            logging.getLogger("rmtc.db").exception("after-commit callback failed")


def after_rollback(session: Session, callback: Callable[[], None]) -> None:
    """Run `callback` if the request's transaction does not commit (undo an outside side effect,
    e.g. remove an uploaded object whose database row never landed)."""
    session.info.setdefault("after_rollback", []).append(callback)


def discard_after_commit(session: Session) -> None:
    """The transaction did not commit: drop the commit callbacks, run the rollback ones."""
    session.info.pop("after_commit", None)
    for callback in session.info.pop("after_rollback", []):
        try:
            callback()
        except Exception:
            logging.getLogger("rmtc.db").exception("after-rollback callback failed")


def writing(engine: Engine, lock: WriteLock | None = None) -> Engine:
    """The same engine (and pool), marked for transactions that write; on SQLite with the
    service's write lock, which each write transaction takes before it begins."""
    return engine.execution_options(**{WRITE_OPTION: True, WRITE_LOCK_OPTION: lock})


PUBLIC_BASE_URL = "public_base_url"
DATABASE_CACHE = "database_cache"


def make_session_factory(engine: Engine, public_base_url: str) -> sessionmaker:
    """Sessions carry the platform's public base URL (`session.info`): domains that record xAPI
    statements inside a transaction name learners and activities under it. They also share a
    dict for what a domain caches of its database (`database_cache`), so that a cache never
    outlives, or mixes, the databases of the apps built in one process (tests build many)."""
    return sessionmaker(bind=engine, expire_on_commit=False, autoflush=True,
                        info={PUBLIC_BASE_URL: public_base_url, DATABASE_CACHE: {}})


def public_base_url(session: Session) -> str:
    return session.info[PUBLIC_BASE_URL]


def database_cache(session: Session, name: str) -> dict[Any, Any]:
    """The cache `name` of the session's database (see `make_session_factory`); a fresh dict for
    a session made elsewhere, so that nothing is cached for it."""
    shared = session.info.get(DATABASE_CACHE)
    return {} if shared is None else shared.setdefault(name, {})


class FastSelect:
    """A prebuilt SELECT (of columns, with `expanding` IN parameters) that runs, on SQLite inside
    a transaction, on the DBAPI connection: SQLAlchemy's execution of a prebuilt statement costs
    60-150 us of CPU on a 2-core benchmark machine against 5-15 us for SQLite's own work, and a
    statement write runs several, most of them under the write lock. The SQL is the query
    compiled once by SQLAlchemy; values are bound and results converted with the columns' own
    type processors, as SQLAlchemy does. Elsewhere (PostgreSQL, or outside a transaction, where
    SQLAlchemy begins one) the query runs through SQLAlchemy. Rows are named tuples."""

    def __init__(self, query: Any):
        self.query = query
        self._plans: dict[str, tuple] = {}

    def _plan(self, dialect: Any) -> tuple:
        plan = self._plans.get(dialect.name)
        if plan is None:
            compiled = self.query.compile(dialect=dialect)
            params = []
            for name in compiled.positiontup or ():
                bind = compiled.binds[name]
                params.append((name, bind.expanding, bind.value, bind.type._cached_bind_processor(dialect)))
            columns = compiled._result_columns
            row = namedtuple("Row", [c.keyname for c in columns], rename=True)  # type: ignore[misc]
            results = tuple(c.type._cached_result_processor(dialect, None) for c in columns)
            plan = self._plans[dialect.name] = (compiled.string, tuple(params), row, results if any(results) else None)
        return plan

    def rows(self, conn: Any, **values: Any) -> list[Any]:
        if conn.dialect.name != "sqlite" or not conn.in_transaction():
            return list(conn.execute(self.query, values))
        sql, params, row, results = self._plan(conn.dialect)
        bound: list[Any] = []
        for name, expanding, fixed, process in params:
            if expanding:
                items = list(values[name])
                if not items:
                    return []  # IN () matches nothing (the queries are IN filters and ANDs)
                sql = sql.replace(f"__[POSTCOMPILE_{name}]", ",".join("?" * len(items)), 1)
                bound.extend(map(process, items) if process else items)
            else:
                value = values.get(name, fixed)
                bound.append(process(value) if process else value)
        fetched = conn.connection.driver_connection.execute(sql, bound).fetchall()
        if results:
            return [row(*[p(v) if p else v for p, v in zip(results, r)]) for r in fetched]
        return [row(*r) for r in fetched]

    def scalar(self, conn: Any, **values: Any) -> Any:
        found = self.rows(conn, **values)
        return found[0][0] if found else None

    def scalars(self, conn: Any, **values: Any) -> list[Any]:
        return [r[0] for r in self.rows(conn, **values)]


def execute_many(conn: Any, sql: str, params: list[Any]) -> None:
    """`executemany` of driver SQL; on SQLite inside a transaction on the DBAPI connection (see
    `FastSelect`), elsewhere through SQLAlchemy."""
    if conn.dialect.name == "sqlite" and conn.in_transaction():
        conn.connection.driver_connection.executemany(sql, params)
    else:
        conn.exec_driver_sql(sql, params)
