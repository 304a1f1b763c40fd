"""The write lock of a SQLite database file, shared by the threads and worker processes of the
service.

SQLite has one writer at a time. A writer that finds the database locked waits in SQLite's
busy handler, which polls with growing sleeps (up to 100 ms): with several worker processes
writing steadily, a waiting writer keeps sleeping through the short gaps between the other's
transactions, and can wait until its busy timeout runs out (503). The service's writers take
this lock first instead: a thread lock (the threads of a process) and then an exclusive
`flock` on a file beside the database (the processes), which the kernel hands to the next
waiter as soon as it is released. Holding it, BEGIN IMMEDIATE finds SQLite's lock free (other
programs, e.g. the CLI, still meet the busy handler).

Without `fcntl` (Windows) the lock covers the threads of one process only.
"""

from __future__ import annotations

import os
import threading
from pathlib import Path

try:
    import fcntl
except ImportError:  # pragma: no cover - not POSIX
    fcntl = None  # type: ignore[assignment]


class WriteLockTimeout(TimeoutError):
    pass


class WriteLock:
    """`with lock:` holds the database's write lock (not re-entrant)."""

    def __init__(self, path: Path | None):
        self.path = path
        self._thread_lock = threading.Lock()
        self._fd: int | None = None
        self._pid: int | None = None

    def _file(self) -> int | None:
        if self.path is None or fcntl is None:
            return None
        if self._fd is None or self._pid != os.getpid():
            # Opened in the process that uses it (a forked worker gets its own open file: a
            # flock belongs to the open file, which a fork would share).
            self._fd = os.open(self.path, os.O_RDWR | os.O_CREAT | os.O_CLOEXEC, 0o600)
            self._pid = os.getpid()
        return self._fd

    def acquire(self, timeout: float | None = None) -> None:
        """Wait for the lock (at most `timeout` seconds for the other threads of the process:
        then WriteLockTimeout); a process waits for the others as long as they hold it, as it
        would for SQLite's own lock."""
        if not self._thread_lock.acquire(timeout=-1 if timeout is None else timeout):
            raise WriteLockTimeout("the database's write lock is held by another thread")
        try:
            fd = self._file()
            if fd is not None:
                fcntl.flock(fd, fcntl.LOCK_EX)
        except BaseException:
            self._thread_lock.release()
            raise

    def release(self) -> None:
        try:
            if self._fd is not None and fcntl is not None and self._pid == os.getpid():
                fcntl.flock(self._fd, fcntl.LOCK_UN)
        finally:
            self._thread_lock.release()

    def __enter__(self) -> WriteLock:
        self.acquire()
        return self

    def __exit__(self, *exc: object) -> None:
        self.release()

    def close(self) -> None:
        if self._fd is not None and self._pid == os.getpid():
            os.close(self._fd)
        self._fd = None


def for_sqlite_url(url: str) -> WriteLock:
    """The write lock of a SQLite URL: a lock file beside a database file; an in-memory
    database has no other process, only threads."""
    from sqlalchemy.engine import make_url

    database = make_url(url).database
    if not database or database == ":memory:":
        return WriteLock(None)
    return WriteLock(Path(database).with_name(Path(database).name + "-writer.lock"))
