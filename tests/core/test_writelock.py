"""The SQLite write lock (app.core.writelock): exclusive across threads and processes, taken by
the service's writing transactions before BEGIN IMMEDIATE and released when their connection
goes back to the pool."""

from __future__ import annotations

import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest
from sqlalchemy import text
from sqlalchemy.exc import OperationalError

from app.core import db
from app.core.db import make_engine, make_session_factory, writing
from app.core.writelock import WriteLock, WriteLockTimeout, for_sqlite_url

pytestmark = pytest.mark.db_independent

ROOT = Path(__file__).resolve().parents[2]


def _held_elsewhere(lock: WriteLock) -> bool:
    """Whether another thread of this process would have to wait for the lock."""
    outcome: list[bool] = []

    def attempt() -> None:
        try:
            lock.acquire(timeout=0.05)
        except WriteLockTimeout:
            outcome.append(True)
        else:
            lock.release()
            outcome.append(False)

    thread = threading.Thread(target=attempt)
    thread.start()
    thread.join(5)
    return outcome == [True]


def test_the_lock_file_is_beside_the_database(tmp_path):
    assert for_sqlite_url(f"sqlite:///{tmp_path / 'rmtc.db'}").path == tmp_path / "rmtc.db-writer.lock"
    assert for_sqlite_url("sqlite://").path is None
    assert for_sqlite_url("sqlite:///:memory:").path is None


def test_another_process_waits_until_it_is_released(tmp_path):
    lock = WriteLock(tmp_path / "db-writer.lock")
    holder = subprocess.Popen(
        [sys.executable, "-c", "import sys; from pathlib import Path; from app.core.writelock import WriteLock;"
         f"lock = WriteLock(Path({str(tmp_path / 'db-writer.lock')!r})); lock.acquire(); print('held', flush=True);"
         "sys.stdin.readline(); lock.release(); print('released', flush=True)"],
        cwd=ROOT, stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True)
    try:
        assert holder.stdout.readline().strip() == "held"
        acquired = threading.Event()

        def take() -> None:
            lock.acquire()
            acquired.set()

        taker = threading.Thread(target=take)
        taker.start()
        assert not acquired.wait(0.5)  # the other process holds it
        holder.stdin.write("go\n")
        holder.stdin.flush()
        assert acquired.wait(10)  # handed over as soon as it is released
        taker.join(5)
        assert holder.stdout.readline().strip() == "released"
        lock.release()
    finally:
        holder.kill()
        holder.wait(10)
        lock.close()


def test_threads_of_a_process_wait_with_a_timeout(tmp_path):
    lock = WriteLock(tmp_path / "db-writer.lock")
    with lock:
        assert _held_elsewhere(lock)
    assert not _held_elsewhere(lock)
    lock.close()


def test_writing_transactions_hold_it_until_their_commit_and_reads_never_take_it(tmp_path, monkeypatch):
    url = f"sqlite:///{tmp_path / 'w.db'}"
    engine = make_engine(url)
    lock = for_sqlite_url(url)
    factory = make_session_factory(writing(engine, lock), "http://testserver")
    try:
        with factory() as session:
            session.execute(text("CREATE TABLE item (name TEXT PRIMARY KEY)"))
            assert _held_elsewhere(lock)  # taken at BEGIN IMMEDIATE
            session.execute(text("INSERT INTO item VALUES ('a')"))
            session.commit()
            assert not _held_elsewhere(lock)  # released with the connection after the commit
            session.execute(text("INSERT INTO item VALUES ('x')"))  # a new transaction takes it again
            assert _held_elsewhere(lock)
            session.rollback()
            assert not _held_elsewhere(lock)
        with factory(bind=engine) as reading:  # a read transaction (no write option)
            assert reading.execute(text("SELECT count(*) FROM item")).scalar() == 1
            assert not _held_elsewhere(lock)
        # While another thread holds it, a write waits at most the timeout, then fails as busy.
        monkeypatch.setattr(db, "WRITE_LOCK_TIMEOUT", 0.1)
        done = threading.Event()

        def hold() -> None:
            with lock:
                done.wait(5)

        holder = threading.Thread(target=hold)
        holder.start()
        time.sleep(0.05)
        with factory() as session, pytest.raises(OperationalError, match="database is locked"):
            session.execute(text("INSERT INTO item VALUES ('b')"))
        done.set()
        holder.join(5)
        with factory() as session:  # and the failed attempt left nothing held
            session.execute(text("INSERT INTO item VALUES ('b')"))
            session.commit()
        assert not _held_elsewhere(lock)
    finally:
        engine.dispose()
        lock.close()


def test_a_begin_refused_by_another_program_is_a_busy_error_and_leaves_nothing_held(tmp_path):
    """Another program (e.g. the CLI) holding SQLite's own write lock past the busy timeout:
    BEGIN IMMEDIATE fails as SQLAlchemy's OperationalError, which the service answers as busy,
    and the service's write lock is released again."""
    import sqlite3

    from sqlalchemy import event

    url = f"sqlite:///{tmp_path / 'b.db'}"
    engine = make_engine(url)
    event.listen(engine, "connect", lambda dbapi_connection, _record: dbapi_connection.execute("PRAGMA busy_timeout=50"))
    lock = for_sqlite_url(url)
    factory = make_session_factory(writing(engine, lock), "http://testserver")
    other = sqlite3.connect(tmp_path / "b.db", isolation_level=None)
    try:
        other.execute("CREATE TABLE item (name TEXT PRIMARY KEY)")
        other.execute("BEGIN IMMEDIATE")
        with factory() as session, pytest.raises(OperationalError, match="database is locked"):
            session.execute(text("INSERT INTO item VALUES ('a')"))
        assert not _held_elsewhere(lock)
        other.execute("ROLLBACK")
        with factory() as session:
            session.execute(text("INSERT INTO item VALUES ('a')"))
            session.commit()
        with factory(bind=engine) as reading:
            assert reading.execute(text("SELECT count(*) FROM item")).scalar() == 1
    finally:
        other.close()
        engine.dispose()
        lock.close()
