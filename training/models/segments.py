"""Shopper segments: RFM, quintile scores, lifecycle stage, value tier and K-Means clusters.

Everything is computed from kept purchases (`training.models.profiles.kept_purchases`):
recency from the last kept basket, frequency = distinct kept baskets, monetary = kept value
(purchases minus the returns matched to them). A user with no kept purchase (only views,
carts or returns) is a "prospect": recency NaN, frequency 0, monetary 0, RFM scores 0,
value tier "none", cluster -1.
"""

from __future__ import annotations

import itertools
from dataclasses import asdict, dataclass
from datetime import datetime
from typing import Any, Final

import numpy as np
import polars as pl
from numpy.typing import NDArray

from recsvc.artifacts import LoadedPart, Part
from training.data.dataset import TrainingData
from training.data.schema import TS, USER_IDX
from training.errors import ModelFitError
from training.models.profiles import BASKET, VALUE, age_days, kept_purchases

# Lifecycle stages, in code order. Bands are upper-inclusive: recency ≤ active_days is
# "active", ≤ cooling_days "cooling", ≤ at_risk_days "at_risk", ≤ sleeping_days
# "sleeping", beyond that "lost". "new" (exactly one kept basket, at most new_days ago)
# takes precedence over the bands; "prospect" = no kept purchase at all.
LIFECYCLE_LABELS: Final = ("prospect", "new", "active", "cooling", "at_risk", "sleeping", "lost")
VALUE_LABELS: Final = ("none", "low", "mid", "high")
RFM_BINS: Final = 5
LAST: Final = "last"
FIRST: Final = "first"
FREQUENCY: Final = "frequency"
MONETARY: Final = "monetary"
NO_SCORE: Final = 0  # RFM score of a prospect


@dataclass(frozen=True)
class SegmentsConfig:
    """Lifecycle thresholds (days), value-tier cuts (purchaser shares) and K-Means settings.

    `value_cuts` = (a, b): a purchaser whose share of purchasers with strictly lower
    monetary is < a is "low", < b "mid", else "high" (about bottom 50 %, next 30 %,
    top 20 % by default; equal spend always shares a tier).
    """

    new_days: float = 30.0
    active_days: float = 15.0
    cooling_days: float = 75.0
    at_risk_days: float = 180.0
    sleeping_days: float = 365.0
    value_cuts: tuple[float, float] = (0.5, 0.8)
    n_clusters: int = 5
    kmeans_restarts: int = 4
    kmeans_max_iter: int = 100

    def __post_init__(self) -> None:
        bands = (0.0, self.active_days, self.cooling_days, self.at_risk_days, self.sleeping_days)
        if any(upper <= lower for lower, upper in itertools.pairwise(bands)):
            raise ModelFitError(f"lifecycle thresholds must increase and be ≥ 0, got {bands}")
        low, high = self.value_cuts
        if not 0.0 < low < high < 1.0:
            raise ModelFitError(f"value_cuts must satisfy 0 < a < b < 1, got {self.value_cuts}")
        if min(self.n_clusters, self.kmeans_restarts, self.kmeans_max_iter) < 1:
            raise ModelFitError(
                "n_clusters, kmeans_restarts and kmeans_max_iter must be ≥ 1, got "
                f"{self.n_clusters}, {self.kmeans_restarts}, {self.kmeans_max_iter}"
            )


@dataclass(frozen=True)
class Rfm:
    """Per user (user index order). Recency is NaN and the rest 0 for prospects."""

    recency_days: NDArray[np.float64]
    frequency: NDArray[np.int64]
    monetary: NDArray[np.float64]
    first_age_days: NDArray[np.float64]  # days since the first kept basket

    @property
    def purchasers(self) -> NDArray[np.bool_]:
        return self.frequency > 0


def fit(data: TrainingData, config: SegmentsConfig, *, seed: int = 0) -> Part:
    """Part "segments": one row per user with RFM, scores, lifecycle, value tier, cluster."""
    return segments_part(compute_rfm(data), config, seed=seed, reference_time=data.reference_time)


