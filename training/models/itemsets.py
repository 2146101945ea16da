"""Frequent-itemset kernel: apriori levels counted with sparse products on a basket matrix.

Index space: item indices are the columns of the basket × item matrix passed in. Every
threshold is an exact integer: an itemset is frequent iff its basket count reaches the
threshold (`min_count` turns a support fraction into one), and fractions are compared
with exact rational arithmetic (`at_least`).

Counting scheme, level by level:

- size 1: column counts; infrequent items are dropped from the matrix, and so are baskets
  left with fewer than two frequent items (they cannot hold a pair);
- size 2: the co-occurrence product Bᵀ B of the reduced matrix, upper triangle;
- size k ≥ 3: apriori candidates (join two frequent (k-1)-itemsets sharing their first
  k-2 items, prune if any (k-1)-subset is infrequent), counted as the product of the
  (k-1)-itemset indicator matrix (basket contains the itemset) with the item columns.

Products run over blocks of basket rows so that each block's working set stays in cache;
the indicator of the next level is the element-wise product of gathered columns.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from fractions import Fraction

import numpy as np
import scipy.sparse as sp
from numpy.typing import NDArray

from training.errors import ModelFitError

# About this many stored entries per row block of a product or per gathered column chunk:
# large enough to amortise the calls, small enough to stay cache- and memory-friendly.
_BLOCK_NNZ = 2_000_000
_GATHER_NNZ = 16_000_000
# Apriori joins beyond this many candidates of one size mean the support threshold is far
# too low for the data (a few baskets with hundreds of items make every subset frequent).
MAX_CANDIDATES = 5_000_000


class TooManyCandidatesError(ModelFitError):
    """The Apriori join would exceed `MAX_CANDIDATES`: the support threshold is too low."""


_UNREACHABLE = 2**62  # above every count or count product compared here

IntArray = NDArray[np.int64]


@dataclass(frozen=True)
class ItemsetLevel:
    """The frequent itemsets of one size k.

    `items`: int32 [n, k], item indices ascending within a row, rows in lexicographic order.
    `counts`: int64 [n], number of baskets containing each itemset.
    """

    items: NDArray[np.int32]
    counts: IntArray

    def __len__(self) -> int:
        return len(self.counts)

    def find(self, queries: NDArray[np.integer]) -> IntArray:
        """Row index in this level of each query itemset ([m, k], sorted rows); -1 if absent."""
        keys = _row_keys(self.items)
        wanted = _row_keys(queries)
        position = np.searchsorted(keys, wanted)
        found = np.zeros(len(wanted), dtype=bool)
        inside = position < len(keys)
        found[inside] = keys[position[inside]] == wanted[inside]
        return np.where(found, position, -1).astype(np.int64)


def exact_fraction(value: float) -> Fraction:
    """The decimal a threshold was written as: 0.1 means 1/10, not the nearest binary float."""
    return Fraction(str(value))


def at_least(lhs: IntArray, fraction: Fraction, rhs: IntArray) -> NDArray[np.bool_]:
    """Element-wise `lhs >= fraction * rhs` for non-negative ints below 2**62, decided exactly.

    Python integers compute ceil(fraction × v) once per distinct `rhs` value, so no float
    rounding can flip a comparison and no numerator or denominator can overflow.
    """
    distinct, inverse = np.unique(rhs, return_inverse=True)
    need = [-(-fraction.numerator * int(v) // fraction.denominator) for v in distinct]
    capped = np.array([min(v, _UNREACHABLE) for v in need], dtype=np.int64)
    return np.asarray(lhs >= capped[inverse.reshape(rhs.shape)])


def min_count(min_support: float, n_baskets: int) -> int:
    """Smallest basket count that is frequent: ceil(min_support × n_baskets), exactly, ≥ 1."""
    fraction = exact_fraction(min_support)
    return max(1, -(-fraction.numerator * n_baskets // fraction.denominator))


def frequent_itemsets(baskets: sp.sparray, threshold: int, max_len: int) -> list[ItemsetLevel]:
    """All itemsets of 1..max_len items contained in at least `threshold` ≥ 1 baskets.

    `baskets`: [n_baskets, n_items] sparse, fewer than 2**31 baskets (counts are int32);
    any stored nonzero means "item in basket". Returns one level per size starting at
    size 1, ending before the first empty size (size 1 is always there, possibly empty).
    """
    presence = _presence(baskets)
    item_counts = np.bincount(presence.indices, minlength=presence.shape[1]).astype(np.int64)
    frequent = np.flatnonzero(item_counts >= threshold).astype(np.int32)
    levels = [ItemsetLevel(frequent[:, None], item_counts[frequent])]
    if max_len < 2 or len(frequent) < 2:
        return levels
    items = presence[:, frequent]
    items = sp.csr_array(items[np.diff(items.indptr) >= 2])
    item_columns = items.tocsc()
    local, counts = _frequent_pairs(items, threshold)
    # `indicator` has one column per itemset of the level below `local`; itemset r of
    # `local` is column `parents[0][r]` of it plus item `parents[1][r]`.
    indicator, parents = item_columns, (local[:, 0].astype(np.int64), local[:, 1])
    while len(local):
        levels.append(ItemsetLevel(frequent[local], counts))
        if local.shape[1] == max_len:
            break
        prefixes, candidates = apriori_candidates(local)
        if not len(candidates):
            break
        # Only itemsets that prefix some candidate need an indicator column.
        used, prefix_column = np.unique(prefixes, return_inverse=True)
        indicator = _extend(indicator, item_columns, parents[0][used], parents[1][used])
        extensions = candidates[:, -1]
        counts = _count(indicator, items, prefix_column, extensions)
        keep = counts >= threshold
        local, counts = candidates[keep], counts[keep]
        parents = (prefix_column[keep], extensions[keep])
    return levels


def _presence(baskets: sp.sparray) -> sp.csr_array:
    """Canonical int32 0/1 CSR copy of `baskets` (duplicates summed, explicit zeros gone)."""
    matrix = sp.csr_array(baskets, copy=True)
    matrix.sum_duplicates()
    matrix.eliminate_zeros()
    matrix.data = np.ones(matrix.nnz, dtype=np.int32)
    return matrix


def _row_keys(rows: NDArray[np.integer]) -> NDArray[np.void]:
    """One opaque key per row whose byte order sorts like the rows (big-endian, ≥ 0 ints)."""
    contiguous = np.ascontiguousarray(rows, dtype=">i4")
    return contiguous.view(np.dtype((np.void, 4 * contiguous.shape[1]))).ravel()


def _spans(cumulative: NDArray[np.integer], budget: int) -> Iterator[slice]:
    """Consecutive index slices whose weight is about `budget` each (at least one index).

    `cumulative`: [n + 1] running total of the weights, starting at 0 (a CSR `indptr`).
    """
    n = len(cumulative) - 1
    start = 0
    while start < n:
        stop = int(np.searchsorted(cumulative, cumulative[start] + budget, side="right")) - 1
        stop = min(max(stop, start + 1), n)
        yield slice(start, stop)
        start = stop


def _cooccurrence(left: sp.csr_array, right: sp.csr_array) -> sp.csr_array:
    """leftᵀ @ right (counts of baskets holding a left column and a right column)."""
    total = sp.csr_array((left.shape[1], right.shape[1]), dtype=np.int32)
    for rows in _spans(right.indptr, _BLOCK_NNZ):
        total += left[rows].T @ right[rows]
    return sp.csr_array(total)


def _frequent_pairs(items: sp.csr_array, threshold: int) -> tuple[NDArray[np.int32], IntArray]:
    """Frequent pairs (local column indices, rows lexicographic) and their counts."""
    upper = sp.triu(_cooccurrence(items, items), k=1, format="coo")
    keep = upper.data >= threshold
    first, second, counts = upper.row[keep], upper.col[keep], upper.data[keep]
    order = np.lexsort((second, first))
    pairs = np.stack([first[order], second[order]], axis=1).astype(np.int32)
    return pairs, counts[order].astype(np.int64)


def apriori_candidates(level: NDArray[np.int32]) -> tuple[IntArray, NDArray[np.int32]]:
    """Apriori join and prune of frequent (k-1)-itemsets `level` (lexicographic rows).

    Returns (prefix, candidates): candidates [m, k] in lexicographic order, and for each the
    row of `level` that is its first k-1 items.
    """
    n, width = level.shape
    new_group = np.ones(n, dtype=bool)
    new_group[1:] = np.any(level[1:, :-1] != level[:-1, :-1], axis=1)
    starts = np.flatnonzero(new_group)
    group_end = np.append(starts[1:], n)[np.cumsum(new_group) - 1]
    partners = group_end - np.arange(n) - 1
    joined = int(partners.sum())
    if joined > MAX_CANDIDATES:
        raise TooManyCandidatesError(
            f"{joined:,} candidate itemsets of size {width + 1}: the minimum support is too "
            "low for these baskets; raise min_support (or the data size) or lower max_len"
        )
    prefix = np.repeat(np.arange(n), partners)
    offset = np.arange(len(prefix)) - np.repeat(np.cumsum(partners) - partners, partners)
    partner = prefix + 1 + offset
    candidates = np.concatenate([level[prefix], level[partner, -1:]], axis=1)
    lookup = ItemsetLevel(level, np.zeros(n, dtype=np.int64))
    keep = np.ones(len(candidates), dtype=bool)
    for dropped in range(width - 1):  # dropping either of the last two gives a parent
        keep &= lookup.find(np.delete(candidates, dropped, axis=1)) >= 0
    return prefix[keep].astype(np.int64), candidates[keep]


def _count(
    indicator: sp.csc_array,
    items: sp.csr_array,
    columns: IntArray,
    extensions: NDArray[np.int32],
) -> IntArray:
    """Baskets holding itemset column `columns[i]` of `indicator` and item `extensions[i]`."""
    used_items, item_at = np.unique(extensions, return_inverse=True)
    counts = _cooccurrence(sp.csr_array(indicator), items[:, used_items])
    return np.asarray(counts[columns, item_at], dtype=np.int64)


def _extend(
    indicator: sp.csc_array,
    item_columns: sp.csc_array,
    prefixes: IntArray,
    extensions: NDArray[np.int32],
) -> sp.csc_array:
    """Indicator [n_baskets, m]: column i = baskets holding itemset column `prefixes[i]` of
    `indicator` and item `extensions[i]`; element-wise products over bounded column chunks."""
    cost = np.diff(indicator.indptr)[prefixes] + np.diff(item_columns.indptr)[extensions]
    chunks = [
        indicator[:, prefixes[part]].multiply(item_columns[:, extensions[part]])
        for part in _spans(np.concatenate([[0], np.cumsum(cost)]), _GATHER_NNZ)
    ]
    return sp.csc_array(sp.hstack(chunks, format="csc"))
