"""Metric functions against hand arithmetic and an independent Recommenders-style oracle;
bootstrap intervals against known coverage and a brute-force resampling loop."""

from __future__ import annotations

import math

import numpy as np
import pandas as pd
import polars as pl
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from training.errors import DataFormatError, EmptyDataError
from training.evaluation.bootstrap import (
    bootstrap_ci,
    bootstrap_rate_ci,
    bootstrap_ratio_ci,
    replicate_sums,
)
from training.evaluation.metrics import aggregate_metrics, catalog_coverage, per_request_metrics


def _served(lists: dict[tuple[str, str], list[str]], users: dict[str, str]) -> pl.DataFrame:
    rows = [
        {"request_id": r, "strategy": s, "rank": i + 1, "item_id": item, "user_id": users[r]}
        for (r, s), items in lists.items()
        for i, item in enumerate(items)
    ]
    return pl.DataFrame(rows)


@pytest.fixture
def example() -> tuple[pl.DataFrame, pl.DataFrame]:
    """Request r1 (shopper u1): served a, b, c, d; relevant b (revenue 10) and d (5) and e.
    Request r2 (shopper u2): served c, a; nothing relevant.
    """
    served = _served(
        {("r1", "s"): ["a", "b", "c", "d"], ("r2", "s"): ["c", "a"]}, {"r1": "u1", "r2": "u2"}
    )
    outcome = pl.DataFrame(
        {
            "request_id": ["r1", "r1", "r1", "r9"],
            "item_id": ["b", "d", "e", "a"],
            "revenue": [10.0, 5.0, 7.0, 99.0],
        }
    )
    return served, outcome


def test_hand_computed_request(example: tuple[pl.DataFrame, pl.DataFrame]) -> None:
    served, outcome = example
    frame = per_request_metrics(served, outcome, ks=(2, 4))
    r1 = {row["k"]: row for row in frame.filter(pl.col("request_id") == "r1").to_dicts()}
    # R = 3 relevant (b, d, e). Top 2 = a, b: one hit at rank 2.
    assert r1[2]["hits"] == 1 and r1[2]["hit"] == 1.0
    assert r1[2]["precision"] == pytest.approx(1 / 2)
    assert r1[2]["recall"] == pytest.approx(1 / 3)
    # DCG = 1/log2(3); IDCG over min(2, 3) = 2 slots = 1/log2(2) + 1/log2(3).
    assert r1[2]["ndcg"] == pytest.approx((1 / math.log2(3)) / (1 + 1 / math.log2(3)))
    # AP: hit 1 at rank 2 → 1/2; divided by min(2, 3) = 2.
    assert r1[2]["map"] == pytest.approx((1 / 2) / 2)
    assert r1[2]["revenue"] == pytest.approx(10.0)
    # Top 4 = a, b, c, d: hits at ranks 2 and 4.
    assert r1[4]["precision"] == pytest.approx(2 / 4)
    assert r1[4]["recall"] == pytest.approx(2 / 3)
    dcg = 1 / math.log2(3) + 1 / math.log2(5)
    idcg = 1 + 1 / math.log2(3) + 1 / math.log2(4)  # min(4, 3) = 3 ideal slots
    assert r1[4]["ndcg"] == pytest.approx(dcg / idcg)
    assert r1[4]["map"] == pytest.approx((1 / 2 + 2 / 4) / 3)
    assert r1[4]["revenue"] == pytest.approx(15.0)
    assert r1[4]["user_id"] == "u1"


