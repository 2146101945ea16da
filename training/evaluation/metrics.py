"""Ranking and business metrics as pure functions of two canonical frames.

`served`: one row per recommended slot —
    request_id (str), strategy (str: the policy that produced the whole list, constant
    within (request_id, strategy); replay evaluates several strategies on one request),
    rank (int, 1-based, unique within the list), item_id (str, unique within the list);
    optional slice columns user_id, segment, country, is_new (constant within a list:
    the first slot's value is used).
`outcome`: the relevant items of each request — request_id, item_id, optionally
    `revenue` (price × quantity of that bid) and `kind` ("click" or "bid"). Every row counts
    as relevant: filter `kind` before calling to evaluate clicks or bids alone. Duplicate
    (request_id, item_id) rows are one relevant item whose revenues add up.

Per (request, strategy, K), with top K = the slots with rank ≤ K, hits = relevant items
in the top K, R = number of relevant items of the request (Microsoft Recommenders'
`python_evaluation` definitions; NDCG's ratio does not depend on the log base):
    hit        = 1 if hits > 0 else 0
    precision  = hits / K                (K even when fewer than K slots were served)
    recall     = hits / R
    ndcg       = Σ_{hit at rank r} 1/log2(1 + r)  /  Σ_{i=1..min(K, R)} 1/log2(1 + i)
    map        = Σ_{hit at rank r} (hits at ranks ≤ r) / r  /  min(K, R)
    revenue    = Σ revenue of the relevant items in the top K
    slots      = number of slots served in the top K (≤ K)
    novelty    = mean over the top K of −log2 popularity(item)
Requests with R = 0 (nothing relevant, e.g. no purchase after the request) are left out
of hit/precision/recall/ndcg/map, as Recommenders keeps only users present in both the
truth and the predictions: their values are null. They still count for revenue and slots,
so revenue per 1,000 slots is a rate over everything served. Outcome rows of requests
that were never served are ignored.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Final

import numpy as np
import polars as pl

from training.data.schema import COUNTRY, ITEM, USER
from training.errors import DataFormatError

REQUEST: Final = "request_id"
STRATEGY: Final = "strategy"
RANK: Final = "rank"
REVENUE: Final = "revenue"
KIND: Final = "kind"
SEGMENT: Final = "segment"
IS_NEW: Final = "is_new"
POPULARITY: Final = "popularity"
K: Final = "k"

DEFAULT_KS: Final = (5, 10, 20)
SLICE_COLUMNS: Final = (USER, SEGMENT, COUNTRY, IS_NEW)
RANKING_METRICS: Final = ("hit", "precision", "recall", "ndcg", "map")

_LIST_KEY: Final = (REQUEST, STRATEGY)


def _require(frame: pl.DataFrame, name: str, columns: Sequence[str]) -> None:
    for column in columns:
        if column not in frame.columns:
            raise DataFormatError(name, "missing column", column=column)


def _check_lists(served: pl.DataFrame) -> None:
    """Ranks ≥ 1, and neither a rank nor an item repeats within a list."""
    if served.height and served[RANK].min() < 1:  # type: ignore[operator]
        raise DataFormatError("served", "ranks are 1-based", column=RANK)
    for column in (RANK, ITEM):
        if served.select(*_LIST_KEY, column).is_duplicated().any():
            raise DataFormatError(
                "served", "repeats within one (request_id, strategy) list", column=column
            )


def _relevant_items(outcome: pl.DataFrame) -> pl.DataFrame:
    """One row per relevant (request_id, item_id), with its summed revenue (0 when absent)."""
    revenue = pl.col(REVENUE).cast(pl.Float64) if REVENUE in outcome.columns else pl.lit(0.0)
    return (
        outcome.select(REQUEST, ITEM, revenue.alias(REVENUE))
        .group_by(REQUEST, ITEM)
        .agg(pl.col(REVENUE).sum())
        .with_columns(relevant=pl.lit(1, dtype=pl.Int64))
    )


def _novelty(popularity: pl.DataFrame | None) -> tuple[pl.DataFrame | None, pl.Expr]:
    """The join frame and the −log2 popularity expression of a slot.

    `popularity` holds item_id and `popularity` in (0, 1] (e.g. the share of training
    shoppers who bought the item). Items absent from it count as the rarest listed item.
    """
    if popularity is None:
        return None, pl.lit(None, dtype=pl.Float64)
    _require(popularity, "popularity", (ITEM, POPULARITY))
    values = popularity[POPULARITY]
    if values.len() == 0 or values.min() <= 0 or values.max() > 1:  # type: ignore[operator]
        raise DataFormatError("popularity", "must be non-empty and in (0, 1]", column=POPULARITY)
    floor = values.min()
    return popularity.select(ITEM, POPULARITY), -pl.col(POPULARITY).fill_null(floor).log(2)


def _scored_slots(
    served: pl.DataFrame, relevant: pl.DataFrame, popularity: pl.DataFrame | None
) -> pl.DataFrame:
    """Served slots with relevance, revenue, running hit count, DCG and AP terms, novelty."""
    lookup, novelty = _novelty(popularity)
    slots = served.join(relevant, on=[REQUEST, ITEM], how="left").with_columns(
        pl.col("relevant").fill_null(0), pl.col(REVENUE).fill_null(0.0)
    )
    if lookup is not None:
        slots = slots.join(lookup, on=ITEM, how="left")
    rank = pl.col(RANK).cast(pl.Float64)
    hits_so_far = pl.col("relevant").cum_sum().over(_LIST_KEY, order_by=RANK)
    return slots.with_columns(
        dcg=pl.col("relevant") / (1.0 + rank).log(2),
        ap=pl.col("relevant") * hits_so_far / rank,
        novelty=novelty,
    )


def _ideal_dcg(max_k: int) -> pl.DataFrame:
    """IDCG of m relevant items ranked first, for m = 0..max_k (column `m`, `idcg`)."""
    gains = np.concatenate([[0.0], np.cumsum(1.0 / np.log2(np.arange(2, max_k + 2)))])
    return pl.DataFrame({"m": np.arange(max_k + 1, dtype=np.int64), "idcg": gains})


def per_request_metrics(
    served: pl.DataFrame,
    outcome: pl.DataFrame,
    *,
    ks: Sequence[int] = DEFAULT_KS,
    popularity: pl.DataFrame | None = None,
) -> pl.DataFrame:
    """One row per (request_id, strategy, k): the metrics of the module docstring.

    Columns: request_id, strategy, k, the slice columns present in `served`, n_relevant,
    slots, hits, hit, precision, recall, ndcg, map (null when n_relevant = 0), revenue
    (null when `outcome` has no revenue column), novelty (null without `popularity`).
    Rows are sorted by (strategy, request_id, k).
    """
    _require(served, "served", (REQUEST, STRATEGY, RANK, ITEM))
    _require(outcome, "outcome", (REQUEST, ITEM))
    _check_lists(served)
    relevant = _relevant_items(outcome)
    slices = [c for c in SLICE_COLUMNS if c in served.columns]
    k_frame = pl.DataFrame({K: list(ks)}, schema={K: pl.Int64})
    sums = (
        _scored_slots(served, relevant, popularity)
        .join(k_frame, how="cross")
        .filter(pl.col(RANK) <= pl.col(K))
        .group_by(*_LIST_KEY, K)
        .agg(
            *(pl.col(c).sort_by(RANK).first() for c in slices),
            slots=pl.len().cast(pl.Int64),
            hits=pl.col("relevant").sum(),
            dcg=pl.col("dcg").sum(),
            ap=pl.col("ap").sum(),
            revenue=pl.col(REVENUE).sum(),
            novelty=pl.col("novelty").mean(),
        )
    )
    n_relevant = relevant.group_by(REQUEST).agg(n_relevant=pl.len().cast(pl.Int64))
    frame = (
        sums.join(n_relevant, on=REQUEST, how="left")
        .with_columns(pl.col("n_relevant").fill_null(0))
        .with_columns(m=pl.min_horizontal(K, "n_relevant"))
        .join(_ideal_dcg(max(ks)), on="m", how="left")
    )
    has_truth = pl.col("n_relevant") > 0
    metrics = {
        "hit": (pl.col("hits") > 0).cast(pl.Float64),
        "precision": pl.col("hits") / pl.col(K),
        "recall": pl.col("hits") / pl.col("n_relevant"),
        "ndcg": pl.col("dcg") / pl.col("idcg"),
        "map": pl.col("ap") / pl.col("m"),
    }
    revenue = pl.col(REVENUE) if REVENUE in outcome.columns else pl.lit(None, pl.Float64)
    return frame.select(
        *_LIST_KEY,
        K,
        *slices,
        "n_relevant",
        "slots",
        "hits",
        *(pl.when(has_truth).then(expr).alias(name) for name, expr in metrics.items()),
        revenue.alias(REVENUE),
        "novelty",
    ).sort(STRATEGY, REQUEST, K)


def catalog_coverage(
    served: pl.DataFrame,
    *,
    catalog_size: int,
    ks: Sequence[int] = DEFAULT_KS,
    by: Sequence[str] = (STRATEGY,),
) -> pl.DataFrame:
    """Distinct items in the top K of any list / catalog_size, per (`by`, k).

    Columns: the `by` columns, k, coverage.
    """
    if catalog_size <= 0:
        raise ValueError(f"catalog_size must be positive, got {catalog_size}")
    _require(served, "served", (*by, RANK, ITEM))
    k_frame = pl.DataFrame({K: list(ks)}, schema={K: pl.Int64})
    return (
        served.join(k_frame, how="cross")
        .filter(pl.col(RANK) <= pl.col(K))
        .group_by(*by, K)
        .agg(coverage=pl.col(ITEM).n_unique() / catalog_size)
    )


def aggregate_metrics(
    per_request: pl.DataFrame,
    served: pl.DataFrame,
    *,
    catalog_size: int,
    by: Sequence[str] = (STRATEGY,),
) -> pl.DataFrame:
    """Summarise `per_request_metrics` output per (`by`, k); `by` may add slice columns.

    Columns: the `by` columns, k, n_requests (all served requests), n_evaluated (those
    with n_relevant > 0), hit_rate, precision, recall, ndcg, map (means over the evaluated
    requests), revenue_per_1000_slots (1000 · Σ revenue / Σ slots over all requests; null
    without revenue), novelty (mean of the per-request novelty), coverage (see
    `catalog_coverage`, computed from `served` with the same `by`). Sorted by (`by`, k).
    """
    ks = per_request[K].unique().sort().to_list()
    revenue = pl.col(REVENUE)
    summary = per_request.group_by(*by, K).agg(
        n_requests=pl.len().cast(pl.Int64),
        n_evaluated=pl.col("precision").is_not_null().sum().cast(pl.Int64),
        hit_rate=pl.col("hit").mean(),
        precision=pl.col("precision").mean(),
        recall=pl.col("recall").mean(),
        ndcg=pl.col("ndcg").mean(),
        map=pl.col("map").mean(),
        revenue_per_1000_slots=pl.when(revenue.is_not_null().any()).then(
            1000.0 * revenue.sum() / pl.col("slots").sum()
        ),
        novelty=pl.col("novelty").mean(),
    )
    coverage = catalog_coverage(served, catalog_size=catalog_size, ks=ks, by=by)
    return summary.join(coverage, on=[*by, K], how="left").sort(*by, K)
