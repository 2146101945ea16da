"""Hand-made canonical event logs for the evaluation tests, and the tiny bundle.

`E(user, item, when, ...)` is one event at `DAY0 + when` days (fractions allowed); the
order id defaults to "<user>@<when>" so that one shopper's lines at one time form one
basket. `events(...)` builds the canonical frame (`EVENT_SCHEMA`), rows in the order given.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path

import polars as pl

from recsvc.artifacts import Bundle, load_bundle
from recsvc.recommend import ServingIndex, build_index
from tests.recsvc.bundle_builder import build_tiny_bundle
from training.data.schema import (
    COUNTRY,
    EVENT,
    EVENT_SCHEMA,
    HOUR,
    ITEM,
    ORDER,
    PRICE,
    QTY,
    SESSION,
    TS,
    USER,
    WEEKDAY,
)

DAY0 = datetime(2011, 12, 1, tzinfo=UTC)  # after the tiny bundle's training data


@dataclass(frozen=True)
class E:
    user: str | None
    item: str
    when: float
    event: str = "purchase"
    qty: float = 1.0
    price: float = 1.0
    order: str | None = None
    session: str | None = None
    country: str = "United Kingdom"


def at(when: float) -> datetime:
    return DAY0 + timedelta(days=when)


def events(rows: Sequence[E]) -> pl.DataFrame:
    """The canonical frame of `rows` (order: "<user>@<when>" unless given or a session)."""
    times = [at(e.when) for e in rows]
    frame = pl.DataFrame(
        {
            USER: [e.user for e in rows],
            ITEM: [e.item for e in rows],
            EVENT: [e.event for e in rows],
            TS: times,
            QTY: [e.qty for e in rows],
            PRICE: [e.price for e in rows],
            ORDER: [e.order or (None if e.session else f"{e.user}@{e.when}") for e in rows],
            SESSION: [e.session for e in rows],
            COUNTRY: [e.country for e in rows],
            HOUR: [t.hour for t in times],
            WEEKDAY: [t.isoweekday() for t in times],
        },
        schema_overrides={TS: EVENT_SCHEMA[TS]},
    )
    return frame.select(
        (pl.col(n) if n in frame.columns else pl.lit(None)).cast(t).alias(n)
        for n, t in EVENT_SCHEMA.items()
    )


def tiny_bundle(path: Path) -> Bundle:
    """The hand-made bundle of `tests.recsvc.bundle_builder` (users u1..u6, items i00..i11,
    trained up to 2011-12-10)."""
    return load_bundle(build_tiny_bundle(path))


def tiny_index(path: Path) -> ServingIndex:
    return build_index(tiny_bundle(path))
