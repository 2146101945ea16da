"""Sparse matrices built from canonical events: baskets × items and users × items."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import polars as pl
import scipy.sparse as sp

from training.data.dataset import TrainingData
from training.data.schema import EVENT, ITEM_IDX, ORDER, QTY, SESSION, TS, USER_IDX

SECONDS_PER_DAY = 86_400.0


def purchase_lines(events: pl.DataFrame) -> pl.DataFrame:
    """Purchase events with a positive quantity (returns and other types excluded)."""
    return events.filter((pl.col(EVENT) == "purchase") & (pl.col(QTY) > 0))


def basket_item_matrix(events: pl.DataFrame, n_items: int) -> sp.csr_matrix:
    """Binary [n_baskets, n_items] CSR: a basket is an order id, else a session id.

    Purchases without either id cannot form a basket and are not counted here. Rows are
    baskets in sorted basket-id order; duplicate lines collapse to 1.
    """
    lines = purchase_lines(events).with_columns(
        pl.coalesce(pl.col(ORDER), pl.col(SESSION)).alias("_basket")
    )
    lines = lines.filter(pl.col("_basket").is_not_null()).select("_basket", ITEM_IDX).unique()
    rows = (lines["_basket"].rank("dense") - 1).to_numpy()
    cols = lines[ITEM_IDX].to_numpy()
    data = np.ones(len(rows), dtype=np.float32)
    n_baskets = int(rows.max()) + 1 if len(rows) else 0
    matrix = sp.csr_matrix((data, (rows, cols)), shape=(n_baskets, n_items), dtype=np.float32)
    matrix.sum_duplicates()
    matrix.data[:] = 1.0
    return matrix


@dataclass(frozen=True)
class ConfidenceWeights:
    """Weight of one event of each type in the user × item confidence matrix."""

    purchase: float = 4.0
    bid: float = 2.0
    click: float = 1.0
    view: float = 0.5
    half_life_days: float = 180.0  # an event loses half its weight every half-life

    @property
    def by_event(self) -> dict[str, float]:
        """Event type -> weight; a return cancels a purchase."""
        return {
            "purchase": self.purchase,
            "bid": self.bid,
            "click": self.click,
            "view": self.view,
            "return": -self.purchase,
        }


def user_item_confidence(data: TrainingData, weights: ConfidenceWeights) -> sp.csr_matrix:
    """[n_users, n_items] CSR of time-decayed event weights; a return cancels a purchase.

    Anonymous events are excluded. Cells whose net weight is ≤ 0 (everything returned)
    are removed, so "bought" means "bought and kept".
    """
    age_days = (
        (pl.lit(data.reference_time) - pl.col(TS)).dt.total_seconds() / SECONDS_PER_DAY
    ).clip(lower_bound=0.0)
    weighted = (
        data.events.filter(pl.col(USER_IDX).is_not_null())
        .with_columns(
            (
                pl.col(EVENT).cast(pl.String).replace_strict(weights.by_event, default=0.0)
                * (0.5 ** (age_days / weights.half_life_days))
            ).alias("_w")
        )
        .group_by(USER_IDX, ITEM_IDX)
        .agg(pl.col("_w").sum())
        .filter(pl.col("_w") > 0)
    )
    matrix = sp.csr_matrix(
        (
            weighted["_w"].to_numpy().astype(np.float32),
            (weighted[USER_IDX].to_numpy(), weighted[ITEM_IDX].to_numpy()),
        ),
        shape=(data.n_users, data.n_items),
        dtype=np.float32,
    )
    matrix.sort_indices()
    return matrix
