"""Process-wide settings of a serving process: the cyclic garbage collector's young threshold."""

import gc

import pytest

from app import main
from app.core.process import configure_gc


@pytest.fixture
def kept_gc_threshold():
    before = gc.get_threshold()
    yield before
    gc.set_threshold(*before)


def test_configure_gc_sets_the_young_threshold_and_keeps_the_older_ones(kept_gc_threshold):
    gc.set_threshold(700, 7, 9)
    configure_gc(50_000)
    assert gc.get_threshold() == (50_000, 7, 9)


def test_configure_gc_zero_keeps_pythons_threshold(kept_gc_threshold):
    gc.set_threshold(700, 10, 10)
    configure_gc(0)
    assert gc.get_threshold() == (700, 10, 10)


def test_the_serving_entry_point_applies_the_setting(kept_gc_threshold, monkeypatch, tmp_path):
    # `uvicorn --factory app.main:create_app_from_env` (rmtc serve) builds each worker's app here.
    monkeypatch.setenv("RMTC_DATA_DIR", str(tmp_path))
    monkeypatch.setenv("RMTC_GC_YOUNG_THRESHOLD", "12345")
    monkeypatch.setattr(main, "configure_logging", lambda *args: None)  # keep pytest's log capture
    gc.set_threshold(700, 10, 10)
    main.create_app_from_env()
    assert gc.get_threshold() == (12345, 10, 10)


def test_the_default_raises_the_young_threshold(monkeypatch, tmp_path):
    monkeypatch.delenv("RMTC_GC_YOUNG_THRESHOLD", raising=False)
    from app.core.config import Settings

    assert Settings(data_dir=tmp_path).gc_young_threshold == 50_000
    with pytest.raises(ValueError):
        Settings(data_dir=tmp_path, gc_young_threshold=-1)
