"""Top-N neighbour tables shared by the ALS and item-kNN models.

A table is `(neighbors int32 [n, N], scores float32 [n, N])`, the contract's
`neighbors` / `neighbor_scores` pair: row i holds the N items most similar to item i,
best first, ties broken by the smaller item index. An item is never its own neighbour,
and a similarity ≤ 0 never makes a neighbour. Rows with fewer than N candidates (none for
an item without interactions) are padded with -1 and NaN. Ties are decided on the
float32 scores that are exported, so the order can be checked from the table alone.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Final

import numpy as np
from numpy.typing import NDArray

# Similarity cells held at once (a block of rows × all items): about 32 MB of float64.
BLOCK_CELLS: Final = 4_000_000

SimilarityBlock = Callable[[int, int], NDArray[np.floating]]
"""similarity(start, stop) -> dense [stop - start, n] similarities of rows start..stop-1."""

Table = tuple[NDArray[np.int32], NDArray[np.float32]]


def top_n_table(similarity: SimilarityBlock, n: int, n_neighbors: int) -> Table:
    """Top `n_neighbors` per row of an n × n similarity, computed block by block."""
    neighbors = np.full((n, n_neighbors), -1, dtype=np.int32)
    scores = np.full((n, n_neighbors), np.nan, dtype=np.float32)
    step = max(1, BLOCK_CELLS // max(n, 1))
    for start in range(0, n, step):
        stop = min(start + step, n)
        block = np.asarray(similarity(start, stop), dtype=np.float32)
        rows, cols, values = _candidates(block, start, n_neighbors)
        order = np.lexsort((cols, -values, rows))
        rows, cols, values = rows[order], cols[order], values[order]
        rank = np.arange(len(rows)) - np.searchsorted(rows, rows)
        top = rank < n_neighbors
        neighbors[start + rows[top], rank[top]] = cols[top]
        scores[start + rows[top], rank[top]] = values[top]
    return neighbors, scores


def cosine_table(vectors: NDArray[np.floating], n_neighbors: int) -> Table:
    """Neighbours by cosine similarity of dense row vectors (zero rows get none)."""
    norms = np.linalg.norm(vectors, axis=1, keepdims=True)
    unit = np.divide(vectors, norms, out=np.zeros_like(vectors), where=norms > 0).astype(np.float32)
    return top_n_table(lambda a, b: unit[a:b] @ unit.T, len(unit), n_neighbors)


def restricted(table_of: Callable[[NDArray[np.intp]], Table], eligible: NDArray[np.bool_]) -> Table:
    """A full-size table whose rows and neighbours are limited to `eligible` items.

    `table_of(members)` computes the table among `members` (indices into the full item
    space) in their local numbering. Items left out (too few buyers to have a meaningful
    similarity) get an empty row and are nobody's neighbour; the cost falls from n² to
    m² cells for m eligible items, which is what keeps catalogues of 70k mostly-rare items
    (Complete Journey) tractable.
    """
    members = np.flatnonzero(eligible)
    local_neighbors, local_scores = table_of(members)
    width = local_neighbors.shape[1]
    neighbors = np.full((len(eligible), width), -1, dtype=np.int32)
    scores = np.full((len(eligible), width), np.nan, dtype=np.float32)
    mapped = np.where(local_neighbors >= 0, members[np.maximum(local_neighbors, 0)], -1)
    neighbors[members] = mapped.astype(np.int32)
    scores[members] = local_scores
    return neighbors, scores


def _candidates(
    block: NDArray[np.float32], start: int, n_neighbors: int
) -> tuple[NDArray[np.intp], NDArray[np.intp], NDArray[np.float32]]:
    """(row in block, item, score) of every positive non-self cell scoring at least the
    row's `n_neighbors`-th best, so ties at the cut all reach the exact sort."""
    block = block.copy()
    local = np.arange(block.shape[0])
    block[local, local + start] = 0.0
    width = min(n_neighbors, block.shape[1])
    if width == 0:
        empty = np.zeros(0, dtype=np.intp)
        return empty, empty, np.zeros(0, dtype=np.float32)
    kth = -np.partition(-block, width - 1, axis=1)[:, width - 1]
    rows, cols = np.nonzero((block >= kth[:, None]) & (block > 0))
    return rows, cols, block[rows, cols]
