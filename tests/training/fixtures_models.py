"""Data builders for the model tests: tiny hand-made event logs and an Online Retail slice.

The Online Retail mapping here is deliberately minimal (the official adapter lives in
`training.data`); it only has to produce canonical events for model tests.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from functools import cache
from pathlib import Path

import polars as pl
import pytest

from recsvc.artifacts import PARTS, Part
from training.data.dataset import TrainingData, build_dataset
from training.data.schema import (
    AVAILABLE,
    CATALOG_SCHEMA,
    CATEGORY_LEVELS,
    COUNTRY,
    EVENT,
    EVENT_SCHEMA,
    HOUR,
    ITEM,
    NAME,
    ORDER,
    PRICE,
    QTY,
    TS,
    USER,
    WEEKDAY,
)

BASE_TIME = datetime(2024, 1, 1, tzinfo=UTC)
DATA_DIR = Path(__file__).resolve().parents[2] / ".." / "shared" / "data"
ONLINE_RETAIL = DATA_DIR / "online_retail" / "online_retail.parquet"


@dataclass(frozen=True)
class Ev:
    """One hand-made event, `day` days (and `hour` hours) after `BASE_TIME`.

    `order` defaults to one order per (user, day, hour): "<user>@<day>h<hour>".
    """

    user: str | None
    item: str
    day: float
    event: str = "purchase"
    qty: float = 1.0
    price: float | None = 1.0
    order: str | None = None
    country: str | None = "GB"
    hour: int = 10


def at(day: float, hour: int = 0) -> datetime:
    """`BASE_TIME` plus `day` days and `hour` hours."""
    return BASE_TIME + timedelta(days=day, hours=hour)


def tiny_data(
    events: Sequence[Ev],
    *,
    reference_day: float | None = None,
    categories: Mapping[str, Sequence[str]] | None = None,
    extra_items: Sequence[str] = (),
) -> TrainingData:
    """`TrainingData` over `events`; the catalog holds every item seen plus `extra_items`.

    `categories` maps item id → its category path (levels 1.., at most 4); the reference
    time is `at(reference_day)`, or the last event when None.
    """
    times = [at(e.day, e.hour) for e in events]
    frame = pl.DataFrame(
        {
            USER: [e.user for e in events],
            ITEM: [e.item for e in events],
            EVENT: [e.event for e in events],
            TS: times,
            QTY: [e.qty for e in events],
            PRICE: [e.price for e in events],
            ORDER: [e.order or f"{e.user}@{e.day}h{e.hour}" for e in events],
            COUNTRY: [e.country for e in events],
            HOUR: [t.hour for t in times],
            WEEKDAY: [t.isoweekday() for t in times],
        },
        schema_overrides={TS: EVENT_SCHEMA[TS]},
    )
    frame = _canonical(frame)
    items = sorted({e.item for e in events} | set(extra_items))
    paths = categories or {}
    catalog = pl.DataFrame(
        {
            ITEM: items,
            NAME: [f"name of {i}" for i in items],
            **{
                level: [_level(paths.get(i, ()), depth) for i in items]
                for depth, level in enumerate(CATEGORY_LEVELS)
            },
            PRICE: [1.0] * len(items),
            AVAILABLE: [True] * len(items),
        },
        schema=CATALOG_SCHEMA,
    )
    reference = None if reference_day is None else at(reference_day)
    return build_dataset(frame, catalog, reference)


def _level(path: Sequence[str], depth: int) -> str | None:
    return path[depth] if depth < len(path) else None


@cache
def online_retail_data(customer_modulo: int = 1) -> TrainingData:
    """Online Retail 2010-2011 as `TrainingData`; keeps customers whose id % modulo == 0.

    Anonymous lines are kept for the invoices whose number ends in 0 when slicing
    (`customer_modulo` > 1), all of them otherwise.
    """
    raw = pl.read_parquet(ONLINE_RETAIL)
    if customer_modulo > 1:
        raw = raw.filter(
            (pl.col("CustomerID").cast(pl.Int64) % customer_modulo == 0)
            | (pl.col("CustomerID").is_null() & pl.col("InvoiceNo").str.ends_with("0"))
        )
    events = online_retail_events(raw)
    return build_dataset(events, online_retail_catalog(raw))


def online_retail_events(raw: pl.DataFrame) -> pl.DataFrame:
    """Canonical events: C-invoices and non-positive quantities become returns (|quantity|)."""
    ts = pl.col("InvoiceDate").str.to_datetime("%Y-%m-%d %H:%M:%S", time_unit="us", time_zone="UTC")
    is_return = pl.col("InvoiceNo").str.starts_with("C") | (pl.col("Quantity") <= 0)
    mapped = raw.select(
        pl.col("CustomerID").cast(pl.Int64).cast(pl.String).alias(USER),
        pl.col("StockCode").alias(ITEM),
        pl.when(is_return).then(pl.lit("return")).otherwise(pl.lit("purchase")).alias(EVENT),
        ts.alias(TS),
        pl.col("Quantity").abs().cast(pl.Float64).alias(QTY),
        pl.col("UnitPrice").alias(PRICE),
        pl.col("InvoiceNo").alias(ORDER),
        pl.col("Country").alias(COUNTRY),
    ).with_columns(pl.col(TS).dt.hour().alias(HOUR), pl.col(TS).dt.weekday().alias(WEEKDAY))
    return _canonical(mapped)


def _canonical(frame: pl.DataFrame) -> pl.DataFrame:
    """`frame` cast to `EVENT_SCHEMA`, absent columns null."""
    return frame.select(
        (pl.col(name) if name in frame else pl.lit(None)).cast(dtype).alias(name)
        for name, dtype in EVENT_SCHEMA.items()
    )


def online_retail_catalog(raw: pl.DataFrame) -> pl.DataFrame:
    """One row per stock code: last description and unit price, no categories, in stock."""
    catalog = raw.group_by("StockCode").agg(
        pl.col("Description").drop_nulls().last().alias(NAME),
        pl.col("UnitPrice").last().alias(PRICE),
    )
    return catalog.select(
        pl.col("StockCode").alias(ITEM),
        pl.col(NAME),
        *(pl.lit(None, pl.String).alias(level) for level in CATEGORY_LEVELS),
        pl.col(PRICE),
        pl.lit(True).alias(AVAILABLE),
    )


def retail_slice() -> TrainingData:
    """Online Retail customers with id % 10 == 0 (about 440), or skip the calling test."""
    if not ONLINE_RETAIL.is_file():
        pytest.skip(f"{ONLINE_RETAIL} is absent")
    return online_retail_data(10)


def assert_matches_contract(part: Part) -> None:
    """Every array the contract names for `part` is present with its dtype kind and rank."""
    spec = PARTS[part.name]
    for name, (kind, ndim) in spec.arrays.items():
        array = part.arrays[name]
        assert (array.dtype.kind, array.ndim) == (kind, ndim), name
