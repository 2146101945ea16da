"""Segments: RFM, quintile scores, lifecycle bands, value tiers and K-Means."""

from __future__ import annotations

import itertools

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from hypothesis.extra.numpy import arrays
from numpy.typing import NDArray

from tests.training.fixtures_models import Ev, assert_matches_contract, retail_slice, tiny_data
from training.data.dataset import TrainingData
from training.errors import ModelFitError
from training.models import segments
from training.models.segments import (
    LIFECYCLE_LABELS,
    Rfm,
    SegmentsConfig,
    kmeans,
    lifecycle_codes,
    lifecycle_label_array,
    quantile_scores,
)

CONFIG = SegmentsConfig()


def _orders(user: str, *days: float, price: float = 1.0) -> list[Ev]:
    return [Ev(user, "a", day, hour=0, price=price) for day in days]


def _labels_by_user(data: TrainingData) -> dict[str, str]:
    labels = lifecycle_label_array(segments.fit(data, CONFIG))
    return dict(zip(data.user_ids.tolist(), labels.tolist(), strict=True))


def test_lifecycle_bands_are_upper_inclusive() -> None:
    hour = 1 / 24
    last_days = {  # "<expected stage>@<days since the last order>"
        "active@15": 385,
        "cooling@15+1h": 385 - hour,
        "cooling@75": 325,
        "at_risk@75+1h": 325 - hour,
        "at_risk@180": 220,
        "sleeping@180+1h": 220 - hour,
        "sleeping@365": 35,
        "lost@365+1h": 35 - hour,
    }
    events = [e for user, day in last_days.items() for e in _orders(user, day - 1, day)]
    labels = _labels_by_user(tiny_data(events, reference_day=400))
    assert labels == {user: user.split("@")[0] for user in last_days}


def test_new_prospect_and_two_recent_orders() -> None:
    events = [
        *_orders("one_order_30_days_ago", 370),
        *_orders("one_order_31_days_ago", 369),
        *_orders("two_recent_orders", 395, 399),
        Ev("only_returned", "a", 399, event="return"),
    ]
    data = tiny_data(events, reference_day=400)
    assert _labels_by_user(data) == {
        "one_order_30_days_ago": "new",
        "one_order_31_days_ago": "cooling",
        "two_recent_orders": "active",
        "only_returned": "prospect",
    }
    part = segments.fit(data, CONFIG)
    prospect = int(np.flatnonzero(data.user_ids == "only_returned")[0])
    assert np.isnan(part.arrays["recency_days"][prospect])
    assert part.arrays["rfm_scores"][prospect].tolist() == [0, 0, 0]
    assert part.meta["value_labels"][part.arrays["value_tier"][prospect]] == "none"
    assert part.arrays["cluster"][prospect] == -1


def test_a_log_without_purchases_makes_only_prospects() -> None:
    data = tiny_data([Ev("u1", "a", 0, event="return"), Ev("u2", "a", 1, event="view")])
    part = segments.fit(data, CONFIG)
    assert lifecycle_label_array(part).tolist() == ["prospect", "prospect"]
    assert part.arrays["cluster"].tolist() == [-1, -1]
    assert part.meta["cluster_sizes"] == [] and part.meta["n_purchasers"] == 0


