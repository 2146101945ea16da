"""Item neighbour tables: stored top-N lists (item-kNN, ALS) and lazily computed ones
(hybrid embeddings)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np
from numpy.typing import NDArray

from recsvc.recommend.candidates import FloatArray, IntArray, top_dense


@dataclass(frozen=True)
class Neighbors:
    """Top-N item neighbours per item, -1 padded, scores descending."""

    items: IntArray  # [n_items, N]
    scores: FloatArray  # [n_items, N]


class LazyNeighbors:
    """Top-n cosine neighbours by unit-normalised item vectors, computed for an item on
    first use and memoised; n_items × n × 12 bytes at most. Results do not depend on the
    memo (deterministic, ties by item index); concurrent first uses compute the same row.
    """

    def __init__(self, unit: NDArray[np.floating[Any]], n: int) -> None:
        self._unit = unit
        self._n = n
        self._everything = np.ones(len(unit), dtype=np.bool_)
        self._rows: dict[int, tuple[IntArray, FloatArray]] = {}

    def rows(self, items: IntArray) -> Neighbors:
        """Neighbours of `items` as [len(items), n] arrays, -1 / 0 padded, positive only."""
        missing = [item for item in dict.fromkeys(items.tolist()) if item not in self._rows]
        if missing:
            similarity = self._unit @ self._unit[missing].T
            for column, item in enumerate(missing):
                self._rows[item] = self._compute(similarity[:, column], item)
        found = [self._rows[item] for item in items.tolist()]
        return Neighbors(
            items=np.array([row[0] for row in found], dtype=np.int64).reshape(-1, self._n),
            scores=np.array([row[1] for row in found], dtype=np.float64).reshape(-1, self._n),
        )

    def _compute(self, similarity: NDArray[Any], item: int) -> tuple[IntArray, FloatArray]:
        allowed = self._everything.copy()
        allowed[item] = False
        items, scores = top_dense(similarity, allowed, self._n)
        keep = scores > 0
        padded_items = np.full(self._n, -1, dtype=np.int64)
        padded_scores = np.zeros(self._n)
        padded_items[: keep.sum()] = items[keep]
        padded_scores[: keep.sum()] = scores[keep]
        return padded_items, padded_scores
