"""What candidate sources receive (`Request`) and return (`Candidates`), and the vectorised
top-k helpers they share.

Ordering rule everywhere: higher score first, ties broken by lower item index, so the
same bundle and query always give the same list.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from functools import cached_property
from typing import Any

import numpy as np
from numpy.typing import NDArray

from recsvc.errors import ContractError
from recsvc.recommend.config import RankingConfig
from recsvc.recommend.query import Context

IntArray = NDArray[np.int64]
FloatArray = NDArray[np.float64]
BoolArray = NDArray[np.bool_]
Explain = Callable[[int], tuple[str, str]]  # position in Candidates → (strategy, reason)


@dataclass(frozen=True)
class RecentItem:
    """A recent event on a known item (unix seconds), most recent first in a Request."""

    item: int
    event: str
    ts: int


@dataclass(frozen=True)
class History:
    """A user's purchases: bundle history merged with purchases in recent activity.

    Items distinct and ascending; `last_ts` is the latest purchase (unix seconds);
    `recent[j]` is True when item j was bought in the query's recent activity.
    """

    items: IntArray
    orders: IntArray
    last_ts: IntArray
    recent: BoolArray


NO_HISTORY = History(
    np.zeros(0, np.int64), np.zeros(0, np.int64), np.zeros(0, np.int64), np.zeros(0, np.bool_)
)


@dataclass(frozen=True)
class Request:
    """A query resolved against one ServingIndex, in index space.

    `allowed[i]` is False for items no source may return (filters, exclude list, the
    query's own items, history the user will not buy again). `demoted[i]` marks contact-fatigued
    items, which the chain places after all others. `seeds` are the known items the query
    is about (the viewed item, the cart). `depth` is how many candidates a source needs to
    return so that the chain can always fill k slots.
    """

    k: int
    context: Context
    config: RankingConfig
    allowed: BoolArray
    demoted: BoolArray
    seeds: IntArray
    recent: tuple[RecentItem, ...] = ()
    user: int | None = None
    history: History = NO_HISTORY
    now: int | None = None
    country: str = ""
    category: str = ""

    @cached_property
    def depth(self) -> int:
        return 2 * self.k + int(np.count_nonzero(self.demoted))


@dataclass(frozen=True)
class Candidates:
    """Distinct items best first with scores in [0, 1], non-increasing; `explain(pos)` gives
    the (strategy, reason) of the item at `pos`, computed only for the slots filled."""

    items: IntArray
    scores: FloatArray
    explain: Explain


def _no_reason(position: int) -> tuple[str, str]:
    raise IndexError(f"no candidate at position {position}")


EMPTY = Candidates(np.zeros(0, np.int64), np.zeros(0, np.float64), _no_reason)


def order(items: IntArray, scores: FloatArray) -> IntArray:
    """Positions sorting (items, scores) by descending score, ties by ascending item."""
    return np.lexsort((items, -scores))


def best_first(items: IntArray, scores: FloatArray, depth: int) -> tuple[IntArray, FloatArray]:
    """The `depth` best of distinct `items`, ordered by the ordering rule."""
    positions = order(items, scores)[:depth]
    return items[positions], scores[positions]


def top_dense(scores: NDArray[Any], allowed: BoolArray, depth: int) -> tuple[IntArray, FloatArray]:
    """The `depth` best allowed items of a per-item score vector (length n_items).

    A value partition finds the depth-th best score; every allowed item scoring at least
    that is then sorted, so ties at the cut are broken by item index like everywhere else.
    """
    masked = np.where(allowed, scores, -np.inf)
    depth = min(depth, int(np.count_nonzero(allowed)))
    if depth == 0:
        return np.zeros(0, np.int64), np.zeros(0, np.float64)
    cut = np.partition(masked, masked.size - depth)[masked.size - depth]
    items = np.flatnonzero((masked >= cut) & allowed).astype(np.int64)
    return best_first(items, masked[items].astype(np.float64), depth)


def unit_scale(scores: FloatArray) -> FloatArray:
    """Non-negative scores divided by their maximum; all zeros (or empty) stay as they are."""
    top = scores.max() if scores.size else 0.0
    return scores / top if top > 0 else scores


def relative(scores: FloatArray) -> FloatArray:
    """exp(score - best): a log-linear model's preference relative to its best item."""
    return np.exp(scores - scores.max()) if scores.size else scores


def csr_gather(indptr: IntArray, rows: IntArray) -> tuple[IntArray, IntArray]:
    """For CSR `indptr` and some `rows`: (position in `rows`, flat position) of every entry
    of those rows, rows in the given order, entries in stored order."""
    starts = indptr[rows]
    lengths = indptr[rows + 1] - starts
    owner = np.repeat(np.arange(len(rows), dtype=np.int64), lengths)
    offsets = np.arange(int(lengths.sum()), dtype=np.int64) - np.repeat(
        np.cumsum(lengths) - lengths, lengths
    )
    return owner, np.repeat(starts, lengths) + offsets


def keep_allowed(
    items: IntArray, scores: FloatArray, allowed: BoolArray, depth: int
) -> tuple[IntArray, FloatArray]:
    """The first `depth` allowed entries of a list already in ranking order."""
    keep = allowed[items]
    return items[keep][:depth], scores[keep][:depth]


def check_range(values: NDArray[Any], upper: int, what: str, *, padded: bool = False) -> IntArray:
    """`values` as int64 after checking 0 ≤ v < upper (or v == -1 when `padded`); raises
    `ContractError` naming `what` otherwise (bundle arrays are verified for dtype, not range)."""
    result = np.asarray(values, dtype=np.int64)
    low = -1 if padded else 0
    if result.size and (result.min() < low or result.max() >= upper):
        raise ContractError(f"{what}: index out of range [0, {upper})")
    return result