def test_rfm_scores_and_value_tiers_on_ten_users() -> None:
    # user i (1..10): i orders, the last 100 - i days before the reference time
    monetary = [10, 20, 30, 30, 30, 60, 70, 80, 90, 100]
    events = [
        e
        for i, spend in enumerate(monetary, start=1)
        for e in _orders(f"u{i:02d}", *range(100 - 2 * i, 100 - i), price=spend / i)
    ]
    data = tiny_data(events, reference_day=200)
    part = segments.fit(data, CONFIG)
    assert part.arrays["frequency"].tolist() == list(range(1, 11))
    np.testing.assert_allclose(part.arrays["monetary"], monetary)
    np.testing.assert_allclose(part.arrays["recency_days"], [101 + i for i in range(1, 11)])
    scores = part.arrays["rfm_scores"]
    assert scores[:, 0].tolist() == [5, 5, 4, 4, 3, 3, 2, 2, 1, 1]
    assert scores[:, 1].tolist() == [1, 1, 2, 2, 3, 3, 4, 4, 5, 5]
    assert scores[:, 2].tolist() == [1, 1, 2, 2, 2, 3, 4, 4, 5, 5]
    tiers = np.asarray(part.meta["value_labels"])[part.arrays["value_tier"]]
    assert tiers.tolist() == ["low"] * 5 + ["mid"] * 3 + ["high"] * 2
    assert part.meta["value_counts"] == {"none": 0, "low": 5, "mid": 3, "high": 2}


def test_monetary_is_net_of_returns() -> None:
    events = [
        Ev("u", "a", 0, qty=3, price=2.0),
        Ev("u", "a", 1, event="return", qty=1, price=2.0),
        Ev("u", "b", 2, qty=1, price=5.0),
    ]
    part = segments.fit(tiny_data(events), CONFIG)
    assert part.arrays["monetary"].tolist() == [9.0]
    assert part.arrays["frequency"].tolist() == [2]


def test_part_matches_contract_and_meta_counts_add_up() -> None:
    events = [e for i in range(12) for e in _orders(f"u{i}", *range(i, 3 * i + 1, 2), price=i)]
    data = tiny_data(events, reference_day=60)
    part = segments.fit(data, CONFIG, seed=3)
    assert_matches_contract(part)
    assert all(len(part.arrays[name]) == data.n_users for name in part.arrays)
    assert sum(part.meta["lifecycle_counts"].values()) == data.n_users
    assert sum(part.meta["cluster_sizes"]) == part.meta["n_purchasers"] == data.n_users
    again = segments.fit(data, CONFIG, seed=3)
    for name, array in part.arrays.items():
        np.testing.assert_array_equal(array, again.arrays[name])
    monetary_centroids = [c[2] for c in part.meta["cluster_centroids"]]
    assert monetary_centroids == sorted(monetary_centroids, reverse=True)


def test_quantile_scores_share_ties() -> None:
    values = np.array([10.0, 20.0, 20.0, 30.0])
    assert quantile_scores(values, 5).tolist() == [1, 2, 2, 4]


@settings(max_examples=80, deadline=None)
@given(arrays(np.float64, st.integers(1, 40), elements=st.integers(-5, 5).map(float)))
def test_quantile_scores_are_monotone_and_in_range(values: NDArray[np.float64]) -> None:
    scores = quantile_scores(values, 5)
    assert scores.min() >= 1 and scores.max() <= 5
    assert scores[values == values.min()].tolist() == [1] * int((values == values.min()).sum())
    for i, j in itertools.product(range(len(values)), repeat=2):
        if values[i] <= values[j]:
            assert scores[i] <= scores[j]


def _stage_oracle(frequency: int, recency: float, first_age: float) -> str:
    if frequency == 0:
        return "prospect"
    if frequency == 1 and first_age <= CONFIG.new_days:
        return "new"
    for label, limit in (
        ("active", CONFIG.active_days),
        ("cooling", CONFIG.cooling_days),
        ("at_risk", CONFIG.at_risk_days),
        ("sleeping", CONFIG.sleeping_days),
    ):
        if recency <= limit:
            return label
    return "lost"


