"""Catalog and user profiles built straight from `TrainingData`, and the kept-purchase table.

`kept_purchases` is the one definition of "bought and kept" that the users, segments,
repurchase and popularity parts share: purchases net of the same user's later returns.
"""

from __future__ import annotations

from datetime import datetime

import numpy as np
import polars as pl
from numpy.typing import NDArray

from recsvc.artifacts import Part
from training.data.dataset import TrainingData
from training.data.matrices import SECONDS_PER_DAY, purchase_lines
from training.data.schema import (
    AVAILABLE,
    CATEGORY_LEVELS,
    COUNTRY,
    EVENT,
    HOUR,
    ITEM,
    ITEM_IDX,
    NAME,
    ORDER,
    PRICE,
    QTY,
    SESSION,
    TS,
    USER_IDX,
)

BASKET = "basket"
VALUE = "value"
ORDERS = "orders"
LAST_TS = "last_ts"
EVENTS = "events"
_ROW = "_row"
KIND = "_kind"  # 0 = purchase, 1 = return: a purchase precedes a return at the same instant


def fit_catalog(data: TrainingData) -> Part:
    """Part "catalog": per item (item index order) id, name, category path, price, stock.

    `categories` is [n_items, 4] with "" where a level is missing; `prices` is the
    catalog's last unit price, NaN if unknown; an unknown availability counts as in stock.
    """
    return catalog_part(data.catalog)


def catalog_part(catalog: pl.DataFrame) -> Part:
    """Part "catalog" from a `CATALOG_SCHEMA` frame sorted by item id (either engine's)."""
    categories = np.stack([_strings(catalog[level]) for level in CATEGORY_LEVELS], axis=1)
    return Part(
        name="catalog",
        arrays={
            "item_ids": _strings(catalog[ITEM]),
            "names": _strings(catalog[NAME]),
            "categories": categories,
            "prices": catalog[PRICE].cast(pl.Float64).fill_null(np.nan).to_numpy(),
            "available": catalog[AVAILABLE].fill_null(True).to_numpy().astype(bool),
        },
        meta={
            "n_items": catalog.height,
            "n_with_name": int((catalog[NAME].fill_null("") != "").sum()),
            "n_with_category": int((catalog[CATEGORY_LEVELS[0]].fill_null("") != "").sum()),
            "n_with_price": int(catalog[PRICE].is_not_null().sum()),
        },
    )


def fit_users(data: TrainingData) -> Part:
    """Part "users": per user (user index order) id, main country and kept purchase history.

    `countries`: the country on most of the user's events (any type), ties to the
    alphabetically first; "" if none. History is CSR over users with items ascending:
    `history_orders` counts the distinct baskets in which the item was kept (see
    `kept_purchases`; an item fully returned is absent), `history_last_ts` is the unix
    time in seconds of the latest such basket.
    """
    history = (
        kept_purchases(data)
        .filter(pl.col(USER_IDX).is_not_null())
        .group_by(USER_IDX, ITEM_IDX)
        .agg(pl.len().alias(ORDERS), pl.col(TS).max().dt.epoch("s").alias(LAST_TS))
    )
    countries = (
        data.events.filter(pl.col(USER_IDX).is_not_null() & pl.col(COUNTRY).is_not_null())
        .group_by(USER_IDX, COUNTRY)
        .agg(pl.len().alias(EVENTS))
    )
    return users_part(data.user_ids, history, countries)


def users_part(user_ids: NDArray[np.str_], history: pl.DataFrame, countries: pl.DataFrame) -> Part:
    """Part "users" from aggregates either engine computes.

    `history`: one row per (user_idx, item_idx) with `orders` and `last_ts` (unix seconds);
    `countries`: (user_idx, country, events) counts of events per user and country.
    """
    history = history.sort(USER_IDX, ITEM_IDX)
    n_users = len(user_ids)
    return Part(
        name="users",
        arrays={
            "user_ids": user_ids.astype(str),
            "countries": _main_countries(countries, n_users),
            "history_indptr": csr_indptr(history[USER_IDX].to_numpy(), n_users),
            "history_items": history[ITEM_IDX].to_numpy().astype(np.int32),
            "history_orders": history[ORDERS].to_numpy().astype(np.int32),
            "history_last_ts": history[LAST_TS].to_numpy().astype(np.int64),
        },
        meta={
            "n_users": n_users,
            "n_users_with_history": int(history[USER_IDX].n_unique()),
            "n_history_entries": history.height,
        },
    )


def kept_purchases(data: TrainingData) -> pl.DataFrame:
    """Purchases net of returns: one row per (user_idx, item_idx, basket) with kept quantity > 0.

    A basket is the order id, else the session id, else the event time (prefixed "o:",
    "s:", "t:" so the three never collide). Columns: `user_idx` (null = anonymous),
    `item_idx`, `basket`, `timestamp` / `country` / `hour` of the basket's first line,
    `quantity` kept and `value` = kept share × Σ quantity × unit price of the basket's lines
    (lines without a price add 0).

    A user's return of an item cancels that user's earlier purchases of the item, latest
    basket first (LIFO), so a basket whose quantity is fully returned disappears. Returned
    quantity beyond what was bought earlier in the data (purchases before the window) and
    anonymous returns cannot be matched and are ignored, as are returns without a quantity.
    Sorted by user, item, time, basket.
    """
    baskets = _purchase_baskets(data.events)
    returns = (
        data.events.filter(
            (pl.col(EVENT) == "return") & pl.col(USER_IDX).is_not_null() & (pl.col(QTY) != 0)
        )
        .select(USER_IDX, ITEM_IDX, TS, pl.col(QTY).abs())
        .sort(USER_IDX, ITEM_IDX, TS)
    )
    keys = [USER_IDX, ITEM_IDX]
    pairs = returns.select(keys).unique()
    untouched = baskets.join(pairs, on=keys, how="anti")
    touched = baskets.join(pairs, on=keys, how="semi").sort(USER_IDX, ITEM_IDX, TS, BASKET)
    kept = pl.Series(QTY, _lifo_kept(touched, returns))
    touched = touched.with_columns(kept, (pl.col(VALUE) * kept / pl.col(QTY)).alias(VALUE)).filter(
        pl.col(QTY) > 0
    )
    return pl.concat([untouched, touched]).sort(USER_IDX, ITEM_IDX, TS, BASKET)


