"""The Groceries baskets (R arules): one basket per line, comma-separated item names.

The file has no header, no user, no time and no quantity. One source row = one item entry
of a line (an empty line counts as one row, rejected as "empty line"):

- `order_id` = "g<line number>" (1-based), `item_id` = the item name (also its catalog
  name), `event_type` = purchase, `quantity` = 1, user, price and the rest null.
- `timestamp` = `GROCERIES_TIME` (2000-01-01 00:00 UTC) for every basket: the source has
  no time, so time splits and windows cannot separate these baskets.

Rejections: empty line; missing item id (an empty entry such as "milk,,bread"); item
repeated in basket (baskets are sets).
"""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path
from typing import Final

import polars as pl

from training.data.adapters.base import ROW, Rule, SourceFrame, finish, missing_rules
from training.data.quality import QualityReport
from training.data.schema import EVENT, ITEM, NAME, ORDER, QTY, TS
from training.errors import DataFormatError

GROCERIES_TIME: Final = datetime(2000, 1, 1, tzinfo=UTC)
"""The fixed, documented timestamp of every Groceries basket (the file has none)."""

EMPTY_LINE = "empty line"
REPEATED_ITEM = "item repeated in basket"


def read_groceries(path: Path, report: QualityReport) -> SourceFrame:
    """Read a basket-per-line file; see the module docstring for the mapping."""
    entries = _entries(_lines(path))
    item = pl.when(pl.col("_entry") == "").then(None).otherwise(pl.col("_entry"))
    frame = entries.select(
        ROW,
        "_empty",
        item.alias(ITEM),
        item.alias(NAME),
        pl.format("g{}", pl.col(ROW)).alias(ORDER),
        pl.lit("purchase").alias(EVENT),
        pl.lit(GROCERIES_TIME).alias(TS),
        pl.lit(1.0).alias(QTY),
    )
    rules: list[Rule] = [
        (EMPTY_LINE, pl.col("_empty")),
        *missing_rules((ITEM,)),
        (REPEATED_ITEM, ~pl.struct(ROW, ITEM).is_first_distinct()),
    ]
    return finish(frame, rules, path=path, source="groceries", report=report)


def _lines(path: Path) -> list[str]:
    """The file's lines: only "\n", "\r\n" or "\r" end one (`str.splitlines` would also
    split inside an item name at "\x0c", "\x1c", "\x85", "\u2028", ...)."""
    try:
        text = path.read_text(encoding="utf-8")
    except OSError as error:
        raise DataFormatError(str(path), f"cannot read the file: {error}") from error
    except UnicodeDecodeError as error:
        raise DataFormatError(str(path), f"not a UTF-8 text file: {error}") from error
    text = text.replace("\r\n", "\n").replace("\r", "\n")
    return text.removesuffix("\n").split("\n") if text else []


def _entries(lines: list[str]) -> pl.DataFrame:
    """One row per comma-separated entry (stripped), `_row` = 1-based line number."""
    text = pl.DataFrame({"_line": lines}, schema={"_line": pl.String})
    return (
        text.with_row_index(ROW, offset=1)
        .with_columns(
            pl.col(ROW).cast(pl.Int64),
            (pl.col("_line").str.strip_chars() == "").alias("_empty"),
            pl.col("_line").str.split(",").alias("_entry"),
        )
        .explode("_entry")
        .with_columns(pl.col("_entry").str.strip_chars())
    )
