"""A worker recycles itself after its share of statements, one worker at a time, spaced out."""

from __future__ import annotations

import random
import time

import pytest

from app.core import recycling
from app.core.recycling import Recycler

pytestmark = pytest.mark.db_independent


class _Ends:
    def __init__(self) -> None:
        self.calls = 0

    def __call__(self) -> None:
        self.calls += 1


def _recycler(tmp_path, limit=1000, *, spacing=30.0, seed=1):
    ends = _Ends()
    return Recycler(limit, tmp_path / recycling.LOCK_NAME, spacing=spacing, end=ends, rng=random.Random(seed)), ends


def test_a_worker_ends_once_past_its_limit_which_varies_by_a_quarter(tmp_path):
    limits = {_recycler(tmp_path, seed=seed)[0].limit for seed in range(50)}
    assert min(limits) >= 750 and max(limits) <= 1250 and len(limits) > 40  # spread out, not all equal
    worker, ends = _recycler(tmp_path)
    worker.add(worker.limit - 1)
    assert ends.calls == 0 and not worker.ending
    worker.add(1)
    assert ends.calls == 1 and worker.ending
    worker.add(5000)  # the shutdown is under way: never asked twice
    assert ends.calls == 1
    assert float((tmp_path / recycling.LOCK_NAME).read_text()) == pytest.approx(time.time(), abs=5)
    worker.close()


def test_zero_or_no_lock_file_never_recycles(tmp_path):
    never = Recycler(0, tmp_path / recycling.LOCK_NAME, end=_Ends())
    never.add(10**9)
    assert not never.ending
    assert Recycler(1000, None).limit == 0


def test_one_worker_at_a_time_and_the_next_one_waits_for_the_spacing(tmp_path, monkeypatch):
    first, first_ends = _recycler(tmp_path, spacing=30.0, seed=2)
    second, second_ends = _recycler(tmp_path, spacing=30.0, seed=3)
    first.add(first.limit)
    assert first_ends.calls == 1
    second.add(second.limit)  # the first one still holds the lock (its process has not ended)
    assert second_ends.calls == 0 and not second.ending
    first.close()  # its process ended: the lock is free, but it recycled just now
    monkeypatch.setattr(recycling.time, "monotonic", lambda: time.monotonic_ns() / 1e9 + 2)  # past the 1 s retry pause
    second.add(1)
    assert second_ends.calls == 0
    # 31 s later (as the lock file records it), the second one recycles.
    (tmp_path / recycling.LOCK_NAME).write_text(f"{time.time() - 31:.3f}")
    monkeypatch.setattr(recycling.time, "monotonic", lambda: time.monotonic_ns() / 1e9 + 4)
    second.add(1)
    assert second_ends.calls == 1
    second.close()


def test_a_worker_retries_at_most_once_a_second(tmp_path, monkeypatch):
    holder, _ = _recycler(tmp_path, seed=4)
    holder.add(holder.limit)
    waiting, ends = _recycler(tmp_path, seed=5)
    opened = []
    real_open = recycling.os.open
    monkeypatch.setattr(recycling.os, "open", lambda *a, **k: opened.append(a[0]) or real_open(*a, **k))
    for _ in range(100):
        waiting.add(waiting.limit)
    assert len(opened) == 1 and ends.calls == 0
    holder.close()


def test_only_supervised_workers_recycle(tmp_path, monkeypatch):
    monkeypatch.delenv(recycling.SUPERVISED_ENV, raising=False)
    assert recycling.for_worker(1000, tmp_path).limit == 0
    monkeypatch.setenv(recycling.SUPERVISED_ENV, "1")
    worker = recycling.for_worker(1000, tmp_path)
    assert 750 <= worker.limit <= 1250 and worker.lock_path == tmp_path / recycling.LOCK_NAME
