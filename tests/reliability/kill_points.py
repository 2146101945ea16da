"""Runs the `recsvc` CLI in this process and stops at a named point, to be killed there.

    python tests/reliability/kill_points.py POINT train --data ... --out ...

POINT is a pipeline stage (the run stops as the stage starts) or one of `EXPORT_POINTS`
inside the publication of the bundle. At the point the process prints `AT <point>` on
stdout and sleeps until it is killed (the tests send SIGKILL); `STAGE <name>` is printed as
each stage starts. With a point the run never reaches, it completes normally. Nothing here
changes what the pipeline does; the wrappers only pause around the real calls.
"""

from __future__ import annotations

import os
import sys
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from functools import wraps
from pathlib import Path
from typing import Any

from recsvc.artifacts import bundle as artifacts_bundle
from training import export
from training.cli import app
from training.stages import StageClock

EXPORT_POINTS: dict[str, str] = {
    "staging-partial": "three parts written into the staging directory",
    "staged": "staging directory complete and verified, before its rename",
    "renamed": "bundle renamed to its version and verified, before `current` moves",
    "pointer-written": "new pointer written to its temp file, before the atomic replace",
    "published": "`current` moved, before old versions are pruned",
}
PARTS_BEFORE_PAUSE = 3


def pause(point: str, target: str) -> None:
    """Announce `point`; if it is the target, wait to be killed."""
    if point == target:
        print(f"AT {point}", flush=True)
        time.sleep(3600)


def before(function: Callable[..., Any], point: str, target: str) -> Callable[..., Any]:
    @wraps(function)
    def paused(*args: Any, **kwargs: Any) -> Any:
        pause(point, target)
        return function(*args, **kwargs)

    return paused


def install(target: str) -> None:
    """Wrap the pipeline's stage clock and the export's steps with pauses at `target`."""
    stage = StageClock.stage

    @contextmanager
    def announced(self: StageClock, name: str) -> Iterator[None]:
        print(f"STAGE {name}", flush=True)
        pause(name, target)
        with stage(self, name):
            yield

    StageClock.stage = announced  # type: ignore[method-assign]
    names = vars(export)  # the export module's globals: its calls go through them
    write_part = names["write_part"]
    written = 0

    def counted_write_part(*args: Any, **kwargs: Any) -> list[Path]:
        nonlocal written
        paths: list[Path] = write_part(*args, **kwargs)
        written += 1
        if written == PARTS_BEFORE_PAUSE:
            pause("staging-partial", target)
        return paths

    names["write_part"] = counted_write_part
    names["publish"] = before(names["publish"], "staged", target)
    names["write_current"] = before(names["write_current"], "renamed", target)
    names["prune"] = before(names["prune"], "published", target)
    replace = os.replace

    def pointer_replace(source: Any, destination: Any, **kwargs: Any) -> None:
        if Path(destination).name == artifacts_bundle.CURRENT_FILE:
            pause("pointer-written", target)
        replace(source, destination, **kwargs)

    vars(os)["replace"] = pointer_replace  # `write_current` calls os.replace


if __name__ == "__main__":
    install(sys.argv[1])
    app(sys.argv[2:], prog_name="recsvc")
