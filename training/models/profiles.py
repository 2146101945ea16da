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
_ROW = "_row"
_KIND = "_kind"  # 0 = purchase, 1 = return: a purchase precedes a return at the same instant


def fit_catalog(data: TrainingData) -> Part:
    """Part "catalog": per item (item index order) id, name, category path, price, stock.

    `categories` is [n_items, 4] with "" where a level is missing; `prices` is the
    catalog's last unit price, NaN if unknown; an unknown availability counts as in stock.
    """
    catalog = data.catalog
    categories = np.stack([_strings(catalog[level]) for level in CATEGORY_LEVELS], axis=1)
    return Part(
        name="catalog",
        arrays={
            "item_ids": data.item_ids.astype(str),
            "names": _strings(catalog[NAME]),
            "categories": categories,
            "prices": catalog[PRICE].cast(pl.Float64).fill_null(np.nan).to_numpy(),
            "available": catalog[AVAILABLE].fill_null(True).to_numpy().astype(bool),
        },
        meta={
            "n_items": data.n_items,
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
        .agg(pl.len().alias("orders"), pl.col(TS).max().dt.epoch("s").alias("last_ts"))
        .sort(USER_IDX, ITEM_IDX)
    )
    return Part(
        name="users",
        arrays={
            "user_ids": data.user_ids.astype(str),
            "countries": _main_countries(data),
            "history_indptr": csr_indptr(history[USER_IDX].to_numpy(), data.n_users),
            "history_items": history[ITEM_IDX].to_numpy().astype(np.int32),
            "history_orders": history["orders"].to_numpy().astype(np.int32),
            "history_last_ts": history["last_ts"].to_numpy().astype(np.int64),
        },
        meta={
            "n_users": data.n_users,
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
    kept = baskets[QTY].to_numpy().astype(np.float64).copy()
    columns = [USER_IDX, ITEM_IDX, TS, QTY]
    timeline = pl.concat(
        [
            baskets.select(*columns, pl.lit(0).alias(_KIND), pl.int_range(pl.len()).alias(_ROW)),
            returns.select(*columns, pl.lit(1).alias(_KIND), pl.lit(-1, pl.Int64).alias(_ROW)),
        ]
    ).sort(USER_IDX, ITEM_IDX, TS, _KIND, _ROW)
    stack: list[int] = []
    previous: tuple[int, int] | None = None
    for user, item, row, quantity in timeline.select(USER_IDX, ITEM_IDX, _ROW, QTY).iter_rows():
        if (user, item) != previous:
            stack, previous = [], (user, item)
        if row >= 0:
            stack.append(row)
            continue
        remaining = float(quantity)
        while remaining > 0 and stack:
            taken = min(remaining, kept[stack[-1]])
            kept[stack[-1]] -= taken
            remaining -= taken
            if kept[stack[-1]] <= 0:
                stack.pop()
    return kept


def _main_countries(data: TrainingData) -> NDArray[np.str_]:
    counts = (
        data.events.filter(pl.col(USER_IDX).is_not_null() & pl.col(COUNTRY).is_not_null())
        .group_by(USER_IDX, COUNTRY)
        .agg(pl.len())
        .sort(USER_IDX, pl.col("len"), COUNTRY, descending=[False, True, False])
        .unique(USER_IDX, keep="first", maintain_order=True)
    )
    countries = np.full(data.n_users, "", dtype=object)
    countries[counts[USER_IDX].to_numpy()] = counts[COUNTRY].to_numpy()
    return countries.astype(str)


def _strings(column: pl.Series) -> NDArray[np.str_]:
    return column.cast(pl.String).fill_null("").to_numpy().astype(str)