def segments_part(
    rfm: Rfm, config: SegmentsConfig, *, seed: int, reference_time: datetime
) -> Part:
    """Part "segments" from per-user RFM (either engine's aggregates, see `rfm_from`)."""
    lifecycle = lifecycle_codes(rfm, config)
    value_tier = value_tier_codes(rfm, config.value_cuts)
    cluster, cluster_meta = _clusters(rfm, config, seed)
    arrays: dict[str, NDArray[Any]] = {
        "recency_days": rfm.recency_days,
        "frequency": rfm.frequency,
        "monetary": rfm.monetary,
        "rfm_scores": rfm_scores(rfm),
        "lifecycle": lifecycle,
        "value_tier": value_tier,
        "cluster": cluster,
    }
    meta: dict[str, Any] = {
        "config": asdict(config),
        "reference_time": reference_time.isoformat(),
        "lifecycle_labels": list(LIFECYCLE_LABELS),
        "value_labels": list(VALUE_LABELS),
        "lifecycle_counts": _counts(lifecycle, LIFECYCLE_LABELS),
        "value_counts": _counts(value_tier, VALUE_LABELS),
        "value_thresholds": _tier_floors(rfm.monetary, value_tier),
        "n_purchasers": int(rfm.purchasers.sum()),
        "rfm_score_rule": (
            "score = 1 + floor(5 * (purchasers with a strictly worse value) / purchasers); "
            "equal values share a score; R ranks lower recency as better; prospects get 0"
        ),
        **cluster_meta,
    }
    return Part(name="segments", arrays=arrays, meta=meta)


def lifecycle_label_array(part: Part | LoadedPart) -> NDArray[np.str_]:
    """The lifecycle label of every user (user index order) of a fitted segments part."""
    labels = np.asarray(part.meta["lifecycle_labels"], dtype=str)
    codes: NDArray[np.integer] = part.arrays["lifecycle"]
    named: NDArray[np.str_] = labels[codes]
    return named


def compute_rfm(data: TrainingData) -> Rfm:
    """Recency/frequency/monetary of every user from kept purchases (see module doc)."""
    per_user = (
        kept_purchases(data)
        .filter(pl.col(USER_IDX).is_not_null())
        .group_by(USER_IDX)
        .agg(
            pl.col(TS).max().alias(LAST),
            pl.col(TS).min().alias(FIRST),
            pl.col(BASKET).n_unique().alias(FREQUENCY),
            pl.col(VALUE).sum().alias(MONETARY),
        )
    )
    return rfm_from(per_user, data.reference_time, data.n_users)


def rfm_from(per_user: pl.DataFrame, reference_time: datetime, n_users: int) -> Rfm:
    """`Rfm` from one row per purchaser (either engine's aggregate): user_idx, last and
    first kept basket time, frequency, monetary; users without a row are prospects."""
    per_user = per_user.with_columns(  # events after the reference time count as age 0
        age_days(reference_time, LAST).clip(lower_bound=0.0).alias(LAST),
        age_days(reference_time, FIRST).clip(lower_bound=0.0).alias(FIRST),
    )
    users = per_user[USER_IDX].to_numpy()
    recency = np.full(n_users, np.nan)
    first_age = np.full(n_users, np.nan)
    frequency = np.zeros(n_users, dtype=np.int64)
    monetary = np.zeros(n_users, dtype=np.float64)
    recency[users] = per_user[LAST].to_numpy()
    first_age[users] = per_user[FIRST].to_numpy()
    frequency[users] = per_user[FREQUENCY].to_numpy()
    monetary[users] = per_user[MONETARY].to_numpy()
    return Rfm(recency, frequency, monetary, first_age)


def rfm_scores(rfm: Rfm) -> NDArray[np.int8]:
    """[n_users, 3] R, F, M scores 1..5 among purchasers (`quantile_scores`); 0 = prospect."""
    scores = np.full((len(rfm.frequency), 3), NO_SCORE, dtype=np.int8)
    buyers = rfm.purchasers
    columns = (-rfm.recency_days[buyers], rfm.frequency[buyers], rfm.monetary[buyers])
    for j, values in enumerate(columns):
        scores[buyers, j] = quantile_scores(values.astype(np.float64), RFM_BINS)
    return scores


