"""Background WAL checkpoints on SQLite (app.core.checkpointer): commits no longer checkpoint
under the write lock; a thread per process does, soon after them."""

from __future__ import annotations

import os
import sqlite3
import time

from sqlalchemy import text

from app import dbmigrate
from app.core.checkpointer import SAFETY_NET_PAGES, WalCheckpointer
from app.core.runtime import Runtime
from tests.conftest import make_settings


def _db_size(path) -> int:
    """Size of the database file itself: committed pages reach it only by a checkpoint (until
    then they are in the WAL)."""
    return os.path.getsize(path)


def _wait(predicate, seconds=10.0) -> bool:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if predicate():
            return True
        time.sleep(0.02)
    return predicate()


def _runtime(tmp_path, **overrides) -> tuple[Runtime, str]:
    path = tmp_path / "rmtc.db"
    url = f"sqlite:///{path}"
    dbmigrate.upgrade(url)
    return Runtime.build(make_settings(tmp_path, url, package_worker_enabled=False, **overrides)), str(path)


def test_commits_are_checkpointed_in_the_background(tmp_path):
    rt, path = _runtime(tmp_path, sqlite_checkpoint_interval=0.05)
    try:
        assert rt.checkpointer is not None
        with rt.group_commit.write_engine.connect() as conn:  # the group commit's writer
            assert conn.exec_driver_sql("PRAGMA wal_autocheckpoint").scalar() == SAFETY_NET_PAGES
        with rt.engine.connect() as conn:
            assert conn.exec_driver_sql("PRAGMA wal_autocheckpoint").scalar() == SAFETY_NET_PAGES
        before = _db_size(path)
        with rt.session_factory() as session:  # a regular write transaction
            session.execute(text("CREATE TABLE t (x BLOB)"))
            session.execute(text("INSERT INTO t VALUES (randomblob(1000000))"))
            session.commit()
        # The pages went to the WAL at commit (far below the safety net); the background thread
        # copies them into the database file.
        assert _wait(lambda: _db_size(path) >= before + 500_000)
        assert rt.checkpointer.checkpoints > 0
    finally:
        rt.close()
    assert rt.checkpointer._thread is None  # stopped with the runtime


def test_interval_zero_keeps_sqlites_own_checkpoints(tmp_path):
    rt, _ = _runtime(tmp_path, sqlite_checkpoint_interval=0)
    try:
        assert rt.checkpointer is None
        with rt.engine.connect() as conn:
            assert conn.exec_driver_sql("PRAGMA wal_autocheckpoint").scalar() == 10_000
    finally:
        rt.close()


def test_thread_ends_when_idle_with_a_last_checkpoint_and_comes_back(tmp_path):
    path = str(tmp_path / "x.db")
    writer = sqlite3.connect(path, isolation_level=None)
    writer.execute("PRAGMA journal_mode=WAL")
    writer.execute("PRAGMA wal_autocheckpoint=0")  # only the checkpointer copies pages back
    writer.execute("CREATE TABLE t (x BLOB)")
    cp = WalCheckpointer(path, interval=0.01, idle_seconds=0.2)
    try:
        cp.poke()
        assert _wait(lambda: cp._thread is None)  # idle: ended
        first = cp.checkpoints
        before = _db_size(path)
        writer.execute("INSERT INTO t VALUES (randomblob(1000000))")
        time.sleep(0.3)
        assert _db_size(path) < before + 500_000  # nobody checkpoints without a poke
        cp.poke()  # a commit after the thread ended starts it again
        assert _wait(lambda: _db_size(path) >= before + 500_000)
        assert cp.checkpoints > first
    finally:
        cp.close()
        writer.close()
    assert cp._thread is None


def test_a_database_it_cannot_checkpoint_is_skipped_without_error(tmp_path):
    path = str(tmp_path / "y.db")
    holder = sqlite3.connect(path, isolation_level=None)
    holder.execute("PRAGMA journal_mode=WAL")
    holder.execute("PRAGMA locking_mode=EXCLUSIVE")  # keeps every other connection out
    holder.execute("CREATE TABLE t (x)")
    cp = WalCheckpointer(path)
    try:
        started = time.monotonic()
        cp._checkpoint(sqlite3.connect(path, isolation_level=None, timeout=0))
        assert time.monotonic() - started < 1.0 and cp.checkpoints == 0  # locked: skipped, no error
    finally:
        holder.close()
    cp._checkpoint(sqlite3.connect(path, isolation_level=None, timeout=0))
    assert cp.checkpoints == 1
