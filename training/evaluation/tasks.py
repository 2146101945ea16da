"""Evaluation tasks: requests replayed after a time cut-off, and what the shopper then did.

Everything here is read from canonical events (`training.data.schema`); a *basket* is an
order id, else a session id. Events at or after `cutoff` are the held-out side.

Tasks (each a `TaskSet`: one `requests` row per request, `outcome` rows of its relevant items):

- `next_order`: one request per shopper *known to the bundle* (active before the cut-off)
  who has a basket with a bid or purchase after it: the first such basket. The request
  happens when that basket starts; no seed items.
- `related`: "customers also bought", one request per held-out basket or session.
  Purchase-only data: baskets with ≥ 2 distinct purchased items; the seed is the basket's
  first line (the first item put in the basket), the relevant items are the others.
  Data with views (sessions): the seed is the session's first view after the cut-off;
  the relevant items are the *later* events of the session on other items.

Outcome kinds, from what the data records (never invented):
- `bid`: the item was added to the cart or ordered in the request's basket / later in the
  session (`bid` and `purchase` events). Revenue = Σ price × quantity of its purchase lines,
  or of its bid lines when it has no purchase line (a cart add without an order).
- `click`: only where views exist: a later view of the item in the same basket / session.
  On purchase-only data (Online Retail) clicks are not observable and no click row exists.

Request columns (`REQUEST_SCHEMA`): request_id, task, user_id (null: anonymous),
session_id, timestamp, country, hour, seeds (item ids), is_new (False: the shopper is
known to the bundle; True: a shopper id the bundle has not seen; null: anonymous), and
recent: the subject's activity in the `recent_days` before the request (what the service
reads from its event store), one (item_id, event, ts) per item and event type at its
latest time, newest first, at most `RECENT_LIMIT` per type; event ∈ view/bid/purchase
(clicks count as views), ts in unix seconds.
"""

from __future__ import annotations

from collections.abc import Collection
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Final

import polars as pl

from training.data.schema import COUNTRY, EVENT, HOUR, ITEM, ORDER, PRICE, QTY, SESSION, TS, USER
from training.data.split import time_split
from training.errors import EmptyDataError
from training.evaluation.metrics import IS_NEW, KIND, REQUEST, REVENUE

NEXT_ORDER: Final = "next_order"
RELATED: Final = "related"
TASKS: Final = (NEXT_ORDER, RELATED)
CLICK: Final = "click"
BID: Final = "bid"

TASK: Final = "task"
SEEDS: Final = "seeds"
RECENT: Final = "recent"
RECENT_DAYS: Final = 3.0  # recsvc.config.Settings.recent_activity_days
RECENT_LIMIT: Final = 100  # per event type, as EventStore.recent_user_activity

_BASKET: Final = "_basket"
_ROW: Final = "_row"
_VALUE: Final = "_value"
_SUBJECT: Final = "_subject"
_BID_EVENTS: Final = ("bid", "purchase")
_ACTIVITY: Final = {"view": "view", "click": "view", "bid": "bid", "purchase": "purchase"}

RECENT_TYPE: Final = pl.List(pl.Struct({ITEM: pl.String, EVENT: pl.String, TS: pl.Int64}))
_REQUEST_COLUMNS: dict[str, pl.DataType | type[pl.DataType]] = {
    REQUEST: pl.String,
    TASK: pl.String,
    USER: pl.String,
    SESSION: pl.String,
    TS: pl.Datetime("us", "UTC"),
    COUNTRY: pl.String,
    HOUR: pl.Int8,
    SEEDS: pl.List(pl.String),
    IS_NEW: pl.Boolean,
    RECENT: RECENT_TYPE,
}
REQUEST_SCHEMA: Final = pl.Schema(_REQUEST_COLUMNS)
OUTCOME_SCHEMA: Final = pl.Schema(
    {REQUEST: pl.String, ITEM: pl.String, KIND: pl.String, REVENUE: pl.Float64}
)


@dataclass(frozen=True)
class TaskSet:
    """The requests of one task and their outcomes (`OUTCOME_SCHEMA`); `kinds` are the
    observable outcome kinds of the data ("bid", and "click" where views exist)."""

    name: str
    requests: pl.DataFrame
    outcome: pl.DataFrame
    kinds: tuple[str, ...]


def observable_kinds(events: pl.DataFrame) -> tuple[str, ...]:
    """("click", "bid") when the events record views or clicks, else ("bid",)."""
    seen = events.filter(pl.col(EVENT).is_in(["view", "click"])).height > 0
    return (CLICK, BID) if seen else (BID,)