@settings(max_examples=60, deadline=None)
@given(
    st.lists(
        st.tuples(st.integers(0, 4), st.floats(0, 500), st.floats(0, 200)),
        min_size=1,
        max_size=30,
    )
)
def test_every_user_gets_exactly_the_stage_of_the_definition(
    rows: list[tuple[int, float, float]],
) -> None:
    frequency = np.array([f for f, _, _ in rows], dtype=np.int64)
    recency = np.array([r if f else np.nan for f, r, _ in rows])
    first_age = recency + np.array([extra for _, _, extra in rows])
    first_age[frequency == 1] = recency[frequency == 1]
    rfm = Rfm(recency, frequency, np.zeros(len(rows)), first_age)
    codes = lifecycle_codes(rfm, CONFIG)
    assert codes.shape == (len(rows),)
    expected = [
        _stage_oracle(f, r, a) for f, r, a in zip(frequency, recency, first_age, strict=True)
    ]
    assert [LIFECYCLE_LABELS[c] for c in codes] == expected


def _blobs(seed: int) -> tuple[NDArray[np.float64], NDArray[np.int64]]:
    rng = np.random.default_rng(seed)
    centres = np.array([[0.0, 0.0, 0.0], [10.0, 0.0, 0.0], [0.0, 10.0, 10.0]])
    truth = np.repeat(np.arange(3), 20)
    return centres[truth] + rng.normal(scale=0.5, size=(60, 3)), truth


def test_kmeans_recovers_separated_blobs_deterministically() -> None:
    points, truth = _blobs(0)
    result = kmeans(points, 3, seed=7, n_init=2, max_iter=50)
    pairs = set(zip(truth.tolist(), result.labels.tolist(), strict=True))
    assert len(pairs) == 3 and len({label for _, label in pairs}) == 3
    again = kmeans(points, 3, seed=7, n_init=2, max_iter=50)
    np.testing.assert_array_equal(result.labels, again.labels)
    np.testing.assert_array_equal(result.centroids, again.centroids)


@pytest.mark.parametrize("seed", range(5))
def test_kmeans_finds_the_exhaustive_optimum_on_eight_points(seed: int) -> None:
    points = np.random.default_rng(seed).normal(size=(8, 2))
    best = min(
        sum(((points[mask] - points[mask].mean(axis=0)) ** 2).sum() for mask in (side, ~side))
        for bits in range(1, 2**7)
        for side in [np.array([(bits >> i) & 1 for i in range(8)], dtype=bool)]
    )
    result = kmeans(points, 2, seed=seed, n_init=10, max_iter=100)
    assert result.inertia == pytest.approx(best)


def test_kmeans_caps_k_at_distinct_points() -> None:
    points = np.array([[0.0], [0.0], [1.0], [1.0]])
    result = kmeans(points, 5, seed=0, n_init=1, max_iter=10)
    assert len(result.centroids) == 2 and result.inertia == 0.0


def test_invalid_thresholds_are_refused() -> None:
    with pytest.raises(ModelFitError, match="thresholds"):
        SegmentsConfig(active_days=80.0)
    with pytest.raises(ModelFitError, match="value_cuts"):
        SegmentsConfig(value_cuts=(0.8, 0.5))


@pytest.mark.realdata
def test_segments_on_online_retail_slice() -> None:
    data = retail_slice()
    part = segments.fit(data, CONFIG)
    arrays, meta = part.arrays, part.meta
    assert_matches_contract(part)
    buyers = arrays["frequency"] > 0
    labels = lifecycle_label_array(part)
    assert ((labels == "prospect") == ~buyers).all()
    assert sum(meta["lifecycle_counts"].values()) == data.n_users
    assert sum(meta["cluster_sizes"]) == buyers.sum() == meta["n_purchasers"]
    assert ((arrays["cluster"] >= 0) == buyers).all()
    assert (arrays["rfm_scores"][buyers] >= 1).all() and (arrays["rfm_scores"] <= 5).all()
    assert (arrays["monetary"] >= 0).all()
    # one year of data: nobody is more than ~374 days out, most customers bought within 6 months
    assert np.nanmax(arrays["recency_days"]) < 375
    assert 0.5 < np.mean(np.isin(labels, ["new", "active", "cooling", "at_risk"])) < 0.95
    assert 1.5 < arrays["frequency"][buyers].mean() < 10
    assert 300 < np.median(arrays["monetary"][buyers]) < 1500
