"""Process-wide settings of a serving process (applied once per worker, never by `create_app`:
tests build many apps in one process)."""

from __future__ import annotations

import gc


def configure_gc(young_threshold: int) -> None:
    """Let Python's cyclic garbage collector run a young-generation collection after
    `young_threshold` net allocations of container objects (0: Python's default, 700).

    A statement batch parses, validates and writes tens of thousands of dicts and lists; almost
    all are freed by reference counting as soon as the request is done. At the default the
    collector ran ~60 young collections a second per worker under statement load, and every few
    seconds a full collection that scans every object of the process (caches, SQLAlchemy's and
    pydantic's structures: ~0.1 s each, holding the GIL, also while the worker holds the
    database's write lock): ~8% of a worker's time in all. The older generations keep their
    thresholds, so cycles are still collected; they are just looked for less often."""
    if young_threshold > 0:
        _, older, oldest = gc.get_threshold()
        gc.set_threshold(young_threshold, older, oldest)