def build_tasks(
    events: pl.DataFrame,
    cutoff: datetime,
    known_users: Collection[str],
    *,
    max_requests: int | None = None,
    seed: int = 0,
    recent_days: float = RECENT_DAYS,
) -> dict[str, TaskSet]:
    """Both tasks from canonical `events` (all of them: before the cut-off for recent
    activity, after it for the requests). `known_users` are the bundle's user ids.

    With `max_requests`, each task keeps a uniform sample of that many requests (seeded by
    `seed`; the same inputs give the same sample). Raises `EmptyDataError` when nothing
    happens after the cut-off.
    """
    _, test = time_split(events.with_row_index(_ROW), cutoff)
    if test.is_empty():
        raise EmptyDataError(f"no event at or after the cut-off {cutoff.isoformat()}")
    kinds = observable_kinds(events)
    known = pl.Series(USER, list(known_users), dtype=pl.String)
    builders = {NEXT_ORDER: _next_order, RELATED: _related}
    tasks = {}
    for name, build in builders.items():
        requests, outcome = build(test.with_columns(_basket_id()), known, kinds)
        requests = _sample(requests, max_requests, seed)
        requests = _with_recent(requests, events, recent_days).select(REQUEST_SCHEMA.names())
        outcome = outcome.join(requests.select(REQUEST), on=REQUEST, how="semi")
        tasks[name] = TaskSet(name, requests.cast(REQUEST_SCHEMA), outcome, kinds)
    return tasks


def _basket_id() -> pl.Expr:
    return pl.coalesce(pl.col(ORDER), pl.col(SESSION)).alias(_BASKET)


def _is_bid() -> pl.Expr:
    return pl.col(EVENT).is_in(_BID_EVENTS) & (pl.col(QTY) > 0)


def _is_new(known: pl.Series) -> pl.Expr:
    return (
        pl.when(pl.col(USER).is_null()).then(None).otherwise(~pl.col(USER).is_in(known.implode()))
    )


def _next_order(
    test: pl.DataFrame, known: pl.Series, kinds: tuple[str, ...]
) -> tuple[pl.DataFrame, pl.DataFrame]:
    """See the module docstring; a basket's start is its earliest held-out event."""
    lines = test.filter(pl.col(USER).is_in(known.implode()) & pl.col(_BASKET).is_not_null())
    starts = lines.group_by(USER, _BASKET).agg(
        pl.col(TS).min(), pl.col(_ROW).min(), bids=_is_bid().any()
    )
    first = starts.filter("bids").sort(TS, _ROW).unique(USER, keep="first")
    opening = first.select(_BASKET, _ROW).join(test, on=[_BASKET, _ROW])
    requests = opening.select(
        pl.format("next_order:{}", USER).alias(REQUEST),
        pl.lit(NEXT_ORDER).alias(TASK),
        USER,
        SESSION,
        TS,
        COUNTRY,
        HOUR,
        pl.lit([], dtype=pl.List(pl.String)).alias(SEEDS),
        pl.lit(False).alias(IS_NEW),
        _BASKET,
    )
    after = lines.join(first.select(_BASKET, USER, pl.col(_ROW).alias("_start")), [_BASKET, USER])
    outcome = _outcome(
        after.join(requests.select(REQUEST, _BASKET), on=_BASKET),
        kinds,
        later=pl.col(_ROW) > pl.col("_start"),
    )
    return requests.drop(_BASKET), outcome


def _related(
    test: pl.DataFrame, known: pl.Series, kinds: tuple[str, ...]
) -> tuple[pl.DataFrame, pl.DataFrame]:
    if CLICK in kinds:
        return _related_sessions(test, known, kinds)
    return _related_baskets(test, known, kinds)


def _related_baskets(
    test: pl.DataFrame, known: pl.Series, kinds: tuple[str, ...]
) -> tuple[pl.DataFrame, pl.DataFrame]:
    """Purchase baskets with ≥ 2 distinct items; seed = the first line's item."""
    lines = test.filter(_is_bid() & pl.col(_BASKET).is_not_null())
    sizes = lines.group_by(_BASKET).agg(pl.col(ITEM).n_unique().alias("_items"))
    lines = lines.join(sizes.filter(pl.col("_items") >= 2), on=_BASKET, how="semi")
    first = lines.sort(_ROW).unique(_BASKET, keep="first")
    requests = _related_requests(first, known)
    joined = lines.join(requests.select(REQUEST, _BASKET, pl.col(SEEDS).list.first()), _BASKET)
    outcome = _outcome(joined.filter(pl.col(ITEM) != pl.col(SEEDS)), kinds, later=pl.lit(True))
    return requests.drop(_BASKET), outcome


