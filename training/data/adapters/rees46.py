"""REES46 multi-category store event log (`event_time,event_type,product_id,...`).

One source row = one event. `event_type`: view -> view, cart -> bid, purchase -> purchase;
anything else (e.g. remove_from_cart) is rejected as "unsupported event type".
`user_id` and `item_id` (= product_id) as text, `session_id` = user_session, `unit_price` =
price, `quantity` = 1, `order_id` null (downstream a purchase's basket is its session),
country, device and channel null. `category_code` ("electronics.audio.headphone") gives the
item's category levels; the file has no item names.

Rejections, first matching reason wins: exact duplicate line; unparsable timestamp or
price; missing item or timestamp; unsupported event type.
"""

from __future__ import annotations

from pathlib import Path
from typing import Final

import polars as pl

from training.data.adapters.base import (
    DUPLICATE,
    DUPLICATE_RULE,
    ROW,
    UNSUPPORTED_EVENT,
    Rule,
    SourceFrame,
    as_float,
    as_id,
    as_text,
    as_timestamp,
    category_levels,
    finish,
    mark_rows,
    missing_rules,
    parse_rules,
    read_table,
    require_columns,
)
from training.data.quality import QualityReport
from training.data.schema import EVENT, ITEM, PRICE, QTY, SESSION, TS, USER

COLUMNS: Final = (
    "event_time",
    "event_type",
    "product_id",
    "category_code",
    "price",
    "user_id",
    "user_session",
)
EVENT_MAP: Final = {"view": "view", "cart": "bid", "purchase": "purchase"}
TIME_FORMATS: Final = ("%Y-%m-%d %H:%M:%S UTC", "%Y-%m-%d %H:%M:%S")


def read_rees46(path: Path, report: QualityReport) -> SourceFrame:
    """Read a REES46 event file; see the module docstring for the mapping."""
    raw = read_table(path)
    require_columns(raw, path, COLUMNS)
    raw = mark_rows(raw)
    frame = raw.select(
        ROW,
        DUPLICATE,
        as_id("user_id").alias(USER),
        as_id("product_id").alias(ITEM),
        as_text("event_type").replace_strict(EVENT_MAP, default=None).alias(EVENT),
        as_timestamp("event_time", TIME_FORMATS, raw.schema["event_time"]).alias(TS),
        pl.lit(1.0).alias(QTY),
        as_float("price").alias(PRICE),
        as_id("user_session").alias(SESSION),
        *category_levels(as_text("category_code")),
    )
    rules: list[Rule] = [
        DUPLICATE_RULE,
        *parse_rules(raw, frame, path, {TS: "event_time", PRICE: "price"}),
        *missing_rules((ITEM, TS)),
        (UNSUPPORTED_EVENT, pl.col(EVENT).is_null()),
    ]
    return finish(frame, rules, path=path, source="rees46", report=report)
