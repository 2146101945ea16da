"""Rich progress bars and the summary table the `recsvc` CLI prints."""

from __future__ import annotations

import sys
from types import TracebackType

from rich.console import Console
from rich.progress import Progress, SpinnerColumn, TaskID, TextColumn, TimeElapsedColumn
from rich.table import Table

from training.pipeline import TrainResult

# Wide enough for the quality table when stderr is not a terminal (CI logs, pipes).
console = Console(stderr=True, width=None if sys.stderr.isatty() else 140)


class RichProgress:
    """A `ProgressHook` drawing one line per stage with a spinner and elapsed time."""

    def __init__(self) -> None:
        self._progress = Progress(
            SpinnerColumn(),
            TextColumn("{task.description}"),
            TimeElapsedColumn(),
            console=console,
            transient=False,
        )
        self._tasks: dict[str, TaskID] = {}

    def __enter__(self) -> RichProgress:
        self._progress.start()
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self._progress.stop()

    def started(self, stage: str) -> None:
        self._tasks[stage] = self._progress.add_task(stage, total=1)

    def finished(self, stage: str, seconds: float) -> None:
        self._progress.update(
            self._tasks[stage], completed=1, description=f"{stage} ({seconds:.1f} s)"
        )


def print_train_summary(result: TrainResult) -> None:
    """Data quality, per-stage time and memory, and where the bundle went."""
    console.print(result.facts.quality.render())
    table = Table(title="training stages")
    for column in ("stage", "seconds", "peak RSS (MiB)"):
        table.add_column(column, justify="right" if column != "stage" else "left")
    for timing in result.timings:
        table.add_row(timing.stage, f"{timing.seconds:.2f}", f"{timing.peak_rss_mib:.0f}")
    console.print(table)
    summary = Table(title="bundle")
    summary.add_column("what")
    summary.add_column("value")
    for key, value in result.summary.items():
        summary.add_row(key, str(value))
    summary.add_row("version", result.published.version)
    where = result.published.location or str(result.published.path)
    summary.add_row("path", where)
    console.print(summary)
    print(where)