def _related_sessions(
    test: pl.DataFrame, known: pl.Series, kinds: tuple[str, ...]
) -> tuple[pl.DataFrame, pl.DataFrame]:
    """Sessions with a view after the cut-off; seed = the first such view."""
    sessions = test.filter(pl.col(SESSION).is_not_null()).with_columns(
        pl.col(SESSION).alias(_BASKET)
    )
    first = sessions.filter(pl.col(EVENT) == "view").sort(_ROW).unique(_BASKET, keep="first")
    requests = _related_requests(first, known)
    joined = sessions.join(
        requests.select(REQUEST, _BASKET, pl.col(SEEDS).list.first(), pl.col(TS).alias("_t0")),
        on=_BASKET,
    ).join(first.select(_BASKET, pl.col(_ROW).alias("_start")), on=_BASKET)
    later = (pl.col(TS) > pl.col("_t0")) | (
        (pl.col(TS) == pl.col("_t0")) & (pl.col(_ROW) > pl.col("_start"))
    )
    others = joined.filter((pl.col(ITEM) != pl.col(SEEDS)) & later)
    return requests.drop(_BASKET), _outcome(others, kinds, later=pl.lit(True))


def _related_requests(first: pl.DataFrame, known: pl.Series) -> pl.DataFrame:
    return first.select(
        pl.format("related:{}", _BASKET).alias(REQUEST),
        pl.lit(RELATED).alias(TASK),
        USER,
        SESSION,
        TS,
        COUNTRY,
        HOUR,
        pl.concat_list(pl.col(ITEM)).alias(SEEDS),
        _is_new(known).alias(IS_NEW),
        _BASKET,
    )


def _outcome(rows: pl.DataFrame, kinds: tuple[str, ...], *, later: pl.Expr) -> pl.DataFrame:
    """Click and bid outcome rows of `rows` (events joined to their request_id); `later`
    marks the events that happen after the request (the only ones that can be clicks)."""
    value = (pl.col(PRICE).fill_null(0.0) * pl.col(QTY)).alias(_VALUE)
    bids = (
        rows.filter(_is_bid())
        .with_columns(value)
        .group_by(REQUEST, ITEM)
        .agg(
            purchased=pl.col(_VALUE).filter(pl.col(EVENT) == "purchase").sum(),
            carted=pl.col(_VALUE).filter(pl.col(EVENT) == "bid").sum(),
            any_purchase=(pl.col(EVENT) == "purchase").any(),
        )
        .select(
            REQUEST,
            ITEM,
            pl.lit(BID).alias(KIND),
            pl.when("any_purchase").then("purchased").otherwise("carted").alias(REVENUE),
        )
    )
    frames = [bids]
    if CLICK in kinds:
        views = rows.filter(pl.col(EVENT).is_in(["view", "click"]) & later)
        frames.append(
            views.select(
                REQUEST, ITEM, pl.lit(CLICK).alias(KIND), pl.lit(None, pl.Float64).alias(REVENUE)
            ).unique(maintain_order=True)
        )
    return pl.concat([f.cast(OUTCOME_SCHEMA) for f in frames]).sort(REQUEST, KIND, ITEM)


def _sample(requests: pl.DataFrame, max_requests: int | None, seed: int) -> pl.DataFrame:
    requests = requests.sort(TS, REQUEST)
    if max_requests is None or requests.height <= max_requests:
        return requests
    return requests.sample(max_requests, seed=seed).sort(TS, REQUEST)


def _with_recent(requests: pl.DataFrame, events: pl.DataFrame, days: float) -> pl.DataFrame:
    """Add the `recent` column (module docstring) from every event before the request."""
    subject = pl.coalesce(pl.format("u:{}", USER), pl.format("s:{}", SESSION)).alias(_SUBJECT)
    keys = requests.select(REQUEST, TS, subject).filter(pl.col(_SUBJECT).is_not_null())
    touches = events.filter(pl.col(EVENT).is_in(list(_ACTIVITY))).select(
        subject,
        ITEM,
        pl.col(EVENT).cast(pl.String).replace_strict(_ACTIVITY),
        pl.col(TS).alias("_t"),
    )
    window = timedelta(days=days)
    recent = (
        keys.join(touches, on=_SUBJECT)
        .filter((pl.col("_t") < pl.col(TS)) & (pl.col("_t") >= pl.col(TS) - window))
        .group_by(REQUEST, EVENT, ITEM)
        .agg(pl.col("_t").max())
        .sort(REQUEST, EVENT, "_t", ITEM, descending=[False, False, True, False])
        .group_by(REQUEST, EVENT, maintain_order=True)
        .head(RECENT_LIMIT)
        .sort(REQUEST, "_t", ITEM, descending=[False, True, False])
        .group_by(REQUEST, maintain_order=True)
        .agg(pl.struct(ITEM, EVENT, pl.col("_t").dt.epoch("s").alias(TS)).alias(RECENT))
    )
    return requests.join(recent, on=REQUEST, how="left").with_columns(
        pl.col(RECENT).fill_null(pl.lit([], dtype=RECENT_TYPE))
    )
