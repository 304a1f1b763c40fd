"""WAL checkpoints of a SQLite database in the background, outside the write lock.

In WAL mode a commit appends the pages it changed to the WAL; a checkpoint copies them back
into the database file (and syncs both). By default the connection whose commit takes the WAL
over its threshold runs the checkpoint, inside that commit: for the service that is a writer
holding the database's write lock (`app.core.writelock`), so every other writer waits for the
copying and the two fsyncs. Statement batches dirty thousands of index pages each, so this
happened every few commits.

A checkpoint needs no write lock: writers go on appending to the WAL while it copies what is
already committed. So the service's connections get a high threshold (a safety net only), and
one thread per process runs PASSIVE checkpoints (which never wait for readers or writers) on its
own connection, at most every `interval` seconds while there are commits (`poke`, called on
every commit). With several worker processes each has one; a checkpoint finding another one
running returns at once. The thread starts on demand and ends after a while without commits,
with a last checkpoint.

Measured with 2 workers on 2 cores (batches of 100 and 1000, 4 in flight, medians of three
interleaved pairs): +27% and +20% statements/s; see docs/benchmarks.md.
"""

from __future__ import annotations

import logging
import sqlite3
import threading
import time

log = logging.getLogger("rmtc.db")

# The WAL size (pages) at which a committing connection checkpoints itself when a background
# checkpointer runs: only if the checkpointer falls far behind (~200 MiB of WAL).
SAFETY_NET_PAGES = 50_000


class WalCheckpointer:
    def __init__(self, path: str, *, interval: float = 0.25, idle_seconds: float = 5.0):
        self.path = path
        self.interval = interval
        self.idle_seconds = idle_seconds
        self.checkpoints = 0  # completed checkpoint calls (for tests and metrics)
        self._changed = threading.Condition()
        self._pending = False
        self._closed = False
        self._thread: threading.Thread | None = None

    def poke(self, *_: object) -> None:
        """A transaction committed: checkpoint soon (cheap; called on every commit)."""
        if self._pending and self._thread is not None:
            return
        with self._changed:
            if self._closed:
                return
            self._pending = True
            if self._thread is None:
                self._thread = threading.Thread(target=self._work, name="wal-checkpoint", daemon=True)
                self._thread.start()
            self._changed.notify()

    def close(self) -> None:
        with self._changed:
            self._closed = True
            thread = self._thread
            self._changed.notify()
        if thread is not None:
            thread.join()

    def _work(self) -> None:
        conn = None
        try:
            # Autocommit; a busy database is never waited for (PASSIVE does not wait anyway).
            conn = sqlite3.connect(self.path, isolation_level=None, timeout=0, check_same_thread=False)
            while True:
                with self._changed:
                    if not self._pending and not self._closed:
                        self._changed.wait(self.idle_seconds)
                    stop = self._closed or not self._pending
                    self._pending = False
                self._checkpoint(conn)
                if stop:
                    return
                time.sleep(self.interval)  # commits meanwhile are covered by the next round
        except Exception:  # never take the service down; committing connections still checkpoint
            log.exception("background WAL checkpoints stopped")
        finally:
            if conn is not None:
                conn.close()
            with self._changed:
                self._thread = None
                restart = self._pending and not self._closed
            if restart:  # a commit arrived while the thread was ending
                self.poke()

    def _checkpoint(self, conn: sqlite3.Connection) -> None:
        try:
            conn.execute("PRAGMA wal_checkpoint(PASSIVE)").fetchall()
            self.checkpoints += 1
        except sqlite3.OperationalError:  # another process is checkpointing: it does the work
            pass