def test_requests_without_relevant_items(example: tuple[pl.DataFrame, pl.DataFrame]) -> None:
    served, outcome = example
    frame = per_request_metrics(served, outcome, ks=(2, 4))
    r2 = frame.filter(pl.col("request_id") == "r2", pl.col("k") == 4).row(0, named=True)
    assert r2["n_relevant"] == 0 and r2["slots"] == 2
    assert all(r2[m] is None for m in ("hit", "precision", "recall", "ndcg", "map"))
    assert r2["revenue"] == 0.0
    summary = aggregate_metrics(frame, served, catalog_size=10)
    at4 = summary.filter(pl.col("k") == 4).row(0, named=True)
    assert at4["n_requests"] == 2 and at4["n_evaluated"] == 1
    assert at4["precision"] == pytest.approx(0.5)  # r1 alone; r2 is excluded
    # 15 revenue over 4 + 2 = 6 served slots → 2,500 per 1,000 slots.
    assert at4["revenue_per_1000_slots"] == pytest.approx(15.0 / 6 * 1000)
    # Distinct items a, b, c, d out of 10.
    assert at4["coverage"] == pytest.approx(0.4)
    at2 = summary.filter(pl.col("k") == 2).row(0, named=True)
    assert at2["coverage"] == pytest.approx(0.3)  # a, b, c


def test_novelty_and_missing_revenue(example: tuple[pl.DataFrame, pl.DataFrame]) -> None:
    served, outcome = example
    popularity = pl.DataFrame({"item_id": ["a", "b", "c"], "popularity": [0.5, 0.25, 0.125]})
    frame = per_request_metrics(served, outcome.drop("revenue"), ks=(4,), popularity=popularity)
    r1, r2 = frame.sort("request_id").to_dicts()
    # a: 1 bit, b: 2, c: 3, d unknown → rarest listed (0.125): 3. Mean (1+2+3+3)/4.
    assert r1["novelty"] == pytest.approx(9 / 4)
    assert r2["novelty"] == pytest.approx((3 + 1) / 2)
    assert r1["revenue"] is None
    summary = aggregate_metrics(frame, served, catalog_size=10)
    assert summary["revenue_per_1000_slots"].to_list() == [None]
    assert summary["novelty"].item() == pytest.approx((9 / 4 + 2) / 2)


def test_duplicate_outcome_rows_are_one_relevant_item() -> None:
    served = _served({("r1", "s"): ["a", "b"]}, {"r1": "u"})
    outcome = pl.DataFrame(
        {
            "request_id": ["r1", "r1"],
            "item_id": ["a", "a"],
            "revenue": [2.0, 3.0],
            "kind": ["click", "bid"],
        }
    )
    row = per_request_metrics(served, outcome, ks=(2,)).row(0, named=True)
    assert row["n_relevant"] == 1 and row["recall"] == 1.0 and row["revenue"] == 5.0


def test_coverage_by_slice() -> None:
    served = _served(
        {("r1", "s"): ["a", "b"], ("r2", "s"): ["a", "c"], ("r3", "t"): ["d", "e"]},
        {"r1": "u1", "r2": "u2", "r3": "u1"},
    )
    cov = catalog_coverage(served, catalog_size=5, ks=(1, 2), by=("strategy", "user_id"))
    got = {(r["strategy"], r["user_id"], r["k"]): r["coverage"] for r in cov.to_dicts()}
    assert got[("s", "u1", 2)] == pytest.approx(2 / 5)
    assert got[("s", "u2", 1)] == pytest.approx(1 / 5)
    assert got[("t", "u1", 2)] == pytest.approx(2 / 5)


@pytest.mark.parametrize(
    ("ranks", "items"), [([1, 1], ["a", "b"]), ([1, 2], ["a", "a"]), ([0, 1], ["a", "b"])]
)
def test_malformed_lists_raise(ranks: list[int], items: list[str]) -> None:
    served = pl.DataFrame(
        {"request_id": ["r", "r"], "strategy": "s", "rank": ranks, "item_id": items}
    )
    outcome = pl.DataFrame({"request_id": ["r"], "item_id": ["a"]})
    with pytest.raises(DataFormatError):
        per_request_metrics(served, outcome)


def test_missing_column_raises() -> None:
    served = pl.DataFrame({"request_id": ["r"], "rank": [1], "item_id": ["a"]})
    with pytest.raises(DataFormatError, match="strategy"):
        per_request_metrics(served, pl.DataFrame({"request_id": ["r"], "item_id": ["a"]}))


