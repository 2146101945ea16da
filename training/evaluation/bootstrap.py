"""Percentile bootstrap confidence intervals over independent units (shoppers, requests, rounds).

Every interval here is a ratio of sums over units, Σ wᵤ·numᵤ / Σ wᵤ·denᵤ, where the
weights w are the multiplicities of one bootstrap resample of the units (drawn with
replacement, n draws out of n units). A plain mean is the case den = 1. One resample is
applied to every column at once, which is what makes the uplift bootstrap paired.

The point estimate is always the full-sample statistic; the interval is the
(α/2, 1 − α/2) percentile interval of the replicates. Replicates whose denominator is
zero (possible when few units carry any weight) give ±inf or NaN; NaN replicates are left
out of the percentiles, inf ones stay in (they widen the interval, as they should).
Same seed, same inputs → identical interval.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Final

import numpy as np
import polars as pl
from numpy.typing import NDArray

from training.data.schema import USER
from training.errors import DataFormatError, EmptyDataError

# Upper bound on (replicates × units) cells of resample weights held in memory at once.
_MAX_CELLS: Final = 1 << 22


@dataclass(frozen=True)
class Interval:
    """A point estimate with its (1 − α) confidence interval."""

    estimate: float
    low: float
    high: float

    def as_dict(self) -> dict[str, float]:
        return {"estimate": self.estimate, "low": self.low, "high": self.high}


def _resample_counts(
    n_units: int, n_replicates: int, rng: np.random.Generator
) -> NDArray[np.float64]:
    """Multiplicity of each unit in each replicate: shape (n_replicates, n_units), rows sum to n."""
    draws = rng.integers(0, n_units, size=(n_replicates, n_units))
    draws += np.arange(n_replicates)[:, None] * n_units
    counts = np.bincount(draws.ravel(), minlength=n_replicates * n_units)
    return counts.reshape(n_replicates, n_units).astype(np.float64)


def replicate_sums(columns: NDArray[np.float64], *, n_boot: int, seed: int) -> NDArray[np.float64]:
    """Bootstrap-weighted column sums: `columns` (n_units, m) → (n_boot, m).

    Replicates are drawn in blocks so that at most `_MAX_CELLS` weights exist at a time.
    """
    n_units = columns.shape[0]
    if n_units == 0:
        raise EmptyDataError("bootstrap needs at least one unit; got none")
    rng = np.random.default_rng(seed)
    block = max(1, _MAX_CELLS // n_units)
    sums = np.empty((n_boot, columns.shape[1]))
    for start in range(0, n_boot, block):
        stop = min(n_boot, start + block)
        sums[start:stop] = _resample_counts(n_units, stop - start, rng) @ columns
    return sums


def percentile_interval(
    estimate: float, replicates: NDArray[np.float64], alpha: float = 0.05
) -> Interval:
    """`estimate` with the (α/2, 1 − α/2) percentiles of `replicates` (NaNs left out)."""
    if not 0.0 < alpha < 1.0:
        raise ValueError(f"alpha must be in (0, 1), got {alpha}")
    low, high = np.nanquantile(replicates, [alpha / 2, 1 - alpha / 2])
    return Interval(estimate=estimate, low=float(low), high=float(high))


def bootstrap_rate_ci(
    numerator: NDArray[np.float64],
    denominator: NDArray[np.float64],
    *,
    n_boot: int = 1000,
    seed: int = 0,
    alpha: float = 0.05,
) -> Interval:
    """CI of Σ numerator / Σ denominator, resampling units (entries of the two arrays).

    Both arrays have shape (n_units,): the per-unit sums (e.g. clicks and impressions of a
    shopper, or the estimator terms and row counts of a logged round).
    """
    columns = np.column_stack([numerator, denominator]).astype(np.float64)
    sums = replicate_sums(columns, n_boot=n_boot, seed=seed)
    with np.errstate(divide="ignore", invalid="ignore"):
        replicates = sums[:, 0] / sums[:, 1]
    estimate = float(columns[:, 0].sum() / columns[:, 1].sum())
    return percentile_interval(estimate, replicates, alpha)


def bootstrap_ci(
    values: NDArray[np.float64], *, n_boot: int = 1000, seed: int = 0, alpha: float = 0.05
) -> Interval:
    """CI of the mean of `values`, one value per independent unit (shape (n_units,))."""
    return bootstrap_rate_ci(values, np.ones(len(values)), n_boot=n_boot, seed=seed, alpha=alpha)


def _unit_sums(frame: pl.DataFrame, units: pl.DataFrame, *, value: str, unit: str) -> pl.DataFrame:
    """Σ value and row count per unit of `units` (zeros for units absent from `frame`)."""
    for column in (unit, value):
        if column not in frame.columns:
            raise DataFormatError("uplift frame", "missing column", column=column)
    sums = (
        frame.filter(pl.col(value).is_not_null())
        .group_by(unit)
        .agg(num=pl.col(value).cast(pl.Float64).sum(), den=pl.len().cast(pl.Float64))
    )
    return units.join(sums, on=unit, how="left").fill_null(0.0)


def bootstrap_ratio_ci(
    strategy: pl.DataFrame,
    baseline: pl.DataFrame,
    *,
    value: str,
    unit: str = USER,
    n_boot: int = 1000,
    seed: int = 0,
    alpha: float = 0.05,
) -> Interval:
    """Uplift = rate(strategy) / rate(baseline) with a paired bootstrap over `unit`.

    Each frame has one row per observation (a request or a slot) with columns `unit` (the
    shopper) and `value`; rows with a null `value` are left out (as the metric means do).
    rate = mean of `value` over a frame's rows. Each replicate resamples the union of the
    shoppers of both frames once and applies the same multiplicities to both strategies,
    so shopper-level variation common to both cancels. A shopper present in only one
    frame contributes nothing to the other.

    Raises EmptyDataError when the baseline has no non-null value or its rate is zero
    (the ratio is undefined).
    """
    units = pl.concat([strategy.select(unit), baseline.select(unit)]).unique(maintain_order=True)
    a = _unit_sums(strategy, units, value=value, unit=unit)
    b = _unit_sums(baseline, units, value=value, unit=unit)
    columns = np.column_stack([a["num"], a["den"], b["num"], b["den"]]).astype(np.float64)
    totals = columns.sum(axis=0)
    if totals[2] == 0.0 or totals[3] == 0.0 or totals[1] == 0.0:
        raise EmptyDataError(
            f"uplift of {value!r} is undefined: baseline rate or a row count is zero "
            f"(sums {totals.tolist()}); evaluate more requests or pick another metric"
        )
    sums = replicate_sums(columns, n_boot=n_boot, seed=seed)
    with np.errstate(divide="ignore", invalid="ignore"):
        replicates = (sums[:, 0] / sums[:, 1]) / (sums[:, 2] / sums[:, 3])
    estimate = float((totals[0] / totals[1]) / (totals[2] / totals[3]))
    return percentile_interval(estimate, replicates, alpha)
