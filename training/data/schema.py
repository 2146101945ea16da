"""The canonical event and catalog schema, defined once.

Every adapter turns its source into a frame with exactly `EVENT_SCHEMA`'s columns;
everything downstream takes canonical frames and refers to columns by these names.

Event types: `view`, `click`, `bid` (add-to-cart or order placed), `purchase`, and
`return` (a cancellation or negative-quantity line; it nets out purchases and is never
counted as a purchase).
"""

from __future__ import annotations

from typing import Final

import polars as pl

USER: Final = "user_id"
ITEM: Final = "item_id"
EVENT: Final = "event_type"
TS: Final = "timestamp"
QTY: Final = "quantity"
PRICE: Final = "unit_price"
ORDER: Final = "order_id"
SESSION: Final = "session_id"
COUNTRY: Final = "country"
DEVICE: Final = "device"
CHANNEL: Final = "channel"
HOUR: Final = "hour"
WEEKDAY: Final = "weekday"

# Indices into the bundle's id maps, added by `training.data.dataset`.
USER_IDX: Final = "user_idx"
ITEM_IDX: Final = "item_idx"

EVENT_TYPES: Final = ("view", "click", "bid", "purchase", "return")
EventType = pl.Enum(list(EVENT_TYPES))

_EVENT_COLUMNS: dict[str, pl.DataType | type[pl.DataType]] = {
    USER: pl.String,  # null for anonymous baskets
    ITEM: pl.String,
    EVENT: EventType,
    TS: pl.Datetime("us", "UTC"),
    QTY: pl.Float64,
    PRICE: pl.Float64,  # null where the source has no price
    ORDER: pl.String,  # order / basket id; null where the source has none
    SESSION: pl.String,
    COUNTRY: pl.String,
    DEVICE: pl.String,
    CHANNEL: pl.String,
    HOUR: pl.Int8,  # derived from TS, UTC
    WEEKDAY: pl.Int8,  # derived from TS, 1 = Monday ... 7 = Sunday
}
EVENT_SCHEMA: Final = pl.Schema(_EVENT_COLUMNS)

# Item catalog: one row per item id.
NAME: Final = "name"
CATEGORY_LEVELS: Final = ("category_1", "category_2", "category_3", "category_4")
AVAILABLE: Final = "available"

CATALOG_SCHEMA: Final = pl.Schema(
    [
        (ITEM, pl.String),
        (NAME, pl.String),
        *((level, pl.String) for level in CATEGORY_LEVELS),
        (PRICE, pl.Float64),  # last seen unit price
        (AVAILABLE, pl.Boolean),
    ]
)
