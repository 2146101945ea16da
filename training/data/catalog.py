"""The item catalog: one row per item id seen in the events, with `CATALOG_SCHEMA`.

- `name`: the most recent non-null name among the item attributes the adapters carried
  (Online Retail's Description, Groceries' item name); null when no source names the item.
- `category_1..4`: the levels of the most recent non-null category path (REES46's
  `category_code`, a mapped `category` column). Levels always come from one path, never
  mixed from two. Online Retail has no categories: they stay null (nothing is invented).
- `unit_price`: the price of the item's most recent purchase with a positive price; null
  when it was never bought at a positive price.
- `available`: True, unless a catalog file says otherwise.

"Most recent" ties (same timestamp) go to the later row in input order.

An optional catalog file (CSV or parquet) with column `item_id` and any of `name`,
`category` (a path with ">" or "." separators), `price`, `available` (true/false, yes/no,
1/0) describes the shop as it is now, so its non-null values override what the events
show. Its items that never occur in the events are left out. The file is curated input,
so any defect in it (duplicate id, unparsable price or flag) raises `DataFormatError`.
"""

from __future__ import annotations

from pathlib import Path
from typing import Final

import polars as pl

from training.data.adapters.base import (
    ATTRIBUTE_SCHEMA,
    as_float,
    as_id,
    as_text,
    category_levels,
    read_table,
    require_columns,
)
from training.data.schema import (
    AVAILABLE,
    CATALOG_SCHEMA,
    CATEGORY_LEVELS,
    EVENT,
    ITEM,
    NAME,
    PRICE,
    TS,
)
from training.errors import DataFormatError

CATALOG_FILE_COLUMNS: Final = ("item_id", "name", "category", "price", "available")
_TRUE: Final = ("true", "t", "yes", "y", "1")
_FALSE: Final = ("false", "f", "no", "n", "0")


def build_catalog(
    events: pl.DataFrame,
    *,
    attributes: pl.DataFrame | None = None,
    catalog_path: Path | None = None,
) -> pl.DataFrame:
    """The catalog of the items in `events` (canonical schema), sorted by item id.

    `attributes` has `ATTRIBUTE_SCHEMA` (the concatenated `SourceFrame.items`).
    """
    if attributes is None:
        attributes = ATTRIBUTE_SCHEMA.to_frame()
    derived = (
        events.select(pl.col(ITEM).unique())
        .join(_latest_names(attributes), on=ITEM, how="left")
        .join(_latest_categories(attributes), on=ITEM, how="left")
        .join(_latest_prices(events), on=ITEM, how="left")
        .with_columns(pl.lit(True).alias(AVAILABLE))
    )
    if catalog_path is not None:
        derived = override_catalog(derived, read_catalog_file(catalog_path))
    return derived.select(pl.col(c).cast(t) for c, t in CATALOG_SCHEMA.items()).sort(ITEM)


def read_catalog_file(path: Path) -> pl.DataFrame:
    """A catalog file as a frame with `CATALOG_SCHEMA` (nulls where the file is silent)."""
    raw = read_table(path)
    require_columns(raw, path, ("item_id",))
    present = set(raw.columns)
    raw = raw.with_columns(
        pl.lit(None, pl.String).alias(c) for c in CATALOG_FILE_COLUMNS if c not in present
    )
    flag = as_text("available").str.to_lowercase()
    frame = raw.select(
        as_id("item_id").alias(ITEM),
        as_text("name").alias(NAME),
        *category_levels(as_text("category")),
        as_float("price").alias(PRICE),
        pl.when(flag.is_in(_TRUE)).then(True).when(flag.is_in(_FALSE)).then(False).alias(AVAILABLE),
    )
    _check(path, raw, "item_id", "has no item id", frame[ITEM].is_null())
    _check(path, raw, "item_id", "repeats an earlier item id", ~frame[ITEM].is_first_distinct())
    for target, source in ((PRICE, "price"), (AVAILABLE, "available")):
        bad = raw[source].is_not_null() & frame[target].is_null()
        _check(path, raw, source, "does not parse", bad)
    return frame


def _check(path: Path, raw: pl.DataFrame, source: str, problem: str, bad: pl.Series) -> None:
    """Raise for the first row where `bad` holds (row = 1-based data row)."""
    if bad.any():
        first = int(bad.arg_true()[0])
        value = raw[source][first]
        raise DataFormatError(str(path), f"{problem} ({value!r})", row=first + 1, column=source)


def _latest(frame: pl.DataFrame, present: str, columns: list[str]) -> pl.DataFrame:
    """Per item, `columns` of the most recent row where `present` is not null."""
    return (
        frame.filter(pl.col(present).is_not_null())
        .sort(TS, maintain_order=True)
        .group_by(ITEM)
        .agg(pl.col(columns).last())
    )


def _latest_names(attributes: pl.DataFrame) -> pl.DataFrame:
    return _latest(attributes, NAME, [NAME])


def _latest_categories(attributes: pl.DataFrame) -> pl.DataFrame:
    return _latest(attributes, CATEGORY_LEVELS[0], list(CATEGORY_LEVELS))


def _latest_prices(events: pl.DataFrame) -> pl.DataFrame:
    purchases = events.filter((pl.col(EVENT) == "purchase") & (pl.col(PRICE) > 0))
    return _latest(purchases, PRICE, [PRICE])


def override_catalog(derived: pl.DataFrame, listed: pl.DataFrame) -> pl.DataFrame:
    """Non-null catalog-file values win; category levels are replaced as one path."""
    joined = derived.join(listed, on=ITEM, how="left", suffix="_file")
    has_path = pl.col(f"{CATEGORY_LEVELS[0]}_file").is_not_null()
    return joined.with_columns(
        *(pl.coalesce(f"{c}_file", c).alias(c) for c in (NAME, PRICE, AVAILABLE)),
        *(
            pl.when(has_path).then(pl.col(f"{c}_file")).otherwise(c).alias(c)
            for c in CATEGORY_LEVELS
        ),
    )
