"""Group commit on SQLite: writes of concurrent requests share one transaction and one commit.

SQLite has one writer at a time, and a commit costs about as much as a small write itself
(SQLAlchemy's transaction bookkeeping, the WAL frames of every page touched). Requests submit
their work to one writer thread per process; everything that arrives while a transaction is
being written goes into the next one:

1. `prepare(session)` of each waiting request runs first, in a read transaction
   (authentication, parsing, validation); it returns the request's `write`.
2. Then, holding the database's write lock (`app.core.writelock`: the threads and the worker
   processes of the service) in one write transaction (BEGIN IMMEDIATE), each `write(session)`
   runs in a savepoint, in the order the requests arrived; then the transaction commits once.
   Consecutive writes that can be done together (`write.combine`, e.g. the statements of
   several requests inserted at once) are, in one savepoint; if that fails they are done one
   by one. With several worker processes, one prepares its next group while another writes.

Each request gets its own answer: an error in `prepare` or `write` fails that request only (its
savepoint is rolled back); a failed commit fails every request of the transaction. A request's
answer is sent only once its transaction has committed.
"""

from __future__ import annotations

import asyncio
import logging
import threading
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy.engine import Engine
from sqlalchemy.orm import Session, sessionmaker

from app.core.writelock import WriteLock

log = logging.getLogger("rmtc.db")

Write = Callable[[Session], Any]
Prepare = Callable[[Session], Write]


@dataclass(eq=False)
class _Request:
    prepare: Prepare
    loop: asyncio.AbstractEventLoop
    future: asyncio.Future
    write: Write | None = field(default=None)


def _settle(future: asyncio.Future, result: Any, error: BaseException | None) -> None:
    if future.done():  # the request was cancelled (client gone); its write stands
        return
    if error is not None:
        future.set_exception(error)
    else:
        future.set_result(result)


def _answer(request: _Request, result: Any, error: BaseException | None = None) -> None:
    """Give a request its answer, on its event loop's thread."""
    try:
        request.loop.call_soon_threadsafe(_settle, request.future, result, error)
    except RuntimeError:  # its event loop is closed: nobody waits for the answer any more
        pass


