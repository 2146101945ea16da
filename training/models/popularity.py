"""Popularity baselines and cold-start fallbacks: global, trending and grouped rankings.

Popularity counts *buyers*, not lines or units: an item's score is the number of distinct
buyers with a kept basket of it (`training.models.profiles.kept_purchases`), where a buyer
is a known user, or the basket itself for an anonymous purchase. One bulk buyer therefore
weighs as much as any other. With `half_life_days` set, each buyer instead counts
0.5 ** (days since their last such basket / half_life_days).

Every ranking lists items by descending float32 score, ties by ascending item index, and
only items with a positive score. The global ranking lists every bought item; trending and
each group of the grouped rankings (contract CSR form) keep their top
`max_items_per_group`. Groups are sorted by name:

- category: "<level>:<path>", e.g. "1:electronics", "2:electronics.smartphone" (catalog
  levels joined with "."); an item ranks in each of its path prefixes by its global score.
- segment: the buyer's label from the `segments` argument (user-indexed, e.g. lifecycle).
- country: the country recorded on the basket (not the user's main country).
- hour_band: the band of the basket's hour, see `HOUR_BANDS` (hours as the events carry
  them, UTC). The service must map hours with the same table (`meta["hour_bands"]`).
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from datetime import datetime
from typing import Any, Final

import numpy as np
import polars as pl
from numpy.typing import NDArray

from recsvc.artifacts import Part
from recsvc.recommend.context import HOUR_BANDS, hour_band
from training.data.dataset import TrainingData
from training.data.schema import CATEGORY_LEVELS, COUNTRY, HOUR, ITEM_IDX, TS, USER_IDX
from training.errors import ModelFitError
from training.models.profiles import BASKET, age_days, csr_indptr, kept_purchases

HOUR_BAND_OF: Final = {hour: hour_band(hour) for hour in range(24)}
BUYER: Final = "buyer"
GROUP: Final = "group"
SCORE: Final = "score"
RECENT: Final = "recent"
LONG: Final = "long"


@dataclass(frozen=True)
class PopularityConfig:
    """Trending: recent window vs long window, both ending at the reference time.

    trending score = (recent buyers / recent_days) / ((long buyers + smoothing) / long_days),
    the long window including the recent one; only items with ≥ `trending_min_buyers`
    recent buyers are listed.
    """

    max_items_per_group: int = 200
    half_life_days: float | None = None
    trending_recent_days: float = 14.0
    trending_long_days: float = 90.0
    trending_min_buyers: int = 5
    trending_smoothing: float = 5.0

    def __post_init__(self) -> None:
        if self.max_items_per_group < 1:
            raise ModelFitError(f"max_items_per_group must be ≥ 1, got {self.max_items_per_group}")
        if not 0 < self.trending_recent_days < self.trending_long_days:
            raise ModelFitError(
                "trending windows need 0 < recent_days < long_days, got "
                f"{self.trending_recent_days} and {self.trending_long_days}"
            )
        if self.half_life_days is not None and self.half_life_days <= 0:
            raise ModelFitError(f"half_life_days must be > 0 or None, got {self.half_life_days}")


@dataclass(frozen=True)
class PopularityScores:
    """(group, item_idx, score) frames either engine computes, before ranking.

    `items`: every bought item's score in group ""; `trending`: trending scores in group
    ""; `groups`: per grouped ranking (`POPULARITYGROUPS`) its (group, item, score) rows;
    `n_buyers`: distinct buyers."""

    items: pl.DataFrame
    trending: pl.DataFrame
    groups: dict[str, pl.DataFrame]
    n_buyers: int


def fit(
    data: TrainingData,
    config: PopularityConfig,
    *,
    seed: int = 0,
    segments: NDArray[np.str_] | None = None,
) -> Part:
    """Part "popularity" (see module doc). `segments`: one label per user, "" = none.

    Without `segments` the segment ranking is empty. `seed` is unused: the fit is
    deterministic.
    """
    del seed
    lines = buyer_lines(data)
    item_scores = _scores(lines.with_columns(pl.lit("").alias(GROUP)), data, config)
    groups = {
        "category": item_scores.drop(GROUP).join(category_groups(data.catalog), on=ITEM_IDX),
        "segment": _scores(_segment_lines(lines, segments, data.n_users), data, config),
        "country": _scores(lines.with_columns(pl.col(COUNTRY).alias(GROUP)), data, config),
        "hour_band": _scores(lines.with_columns(_hour_band_expr().alias(GROUP)), data, config),
    }
    scores = PopularityScores(
        items=item_scores,
        trending=_trending_scores(lines, data, config),
        groups=groups,
        n_buyers=lines[BUYER].n_unique(),
    )
    return popularity_part(scores, config, data.reference_time)


def popularity_part(
    scores: PopularityScores, config: PopularityConfig, reference_time: datetime
) -> Part:
    """Part "popularity" from either engine's `PopularityScores`."""
    global_ranking = ranked(scores.items, None)
    trending = ranked(scores.trending, config.max_items_per_group)
    arrays: dict[str, NDArray[Any]] = {
        "global_items": global_ranking.items,
        "global_scores": global_ranking.scores,
        "trending_items": trending.items,
        "trending_scores": trending.scores,
    }
    for key, frame in scores.groups.items():
        arrays.update(ranked(frame, config.max_items_per_group).as_arrays(key))
    meta: dict[str, Any] = {
        "config": asdict(config),
        "score": "distinct buyers (user, or basket if anonymous) with a kept basket",
        "hour_bands": {label: [first, last] for label, first, last in HOUR_BANDS},
        "reference_time": reference_time.isoformat(),
        "n_buyers": scores.n_buyers,
        "n_global_items": len(global_ranking.items),
        "n_trending_items": len(trending.items),
        "n_groups": {key: len(arrays[f"{key}_groups"]) for key in scores.groups},
    }
    return Part(name="popularity", arrays=arrays, meta=meta)


