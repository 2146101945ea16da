"""The garbage collector's pauses reach the metrics, by generation, only while timed."""

from __future__ import annotations

import gc
from pathlib import Path

from fastapi.testclient import TestClient
from prometheus_client import CollectorRegistry, Histogram
from test_api import make_settings

from recsvc.api.app import create_app
from recsvc.gc_timer import GcPauseTimer


def _counts(registry: CollectorRegistry) -> dict[str, float]:
    return {
        generation: registry.get_sample_value(
            "recsvc_gc_pause_seconds_count", {"generation": generation}
        )
        or 0.0
        for generation in ("0", "1", "2")
    }


def test_each_collection_is_observed_in_its_generation_until_the_timer_is_left() -> None:
    registry = CollectorRegistry()
    histogram = Histogram("recsvc_gc_pause_seconds", "", ["generation"], registry=registry)
    with GcPauseTimer(histogram) as timer:
        gc.collect(0)
        gc.collect(2)
        gc.collect(2)
        timed = _counts(registry)
        assert timer._callback in gc.callbacks
    assert timed["0"] >= 1 and timed["2"] >= 2  # other threads may collect too
    seconds = registry.get_sample_value("recsvc_gc_pause_seconds_sum", {"generation": "2"})
    assert seconds is not None and seconds > 0
    assert timer._callback not in gc.callbacks
    gc.collect(2)
    assert _counts(registry)["2"] == timed["2"]


def test_the_service_exports_its_collections_while_it_runs(models_dir: Path) -> None:
    hooks = len(gc.callbacks)
    with TestClient(create_app(make_settings(models_dir))) as client:
        gc.collect(1)
        text = client.get("/metrics").text
        counts = {
            line.split('"')[1]: float(line.rsplit(" ", 1)[1])
            for line in text.splitlines()
            if line.startswith("recsvc_gc_pause_seconds_count")
        }
        assert set(counts) == {"0", "1", "2"}
        assert counts["1"] >= 1
    assert len(gc.callbacks) == hooks
