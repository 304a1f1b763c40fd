"""Group commit on SQLite: requests queued while the writer is busy share one transaction; each
gets its own answer, a failing one fails alone, a failed commit fails them all."""

from __future__ import annotations

import asyncio
import threading
import time

import pytest
from sqlalchemy import text

from app.core.db import make_engine, make_session_factory, writing
from app.core.group_commit import GroupCommit

# A SQLite file of its own: runs once, in the SQLite pass.
pytestmark = pytest.mark.db_independent


@pytest.fixture
def writer(tmp_path):
    engine = make_engine(f"sqlite:///{tmp_path / 'g.db'}", sqlite_writer=True)
    with engine.begin() as conn:
        conn.execute(text("CREATE TABLE item (name TEXT PRIMARY KEY, request INTEGER)"))
        conn.execute(text("CREATE TABLE child (parent TEXT REFERENCES item (name) DEFERRABLE INITIALLY DEFERRED)"))
    group = GroupCommit(make_session_factory(writing(engine), "http://testserver"), writing(engine))
    yield group, engine
    group.close()
    engine.dispose()


def _insert(*names: str, request: int = 0):
    """A prepare that inserts rows when written (the names are the table's primary key)."""

    def prepare(session):
        def write(session):
            for name in names:
                session.execute(text("INSERT INTO item VALUES (:n, :r)"), {"n": name, "r": request})
            return names

        return write

    return prepare


class _Combinable:
    """A write that can also be done together with others of its kind (see GroupCommit)."""

    calls: list[int] = []

    def __init__(self, name: str):
        self.name = name

    def __call__(self, session):
        session.execute(text("INSERT INTO item VALUES (:n, 1)"), {"n": self.name})
        return self.name

    @staticmethod
    def combine(session, writes):
        _Combinable.calls.append(len(writes))
        session.execute(text("INSERT INTO item VALUES (:n, 2)"), [{"n": w.name} for w in writes])
        return [w.name for w in writes]


def _rows(engine) -> dict[str, int]:
    with engine.connect() as conn:
        return dict(conn.execute(text("SELECT name, request FROM item")).all())


async def _together(group: GroupCommit, prepares) -> list:
    """Submit while the writer is held, so that all of them form one group: the writer thread is
    kept in the `prepare` of a first request (which writes nothing) until all are queued, and
    then takes them into that request's group."""
    release = threading.Event()

    def blocker(session):
        release.wait(10)
        return lambda session: None

    taken = group.taken
    first = asyncio.ensure_future(group.run(blocker))
    while group.taken == taken:
        await asyncio.sleep(0.001)
    tasks = [asyncio.ensure_future(group.run(p)) for p in prepares]
    while group.queued < len(prepares):
        await asyncio.sleep(0.001)
    release.set()
    return (await asyncio.gather(first, *tasks, return_exceptions=True))[1:]


def test_requests_waiting_together_share_one_transaction(writer):
    group, engine = writer
    results = asyncio.run(_together(group, [_insert(f"r{i}", request=i) for i in range(20)]))
    assert results == [(f"r{i}",) for i in range(20)]
    assert _rows(engine) == {f"r{i}": i for i in range(20)}
    assert (group.groups, group.requests) == (1, 21)  # with _together's first request


def test_a_failing_request_fails_alone(writer):
    group, engine = writer

    def broken(session):
        raise ValueError("invalid request")

    results = asyncio.run(_together(group, [
        _insert("a"), broken, _insert("b"), _insert("a", request=9), _insert("c", "d"),
    ]))
    assert results[0] == ("a",) and results[2] == ("b",) and results[4] == ("c", "d")
    assert isinstance(results[1], ValueError)
    assert "UNIQUE" in str(results[3])  # written after "a": its insert fails, its savepoint is undone
    assert _rows(engine) == {"a": 0, "b": 0, "c": 0, "d": 0}


