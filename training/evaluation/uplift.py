"""Uplift of each strategy over a baseline, with paired bootstrap intervals over shoppers.

Input: the *scored* frame, one row per (task, kind, k, strategy, request) — the output of
`training.evaluation.metrics.per_request_metrics` for one outcome kind ("bid" or "click")
and lists of length k, with columns task and kind added and `unit` (the shopper: user id,
else the request itself for anonymous baskets).

A metric (`METRICS`) is a rate Σ numerator / Σ denominator over the requests of a strategy:
- `bid_rate`, `click_rate`: hits per recommended slot, i.e. mean precision@k over the
  requests with at least one relevant item (bids or clicks per 1,000 slots / 1,000);
- `bid_hit_rate`, `click_hit_rate`: share of those requests with a hit in the top k;
- `ndcg`, `click_ndcg`, `recall`, `map`: their means over the same requests;
- `revenue_per_1000`: 1,000 × Σ revenue of the bid items in the top k / Σ slots served.
Uplift = rate(strategy) / rate(baseline) on the same requests. Its 95 % interval is the
percentile bootstrap over shoppers: each replicate resamples the shoppers once and applies
the same multiplicities to every strategy of the (task, metric, k), so the comparison is
paired and every strategy's interval comes from the same replicates. Same seed, same
inputs → same intervals.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Final

import numpy as np
import polars as pl

from training.evaluation.bootstrap import percentile_interval, replicate_sums
from training.evaluation.metrics import KIND, REVENUE, STRATEGY, K

TASK: Final = "task"
UNIT: Final = "unit"
UPLIFT_COLUMNS: Final = (
    "task",
    "metric",
    "strategy",
    "baseline",
    "k",
    "value",
    "ci_low",
    "ci_high",
    "rate",
    "baseline_rate",
    "n_units",
)


@dataclass(frozen=True)
class Metric:
    """rate = scale × Σ numerator / Σ denominator over the rows of one outcome kind;
    `denominator` None counts the rows where the numerator is not null."""

    kind: str
    numerator: str
    denominator: str | None = None
    scale: float = 1.0


METRICS: Final = {
    "bid_rate": Metric("bid", "precision"),
    "bid_hit_rate": Metric("bid", "hit"),
    "ndcg": Metric("bid", "ndcg"),
    "recall": Metric("bid", "recall"),
    "map": Metric("bid", "map"),
    "revenue_per_1000": Metric("bid", REVENUE, "slots", 1000.0),
    "click_rate": Metric("click", "precision"),
    "click_hit_rate": Metric("click", "hit"),
    "click_ndcg": Metric("click", "ndcg"),
}


def _valid(metric: Metric) -> pl.Expr:
    return pl.col(metric.numerator).is_not_null()


def _denominator(metric: Metric) -> pl.Expr:
    if metric.denominator:
        return pl.col(metric.denominator).cast(pl.Float64).sum()
    return pl.len().cast(pl.Float64)


def metric_rate(rows: pl.DataFrame, metric: Metric) -> float | None:
    """The metric's rate over `rows` (one strategy's scored rows); None when its
    denominator is 0 (no request with a relevant item)."""
    sums = rows.filter(_valid(metric)).select(
        num=pl.col(metric.numerator).cast(pl.Float64).sum(), den=_denominator(metric)
    )
    num, den = sums.row(0)
    return metric.scale * float(num) / float(den) if den else None


def _unit_sums(rows: pl.DataFrame, metric: Metric, units: pl.DataFrame) -> pl.DataFrame:
    """Per strategy and unit: Σ numerator and Σ denominator (0 for absent units)."""
    sums = (
        rows.filter(_valid(metric))
        .group_by(STRATEGY, UNIT)
        .agg(num=pl.col(metric.numerator).cast(pl.Float64).sum(), den=_denominator(metric))
    )
    grid = units.join(rows.select(STRATEGY).unique(), how="cross")
    return grid.join(sums, on=[STRATEGY, UNIT], how="left").fill_null(0.0)


def _ratios(names: Sequence[str], baselines: Iterable[str]) -> Iterable[tuple[str, str, int, int]]:
    for baseline in baselines:
        if baseline in names:
            b = names.index(baseline)
            for s, name in enumerate(names):
                if name != baseline:
                    yield name, baseline, s, b


def uplift_of(
    rows: pl.DataFrame,
    metric: Metric,
    *,
    baselines: Sequence[str],
    n_boot: int,
    seed: int,
) -> list[dict[str, object]]:
    """Uplift records (without task/metric/k) of every strategy in `rows` over each baseline
    present; a baseline whose rate is 0 gives null values (the ratio is undefined)."""
    units = rows.select(UNIT).unique().sort(UNIT)
    if units.is_empty():
        return []
    sums = _unit_sums(rows, metric, units).sort(STRATEGY, UNIT)
    names = sums[STRATEGY].unique(maintain_order=True).to_list()
    n_units = units.height
    num = sums["num"].to_numpy().reshape(len(names), n_units).T
    den = sums["den"].to_numpy().reshape(len(names), n_units).T
    replicates = replicate_sums(np.hstack([num, den]), n_boot=n_boot, seed=seed)
    with np.errstate(divide="ignore", invalid="ignore"):
        rates = num.sum(axis=0) / den.sum(axis=0)
        boot = replicates[:, : len(names)] / replicates[:, len(names) :]
    records: list[dict[str, object]] = []
    for name, baseline, s, b in _ratios(names, baselines):
        record: dict[str, object] = {
            "strategy": name,
            "baseline": baseline,
            "rate": metric.scale * float(rates[s]),
            "baseline_rate": metric.scale * float(rates[b]),
            "n_units": n_units,
            "value": None,
            "ci_low": None,
            "ci_high": None,
        }
        if rates[b] > 0 and np.isfinite(rates[s]):
            with np.errstate(divide="ignore", invalid="ignore"):
                interval = percentile_interval(float(rates[s] / rates[b]), boot[:, s] / boot[:, b])
            record.update(value=interval.estimate, ci_low=interval.low, ci_high=interval.high)
        records.append(record)
    return records


def uplift_table(
    scored: pl.DataFrame,
    *,
    metrics: Iterable[str] = tuple(METRICS),
    baselines: Sequence[str] = ("popular",),
    n_boot: int = 1000,
    seed: int = 0,
) -> pl.DataFrame:
    """One row per (task, metric, strategy, baseline, k) with `UPLIFT_COLUMNS` (rates in
    the metric's unit); metrics whose outcome kind is absent from `scored` are skipped
    (clicks on purchase-only data). Sorted by task, metric, k, baseline, strategy."""
    records = []
    for name in metrics:
        metric = METRICS[name]
        of_kind = scored.filter(pl.col(KIND) == metric.kind)
        for (task, k), rows in sorted(of_kind.group_by(TASK, K), key=lambda g: str(g[0])):
            for record in uplift_of(rows, metric, baselines=baselines, n_boot=n_boot, seed=seed):
                records.append({"task": task, "metric": name, "k": k, **record})
    schema = {
        "task": pl.String,
        "metric": pl.String,
        "strategy": pl.String,
        "baseline": pl.String,
        "k": pl.Int64,
        "value": pl.Float64,
        "ci_low": pl.Float64,
        "ci_high": pl.Float64,
        "rate": pl.Float64,
        "baseline_rate": pl.Float64,
        "n_units": pl.Int64,
    }
    frame = pl.DataFrame(records, schema=schema) if records else pl.DataFrame(schema=schema)
    return frame.select(UPLIFT_COLUMNS).sort("task", "metric", "k", "baseline", "strategy")


def slice_uplift(
    scored: pl.DataFrame,
    by: Sequence[str],
    *,
    metric: str = "bid_rate",
    k: int = 10,
    baseline: str = "popular",
    min_requests: int = 30,
    n_boot: int = 1000,
    seed: int = 0,
) -> pl.DataFrame:
    """`uplift_table` of one metric at one k within each value of each slice column in
    `by` that has at least `min_requests` requests (of the baseline) in a task. Columns:
    slice, slice_value (as text; null shows as "unknown"), n_requests, then the uplift
    columns."""
    rows = scored.filter((pl.col(K) == k) & (pl.col(KIND) == METRICS[metric].kind))
    frames = []
    for column in by:
        if column not in rows.columns:
            continue
        labelled = rows.with_columns(
            pl.col(column).cast(pl.String).fill_null("unknown").alias("slice_value")
        )
        sizes = (
            labelled.filter(pl.col(STRATEGY) == baseline)
            .group_by(TASK, "slice_value")
            .agg(n_requests=pl.len().cast(pl.Int64))
            .filter(pl.col("n_requests") >= min_requests)
        )
        for task, value, n_requests in sizes.sort(TASK, "slice_value").iter_rows():
            part = labelled.filter((pl.col(TASK) == task) & (pl.col("slice_value") == value))
            table = uplift_table(
                part, metrics=(metric,), baselines=(baseline,), n_boot=n_boot, seed=seed
            )
            frames.append(
                table.with_columns(
                    pl.lit(column).alias("slice"),
                    pl.lit(value).alias("slice_value"),
                    pl.lit(n_requests, pl.Int64).alias("n_requests"),
                )
            )
    if not frames:
        return pl.DataFrame(
            schema={"slice": pl.String, "slice_value": pl.String, "n_requests": pl.Int64}
        )
    return pl.concat(frames).select("slice", "slice_value", "n_requests", *UPLIFT_COLUMNS)
