"""The attempt sweeper: a background thread in each API process that closes and grades attempts
left open past their time limit or their quiz's closing time, so a learner who never comes back
still gets a grade, progress and LRS statements. Reads and writes touching an attempt close it
too; this covers attempts nobody touches. Several processes may sweep at once: each attempt is
claimed with a row lock (`SKIP LOCKED` on PostgreSQL) and graded only while still in progress.
"""

from __future__ import annotations

import datetime as dt
import logging
import threading

from app.assessments import attempt_service
from app.core.db import utcnow
from app.core.runtime import Runtime

log = logging.getLogger("rmtc.assessments.sweeper")
BATCH = 200


class ExpirySweeper:
    def __init__(self, runtime: Runtime):
        self.runtime = runtime
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    def start(self) -> None:
        self._thread = threading.Thread(target=self._run, name="rmtc-attempt-sweeper", daemon=True)
        self._thread.start()

    def stop(self, timeout: float = 30) -> None:
        self._stop.set()
        if self._thread:
            self._thread.join(timeout)

    def run_once(self, now: dt.datetime | None = None) -> int:
        """Close every expired attempt (in batches, one transaction each); returns how many."""
        total = 0
        while not self._stop.is_set():
            with self.runtime.session_factory() as session, session.begin():
                closed = attempt_service.close_expired(session, now or utcnow(), limit=BATCH)
            total += closed
            if closed < BATCH:
                return total
        return total

    def _run(self) -> None:
        interval = self.runtime.settings.assessment_sweep_seconds
        while not self._stop.wait(interval):
            try:
                closed = self.run_once()
                if closed:
                    log.info("expired attempts closed", extra={"closed": closed})
            except Exception:
                log.exception("attempt sweep failed")