def test_combinable_writes_are_done_at_once_or_one_by_one(writer):
    group, engine = writer
    _Combinable.calls.clear()

    def prepared(write):
        return lambda session: write

    assert asyncio.run(_together(group, [prepared(_Combinable(n)) for n in "abc"])) == ["a", "b", "c"]
    assert _Combinable.calls == [3] and _rows(engine) == {"a": 2, "b": 2, "c": 2}
    # One of them fails: the combined write is undone and they are written one by one.
    results = asyncio.run(_together(group, [prepared(_Combinable(n)) for n in "dae"]))
    assert results[0] == "d" and "UNIQUE" in str(results[1]) and results[2] == "e"
    assert _rows(engine) == {"a": 2, "b": 2, "c": 2, "d": 1, "e": 1}
    # Mixed with other writes: combined in a savepoint.
    results = asyncio.run(_together(group, [_insert("f"), prepared(_Combinable("g")), prepared(_Combinable("h"))]))
    assert results == [("f",), "g", "h"] and _Combinable.calls[-1] == 2


def test_a_failed_commit_fails_every_request_of_the_transaction(writer):
    group, engine = writer

    def orphan(session):
        def write(session):  # a deferred foreign key: checked at commit
            session.execute(text("INSERT INTO child VALUES ('nobody')"))

        return write

    results = asyncio.run(_together(group, [_insert("x"), orphan, _insert("y")]))
    assert all("FOREIGN KEY" in str(r) for r in results)
    assert _rows(engine) == {}


def test_answers_only_after_the_commit_and_in_order(writer):
    group, engine = writer
    reader = make_engine(str(engine.url))  # the writer's engine has one connection
    other = reader.connect()  # opened beforehand: opening one sets pragmas, which waits for the writer
    seen: list[str] = []

    def observed(name):
        def prepare(session):
            def write(session):
                session.execute(text("INSERT INTO item VALUES (:n, 0)"), {"n": name})
                seen.append(name)
                # Nobody else sees the row before the commit.
                assert other.execute(text("SELECT count(*) FROM item WHERE name = :n"), {"n": name}).scalar() == 0
                other.rollback()
                return name

            return write

        return prepare

    try:
        assert asyncio.run(_together(group, [observed(n) for n in "pqrs"])) == list("pqrs")
    finally:
        other.close()
        reader.dispose()
    assert seen == list("pqrs")


def test_a_large_write_is_not_held_back(writer):
    group, _ = writer

    class Heavy:
        weight = 1000

        def __call__(self, session):
            return "heavy"

    results = asyncio.run(_together(group, [lambda s: Heavy(), _insert("after")]))
    assert results == ["heavy", ("after",)]
    assert group.groups == 2


def test_the_writer_thread_stops_when_idle_and_starts_again(tmp_path):
    engine = make_engine(f"sqlite:///{tmp_path / 'idle.db'}", sqlite_writer=True)
    with engine.begin() as conn:
        conn.execute(text("CREATE TABLE item (name TEXT PRIMARY KEY, request INTEGER)"))
    group = GroupCommit(make_session_factory(writing(engine), "http://testserver"), writing(engine), idle_seconds=0.05)
    try:
        assert asyncio.run(group.run(_insert("one"))) == ("one",)
        deadline = time.monotonic() + 5
        while group.running and time.monotonic() < deadline:
            time.sleep(0.01)
        assert not group.running
        assert asyncio.run(group.run(_insert("two"))) == ("two",)
    finally:
        group.close()
        engine.dispose()
    assert not group.running
    with pytest.raises(RuntimeError):
        asyncio.run(group.run(_insert("three")))


def test_an_answer_nobody_waits_for_any_more_does_not_stop_the_writer(writer):
    group, engine = writer
    loop = asyncio.new_event_loop()
    with group.lock:
        task = loop.create_task(group.run(_insert("gone")))
        while group.taken == 0:  # prepared, the writer waits for the lock with it
            loop.run_until_complete(asyncio.sleep(0.001))
        task.cancel()  # the client went away, and its event loop ended
        loop.run_until_complete(asyncio.gather(task, return_exceptions=True))
        loop.close()
    assert asyncio.run(group.run(_insert("next"))) == ("next",)
    assert _rows(engine) == {"gone": 0, "next": 0}  # a write stands once taken up
