"""Repurchase cycles: how long shoppers wait before buying the same item again.

A repeat interval is the time in days between two consecutive kept baskets (see
`training.models.profiles.kept_purchases`) of the same item by the same user; intervals
shorter than `min_gap_days` (a forgotten item re-ordered the same day) are not counted.
Intervals are pooled over users: an item's interval is the median of all its users'
intervals, a category's the median of the intervals of all its items.

How the service uses it: an item i is *due* for user u when
``days since u's last purchase of i >= item_interval_days[i] * due_factor``, falling back to
the interval of the item's level-1 category when the item has none (NaN), and never due
when neither exists. `due_factor` travels in `meta["due_factor"]`; the last purchase time is
`users/history_last_ts`.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from typing import Any

import numpy as np
import polars as pl
from numpy.typing import NDArray

from recsvc.artifacts import Part
from training.data.dataset import TrainingData
from training.data.matrices import SECONDS_PER_DAY
from training.data.schema import CATEGORY_LEVELS, ITEM_IDX, TS, USER_IDX
from training.errors import ModelFitError
from training.models.profiles import kept_purchases

INTERVAL = "interval_days"
CATEGORY = "category"
RATE = "rate"
N = "n"


@dataclass(frozen=True)
class RepurchaseConfig:
    """`min_repeats`: intervals an item (or category) needs before its median is published."""

    min_repeats: int = 5
    min_gap_days: float = 1.0
    due_factor: float = 1.0

    def __post_init__(self) -> None:
        if self.min_repeats < 1 or self.min_gap_days < 0 or self.due_factor <= 0:
            raise ModelFitError(
                "RepurchaseConfig needs min_repeats ≥ 1, min_gap_days ≥ 0, due_factor > 0; "
                f"got {self}"
            )


@dataclass(frozen=True)
class RepeatStats:
    """What either engine aggregates from the repeat intervals.

    `items`: (item_idx, interval_days = median, n = intervals) per item with an interval;
    `categories`: (category, interval_days, n) per level-1 category; `repeat_rates`:
    (item_idx, rate) per bought item; `global_median`: median of all intervals."""

    items: pl.DataFrame
    categories: pl.DataFrame
    repeat_rates: pl.DataFrame
    n_intervals: int
    global_median: float | None


def fit(data: TrainingData, config: RepurchaseConfig, *, seed: int = 0) -> Part:
    """Part "repurchase": per-item median interval and repeat rate, per-category interval.

    `item_interval_days` is NaN for items with fewer than `min_repeats` intervals;
    `item_repeat_rate` = share of the item's buyers (users with a kept basket of it) with
    ≥ 2 distinct kept baskets of it, NaN for items nobody bought. `category_groups` are the
    level-1 categories (sorted) with ≥ `min_repeats` intervals. `seed` is unused: the fit
    is deterministic.
    """
    del seed
    baskets = kept_purchases(data).filter(pl.col(USER_IDX).is_not_null())
    intervals = repeat_intervals(baskets, config.min_gap_days)
    level_1 = pl.DataFrame(
        {
            ITEM_IDX: np.arange(data.n_items, dtype=np.int32),
            CATEGORY: data.catalog[CATEGORY_LEVELS[0]].fill_null(""),
        }
    ).filter(pl.col(CATEGORY) != "")
    median = [pl.col(INTERVAL).median(), pl.len().alias(N)]
    stats = RepeatStats(
        items=intervals.group_by(ITEM_IDX).agg(median),
        categories=intervals.join(level_1, on=ITEM_IDX).group_by(CATEGORY).agg(median),
        repeat_rates=baskets.group_by(USER_IDX, ITEM_IDX)
        .agg(pl.len().alias("orders"))
        .group_by(ITEM_IDX)
        .agg((pl.col("orders") >= 2).mean().alias(RATE)),
        n_intervals=intervals.height,
        global_median=_median_or_none(intervals[INTERVAL].to_numpy()),
    )
    return repurchase_part(stats, data.n_items, config)


def repurchase_part(stats: RepeatStats, n_items: int, config: RepurchaseConfig) -> Part:
    """Part "repurchase" from either engine's `RepeatStats` (see `fit`)."""
    items = stats.items.filter(pl.col(N) >= config.min_repeats)
    item_interval = np.full(n_items, np.nan)
    item_interval[items[ITEM_IDX].to_numpy()] = items[INTERVAL].to_numpy()
    rates = np.full(n_items, np.nan)
    rates[stats.repeat_rates[ITEM_IDX].to_numpy()] = stats.repeat_rates[RATE].to_numpy()
    categories = stats.categories.filter(pl.col(N) >= config.min_repeats).sort(CATEGORY)
    meta: dict[str, Any] = {
        "config": asdict(config),
        "due_factor": config.due_factor,
        "due_rule": "due when days since last purchase >= interval_days * due_factor",
        "n_intervals": stats.n_intervals,
        "n_items_with_interval": int(np.isfinite(item_interval).sum()),
        "n_categories_with_interval": categories.height,
        "global_median_interval_days": stats.global_median,
        "median_item_interval_days": _median_or_none(item_interval),
    }
    return Part(
        name="repurchase",
        arrays={
            "item_interval_days": item_interval,
            "item_repeat_rate": rates,
            "category_groups": categories[CATEGORY].to_numpy().astype(str),
            "category_interval_days": categories[INTERVAL].to_numpy().astype(np.float64),
        },
        meta=meta,
    )


def repeat_intervals(baskets: pl.DataFrame, min_gap_days: float) -> pl.DataFrame:
    """(item_idx, interval_days) for consecutive kept baskets of one user and item.

    `baskets` is `kept_purchases` output (sorted by user, item, time); intervals below
    `min_gap_days` are dropped.
    """
    gap = pl.col(TS).diff().over(USER_IDX, ITEM_IDX).dt.total_seconds(fractional=True)
    return (
        baskets.select(ITEM_IDX, (gap / SECONDS_PER_DAY).alias(INTERVAL))
        .drop_nulls(INTERVAL)
        .filter(pl.col(INTERVAL) >= min_gap_days)
    )


def _median_or_none(values: NDArray[np.float64]) -> float | None:
    """Median of the finite values, None when there are none (JSON has no NaN)."""
    finite = values[np.isfinite(values)]
    return float(np.median(finite)) if len(finite) else None
