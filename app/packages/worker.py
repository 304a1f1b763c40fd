"""The import worker: a background thread in each API process that claims queued versions.

Claims are atomic in the database, so any number of workers (processes, machines) share the
queue; a version whose worker died is taken again after a while.
"""

from __future__ import annotations

import logging
import threading

from app.core.db import utcnow
from app.core.runtime import Runtime
from app.packages import service

log = logging.getLogger("rmtc.packages.worker")


class ImportWorker:
    def __init__(self, runtime: Runtime):
        self.runtime = runtime
        self._stop = threading.Event()
        self._wake = threading.Event()
        self._thread: threading.Thread | None = None

    def start(self) -> None:
        self._thread = threading.Thread(target=self._run, name="rmtc-package-import", daemon=True)
        self._thread.start()

    def wake(self) -> None:
        self._wake.set()

    def stop(self, timeout: float = 30) -> None:
        self._stop.set()
        self._wake.set()
        if self._thread:
            self._thread.join(timeout)

    def run_pending(self) -> int:
        """Process queued versions until none is left; returns how many were processed."""
        done = 0
        while not self._stop.is_set():
            version_id = service.claim_next(self.runtime.session_factory, utcnow())
            if version_id is None:
                return done
            status = service.process(self.runtime.session_factory, self.runtime.storage, self.runtime.settings, version_id)
            log.info("package version imported", extra={"version_id": str(version_id), "status": status.value})
            done += 1
        return done

    def _run(self) -> None:
        interval = self.runtime.settings.package_worker_poll_seconds
        while not self._stop.is_set():
            try:
                self.run_pending()
            except Exception:
                log.exception("import worker iteration failed")
            self._wake.wait(interval)
            self._wake.clear()
