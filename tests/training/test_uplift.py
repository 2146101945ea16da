"""Uplift per recommended slot with paired bootstrap intervals: hand-computed values, the
independent `bootstrap_ratio_ci`, and the slicing rules."""

from __future__ import annotations

from collections.abc import Sequence

import polars as pl
import pytest

from training.evaluation.bootstrap import bootstrap_ratio_ci
from training.evaluation.uplift import METRICS, slice_uplift, uplift_table

# (strategy, request, unit, precision, hit, revenue, slots, segment)
Row = tuple[str, str, str, float | None, float | None, float, int, str]


def scored(rows: Sequence[Row], *, kind: str = "bid", k: int = 10) -> pl.DataFrame:
    names = ("strategy", "request_id", "unit", "precision", "hit", "revenue", "slots", "segment")
    frame = pl.DataFrame(
        [dict(zip(names, row, strict=True)) for row in rows],
        schema={
            "strategy": pl.String,
            "request_id": pl.String,
            "unit": pl.String,
            "precision": pl.Float64,
            "hit": pl.Float64,
            "revenue": pl.Float64,
            "slots": pl.Int64,
            "segment": pl.String,
        },
        orient="row",
    )
    return frame.with_columns(
        pl.lit("related").alias("task"),
        pl.lit(kind).alias("kind"),
        pl.lit(k, pl.Int64).alias("k"),
        ndcg=pl.col("precision"),
        recall=pl.col("precision"),
        map=pl.col("precision"),
    )


ROWS: list[Row] = [
    ("blend", "r1", "u1", 0.2, 1.0, 30.0, 10, "active"),
    ("blend", "r2", "u1", 0.4, 1.0, 10.0, 10, "active"),
    ("blend", "r3", "u2", 0.0, 0.0, 0.0, 10, "new"),
    ("blend", "r4", "u3", None, None, 0.0, 10, "new"),  # nothing relevant
    ("popular", "r1", "u1", 0.1, 1.0, 5.0, 10, "active"),
    ("popular", "r2", "u1", 0.1, 1.0, 5.0, 10, "active"),
    ("popular", "r3", "u2", 0.1, 1.0, 0.0, 10, "new"),
    ("popular", "r4", "u3", None, None, 0.0, 10, "new"),
]


def _row(table: pl.DataFrame, metric: str, strategy: str = "blend") -> dict[str, object]:
    rows = table.filter((pl.col("metric") == metric) & (pl.col("strategy") == strategy))
    assert rows.height == 1
    return rows.row(0, named=True)


def test_uplift_is_the_ratio_of_rates_per_slot_over_requests_with_a_truth() -> None:
    table = uplift_table(scored(ROWS), n_boot=200)
    bid = _row(table, "bid_rate")
    # blend: (0.2 + 0.4 + 0.0) / 3 = 0.2; popular: 0.1 (r4 has nothing relevant: left out)
    assert bid["rate"] == pytest.approx(0.2)
    assert bid["baseline_rate"] == pytest.approx(0.1)
    assert bid["value"] == pytest.approx(2.0)
    assert bid["n_units"] == 3
    hit = _row(table, "bid_hit_rate")
    assert hit["value"] == pytest.approx((2 / 3) / 1.0)
    revenue = _row(table, "revenue_per_1000")  # every row counts: Σ revenue / Σ slots
    assert revenue["rate"] == pytest.approx(1000 * 40 / 40)
    assert revenue["value"] == pytest.approx(40 / 10)


def test_intervals_match_the_independent_paired_bootstrap() -> None:
    table = uplift_table(scored(ROWS), metrics=("bid_rate",), n_boot=500, seed=7)
    frame = scored(ROWS).rename({"unit": "user_id"})
    expected = bootstrap_ratio_ci(
        frame.filter(pl.col("strategy") == "blend"),
        frame.filter(pl.col("strategy") == "popular"),
        value="precision",
        n_boot=500,
        seed=7,
    )
    row = _row(table, "bid_rate")
    assert (row["value"], row["ci_low"], row["ci_high"]) == pytest.approx(
        (expected.estimate, expected.low, expected.high)
    )
    assert row["ci_low"] <= row["value"] <= row["ci_high"]  # type: ignore[operator]


def test_a_strategy_equal_to_the_baseline_has_uplift_one_with_no_spread() -> None:
    copy = [("twin", *row[1:]) for row in ROWS if row[0] == "popular"]
    table = uplift_table(scored([*ROWS, *copy]), metrics=("bid_rate",), n_boot=200)  # type: ignore[list-item]
    twin = _row(table, "bid_rate", "twin")
    assert (twin["value"], twin["ci_low"], twin["ci_high"]) == pytest.approx((1.0, 1.0, 1.0))


def test_same_seed_same_intervals_and_every_baseline_compared() -> None:
    rows = [*ROWS, *(("deals", *row[1:]) for row in ROWS if row[0] == "blend")]
    first = uplift_table(scored(rows), baselines=("popular", "deals"), n_boot=300, seed=1)  # type: ignore[arg-type]
    again = uplift_table(scored(rows), baselines=("popular", "deals"), n_boot=300, seed=1)  # type: ignore[arg-type]
    assert first.equals(again)
    pairs = set(first.filter(pl.col("metric") == "bid_rate").select("strategy", "baseline").rows())
    assert pairs == {
        ("blend", "popular"),
        ("deals", "popular"),
        ("blend", "deals"),
        ("popular", "deals"),
    }


def test_click_metrics_only_where_clicks_are_observed() -> None:
    bids_only = uplift_table(scored(ROWS), n_boot=100)
    assert not any(m.startswith("click") for m in bids_only["metric"].to_list())
    both = pl.concat([scored(ROWS), scored(ROWS, kind="click")])
    metrics = set(uplift_table(both, n_boot=100)["metric"].to_list())
    assert metrics == set(METRICS)


def test_a_zero_baseline_gives_no_ratio() -> None:
    zero = [(s, r, u, 0.0 if s == "popular" else p, h, v, n, g) for s, r, u, p, h, v, n, g in ROWS]
    row = _row(uplift_table(scored(zero), metrics=("bid_rate",), n_boot=100), "bid_rate")
    assert row["value"] is None
    assert row["rate"] == pytest.approx(0.2)


def test_slices_keep_values_with_enough_requests() -> None:
    table = slice_uplift(scored(ROWS), ["segment"], min_requests=2, n_boot=100)
    assert table["slice_value"].unique().sort().to_list() == ["active", "new"]
    active = table.filter((pl.col("slice_value") == "active") & (pl.col("strategy") == "blend"))
    assert active["value"][0] == pytest.approx(0.3 / 0.1)
    assert active["n_requests"][0] == 2
    few = slice_uplift(scored(ROWS), ["segment"], min_requests=3, n_boot=100)
    assert few.is_empty()
