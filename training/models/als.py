"""Implicit-feedback ALS (Hu, Koren & Volinsky 2008) with implicit's CPU solver.

Input: the user × item confidence matrix of `training.data.matrices.user_item_confidence`
(time-decayed purchase > bid > click > view weights, returns netted out), scaled by
`alpha`. Output part "als": user and item factors plus each item's top-N neighbours by
cosine of the item factors (see `training.models.neighbors` for order and padding).

Users and items without a positive cell get all-zero factors (the solver would otherwise
leave small random-start residue), so they score 0 against everything and have no
neighbours. Reproducibility: factors start from `seed`; each row's conjugate-gradient
solve is independent of the thread that runs it, so two fits with the same seed give
bit-identical factors on any `num_threads` (only the last digits of the reported loss, a
parallel sum, vary with more than one thread). One thread is the default because the
machines have two shared cores.
"""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass, field
from typing import Any

import numpy as np
import scipy.sparse as sp
from implicit.cpu.als import AlternatingLeastSquares
from numpy.typing import NDArray
from threadpoolctl import threadpool_limits

from recsvc.artifacts import Part
from training.data.dataset import TrainingData
from training.data.matrices import ConfidenceWeights, user_item_confidence
from training.errors import EmptyDataError, ModelFitError
from training.models.neighbors import cosine_table, restricted


@dataclass(frozen=True)
class AlsConfig:
    """ALS hyper-parameters; `neighbors` is N of the exported item neighbour lists."""

    factors: int = 64
    iterations: int = 15
    regularization: float = 1.0
    alpha: float = 1.0  # confidence = alpha × decayed event weight
    neighbors: int = 50
    neighbor_min_buyers: int = 3  # items with fewer distinct buyers get no neighbour list
    num_threads: int = 1
    confidence: ConfidenceWeights = field(default_factory=ConfidenceWeights)


def fit(data: TrainingData, config: AlsConfig, *, seed: int = 0) -> Part:
    """Part "als": user_factors [n_users, f], item_factors [n_items, f] (float32),
    neighbors [n_items, N] (int32) and neighbor_scores [n_items, N] (float32).

    Meta: the config, the final training loss, the fit time and the matrix size.
    Raises `EmptyDataError` when no user has a positive cell and `ModelFitError` when the
    factors are not finite.
    """
    confidence = user_item_confidence(data, config.confidence)
    if confidence.nnz == 0:
        raise EmptyDataError("ALS: no user has a positive interaction to factorise")
    user_factors, item_factors, loss = _factorise(confidence, config, seed)
    buyers = np.diff(confidence.tocsc().indptr)
    return als_part(
        user_factors,
        item_factors,
        buyers=buyers,
        config=config,
        meta={
            "params": {**asdict(config), "seed": seed},
            "metrics": {"final_loss": loss},
            "nonzeros": int(confidence.nnz),
        },
    )


def als_part(
    user_factors: NDArray[np.float32],
    item_factors: NDArray[np.float32],
    *,
    buyers: NDArray[np.integer],
    config: AlsConfig,
    meta: dict[str, Any],
) -> Part:
    """Part "als" from factors of either engine; `buyers[i]` = users with a positive cell
    for item i (items with fewer than `neighbor_min_buyers` get no neighbour list)."""
    neighbors, neighbor_scores = restricted(
        lambda members: cosine_table(item_factors[members], config.neighbors),
        buyers >= config.neighbor_min_buyers,
    )
    return Part(
        "als",
        {
            "user_factors": user_factors,
            "item_factors": item_factors,
            "neighbors": neighbors,
            "neighbor_scores": neighbor_scores,
        },
        meta,
    )


def _factorise(
    confidence: sp.csr_matrix, config: AlsConfig, seed: int
) -> tuple[NDArray[np.float32], NDArray[np.float32], float]:
    """(user factors, item factors, final loss) with empty rows / columns zeroed."""
    losses: list[float] = []
    with threadpool_limits(1, "blas"):
        model = AlternatingLeastSquares(
            factors=config.factors,
            regularization=config.regularization,
            alpha=config.alpha,
            iterations=config.iterations,
            calculate_training_loss=True,
            num_threads=config.num_threads,
            random_state=seed,
        )
        model.fit(
            confidence,
            show_progress=False,
            callback=lambda _iteration, _seconds, loss: losses.append(float(loss)),
        )
    user_factors = np.asarray(model.user_factors, dtype=np.float32)
    item_factors = np.asarray(model.item_factors, dtype=np.float32)
    if not (np.isfinite(user_factors).all() and np.isfinite(item_factors).all()):
        raise ModelFitError("ALS produced non-finite factors; increase regularization")
    user_factors[np.diff(confidence.indptr) == 0] = 0.0
    item_factors[np.bincount(confidence.indices, minlength=confidence.shape[1]) == 0] = 0.0
    return user_factors, item_factors, losses[-1] if losses else math.nan
