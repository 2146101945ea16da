"""Shared machinery of the source adapters: reading, parse checks, rejection rules, output.

An adapter reads one file into a "canonical frame": one row per source record with the
canonical event columns it knows (others are filled with nulls), optional item attribute
columns (`name`, `category_1..4`), and `_row` (1-based record number). Each rejection rule is
a (reason, boolean expression) pair; a row takes the reason of the *first* rule it fails,
so every rejected row is counted exactly once. `finish` applies the rules, then rejects
events dated before `TIME_RANGE_START` or more than `FUTURE_MARGIN` after the run as
"timestamp out of range" (a year-1 or far-future date would shift every time window and
recency), reports the counts and returns a `SourceFrame`.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Final, Literal

import polars as pl

from training.data.quality import ANONYMOUS, RETURNS, FileQuality, QualityReport
from training.data.schema import (
    CATEGORY_LEVELS,
    EVENT,
    EVENT_SCHEMA,
    HOUR,
    ITEM,
    NAME,
    TS,
    USER,
    WEEKDAY,
)
from training.errors import DataFormatError

ROW = "_row"
"""1-based record number in the source file (header excluded)."""

UTC_TIME = pl.Datetime("us", "UTC")

ATTRIBUTE_SCHEMA = pl.Schema(
    [
        (ITEM, pl.String),
        (TS, UTC_TIME),
        (NAME, pl.String),
        *((c, pl.String) for c in CATEGORY_LEVELS),
    ]
)
"""Item attributes seen on kept source rows: one row per row that carries a name or category."""

TIME_RANGE_START: Final = datetime(1990, 1, 1, tzinfo=UTC)
"""Events before this date are defects, not history (no e-commerce log starts earlier)."""
FUTURE_MARGIN: Final = timedelta(days=1)
"""Events later than the run by more than this (clock skew) are defects."""
OUT_OF_RANGE = "timestamp out of range"

DUPLICATE = "_duplicate"
DUPLICATE_LINE = "exact duplicate line"
UNSUPPORTED_EVENT = "unsupported event type"

_NULL_TEXTS = ("", "nan", "NaN", "None")
"""Texts that mean "no value" (pandas exports write NaN as "nan")."""

Rule = tuple[str, pl.Expr]
INFO_COUNTS: dict[str, pl.Expr] = {
    RETURNS: (pl.col(EVENT) == "return").sum(),
    ANONYMOUS: pl.col(USER).null_count(),
}
"""Informational counts over kept events (aggregations, usable in `select` or `agg`)."""
DUPLICATE_RULE: Rule = (DUPLICATE_LINE, pl.col(DUPLICATE))


@dataclass(frozen=True)
class SourceFrame:
    """What an adapter returns.

    `events` has exactly `EVENT_SCHEMA`, in source order. `items` has `ATTRIBUTE_SCHEMA`:
    the item names and category paths carried by the kept rows, with the event time so the
    catalog can take the most recent value.
    """

    events: pl.DataFrame
    items: pl.DataFrame


Adapter = Callable[[Path, QualityReport], SourceFrame]


def read_table(path: Path, *, separator: str = ",") -> pl.DataFrame:
    """Read a parquet file (its own types) or a CSV file, optionally gzipped (all text).

    Parquet is recognised by its magic bytes, so the suffix does not matter. Raises
    `DataFormatError` when the file is missing or cannot be parsed as either format.
    """
    try:
        with path.open("rb") as handle:
            magic = handle.read(4)
        if magic == b"PAR1":
            return pl.read_parquet(path)
        return pl.read_csv(path, infer_schema=False, separator=separator)
    except OSError as error:
        raise DataFormatError(str(path), f"cannot read the file: {error}") from error
    except (pl.exceptions.PolarsError, UnicodeDecodeError) as error:
        reason = str(error).strip().splitlines()[0]
        raise DataFormatError(
            str(path), f"not a parseable CSV or parquet file: {reason}"
        ) from error


def require_columns(frame: pl.DataFrame, path: Path, columns: Iterable[str]) -> None:
    """Raise `DataFormatError` naming the first required column that is missing."""
    for column in columns:
        if column not in frame.columns:
            raise DataFormatError(
                str(path),
                f"required column is missing (the file has {frame.columns})",
                column=column,
            )


def mark_rows(raw: pl.DataFrame) -> pl.DataFrame:
    """`raw` plus `_row` (1-based record number) and `_duplicate`: True on every repeat of
    an earlier row with identical values in all source columns (the first copy is kept)."""
    return raw.with_columns(
        pl.int_range(1, raw.height + 1, dtype=pl.Int64).alias(ROW),
        (~pl.struct(raw.columns).is_first_distinct()).alias(DUPLICATE),
    )


def as_float(column: str) -> pl.Expr:
    """A source column (text or numeric) as a finite Float64, text stripped; anything else
    (unparsable text, NaN, infinity) -> null."""
    number = pl.col(column).cast(pl.String).str.strip_chars().cast(pl.Float64, strict=False)
    return pl.when(number.is_finite()).then(number)


def as_id(column: str) -> pl.Expr:
    """A source identifier as text: stripped; "" and "nan" -> null."""
    text = pl.col(column).cast(pl.String).str.strip_chars()
    return pl.when(~text.is_in(_NULL_TEXTS)).then(text)


def as_number_id(column: str, dtype: pl.DataType) -> pl.Expr:
    """A numeric id that may be stored as a float (17850.0 or "17850.0") -> "17850"."""
    if dtype.is_float():
        return pl.col(column).cast(pl.Int64, strict=False).cast(pl.String)
    return as_id(column).str.replace(r"^(-?\d+)\.0+$", "${1}")


def as_text(column: str) -> pl.Expr:
    """A free-text source column, stripped; "" and "nan" become null."""
    text = pl.col(column).cast(pl.String).str.strip_chars()
    return pl.when(~text.is_in(_NULL_TEXTS)).then(text)


def as_timestamp(column: str, formats: Sequence[str], dtype: pl.DataType) -> pl.Expr:
    """A source time as UTC: a datetime column as is (naive read as UTC), text parsed with
    the first matching strptime format of `formats`; unparsable -> null."""
    if isinstance(dtype, pl.Datetime):
        moment = pl.col(column)
        if dtype.time_zone is None:
            moment = moment.dt.replace_time_zone("UTC")
        return moment.dt.convert_time_zone("UTC").dt.cast_time_unit("us")
    text = pl.col(column).cast(pl.String).str.strip_chars()
    parsed = (text.str.strptime(pl.Datetime("us"), fmt, strict=False) for fmt in formats)
    return pl.coalesce(parsed).dt.replace_time_zone("UTC")


def from_epoch(column: str, unit: Literal["s", "ms"]) -> pl.Expr:
    """Integer seconds ("s") or milliseconds ("ms") since 1970-01-01 UTC; else null."""
    number = pl.col(column).cast(pl.String).str.strip_chars().cast(pl.Int64, strict=False)
    moment = pl.from_epoch(number, time_unit=unit).dt.replace_time_zone("UTC")
    return moment.dt.cast_time_unit("us")


def category_levels(path: pl.Expr) -> list[pl.Expr]:
    """Split a category path on ">" (if it has one) or "."; the first 4 levels, stripped.

    "electronics.audio.headphone" -> electronics / audio / headphone / null. Empty levels
    are skipped, deeper levels dropped; no path gives four nulls.
    """
    separator = pl.when(path.str.contains(">", literal=True)).then(pl.lit(">"))
    parts = path.str.split(separator.otherwise(pl.lit(".")))
    levels = parts.list.eval(pl.element().str.strip_chars()).list.filter(pl.element() != "")
    return [
        levels.list.get(i, null_on_oob=True).alias(level) for i, level in enumerate(CATEGORY_LEVELS)
    ]


def parse_rules(
    raw: pl.DataFrame, frame: pl.DataFrame, path: Path, parsed: Mapping[str, str]
) -> list[Rule]:
    """Rules "unparsable <canonical>" for values present in `raw` but null in `frame`.

    `parsed` maps canonical column -> source column. A source column that has values of
    which none parses means the file is not in the declared format: `DataFormatError`
    naming the column and the first row.
    """
    rules: list[Rule] = []
    for target, source in parsed.items():
        bad = raw[source].is_not_null() & frame[target].is_null()
        present = raw[source].count()
        if present and bad.sum() == present:
            first = int(bad.arg_true()[0])
            raise DataFormatError(
                str(path),
                f"no value parses as {target} (first value {raw[source][first]!r})",
                row=int(frame[ROW][first]),
                column=source,
            )
        rules.append((f"unparsable {target}", pl.lit(bad)))
    return rules


def missing_rules(columns: Iterable[str]) -> list[Rule]:
    """Rules "missing <column>" for canonical columns that must not be null."""
    return [(f"missing {column}", pl.col(column).is_null()) for column in columns]


def finish(
    frame: pl.DataFrame,
    rules: Sequence[Rule],
    *,
    path: Path,
    source: str,
    report: QualityReport,
) -> SourceFrame:
    """Apply `rules` (first failing rule wins), report the counts, return the kept rows.

    `frame[EVENT]` holds canonical event type names as text; rows whose type is null must be
    caught by a rule. Hour and weekday are derived from the UTC timestamp.
    """
    latest = datetime.now(UTC) + FUTURE_MARGIN
    in_range = pl.col(TS).is_between(TIME_RANGE_START, latest)
    rules = [*rules, (OUT_OF_RANGE, pl.col(TS).is_not_null() & ~in_range)]
    reason = pl.coalesce(pl.when(cond).then(pl.lit(name)) for name, cond in rules)
    frame = frame.with_columns(reason.alias("_reason"))
    kept = frame.filter(pl.col("_reason").is_null())
    rejected = frame["_reason"].drop_nulls().value_counts()
    quality = FileQuality(
        path=str(path),
        source=source,
        rows_read=frame.height,
        rows_kept=kept.height,
        rejected=dict(zip(rejected["_reason"], rejected["count"], strict=True)),
    )
    events = _canonical_events(kept)
    quality.info.update(events.select(**INFO_COUNTS).row(0, named=True))
    report.add(quality)
    return SourceFrame(events=events, items=_attributes(kept))


def _canonical_events(kept: pl.DataFrame) -> pl.DataFrame:
    derived = kept.with_columns(
        pl.col(TS).dt.hour().alias(HOUR), pl.col(TS).dt.weekday().alias(WEEKDAY)
    )
    return derived.select(
        pl.col(name).cast(dtype) if name in derived.columns else pl.lit(None, dtype).alias(name)
        for name, dtype in EVENT_SCHEMA.items()
    )


def _attributes(kept: pl.DataFrame) -> pl.DataFrame:
    columns = [c for c in (NAME, *CATEGORY_LEVELS) if c in kept.columns]
    if not columns:
        return ATTRIBUTE_SCHEMA.to_frame()
    carried = kept.filter(pl.any_horizontal(pl.col(columns).is_not_null()))
    return carried.select(
        pl.col(name).cast(dtype) if name in carried.columns else pl.lit(None, dtype).alias(name)
        for name, dtype in ATTRIBUTE_SCHEMA.items()
    )
