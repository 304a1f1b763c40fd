"""Recycling a worker process after it has written a number of xAPI statements.

A worker that has stored many statements, large batches especially, gets slower at the same work
than a freshly started one on the same database: after loading a million statements in batches
of 1000, batches of 100 cost it ~16% more CPU (docs/benchmarks.md; the cause was not found, it
is not SQLite's connection state). Like gunicorn's `max_requests`, a worker of `rmtc serve
--workers N` (N > 1) therefore ends itself after `RMTC_WORKER_RECYCLE_STATEMENTS` statements
(+-25% at random, so that the workers do not reach it together): it asks uvicorn to shut it down
gracefully and uvicorn's supervisor starts a new worker in its place. The worker first drains
(app.core.balancing.drain_then): it stops accepting, answers with `Connection: close` the request
each connection is on or sends within a second, and closes a connection that sends none; then
SIGTERM to itself has uvicorn shut it down (the writer commits what it has).

One worker recycles at a time: the one that does holds a lock file until its process ends, and
the next one waits `spacing` seconds after that (its replacement's start-up), so the others keep
serving meanwhile. A worker that cannot recycle yet tries again at most once a second.
"""

from __future__ import annotations

import logging
import os
import random
import signal
import threading
import time
from collections.abc import Callable
from pathlib import Path

from app.core import balancing

try:
    import fcntl
except ImportError:  # pragma: no cover - not POSIX
    fcntl = None  # type: ignore[assignment]

log = logging.getLogger("rmtc.serve")

# Set by `rmtc serve` for its worker processes when it runs several (uvicorn's supervisor
# replaces a worker that ends); a single process never recycles itself.
SUPERVISED_ENV = balancing.SUPERVISED_ENV
LOCK_NAME = "worker-recycle.lock"


def _terminate() -> None:
    os.kill(os.getpid(), signal.SIGTERM)


def _drain_and_terminate() -> None:
    balancing.drain_then(_terminate)


class Recycler:
    """Counts the statements a worker writes (`add`) and ends the worker once past its limit."""

    def __init__(self, limit: int, lock_path: Path | None, *, spacing: float = 30.0,
                 end: Callable[[], None] = _drain_and_terminate, rng: random.Random | None = None):
        rng = rng or random.Random()
        self.limit = int(limit * rng.uniform(0.75, 1.25)) if limit > 0 and lock_path is not None else 0
        self.lock_path = lock_path
        self.spacing = spacing
        self.end = end
        self.written = 0
        self.ending = False
        self._next_try = 0.0
        self._fd: int | None = None
        self._mutex = threading.Lock()

    def add(self, statements: int) -> None:
        if not self.limit or self.ending:
            return
        with self._mutex:
            self.written += statements
            if self.written < self.limit or self.ending or time.monotonic() < self._next_try:
                return
            self._next_try = time.monotonic() + 1.0
            if not self._take_turn():
                return
            self.ending = True
        log.info("worker %s ends after %s statements (RMTC_WORKER_RECYCLE_STATEMENTS); a new one takes its place",
                 os.getpid(), self.written)
        self.end()

    def _take_turn(self) -> bool:
        """Hold the lock file (until this process ends) if no other worker holds it and the last
        one to recycle did so at least `spacing` seconds ago; then note the time in it."""
        if fcntl is None or self.lock_path is None:
            return False
        try:
            fd = os.open(self.lock_path, os.O_RDWR | os.O_CREAT | os.O_CLOEXEC, 0o600)
        except OSError as exc:
            log.warning("cannot open %s (%s): the worker is not recycled", self.lock_path, exc)
            self.limit = 0
            return False
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except OSError:  # another worker is recycling
            os.close(fd)
            return False
        try:
            last = float(os.pread(fd, 64, 0).decode() or 0)
        except ValueError:
            last = 0.0
        now = time.time()
        # Either way: the time is written rounded to the millisecond, so it may read as a little
        # in the future.
        if abs(now - last) < self.spacing:
            os.close(fd)  # releases the lock
            return False
        os.ftruncate(fd, 0)
        os.pwrite(fd, f"{now:.3f}".encode(), 0)
        self._fd = fd  # held until the process ends
        return True

    def close(self) -> None:
        """Release the lock file (the process ending does the same)."""
        if self._fd is not None:
            os.close(self._fd)
            self._fd = None


def for_worker(limit: int, data_dir: Path) -> Recycler:
    """The recycler of a serving process: active only under `rmtc serve --workers N` (N > 1)."""
    supervised = os.environ.get(SUPERVISED_ENV) == "1"
    return Recycler(limit if supervised else 0, data_dir / LOCK_NAME if supervised else None)
