"""`GcPauseTimer`: the cyclic garbage collector's pauses, into a histogram by generation.

A collection stops every thread of the process (it holds the GIL), so its pauses are
latency no request timer sees: they show up only in the clients' percentiles. The timer
is a `gc.callbacks` hook; a collection runs in whichever thread triggered it and never
nests, so one start time is enough.
"""

from __future__ import annotations

import gc
from time import perf_counter
from types import TracebackType
from typing import Any

from prometheus_client import Histogram

GENERATIONS = ("0", "1", "2")


class GcPauseTimer:
    """Observes each collection's duration in `histogram` (labelled `generation`) while
    entered; leaving removes the hook."""

    def __init__(self, histogram: Histogram) -> None:
        self._children = tuple(histogram.labels(generation) for generation in GENERATIONS)
        self._started: float | None = None

    def __enter__(self) -> GcPauseTimer:
        gc.callbacks.append(self._callback)
        return self

    def __exit__(
        self,
        kind: type[BaseException] | None,
        value: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        if self._callback in gc.callbacks:
            gc.callbacks.remove(self._callback)

    def _callback(self, phase: str, info: dict[str, Any]) -> None:
        if phase == "start":
            self._started = perf_counter()
        elif self._started is not None:
            self._children[info["generation"]].observe(perf_counter() - self._started)
            self._started = None
