"""`QualityReport`: what each source file held and what ingestion did with every row.

Per source file: rows read, rows kept, rows rejected by reason, and informational counts
(returns, anonymous rows, rows outside the training window) that are not defects.
Invariant, per file and in total: ``rows_read == rows_kept + sum(rejected.values())``.
"Rows" are the adapter's source records (one per event candidate; see each adapter).
Informational counts describe kept rows and never enter that sum.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field
from pathlib import PurePath
from typing import Any

from rich.table import Table
from rich.text import Text

RETURNS = "returns"
ANONYMOUS = "anonymous"
OUTSIDE_WINDOW = "outside window"
ERASED_USER = "erased user (privacy request)"
INFO_KINDS = (RETURNS, ANONYMOUS, OUTSIDE_WINDOW)


@dataclass
class FileQuality:
    """Counts for one source file read by one adapter."""

    path: str
    source: str
    rows_read: int
    rows_kept: int
    rejected: dict[str, int] = field(default_factory=dict)
    info: dict[str, int] = field(default_factory=dict)

    @property
    def rows_rejected(self) -> int:
        return sum(self.rejected.values())

    @property
    def balanced(self) -> bool:
        """True when read == kept + rejected (always, unless an adapter miscounted)."""
        return self.rows_read == self.rows_kept + self.rows_rejected

    def reject(self, reason: str, rows: int) -> None:
        """Move `rows` kept rows to the rejection `reason` (e.g. found later to be duplicates)."""
        if rows:
            self.rows_kept -= rows
            self.rejected[reason] = self.rejected.get(reason, 0) + rows

    def note(self, what: str, rows: int) -> None:
        """Add an informational count (not a rejection)."""
        if rows:
            self.info[what] = self.info.get(what, 0) + rows

    def to_dict(self) -> dict[str, Any]:
        return {
            "path": self.path,
            "source": self.source,
            "rows_read": self.rows_read,
            "rows_kept": self.rows_kept,
            "rows_rejected": self.rows_rejected,
            "rejected": dict(sorted(self.rejected.items())),
            "info": dict(sorted(self.info.items())),
        }


@dataclass
class QualityReport:
    """The per-file counts of one load, in the order the files were read."""

    files: list[FileQuality] = field(default_factory=list)

    def add(self, quality: FileQuality) -> None:
        self.files.append(quality)

    @property
    def rows_read(self) -> int:
        return sum(f.rows_read for f in self.files)

    @property
    def rows_kept(self) -> int:
        return sum(f.rows_kept for f in self.files)

    @property
    def rejected(self) -> dict[str, int]:
        """Rejections by reason, summed over files."""
        return dict(sum((Counter(f.rejected) for f in self.files), Counter()))

    @property
    def info(self) -> dict[str, int]:
        """Informational counts summed over files."""
        return dict(sum((Counter(f.info) for f in self.files), Counter()))

    @property
    def balanced(self) -> bool:
        return all(f.balanced for f in self.files)

    def to_dict(self) -> dict[str, Any]:
        """JSON-serialisable totals plus one entry per file (for quality.json and the manifest)."""
        rejected = self.rejected
        return {
            "rows_read": self.rows_read,
            "rows_kept": self.rows_kept,
            "rows_rejected": sum(rejected.values()),
            "rejected": dict(sorted(rejected.items())),
            "info": dict(sorted(self.info.items())),
            "files": [f.to_dict() for f in self.files],
        }

    def render(self) -> Table:
        """A rich table: one line per file (by file name), one indented line per rejection
        reason, and a total line when there are several files. Names are plain text, never
        rich markup."""
        table = Table(title="Data quality", title_justify="left")
        table.add_column("source file / reason")
        for heading in ("read", "kept", "rejected", *INFO_KINDS):
            table.add_column(heading, justify="right")
        for f in self.files:
            table.add_row(Text(f"{PurePath(f.path).name} [{f.source}]"), *_counts(f))
            for reason, rows in sorted(f.rejected.items(), key=lambda kv: -kv[1]):
                table.add_row(Text(f"  {reason}"), "", "", _number(rows), *("" for _ in INFO_KINDS))
        if len(self.files) > 1:
            total = FileQuality(
                "total", "", self.rows_read, self.rows_kept, self.rejected, self.info
            )
            table.add_section()
            table.add_row("total", *_counts(total))
        return table


def _counts(f: FileQuality) -> list[str]:
    info = [_number(f.info.get(what, 0)) for what in INFO_KINDS]
    return [_number(f.rows_read), _number(f.rows_kept), _number(f.rows_rejected), *info]


def _number(value: int) -> str:
    return f"{value:,}"