class GroupCommit:
    """The writer of one process. `lock` (the database's write lock) is held while its write
    transaction is open; the service's other writers take it too, so that they queue on it
    instead of polling SQLite's busy handler."""

    def __init__(self, session_factory: sessionmaker, write_engine: Engine, *, read_engine: Engine | None = None,
                 lock: WriteLock | None = None, max_requests: int = 64, max_weight: int = 1000,
                 idle_seconds: float = 10.0):
        self.session_factory = session_factory
        self.write_engine = write_engine
        self.read_engine = read_engine or write_engine
        self.lock = lock or WriteLock(None)
        self.max_requests = max_requests
        self.max_weight = max_weight
        self.idle_seconds = idle_seconds
        self._waiting: deque[_Request] = deque()
        self._changed = threading.Condition()
        self._thread: threading.Thread | None = None
        self._closed = False
        self.groups = 0  # write transactions of groups, and the requests they wrote
        self.requests = 0
        self.taken = 0  # requests taken from the queue

    async def run(self, prepare: Prepare) -> Any:
        """Run `prepare`, then the `write` it returns, in the next group; the write's result
        once committed."""
        loop = asyncio.get_running_loop()
        request = _Request(prepare, loop, loop.create_future())
        with self._changed:
            if self._closed:
                raise RuntimeError("the writer is closed")
            self._waiting.append(request)
            if self._thread is None:
                # Started on demand, and ends after a while without work (tests build many apps).
                self._thread = threading.Thread(target=self._work, name="group-commit", daemon=True)
                self._thread.start()
            self._changed.notify()
        return await request.future

    @property
    def queued(self) -> int:
        """Requests waiting for the next group."""
        return len(self._waiting)

    @property
    def running(self) -> bool:
        return self._thread is not None

    def close(self) -> None:
        with self._changed:
            self._closed = True
            thread = self._thread
            self._changed.notify()
        if thread is not None:
            thread.join()

    def _work(self) -> None:
        while True:
            with self._changed:
                if not self._waiting and not self._closed:
                    self._changed.wait(self.idle_seconds)
                if not self._waiting:
                    self._thread = None
                    return
            group: list[_Request] = []
            try:
                self._run_group(group)
            except BaseException as exc:  # never leave a request waiting
                log.exception("group commit failed")
                for request in group:
                    _answer(request, None, exc)

    def _run_group(self, group: list[_Request]) -> None:
        with self.session_factory(bind=self.read_engine) as session:
            ready = self._prepare(session, group)
        if not ready:
            return
        with self.lock, self.session_factory(bind=self.write_engine) as session:
            self.groups += 1
            self.requests += len(ready)
            try:
                results = _write(session, ready)
                session.commit()
            except Exception as exc:
                session.rollback()
                results = [(request, None, exc) for request in ready]
        for request, result, error in results:
            _answer(request, result, error)

    def _prepare(self, session: Session, group: list[_Request]) -> list[_Request]:
        """Take waiting requests (also those arriving meanwhile) into `group` and prepare them,
        up to `max_requests` or a total `weight` (e.g. statements) of `max_weight`: a large
        write is not held back for long by others. Returns the prepared ones."""
        ready = []
        weight = 0
        while len(group) < self.max_requests and weight < self.max_weight:
            with self._changed:
                if not self._waiting:
                    break
                request = self._waiting.popleft()
                self.taken += 1
            group.append(request)
            try:
                request.write = request.prepare(session)
            except Exception as exc:
                _answer(request, None, exc)
            else:
                ready.append(request)
                weight += getattr(request.write, "weight", 1)
        return ready


Result = tuple[_Request, Any, BaseException | None]


def _write(session: Session, ready: list[_Request]) -> list[Result]:
    runs = _runs(ready)
    if len(runs) == 1:
        # The transaction holds nothing else: no savepoint (it costs as much as a small write);
        # if the writes fail together, the transaction is rolled back and they are done one by
        # one, to fail the failing ones only.
        run = runs[0]
        if len(run) == 1:
            return _write_each(session, run, alone=True)
        try:
            return _combine(session, run)
        except Exception:
            session.rollback()
            return _write_each(session, run, alone=False)
    results = []
    for run in runs:
        if len(run) > 1:
            try:
                with session.begin_nested():
                    results += _combine(session, run)
                continue
            except Exception:
                pass  # one of them fails: write them one by one, to fail that one only
        results += _write_each(session, run, alone=False)
    return results


def _runs(ready: list[_Request]) -> list[list[_Request]]:
    """Consecutive requests whose writes have the same `combine`: a function that does several
    such writes at once (e.g. one insert for the statements of several requests) and returns
    their results, or raises if any of them fails."""
    runs: list[list[_Request]] = []
    for request in ready:
        combine = getattr(request.write, "combine", None)
        if runs and combine is not None and getattr(runs[-1][0].write, "combine", None) == combine:
            runs[-1].append(request)
        else:
            runs.append([request])
    return runs


def _combine(session: Session, run: list[_Request]) -> list[Result]:
    outcomes = run[0].write.combine(session, [request.write for request in run])
    return [(request, outcome, None) for request, outcome in zip(run, outcomes)]


def _write_each(session: Session, requests: list[_Request], *, alone: bool) -> list[Result]:
    # A savepoint per request keeps a failing request's changes out of the transaction; a
    # request alone in its transaction needs none (its failure rolls the transaction back).
    results: list[Result] = []
    for request in requests:
        try:
            if alone:
                result = request.write(session)
            else:
                with session.begin_nested():
                    result = request.write(session)
        except Exception as exc:
            if alone:
                session.rollback()
            results.append((request, None, exc))
        else:
            results.append((request, result, None))
    return results
