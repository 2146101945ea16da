"""Item-item nearest neighbours from purchase co-occurrence ("customers who bought X also
bought Y").

The co-occurrence matrix X (rows × items, binary) comes from a named source: "users"
(each user's kept purchases: bought and not fully returned) or "baskets" (one row per
order, anonymous orders included). A named weighting turns X into W, and the similarity
of items i and j is (WᵀW)[i, j]:

- "cosine": columns of X scaled to unit length, so sim = co-buyers / √(buyers_i buyers_j).
- "bm25": implicit's `BM25Recommender` weighting, items as documents and rows as terms:
  a row shared by many items counts less (idf), an item bought far more than average is
  damped (length norm with `k1`, `b`).

Output part "itemknn": the top-N table of `training.models.neighbors` (score descending,
ties by item index ascending, -1 / NaN padded).
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import asdict, dataclass
from typing import Final

import numpy as np
import scipy.sparse as sp
from numpy.typing import NDArray

from recsvc.artifacts import Part
from training.data.dataset import TrainingData
from training.data.matrices import ConfidenceWeights, basket_item_matrix, user_item_confidence
from training.errors import EmptyDataError
from training.models.neighbors import Table, restricted, top_n_table

# Kept purchases only, undecayed: the cell is > 0 when the user bought and kept the item.
_KEPT_PURCHASES: Final = ConfidenceWeights(
    purchase=1.0, bid=0.0, click=0.0, view=0.0, half_life_days=math.inf
)


@dataclass(frozen=True)
class ItemKnnConfig:
    """`similarity` is a key of `SIMILARITIES`, `source` a key of `SOURCES`."""

    similarity: str = "bm25"
    source: str = "users"
    neighbors: int = 50
    neighbor_min_buyers: int = 3  # items in fewer rows of the source get no neighbour list
    k1: float = 1.2  # bm25 only
    b: float = 0.75  # bm25 only

    def __post_init__(self) -> None:
        for what, name, registry in (
            ("similarity", self.similarity, SIMILARITIES),
            ("source", self.source, SOURCES),
        ):
            if name not in registry:
                raise ValueError(
                    f"unknown item-kNN {what} {name!r}; choose one of {sorted(registry)}"
                )
        if self.neighbors < 1:
            raise ValueError(f"neighbors must be ≥ 1, got {self.neighbors}")


def user_purchases(data: TrainingData) -> sp.csr_matrix:
    """Binary [n_users, n_items]: 1 where the user bought the item and kept it."""
    matrix = user_item_confidence(data, _KEPT_PURCHASES)
    matrix.data[:] = 1.0
    return matrix


def cosine_weights(matrix: sp.csr_matrix, config: ItemKnnConfig) -> sp.csr_matrix:
    """`matrix` with every non-empty column scaled to unit L2 norm."""
    norms = np.sqrt(np.asarray(matrix.multiply(matrix).sum(axis=0)).ravel())
    scale = np.divide(1.0, norms, out=np.zeros_like(norms), where=norms > 0)
    return sp.csr_matrix(matrix @ sp.diags(scale))


def bm25_weights(matrix: sp.csr_matrix, config: ItemKnnConfig) -> sp.csr_matrix:
    """BM25 weights of a rows × items count matrix, as implicit's `bm25_weight(matrix.T).T`:
    w = x (k1 + 1) / (k1 · norm_item + x) · idf_row, idf_row = log(n_items) - log1p(items
    in the row), norm_item = (1 - b) + b · item total / mean item total."""
    coo = matrix.tocoo()
    idf = math.log(matrix.shape[1]) - np.log1p(np.bincount(coo.row, minlength=matrix.shape[0]))
    totals = np.asarray(matrix.sum(axis=0)).ravel()
    length_norm = (1.0 - config.b) + config.b * totals / totals.mean()
    weights = (
        coo.data * (config.k1 + 1.0) / (config.k1 * length_norm[coo.col] + coo.data) * idf[coo.row]
    )
    return sp.csr_matrix((weights, (coo.row, coo.col)), shape=matrix.shape)


Weighting = Callable[[sp.csr_matrix, ItemKnnConfig], sp.csr_matrix]
Source = Callable[[TrainingData], sp.csr_matrix]

SIMILARITIES: Final[dict[str, Weighting]] = {"cosine": cosine_weights, "bm25": bm25_weights}
SOURCES: Final[dict[str, Source]] = {
    "users": user_purchases,
    "baskets": lambda data: basket_item_matrix(data.events, data.n_items),
}


def fit(data: TrainingData, config: ItemKnnConfig, *, seed: int = 0) -> Part:
    """Part "itemknn": neighbors [n_items, N] int32, neighbor_scores [n_items, N] float32.

    Deterministic (`seed` is unused and recorded only). Raises `EmptyDataError` when the
    source holds no purchase.
    """
    matrix = SOURCES[config.source](data)
    if matrix.nnz == 0:
        raise EmptyDataError(f"item-kNN: no purchases to count co-occurrences in ({config.source})")
    weighted = SIMILARITIES[config.similarity](matrix, config).tocsc()
    buyers = np.diff(sp.csc_matrix(matrix).indptr)

    def table_among(members: NDArray[np.intp]) -> Table:
        columns = weighted[:, members]
        rows = columns.T.tocsr()
        return top_n_table(
            lambda start, stop: (rows[start:stop] @ columns).toarray(),
            len(members),
            config.neighbors,
        )

    neighbors, scores = restricted(table_among, buyers >= config.neighbor_min_buyers)
    return Part(
        "itemknn",
        {"neighbors": neighbors, "neighbor_scores": scores},
        {
            "params": {**asdict(config), "seed": seed},
            "rows": int(matrix.shape[0]),
            "nonzeros": int(matrix.nnz),
        },
    )