def age_days(reference_time: datetime, column: str = TS) -> pl.Expr:
    """Days from the times in `column` to `reference_time` (negative for later times)."""
    age = pl.lit(reference_time) - pl.col(column)
    return age.dt.total_seconds(fractional=True) / SECONDS_PER_DAY


def csr_indptr(rows: NDArray[np.integer], n_rows: int) -> NDArray[np.int64]:
    """CSR row pointer [n_rows + 1] for entries whose (sorted) row indices are `rows`."""
    counts = np.bincount(rows.astype(np.int64), minlength=n_rows)
    return np.concatenate([[0], np.cumsum(counts)]).astype(np.int64)


def _purchase_baskets(events: pl.DataFrame) -> pl.DataFrame:
    basket = pl.coalesce(
        pl.lit("o:") + pl.col(ORDER),
        pl.lit("s:") + pl.col(SESSION),
        pl.lit("t:") + pl.col(TS).cast(pl.String),
    )
    return (
        purchase_lines(events)
        .with_columns(basket.alias(BASKET))
        .group_by(USER_IDX, ITEM_IDX, BASKET)
        .agg(
            pl.col(TS).min(),
            pl.col(COUNTRY).first(),
            pl.col(HOUR).first(),
            pl.col(QTY).sum(),
            (pl.col(QTY) * pl.col(PRICE)).sum().alias(VALUE),
        )
    )


def _lifo_kept(baskets: pl.DataFrame, returns: pl.DataFrame) -> NDArray[np.float64]:
    """Kept quantity per row of `baskets` after `returns` cancel the latest earlier baskets."""
    columns = [USER_IDX, ITEM_IDX, TS, QTY]
    timeline = pl.concat(
        [
            baskets.select(*columns, pl.lit(0).alias(KIND), pl.int_range(pl.len()).alias(_ROW)),
            returns.select(*columns, pl.lit(1).alias(KIND), pl.lit(-1, pl.Int64).alias(_ROW)),
        ]
    ).sort(USER_IDX, ITEM_IDX, TS, KIND, _ROW)
    pair = pl.struct(USER_IDX, ITEM_IDX)
    kept = lifo_kept(
        starts=(pair != pair.shift(1)).fill_null(True),
        timeline=timeline,
    )
    rows = timeline[_ROW].to_numpy()
    result = np.zeros(baskets.height, dtype=np.float64)
    result[rows[rows >= 0]] = kept[rows >= 0]
    return result


def lifo_kept(*, starts: pl.Expr, timeline: pl.DataFrame) -> NDArray[np.float64]:
    """Kept quantity of each timeline row; returns cancel the latest earlier purchases.

    `timeline` holds the purchases (`_kind` 0, quantity > 0) and returns (`_kind` 1,
    quantity = returned amount, sign ignored) of one or more (user, item) pairs, sorted
    by pair, time, kind (a purchase precedes a return at the same instant), then basket;
    `starts` is True on each pair's first row. A return takes from the most recent
    purchase still holding quantity (LIFO); what exceeds the pair's earlier purchases is
    ignored. Returns keep 0. Shared by both engines (the Spark engine calls it per pair).
    """
    frame = timeline.select(starts.alias("_start"), KIND, QTY)
    new_pair = frame["_start"].to_numpy()
    is_return = frame[KIND].to_numpy() == 1
    kept = np.where(is_return, 0.0, frame[QTY].to_numpy().astype(np.float64))
    returned = np.abs(frame[QTY].to_numpy().astype(np.float64))
    stack: list[int] = []
    for row in range(len(kept)):
        if new_pair[row]:
            stack = []
        if not is_return[row]:
            stack.append(row)
            continue
        remaining = float(returned[row])
        while remaining > 0 and stack:
            taken = min(remaining, kept[stack[-1]])
            kept[stack[-1]] -= taken
            remaining -= taken
            if kept[stack[-1]] <= 0:
                stack.pop()
    return kept


def _main_countries(counts: pl.DataFrame, n_users: int) -> NDArray[np.str_]:
    """Per user the country with the most events, ties to the alphabetically first."""
    main = counts.sort(USER_IDX, EVENTS, COUNTRY, descending=[False, True, False]).unique(
        USER_IDX, keep="first", maintain_order=True
    )
    countries = np.full(n_users, "", dtype=object)
    countries[main[USER_IDX].to_numpy()] = main[COUNTRY].to_numpy()
    return countries.astype(str)


def _strings(column: pl.Series) -> NDArray[np.str_]:
    return column.cast(pl.String).fill_null("").to_numpy().astype(str)
