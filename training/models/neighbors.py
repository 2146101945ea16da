"""Top-N neighbour tables shared by the ALS and item-kNN models.

A table is `(neighbors int32 [n, N], scores float32 [n, N])`: row i holds the N most
similar other items, best first, ties broken by the smaller index; rows with fewer than N
candidates (or none: an item without interactions) are padded with -1 / 0.
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np
from numpy.typing import NDArray

BLOCK_ROWS = 512

SimilarityBlock = Callable[[int, int], NDArray[np.float32]]
"""similarity(start, stop) -> dense [stop - start, n] similarities of those rows."""


def top_n_table(
    similarity: SimilarityBlock, n: int, n_neighbors: int
) -> tuple[NDArray[np.int32], NDArray[np.float32]]:
    """Top `n_neighbors` per row of an n × n similarity, computed block by block.

    Self-similarity and similarities ≤ 0 are never neighbours.
    """
    neighbors = np.full((n, n_neighbors), -1, dtype=np.int32)
    scores = np.zeros((n, n_neighbors), dtype=np.float32)
    width = min(n_neighbors, max(n - 1, 0))
    if width == 0:
        return neighbors, scores
    for start in range(0, n, BLOCK_ROWS):
        stop = min(start + BLOCK_ROWS, n)
        block = np.array(similarity(start, stop), dtype=np.float32)
        rows = np.arange(stop - start)
        block[rows, rows + start] = -np.inf
        candidates = np.argpartition(-block, width - 1, axis=1)[:, :width]
        values = np.take_along_axis(block, candidates, axis=1)
        order = np.lexsort((candidates, -values), axis=1)
        chosen = np.take_along_axis(candidates, order, axis=1)
        chosen_scores = np.take_along_axis(values, order, axis=1)
        keep = chosen_scores > 0
        neighbors[start:stop, :width] = np.where(keep, chosen, -1)
        scores[start:stop, :width] = np.where(keep, chosen_scores, 0.0)
    return neighbors, scores


def top_n_cosine(
    vectors: NDArray[np.floating], n_neighbors: int
) -> tuple[NDArray[np.int32], NDArray[np.float32]]:
    """Neighbours by cosine similarity of dense row vectors (zero rows get none)."""
    norms = np.linalg.norm(vectors, axis=1, keepdims=True)
    unit = np.divide(vectors, norms, out=np.zeros_like(vectors), where=norms > 0).astype(
        np.float32
    )
    return top_n_table(lambda a, b: unit[a:b] @ unit.T, len(unit), n_neighbors)