# --- independent oracle: Microsoft Recommenders' python_evaluation formulas -----------


def _oracle(true: pd.DataFrame, pred: pd.DataFrame, k: int) -> dict[str, float]:
    """precision/recall/ndcg/map_at_k as Recommenders defines them, one user at a time.

    Users = those in both frames; hits = true items among the k best-ranked predictions;
    precision = hits/k; recall = hits/|true|; ndcg with natural-log discount (its default)
    over an ideal of min(k, |true|) items; map = Σ_hits (j-th hit)/rank / min(k, |true|).
    """
    users = sorted(set(true["user"]) & set(pred["user"]))
    totals = {"precision": 0.0, "recall": 0.0, "ndcg": 0.0, "map": 0.0, "hit": 0.0}
    for user in users:
        relevant = set(true.loc[true["user"] == user, "item"])
        ranked = pred[pred["user"] == user].sort_values("rank").head(k)
        hit_ranks = [
            int(r) for r, i in zip(ranked["rank"], ranked["item"], strict=True) if i in relevant
        ]
        totals["hit"] += float(len(hit_ranks) > 0)
        totals["precision"] += len(hit_ranks) / k
        totals["recall"] += len(hit_ranks) / len(relevant)
        dcg = sum(1 / math.log(1 + r) for r in hit_ranks)
        idcg = sum(1 / math.log(1 + i) for i in range(1, min(k, len(relevant)) + 1))
        totals["ndcg"] += dcg / idcg
        totals["map"] += sum((j + 1) / r for j, r in enumerate(hit_ranks)) / min(k, len(relevant))
    return {name: value / len(users) for name, value in totals.items()} if users else {}


@st.composite
def _logs(draw: st.DrawFn) -> tuple[pl.DataFrame, pl.DataFrame]:
    pool = [f"i{n}" for n in range(8)]
    served_rows, outcome_rows = [], []
    for r in range(draw(st.integers(1, 6))):
        for s in ("s1", "s2"):
            if draw(st.booleans()):
                items = draw(st.lists(st.sampled_from(pool), min_size=1, max_size=8, unique=True))
                served_rows += [(f"r{r}", s, rank + 1, item) for rank, item in enumerate(items)]
        relevant = draw(st.lists(st.sampled_from(pool), max_size=5, unique=True))
        outcome_rows += [(f"r{r}", item) for item in relevant]
    served_schema = {
        "request_id": pl.String,
        "strategy": pl.String,
        "rank": pl.Int64,
        "item_id": pl.String,
    }
    served = pl.DataFrame(served_rows, schema=served_schema, orient="row")
    outcome = pl.DataFrame(
        outcome_rows, schema={"request_id": pl.String, "item_id": pl.String}, orient="row"
    )
    return served, outcome


@settings(max_examples=60, deadline=None)
@given(_logs(), st.sampled_from([(1, 3), (2, 5), (4, 8)]))
def test_matches_recommenders_oracle(
    logs: tuple[pl.DataFrame, pl.DataFrame], ks: tuple[int, int]
) -> None:
    served, outcome = logs
    summary = aggregate_metrics(per_request_metrics(served, outcome, ks=ks), served, catalog_size=8)
    true = outcome.to_pandas().rename(columns={"request_id": "user", "item_id": "item"})
    for row in summary.to_dicts():
        pred = (
            served.filter(pl.col("strategy") == row["strategy"])
            .to_pandas()
            .rename(columns={"request_id": "user", "item_id": "item"})
        )
        expected = _oracle(true, pred, row["k"])
        if not expected:
            assert row["n_evaluated"] == 0 and row["precision"] is None
            continue
        for name, value in expected.items():
            got = row["hit_rate" if name == "hit" else name]
            assert got == pytest.approx(value), name


# --- bootstrap ------------------------------------------------------------------------


