"""Load source files into one canonical event frame, its catalog and a quality report.

Sources are read in the order given. An event identical in every canonical column to an
event of an *earlier* file is rejected in the later file as "duplicate of an event in an
earlier file": overlapping exports (Online Retail II's 2009-2010 year ends on 2010-12-09,
the 2010-2011 file starts on 2010-12-01) are counted once. Duplicates inside one file are
the adapters' business ("exact duplicate line").

With `window_days`, only events at or after `latest event - window_days` are kept; the
others are counted per file as "outside window" (informational, not a defect).
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any, Final, TypeVar

import polars as pl

from training.data.adapters import ATTRIBUTE_SCHEMA, SourceFrame, get_adapter
from training.data.adapters.base import INFO_COUNTS
from training.data.catalog import build_catalog
from training.data.quality import ERASED_USER, OUTSIDE_WINDOW, QualityReport
from training.data.schema import EVENT_SCHEMA, TS, USER
from training.data.split import holdout_window
from training.errors import EmptyDataError

P = TypeVar("P", Path, str)  # a local path, or (Spark engine) a path or URI

CROSS_FILE_DUPLICATE: Final = "duplicate of an event in an earlier file"
_FILE: Final = "_file"


@dataclass(frozen=True)
class SourceFile:
    """One loaded file, for the manifest. `rows_used` = events it contributes after the
    cross-file duplicate check and the window."""

    path: str
    adapter: str
    sha256: str
    rows_read: int
    rows_kept: int
    rows_used: int

    def to_dict(self) -> dict[str, Any]:
        return {
            "path": self.path,
            "adapter": self.adapter,
            "sha256": self.sha256,
            "rows_read": self.rows_read,
            "rows_kept": self.rows_kept,
            "rows_used": self.rows_used,
        }


@dataclass(frozen=True)
class LoadedData:
    """Events (`EVENT_SCHEMA`, sorted by time, ties in source order), their catalog
    (`CATALOG_SCHEMA`), the quality report and the files read, in the order given.
    `window_start` is the window's cutoff (None without a window)."""

    events: pl.DataFrame
    catalog: pl.DataFrame
    quality: QualityReport
    sources: tuple[SourceFile, ...]
    window_start: datetime | None


def load_sources(
    sources: list[tuple[Path, str]],
    *,
    window_days: int | None = None,
    catalog_path: Path | None = None,
    erased_users: frozenset[str] = frozenset(),
) -> LoadedData:
    """Read every (path, adapter name) source; see the module docstring for the rules.

    Raises `DataFormatError` (unknown adapter, unreadable or malformed file) and
    `EmptyDataError` (no source given, or no event survives validation).
    """
    if not sources:
        raise EmptyDataError("no source files given")
    report = QualityReport()
    frames = [get_adapter(name, path)(path, report) for path, name in sources]
    events = _drop_cross_file_duplicates(_tagged_events(frames), report)
    if events.is_empty():
        names = [str(path) for path, _ in sources]
        raise EmptyDataError(f"no usable event in {names}; rejected: {report.rejected}")
    window_start = None
    if window_days is not None:
        window_start = holdout_window(events, window_days)
        events = _apply_window(events, window_start, report)
    if erased_users:
        events = _drop_erased(events, erased_users, report)
    rows_used = _rows_per_file(events)
    read = source_records(sources, report, rows_used, file_sha256)
    events = events.sort(TS, maintain_order=True).drop(_FILE)
    attributes = pl.concat([ATTRIBUTE_SCHEMA.to_frame(), *(f.items for f in frames)])
    catalog = build_catalog(events, attributes=attributes, catalog_path=catalog_path)
    return LoadedData(events, catalog, report, read, window_start)


def source_records(
    sources: Sequence[tuple[P, str]],
    report: QualityReport,
    rows_used: Mapping[int, int],
    sha256: Callable[[P], str],
) -> tuple[SourceFile, ...]:
    """One `SourceFile` per (path, adapter name) source, in order: its quality counts and
    `rows_used[i]` events used from source i."""
    return tuple(
        SourceFile(
            path=quality.path,
            adapter=name,
            sha256=sha256(path),
            rows_read=quality.rows_read,
            rows_kept=quality.rows_kept,
            rows_used=rows_used.get(index, 0),
        )
        for index, ((path, name), quality) in enumerate(zip(sources, report.files, strict=True))
    )


def file_sha256(path: Path) -> str:
    """Hex sha256 of a file's bytes, read in 1 MiB chunks."""
    digest = hashlib.sha256()
    with path.open("rb") as handle:
        while chunk := handle.read(1 << 20):
            digest.update(chunk)
    return digest.hexdigest()


def _tagged_events(frames: list[SourceFrame]) -> pl.DataFrame:
    """All events in file order with `_file` = the source's index."""
    return pl.concat(
        frame.events.with_columns(pl.lit(index, pl.Int32).alias(_FILE))
        for index, frame in enumerate(frames)
    )


def _drop_cross_file_duplicates(events: pl.DataFrame, report: QualityReport) -> pl.DataFrame:
    """Keep each event only in the first file that has it; recount the later files."""
    if len(report.files) < 2:
        return events
    marked = events.with_columns(
        (pl.col(_FILE) > pl.col(_FILE).min().over(list(EVENT_SCHEMA))).alias("_repeat")
    )
    repeated = _rows_per_file(marked.filter("_repeat"))
    if not repeated:
        return events
    for index, rows in repeated.items():
        report.files[index].reject(CROSS_FILE_DUPLICATE, rows)
    kept = marked.filter(~pl.col("_repeat")).drop("_repeat")
    _recount_info(kept.filter(pl.col(_FILE).is_in(list(repeated))), report)
    return kept


def _recount_info(events: pl.DataFrame, report: QualityReport) -> None:
    """Replace the informational counts of the files in `events` by those of `events`."""
    per_file = events.group_by(_FILE).agg(**INFO_COUNTS)
    for counts in per_file.iter_rows(named=True):
        report.files[counts.pop(_FILE)].info.update(counts)


def _apply_window(events: pl.DataFrame, start: datetime, report: QualityReport) -> pl.DataFrame:
    inside = pl.col(TS) >= start
    for index, rows in _rows_per_file(events.filter(~inside)).items():
        report.files[index].note(OUTSIDE_WINDOW, rows)
    return events.filter(inside)


def _drop_erased(
    events: pl.DataFrame, erased: frozenset[str], report: QualityReport
) -> pl.DataFrame:
    """Remove every event of a user erased through the service (`DELETE /v1/users/{id}`)."""
    gone = pl.col(USER).is_in(sorted(erased))
    for index, rows in _rows_per_file(events.filter(gone)).items():
        report.files[index].note(ERASED_USER, rows)
    return events.filter(~gone.fill_null(False))


def _rows_per_file(events: pl.DataFrame) -> dict[int, int]:
    counts = events[_FILE].value_counts()
    return dict(zip(counts[_FILE], counts["count"], strict=True))
