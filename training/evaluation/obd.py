"""Open Bandit Dataset (ZOZOTOWN) loader and its Bernoulli Thompson sampling policy.

A campaign directory (e.g. `obd/random/all`) holds `all.csv` — an unnamed index column,
timestamp, item_id (0..79), position (1..3), click, propensity_score, user_feature_0..3,
user-item_affinity_0..79 — and `item_context.csv` (one row per item). The small sample
keeps single impressions, not whole slates, so every row is its own round (round_id =
the file's index), exactly as obp's `OpenBanditDataset` treats it (one row = one round).
"""

from __future__ import annotations

from pathlib import Path
from typing import Final

import numpy as np
import polars as pl
from numpy.typing import NDArray

from training.data.schema import ITEM, TS
from training.errors import DataFormatError
from training.evaluation.ope import (
    CONTEXT_PREFIX,
    POSITION,
    PSCORE,
    REWARD,
    ROUND,
)

LOG_FILE: Final = "all.csv"
ITEM_FILE: Final = "item_context.csv"
N_POSITIONS: Final = 3
_USER_FEATURES: Final = tuple(f"user_feature_{i}" for i in range(4))
_REQUIRED: Final = ("", "timestamp", "item_id", "position", "click", "propensity_score")

# Beta(α, β) priors of ZOZOTOWN's production Bernoulli TS at the start of data collection,
# campaign "all", item_id 0..79: obp's obp/policy/conf/prior_bts.yaml (st-tech/zr-obp,
# Apache-2.0), the parameters behind BernoulliTS(is_zozotown_prior=True, campaign="all").
BTS_PRIOR_ALPHA: Final = (
    47, 8, 62, 142, 3, 14, 7, 857, 12, 15, 6, 100, 48, 23, 71, 61, 13, 16, 518, 30,
    7, 4, 23, 8, 10, 11, 11, 18, 121, 11, 11, 10, 14, 9, 204, 58, 3, 19, 42, 1013,
    2, 328, 15, 31, 14, 138, 45, 55, 23, 38, 10, 401, 52, 6, 3, 6, 5, 32, 35, 133,
    52, 820, 43, 195, 8, 42, 40, 4, 32, 30, 9, 22, 6, 23, 5, 54, 8, 22, 65, 246,
)  # fmt: skip
BTS_PRIOR_BETA: Final = (
    12198, 3566, 15993, 35522, 2367, 4609, 3171, 181745, 4372, 4951,
    3100, 24665, 13210, 7061, 18061, 17449, 5644, 6787, 111326, 8776,
    3334, 2271, 7389, 2659, 3665, 4724, 3561, 5085, 27407, 4601,
    4756, 4120, 4736, 3788, 45292, 14719, 2189, 5589, 11995, 222255,
    2308, 70034, 4801, 8274, 5421, 31912, 12213, 13576, 6230, 10382,
    4141, 85731, 12811, 2707, 2250, 2668, 2886, 9581, 9465, 28336,
    12062, 162793, 12107, 41240, 3162, 11604, 10818, 2923, 8897, 8654,
    4000, 6580, 3174, 6766, 2602, 14506, 3968, 7523, 16532, 51964,
)  # fmt: skip


def load_obd(directory: Path, *, n_rows: int | None = None) -> pl.DataFrame:
    """The campaign log as a canonical logged-bandit frame (`ope.BANDIT_SCHEMA` + ctx_*).

    reward = click, pscore = propensity_score (the logging policy's marginal probability of
    the item at that position), item_id as a string; context columns
    ctx_user_feature_0..3 (hashed categorical strings); the affinity columns are dropped.
    Rows are sorted by timestamp (stable), as obp does. `n_rows` reads only the file's
    first rows. Raises DataFormatError when a required column is missing.
    """
    path = directory / LOG_FILE
    raw = pl.read_csv(path, n_rows=n_rows)
    for column in (*_REQUIRED, *_USER_FEATURES):
        if column not in raw.columns:
            raise DataFormatError(str(path), "missing column", column=column)
    frame = raw.select(
        pl.col("").cast(pl.String).alias(ROUND),
        pl.col("timestamp").str.to_datetime(time_zone="UTC").alias(TS),
        pl.col("item_id").cast(pl.String).alias(ITEM),
        pl.col("position").cast(pl.Int16).alias(POSITION),
        pl.col("click").cast(pl.Float64).alias(REWARD),
        pl.col("propensity_score").cast(pl.Float64).alias(PSCORE),
        *(pl.col(c).cast(pl.String).alias(CONTEXT_PREFIX + c) for c in _USER_FEATURES),
    )
    return frame.sort(TS, maintain_order=True)


def obd_item_ids(directory: Path) -> tuple[str, ...]:
    """The action space: item ids of `item_context.csv`, in item_id order (index = item_id)."""
    path = directory / ITEM_FILE
    items = pl.read_csv(path)
    if "item_id" not in items.columns:
        raise DataFormatError(str(path), "missing column", column="item_id")
    return tuple(str(i) for i in items["item_id"].sort().to_list())


def bts_action_dist(
    *, n_positions: int = N_POSITIONS, n_sim: int = 100_000, seed: int = 0
) -> NDArray[np.float64]:
    """ZOZOTOWN's Bernoulli TS with its production prior, by Monte Carlo: shape (1, 80, P).

    Each simulation draws θₐ ~ Beta(αₐ, βₐ) for the 80 items and shows the items of the
    P largest θ in descending order; π[0, a, p] = share of simulations that put a at p.
    This is obp's `BernoulliTS(is_zozotown_prior=True, campaign="all")
    .compute_batch_action_dist` (no reward updates: the prior alone), vectorised.
    """
    alpha = np.asarray(BTS_PRIOR_ALPHA, dtype=np.float64)
    beta = np.asarray(BTS_PRIOR_BETA, dtype=np.float64)
    n_items = len(alpha)
    rng = np.random.default_rng(seed)
    counts = np.zeros(n_items * n_positions)
    block = 10_000
    for start in range(0, n_sim, block):
        size = min(block, n_sim - start)
        theta = rng.beta(alpha, beta, size=(size, n_items))
        top = np.argsort(-theta, axis=1)[:, :n_positions]
        flat = top * n_positions + np.arange(n_positions)
        counts += np.bincount(flat.ravel(), minlength=n_items * n_positions)
    dist: NDArray[np.float64] = (counts / n_sim).reshape(1, n_items, n_positions)
    return dist