def test_replicate_sums_match_a_resampling_loop() -> None:
    columns = np.arange(12, dtype=np.float64).reshape(6, 2) ** 1.5
    fast = replicate_sums(columns, n_boot=50, seed=7)
    draws = np.random.default_rng(7).integers(0, 6, size=(50, 6))
    slow = np.array([columns[idx].sum(axis=0) for idx in draws])
    np.testing.assert_allclose(fast, slow)


def test_bootstrap_is_deterministic_with_seed() -> None:
    values = np.random.default_rng(0).exponential(size=300)
    assert bootstrap_ci(values, seed=3) == bootstrap_ci(values, seed=3)
    assert bootstrap_ci(values, seed=3) != bootstrap_ci(values, seed=4)


def test_bootstrap_ci_covers_the_mean_at_its_nominal_rate() -> None:
    rng = np.random.default_rng(42)
    covered = 0
    for _ in range(200):
        values = rng.exponential(scale=2.0, size=80)  # true mean 2
        interval = bootstrap_ci(values, n_boot=500, seed=int(rng.integers(1 << 30)))
        covered += interval.low <= 2.0 <= interval.high
    assert 0.88 <= covered / 200 <= 0.99


def test_rate_ci_width_matches_the_normal_approximation() -> None:
    rng = np.random.default_rng(1)
    clicks = rng.binomial(20, 0.3, size=2000).astype(np.float64)
    shown = np.full(2000, 20.0)
    interval = bootstrap_rate_ci(clicks, shown, n_boot=2000, seed=0)
    se = math.sqrt(0.3 * 0.7 / clicks.size / 20)
    assert interval.estimate == pytest.approx(clicks.sum() / shown.sum())
    assert interval.high - interval.low == pytest.approx(2 * 1.96 * se, rel=0.15)


def _per_request(users: list[str], values: list[float]) -> pl.DataFrame:
    return pl.DataFrame({"user_id": users, "precision": values})


def test_uplift_of_identical_strategies_is_one() -> None:
    rng = np.random.default_rng(5)
    users = [f"u{i}" for i in rng.integers(0, 50, size=400)]
    frame = _per_request(users, rng.random(400).tolist())
    interval = bootstrap_ratio_ci(frame, frame, value="precision")
    assert interval.estimate == pytest.approx(1.0)
    assert interval.low == pytest.approx(1.0) and interval.high == pytest.approx(1.0)


def test_paired_uplift_cancels_shopper_variation() -> None:
    rng = np.random.default_rng(6)
    shopper_level = rng.lognormal(sigma=1.5, size=200)  # shoppers differ a lot
    users = [f"u{i}" for i in range(200)]
    noise = rng.normal(1.0, 0.05, size=200)
    baseline = _per_request(users, shopper_level.tolist())
    strategy = _per_request(users, (1.1 * shopper_level * noise).tolist())
    paired = bootstrap_ratio_ci(strategy, baseline, value="precision", seed=1)
    assert paired.low <= 1.1 <= paired.high
    assert paired.high - paired.low < 0.05
    # Unpaired (disjoint shopper ids): resampling no longer cancels shopper levels.
    renamed = strategy.with_columns(pl.col("user_id") + "_other")
    unpaired = bootstrap_ratio_ci(renamed, baseline, value="precision", seed=1)
    assert unpaired.high - unpaired.low > 5 * (paired.high - paired.low)


def test_uplift_ignores_null_values_and_rejects_zero_baseline() -> None:
    strategy = _per_request(["u1", "u2", "u3"], [1.0, 0.0, None])  # type: ignore[list-item]
    baseline = _per_request(["u1", "u2"], [0.5, 0.5])
    assert bootstrap_ratio_ci(strategy, baseline, value="precision").estimate == 1.0
    with pytest.raises(EmptyDataError):
        bootstrap_ratio_ci(strategy, _per_request(["u1"], [0.0]), value="precision")
