"""Baselines a storefront shows without a recommender, as `served` frames.

- global popularity: served by the ranking code itself with `recsvc.recommend.POPULAR_CONFIG`
  (the service's control arm), so it is replayed like every other strategy;
- "today's deals": the items most bought in the `days` whole (UTC) days before the
  request's day, i.e. a list refreshed every midnight, computed here from the event log.
  It only uses events before the request's day (what the shop knew that morning), which
  on a replay includes held-out days: a storefront's sales banner keeps up with sales,
  the evaluated bundle does not.

"Most bought" counts distinct buyers (a known user, else the basket), as the popularity
model does; ties go to the smaller item id. The request's own items (`seeds`) are never
listed.
"""

from __future__ import annotations

from datetime import date, timedelta
from typing import Final

import polars as pl

from training.data.schema import EVENT, ITEM, ORDER, QTY, SESSION, TS, USER
from training.evaluation.metrics import RANK, REQUEST, STRATEGY
from training.evaluation.tasks import SEEDS

DEALS: Final = "deals"
DEALS_DAYS: Final = 7

_DAY: Final = "_day"
_BUYER: Final = "_buyer"


def daily_best_sellers(
    events: pl.DataFrame, days: pl.Series, *, window: int, depth: int
) -> pl.DataFrame:
    """For each date in `days`: the `depth` items with most distinct buyers among the
    purchase lines dated in [day − window, day). Columns: _day, item_id, buyers, rank
    (1-based); days without any purchase in their window have no rows."""
    lines = events.filter((pl.col(EVENT) == "purchase") & (pl.col(QTY) > 0)).select(
        pl.col(TS).dt.date().alias("_date"),
        pl.coalesce(USER, pl.format("basket:{}", pl.coalesce(ORDER, SESSION))).alias(_BUYER),
        ITEM,
    )
    wanted = days.unique().alias(_DAY)
    first, last = wanted.min(), wanted.max()
    if isinstance(first, date) and isinstance(last, date):
        recent = pl.col("_date").is_between(first - timedelta(days=window), last, closed="left")
        lines = lines.filter(recent)
    counted_on = pl.date_ranges(
        pl.col("_date") + timedelta(days=1), pl.col("_date") + timedelta(days=window)
    )
    return (
        lines.unique()
        .with_columns(counted_on.alias(_DAY))
        .explode(_DAY)
        .filter(pl.col(_DAY).is_in(wanted.implode()))
        .group_by(_DAY, ITEM)
        .agg(buyers=pl.col(_BUYER).n_unique())
        .sort(_DAY, "buyers", ITEM, descending=[False, True, False])
        .group_by(_DAY, maintain_order=True)
        .head(depth)
        .with_columns(pl.int_range(1, pl.len() + 1).over(_DAY).alias(RANK))
    )


def todays_deals(
    events: pl.DataFrame, requests: pl.DataFrame, *, k: int, window: int = DEALS_DAYS
) -> pl.DataFrame:
    """The "deals" `served` frame of `requests` (tasks' request frame): for each request,
    the top `k` daily best sellers of its day (see `daily_best_sellers`) that are not
    among its seeds. Columns: request_id, strategy, rank, item_id."""
    day = pl.col(TS).dt.date().alias(_DAY)
    depth = k + max(requests[SEEDS].list.len().to_list(), default=0)
    best = daily_best_sellers(events, requests.select(day)[_DAY], window=window, depth=depth)
    return (
        requests.select(REQUEST, day, SEEDS)
        .join(best, on=_DAY)
        .filter(~pl.col(ITEM).is_in(pl.col(SEEDS)))
        .sort(REQUEST, RANK)
        .group_by(REQUEST, maintain_order=True)
        .head(k)
        .select(
            REQUEST,
            pl.lit(DEALS).alias(STRATEGY),
            pl.int_range(1, pl.len() + 1).over(REQUEST).alias(RANK),
            ITEM,
        )
    )
