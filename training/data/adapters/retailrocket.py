"""RetailRocket event log (`timestamp,visitorid,event,itemid,transactionid`).

One source row = one event. `timestamp` is milliseconds since 1970-01-01 UTC. `event`:
view -> view, addtocart -> bid, transaction -> purchase with `order_id` = transactionid;
anything else is rejected as "unsupported event type". `user_id` = visitorid, `item_id` =
itemid, `quantity` = 1; price, session, country, device and channel are null (the log has
none; the order id is set on purchases only).

Rejections, first matching reason wins: exact duplicate line; unparsable timestamp; missing
item or timestamp; unsupported event type.
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
    as_id,
    as_text,
    finish,
    from_epoch,
    mark_rows,
    missing_rules,
    parse_rules,
    read_table,
    require_columns,
)
from training.data.quality import QualityReport
from training.data.schema import EVENT, ITEM, ORDER, QTY, TS, USER

COLUMNS: Final = ("timestamp", "visitorid", "event", "itemid", "transactionid")
EVENT_MAP: Final = {"view": "view", "addtocart": "bid", "transaction": "purchase"}


def read_retailrocket(path: Path, report: QualityReport) -> SourceFrame:
    """Read a RetailRocket events file; see the module docstring for the mapping."""
    raw = read_table(path)
    require_columns(raw, path, COLUMNS)
    raw = mark_rows(raw)
    event = as_text("event").replace_strict(EVENT_MAP, default=None)
    frame = raw.select(
        ROW,
        DUPLICATE,
        as_id("visitorid").alias(USER),
        as_id("itemid").alias(ITEM),
        event.alias(EVENT),
        from_epoch("timestamp", "ms").alias(TS),
        pl.lit(1.0).alias(QTY),
        pl.when(event == "purchase").then(as_id("transactionid")).alias(ORDER),
    )
    rules: list[Rule] = [
        DUPLICATE_RULE,
        *parse_rules(raw, frame, path, {TS: "timestamp"}),
        *missing_rules((ITEM, TS)),
        (UNSUPPORTED_EVENT, pl.col(EVENT).is_null()),
    ]
    return finish(frame, rules, path=path, source="retailrocket", report=report)
