"""Timing and memory of pipeline stages, and the progress hook the CLI plugs into."""

from __future__ import annotations

import resource
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Protocol


class ProgressHook(Protocol):
    """Told when a stage starts and ends (the CLI draws a progress bar from it)."""

    def started(self, stage: str) -> None: ...

    def finished(self, stage: str, seconds: float) -> None: ...


class SilentProgress:
    """A hook that shows nothing (library use and tests)."""

    def started(self, stage: str) -> None:
        del stage

    def finished(self, stage: str, seconds: float) -> None:
        del stage, seconds


@dataclass(frozen=True)
class StageTiming:
    """Wall time of one stage and the process's peak RSS when it ended (MiB)."""

    stage: str
    seconds: float
    peak_rss_mib: float


@dataclass
class StageClock:
    """Runs stages under a timer and collects `StageTiming`s in order."""

    hook: ProgressHook = field(default_factory=SilentProgress)
    timings: list[StageTiming] = field(default_factory=list)

    @contextmanager
    def stage(self, name: str) -> Iterator[None]:
        self.hook.started(name)
        start = time.perf_counter()
        yield
        seconds = time.perf_counter() - start
        self.timings.append(StageTiming(name, round(seconds, 3), peak_rss_mib()))
        self.hook.finished(name, seconds)


def peak_rss_mib() -> float:
    """Peak resident set size of this process so far, in MiB."""
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    divisor = 1024 * 1024 if sys.platform == "darwin" else 1024  # bytes on macOS, KiB on Linux
    return round(peak / divisor, 1)