def quantile_scores(values: NDArray[np.float64], n_bins: int) -> NDArray[np.int8]:
    """Score 1..n_bins per value: 1 + ⌊n_bins · (number of values strictly below) / n⌋.

    Equal values always share the score of the lowest-ranked among them, so the result
    is deterministic and monotone in the value; the top score may be absent under ties.
    """
    if len(values) == 0:
        return np.zeros(0, dtype=np.int8)
    return (1 + n_bins * _count_strictly_below(values) // len(values)).astype(np.int8)


def lifecycle_codes(rfm: Rfm, config: SegmentsConfig) -> NDArray[np.int8]:
    """Code into `LIFECYCLE_LABELS` per user; bands are upper-inclusive (see module top)."""
    bands = np.array(
        [config.active_days, config.cooling_days, config.at_risk_days, config.sleeping_days]
    )
    first_band = LIFECYCLE_LABELS.index("active")
    recency = np.where(rfm.purchasers, rfm.recency_days, 0.0)
    codes = first_band + np.searchsorted(bands, recency, side="left")
    is_new = (rfm.frequency == 1) & (rfm.first_age_days <= config.new_days)
    codes = np.where(is_new, LIFECYCLE_LABELS.index("new"), codes)
    codes = np.where(rfm.purchasers, codes, LIFECYCLE_LABELS.index("prospect"))
    return codes.astype(np.int8)


def value_tier_codes(rfm: Rfm, cuts: tuple[float, float]) -> NDArray[np.int8]:
    """Code into `VALUE_LABELS`: low/mid/high by share of purchasers with lower monetary."""
    codes = np.full(len(rfm.frequency), VALUE_LABELS.index("none"), dtype=np.int8)
    buyers = rfm.purchasers
    share = _count_strictly_below(rfm.monetary[buyers]) / max(int(buyers.sum()), 1)
    codes[buyers] = VALUE_LABELS.index("low") + np.searchsorted(np.array(cuts), share, "right")
    return codes


def _count_strictly_below(values: NDArray[np.float64]) -> NDArray[np.int64]:
    """For each value, how many values are strictly smaller (ties share the lowest rank)."""
    return np.searchsorted(np.sort(values), values, side="left").astype(np.int64)


def _clusters(
    rfm: Rfm, config: SegmentsConfig, seed: int
) -> tuple[NDArray[np.int32], dict[str, Any]]:
    """K-Means on standardised log1p(R, F, M) of purchasers; prospects get -1.

    Clusters are renumbered by descending centroid monetary, so 0 is the most valuable.
    Centroids are reported in original units (the standardised centroid mapped back
    through the standardisation and expm1).
    """
    labels = np.full(len(rfm.frequency), -1, dtype=np.int32)
    buyers = rfm.purchasers
    raw = np.column_stack(
        [rfm.recency_days[buyers], rfm.frequency[buyers], np.maximum(rfm.monetary[buyers], 0.0)]
    )
    if len(raw) == 0:
        return labels, _cluster_meta(np.zeros((0, 3)), np.zeros(0, dtype=np.int64), 0.0, 0)
    logged = np.log1p(raw)
    mean, std = logged.mean(axis=0), logged.std(axis=0)
    std[std == 0] = 1.0
    result = kmeans(
        (logged - mean) / std,
        config.n_clusters,
        seed=seed,
        n_init=config.kmeans_restarts,
        max_iter=config.kmeans_max_iter,
    )
    centroids = np.expm1(result.centroids * std + mean)
    order = np.argsort(-centroids[:, 2], kind="stable")
    renumber = np.empty_like(order)
    renumber[order] = np.arange(len(order))
    labels[buyers] = renumber[result.labels]
    sizes = np.bincount(labels[buyers], minlength=len(order))
    return labels, _cluster_meta(centroids[order], sizes, result.inertia, result.iterations)


def _cluster_meta(
    centroids: NDArray[np.float64], sizes: NDArray[np.int64], inertia: float, iterations: int
) -> dict[str, Any]:
    return {
        "cluster_features": ["recency_days", "frequency", "monetary"],
        "cluster_centroids": [[round(float(v), 4) for v in row] for row in centroids],
        "cluster_sizes": [int(s) for s in sizes],
        "cluster_inertia": inertia,
        "cluster_iterations": iterations,
    }


def _counts(codes: NDArray[np.int8], labels: tuple[str, ...]) -> dict[str, int]:
    counts = np.bincount(codes.astype(np.int64), minlength=len(labels))
    return {label: int(counts[j]) for j, label in enumerate(labels)}


def _tier_floors(monetary: NDArray[np.float64], tiers: NDArray[np.int8]) -> dict[str, float]:
    """Lowest monetary value in each non-empty purchaser tier (what the cuts came out as)."""
    return {
        label: float(monetary[tiers == code].min())
        for code, label in enumerate(VALUE_LABELS)
        if label != "none" and np.any(tiers == code)
    }


@dataclass(frozen=True)
class KMeansResult:
    """Cluster id per point, centroids [k, d], inertia (Σ squared distances), iterations."""

    labels: NDArray[np.int64]
    centroids: NDArray[np.float64]
    inertia: float
    iterations: int


def kmeans(
    points: NDArray[np.float64], k: int, *, seed: int, n_init: int, max_iter: int
) -> KMeansResult:
    """Lloyd's K-Means from `n_init` k-means++ starts drawn from `seed`; lowest inertia wins.

    k is capped at the number of distinct points. Each run stops when no assignment
    changes or after `max_iter` iterations; ties between centroids go to the lowest
    index, ties in inertia to the earliest start. Same seed → same result.
    """
    if len(points) == 0:
        raise ModelFitError("K-Means needs at least one point")
    k = min(k, len(np.unique(points, axis=0)))
    rng = np.random.default_rng(seed)
    runs = [_lloyd(points, _kmeans_plus_plus(points, k, rng), max_iter) for _ in range(n_init)]
    return min(runs, key=lambda run: run.inertia)


def _kmeans_plus_plus(
    points: NDArray[np.float64], k: int, rng: np.random.Generator
) -> NDArray[np.float64]:
    """k distinct starting centroids: the first uniform, each next ∝ squared distance."""
    chosen = [int(rng.integers(len(points)))]
    nearest = _squared_distances(points, points[chosen]).min(axis=1)
    while len(chosen) < k:
        chosen.append(int(rng.choice(len(points), p=nearest / nearest.sum())))
        nearest = np.minimum(nearest, _squared_distances(points, points[chosen[-1:]])[:, 0])
    return points[chosen].copy()


def _lloyd(
    points: NDArray[np.float64], centroids: NDArray[np.float64], max_iter: int
) -> KMeansResult:
    labels = np.full(len(points), -1, dtype=np.int64)
    for iteration in range(1, max_iter + 1):
        distances = _squared_distances(points, centroids)
        new_labels = distances.argmin(axis=1)
        if np.array_equal(new_labels, labels):
            return _result(points, labels, centroids, iteration)
        labels = new_labels
        centroids = _update_centroids(points, labels, centroids, distances)
    return _result(points, labels, centroids, max_iter)


def _result(
    points: NDArray[np.float64],
    labels: NDArray[np.int64],
    centroids: NDArray[np.float64],
    iterations: int,
) -> KMeansResult:
    own = _squared_distances(points, centroids)[np.arange(len(points)), labels]
    return KMeansResult(labels, centroids, float(own.sum()), iterations)


def _update_centroids(
    points: NDArray[np.float64],
    labels: NDArray[np.int64],
    centroids: NDArray[np.float64],
    distances: NDArray[np.float64],
) -> NDArray[np.float64]:
    """Cluster means; an emptied cluster moves to the point farthest from its centroid."""
    k = len(centroids)
    sizes = np.bincount(labels, minlength=k)
    sums = np.zeros_like(centroids)
    np.add.at(sums, labels, points)
    updated = sums / np.maximum(sizes, 1)[:, None]
    own = distances[np.arange(len(points)), labels]
    for j in np.flatnonzero(sizes == 0):
        far = int(own.argmax())
        updated[j] = points[far]
        own[far] = -1.0
    return updated


def _squared_distances(
    points: NDArray[np.float64], centroids: NDArray[np.float64]
) -> NDArray[np.float64]:
    """[n, k] squared Euclidean distances, clipped at 0 against rounding."""
    cross = points @ centroids.T
    squared = (points**2).sum(axis=1)[:, None] - 2 * cross + (centroids**2).sum(axis=1)[None, :]
    clipped: NDArray[np.float64] = np.maximum(squared, 0.0)
    return clipped