@dataclass(frozen=True)
class Ranking:
    """Grouped ranking in CSR form; a single-group ranking has one group named ""."""

    groups: NDArray[np.str_]
    indptr: NDArray[np.int64]
    items: NDArray[np.int32]
    scores: NDArray[np.float32]

    def as_arrays(self, key: str) -> dict[str, NDArray[Any]]:
        """The contract's `<key>_groups/_indptr/_items/_scores` arrays."""
        return {
            f"{key}_groups": self.groups,
            f"{key}_indptr": self.indptr,
            f"{key}_items": self.items,
            f"{key}_scores": self.scores,
        }


def ranked(scores: pl.DataFrame, max_items: int | None) -> Ranking:
    """Rank (group, item_idx, score) rows: per group by float32 score desc, item asc.

    Rows with a null group or a score ≤ 0 are dropped; groups are sorted by name and
    cut to their top `max_items` (None = no cut).
    """
    ordered = (
        scores.filter(pl.col(GROUP).is_not_null() & (pl.col(SCORE) > 0))
        .with_columns(pl.col(SCORE).cast(pl.Float32))
        .sort(GROUP, SCORE, ITEM_IDX, descending=[False, True, False])
    )
    if max_items is not None:
        ordered = ordered.filter(pl.int_range(pl.len()).over(GROUP) < max_items)
    names = ordered[GROUP].unique(maintain_order=True)
    group_codes = ordered[GROUP].rank("dense").cast(pl.Int64).to_numpy() - 1
    return Ranking(
        groups=names.to_numpy().astype(str),
        indptr=csr_indptr(group_codes, len(names)),
        items=ordered[ITEM_IDX].to_numpy().astype(np.int32),
        scores=ordered[SCORE].to_numpy().astype(np.float32),
    )


def buyer_lines(data: TrainingData) -> pl.DataFrame:
    """Kept baskets with a `buyer` key: "u<user index>", or "b<basket>" when anonymous."""
    buyer = pl.coalesce(
        pl.lit("u") + pl.col(USER_IDX).cast(pl.String), pl.lit("b") + pl.col(BASKET)
    )
    return kept_purchases(data).with_columns(buyer.alias(BUYER))


def _scores(lines: pl.DataFrame, data: TrainingData, config: PopularityConfig) -> pl.DataFrame:
    """(group, item_idx, score): distinct buyers per group and item, decayed if configured."""
    last = lines.group_by(GROUP, ITEM_IDX, BUYER).agg(pl.col(TS).max())
    if config.half_life_days is None:
        score = pl.len().cast(pl.Float64)
    else:
        score = (
            0.5 ** (age_days(data.reference_time).clip(lower_bound=0.0) / config.half_life_days)
        ).sum()
    return last.group_by(GROUP, ITEM_IDX).agg(score.alias(SCORE))


def _trending_scores(
    lines: pl.DataFrame, data: TrainingData, config: PopularityConfig
) -> pl.DataFrame:
    """(group "", item_idx, score) for items with enough recent buyers (see the config)."""
    age = age_days(data.reference_time)
    in_window = lines.filter((age >= 0) & (age < config.trending_long_days))
    counts = in_window.group_by(ITEM_IDX).agg(
        pl.col(BUYER).filter(age < config.trending_recent_days).n_unique().alias(RECENT),
        pl.col(BUYER).n_unique().alias(LONG),
    )
    return trending_from_counts(counts, config)


def trending_from_counts(counts: pl.DataFrame, config: PopularityConfig) -> pl.DataFrame:
    """Trending (group "", item_idx, score) from (item_idx, recent, long) distinct buyers
    in the two windows (either engine's counts)."""
    score = (pl.col(RECENT) / config.trending_recent_days) / (
        (pl.col(LONG) + config.trending_smoothing) / config.trending_long_days
    )
    return counts.filter(pl.col(RECENT) >= config.trending_min_buyers).select(
        pl.lit("").alias(GROUP), ITEM_IDX, score.alias(SCORE)
    )


def _segment_lines(
    lines: pl.DataFrame, segments: NDArray[np.str_] | None, n_users: int
) -> pl.DataFrame:
    labels = np.zeros(0, dtype=str) if segments is None else np.asarray(segments, dtype=str)
    if segments is not None and len(labels) != n_users:
        raise ModelFitError(f"segments has {len(labels)} labels for {n_users} users")
    table = pl.DataFrame(
        {USER_IDX: np.arange(len(labels), dtype=np.int32), GROUP: labels},
        schema={USER_IDX: pl.Int32, GROUP: pl.String},
    ).filter(pl.col(GROUP) != "")
    return lines.join(table, on=USER_IDX)


def category_groups(catalog: pl.DataFrame) -> pl.DataFrame:
    """(item_idx, group) for every complete category path prefix of every catalog item."""
    catalog = catalog.select(
        pl.int_range(pl.len(), dtype=pl.Int32).alias(ITEM_IDX),
        *(pl.col(level).fill_null("") for level in CATEGORY_LEVELS),
    )
    frames = []
    for depth in range(1, len(CATEGORY_LEVELS) + 1):
        levels = CATEGORY_LEVELS[:depth]
        path = pl.lit(f"{depth}:") + pl.concat_str(levels, separator=".")
        complete = pl.all_horizontal(pl.col(level) != "" for level in levels)
        frames.append(catalog.filter(complete).select(ITEM_IDX, path.alias(GROUP)))
    return pl.concat(frames)


def _hour_band_expr() -> pl.Expr:
    return pl.col(HOUR).replace_strict(HOUR_BAND_OF, return_dtype=pl.String)
