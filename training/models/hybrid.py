"""Hybrid LightFM model (Kula 2015): WARP loss over user and item features.

Features (each a named row of the feature-embedding tables; weight 1, rows NOT normalised):

- item: identity ``item=<id>``; ``cat1=<level 1>`` and ``cat2=<level 1>/<level 2>`` where the
  catalog has them (level 2 qualified by its parent, so equal names under two parents stay
  apart); ``price_band=<b>``, b = 1 (cheapest) .. `price_bands`, from quantiles of the
  catalog's positive prices (no band when the price is unknown or ≤ 0).
- user: identity ``user=<id>``; ``country=``, ``device=``, ``channel=`` the user's most
  frequent value over all their events; ``hour_band=`` the band
  (`recsvc.recommend.context.HOUR_BANDS`) of most of the user's purchase lines;
  ``segment=<label>`` when lifecycle labels are given. Ties go to the smaller value.

A representation is the plain sum of its features' rows, exactly what LightFM's
`get_*_representations` returns for these unnormalised 0/1 feature matrices. So a new
user with known features F is scored by ``Σ_{f∈F} emb_f · item_embedding + Σ_{f∈F} bias_f
+ item_bias``; the user bias does not change a user's ranking.

Positives: the user × item cells with positive confidence under `config.confidence` (see
`training.data.matrices.user_item_confidence`), unweighted.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from typing import Any, Final

import numpy as np
import polars as pl
import scipy.sparse as sp
from lightfm import LightFM
from numpy.typing import NDArray

from recsvc.artifacts import Part
from recsvc.recommend.context import hour_band
from training.data.dataset import TrainingData
from training.data.matrices import ConfidenceWeights, purchase_lines, user_item_confidence
from training.data.schema import CATEGORY_LEVELS, CHANNEL, COUNTRY, DEVICE, HOUR, PRICE, USER_IDX
from training.errors import EmptyDataError, ModelFitError

_ROW: Final = "_row"
_VALUE: Final = "_value"
_FEATURE: Final = "_feature"
_HOUR_BAND_OF: Final = {hour: hour_band(hour) for hour in range(24)}
_LOSSES: Final = ("warp", "bpr", "warp-kos", "logistic")  # LightFM's
# Context columns whose most frequent value per user becomes a feature, with its prefix.
_USER_CONTEXT: Final = ((COUNTRY, "country"), (DEVICE, "device"), (CHANNEL, "channel"))


@dataclass(frozen=True)
class HybridConfig:
    """LightFM hyper-parameters plus the feature settings."""

    no_components: int = 32
    epochs: int = 10
    learning_rate: float = 0.1
    loss: str = "warp"
    max_sampled: int = 10
    item_alpha: float = 1e-6
    user_alpha: float = 1e-6
    num_threads: int = 1  # more threads race (Hogwild) and are not reproducible
    price_bands: int = 5
    confidence: ConfidenceWeights = field(default_factory=ConfidenceWeights)

    def __post_init__(self) -> None:
        if self.loss not in _LOSSES:
            raise ValueError(f"unknown LightFM loss {self.loss!r}; choose one of {list(_LOSSES)}")
        if self.price_bands < 1:
            raise ValueError(f"price_bands must be ≥ 1, got {self.price_bands}")


@dataclass(frozen=True)
class FeatureMatrix:
    """[n_rows, n_features] 0/1 CSR; `names[j]` names column j. Column r < n_rows is row
    r's identity feature, the other columns are sorted by name."""

    names: NDArray[np.str_]
    matrix: sp.csr_matrix


@dataclass(frozen=True)
class FittedHybrid:
    """The fitted LightFM model with the feature matrices it was trained on."""

    model: Any  # lightfm.LightFM (untyped)
    users: FeatureMatrix
    items: FeatureMatrix


def fit(
    data: TrainingData,
    config: HybridConfig,
    *,
    seed: int = 0,
    segments: NDArray[np.str_] | None = None,
) -> Part:
    """Part "hybrid" (see module doc): per user / item representations and biases
    (user and item index order), and per feature names, embeddings [n_features, d] and
    biases for users and items. `segments`: one lifecycle label per user index, "" = none.

    Same seed → identical arrays when `num_threads` is 1. Raises `EmptyDataError` without
    a positive cell, `ModelFitError` for segments of the wrong length or a diverged fit.
    """
    return export(fit_model(data, config, seed=seed, segments=segments), config, seed)


def fit_model(
    data: TrainingData,
    config: HybridConfig,
    *,
    seed: int = 0,
    segments: NDArray[np.str_] | None = None,
) -> FittedHybrid:
    """Build the features and fit LightFM on the positive user × item cells."""
    positives = user_item_confidence(data, config.confidence)
    if positives.nnz == 0:
        raise EmptyDataError("hybrid: no user has a positive interaction to learn from")
    positives.data[:] = 1.0
    users = user_features(data, segments)
    items = item_features(data, config.price_bands)
    model = LightFM(
        no_components=config.no_components,
        learning_rate=config.learning_rate,
        loss=config.loss,
        max_sampled=config.max_sampled,
        item_alpha=config.item_alpha,
        user_alpha=config.user_alpha,
        random_state=seed,
    )
    try:
        model.fit(
            positives.tocoo(),
            user_features=users.matrix,
            item_features=items.matrix,
            epochs=config.epochs,
            num_threads=config.num_threads,
        )
    except ValueError as exc:  # LightFM's "Not all estimated parameters are finite"
        raise ModelFitError(f"hybrid: {exc}; try a lower learning_rate") from exc
    return FittedHybrid(model, users, items)


def export(fitted: FittedHybrid, config: HybridConfig, seed: int) -> Part:
    """The contract's "hybrid" arrays of a fitted model, plus item feature tables."""
    model = fitted.model
    user_biases, user_embeddings = model.get_user_representations(fitted.users.matrix)
    item_biases, item_embeddings = model.get_item_representations(fitted.items.matrix)
    arrays: dict[str, NDArray[Any]] = {
        "user_embeddings": user_embeddings,
        "user_biases": user_biases,
        "item_embeddings": item_embeddings,
        "item_biases": item_biases,
        "user_feature_names": fitted.users.names,
        "user_feature_embeddings": model.user_embeddings,
        "user_feature_biases": model.user_biases,
        "item_feature_names": fitted.items.names,
        "item_feature_embeddings": model.item_embeddings,
        "item_feature_biases": model.item_biases,
    }
    return Part(
        "hybrid",
        {name: np.asarray(array, dtype=_dtype(array)) for name, array in arrays.items()},
        {
            "params": {**asdict(config), "seed": seed},
            "representation": "sum of the feature rows (0/1 weights, not normalised)",
            "n_user_features": len(fitted.users.names),
            "n_item_features": len(fitted.items.names),
        },
    )


def user_features(data: TrainingData, segments: NDArray[np.str_] | None) -> FeatureMatrix:
    """Identity, most frequent country / device / channel, purchase hour band, segment."""
    known = data.events.filter(pl.col(USER_IDX).is_not_null())
    pairs = [
        _modes(known.select(pl.col(USER_IDX).alias(_ROW), pl.col(column).alias(_VALUE)), prefix)
        for column, prefix in _USER_CONTEXT
    ]
    bands = purchase_lines(known).select(
        pl.col(USER_IDX).alias(_ROW),
        pl.col(HOUR).replace_strict(_HOUR_BAND_OF, return_dtype=pl.String).alias(_VALUE),
    )
    pairs.append(_modes(bands, "hour_band"))
    if segments is not None:
        pairs.append(_segment_pairs(segments, data.n_users))
    return _feature_matrix(np.char.add("user=", data.user_ids), pl.concat(pairs))


def item_features(data: TrainingData, price_bands: int) -> FeatureMatrix:
    """Identity, category levels 1 and 2 (qualified), catalog price band."""
    catalog = data.catalog.with_row_index(_ROW)
    first, second = pl.col(CATEGORY_LEVELS[0]), pl.col(CATEGORY_LEVELS[1])
    qualified = pl.when(second.is_not_null() & (second != "")).then(first + "/" + second)
    pairs = [
        _named(catalog.select(_ROW, first.alias(_VALUE)), "cat1"),
        _named(catalog.select(_ROW, qualified.alias(_VALUE)), "cat2"),
        _named(
            pl.DataFrame(
                {_ROW: np.arange(data.n_items), _VALUE: price_band(catalog[PRICE], price_bands)}
            ),
            "price_band",
        ),
    ]
    return _feature_matrix(np.char.add("item=", data.item_ids), pl.concat(pairs))


def price_band(prices: pl.Series, bands: int) -> pl.Series:
    """Band "1".."bands" of each price among the positive prices' quantiles (a price equal
    to a quantile edge goes to the upper band); null for unknown or non-positive prices."""
    values = prices.cast(pl.Float64).fill_null(np.nan).to_numpy()
    valid = np.isfinite(values) & (values > 0)
    if not valid.any():
        return pl.Series([None] * len(values), dtype=pl.String)
    edges = np.quantile(values[valid], np.linspace(0.0, 1.0, bands + 1)[1:-1])
    labels = pl.Series((np.searchsorted(edges, values, side="right") + 1).astype(str))
    return labels.scatter(np.flatnonzero(~valid), None)


def _dtype(array: NDArray[Any]) -> type[np.generic]:
    return np.str_ if array.dtype.kind == "U" else np.float32


def _modes(frame: pl.DataFrame, prefix: str) -> pl.DataFrame:
    """(row, "<prefix>=<most frequent value of the row>"), ties to the smaller value."""
    counts = frame.filter(pl.col(_VALUE).is_not_null() & (pl.col(_VALUE) != ""))
    counts = counts.group_by(_ROW, _VALUE).len()
    first = counts.sort([_ROW, "len", _VALUE], descending=[False, True, False]).unique(
        _ROW, keep="first", maintain_order=True
    )
    return _named(first.select(_ROW, _VALUE), prefix)


def _named(frame: pl.DataFrame, prefix: str) -> pl.DataFrame:
    """(row, "<prefix>=<value>") for the non-empty values of a (row, value) frame."""
    present = frame.filter(pl.col(_VALUE).is_not_null() & (pl.col(_VALUE) != ""))
    return present.select(
        pl.col(_ROW).cast(pl.Int64), (pl.lit(f"{prefix}=") + pl.col(_VALUE)).alias(_FEATURE)
    )


def _segment_pairs(segments: NDArray[np.str_], n_users: int) -> pl.DataFrame:
    labels = np.asarray(segments, dtype=str)
    if labels.shape != (n_users,):
        raise ModelFitError(f"hybrid: segments has shape {labels.shape}, expected ({n_users},)")
    return _named(pl.DataFrame({_ROW: np.arange(n_users), _VALUE: labels}), "segment")


def _feature_matrix(identity: NDArray[np.str_], pairs: pl.DataFrame) -> FeatureMatrix:
    """0/1 CSR of the identity diagonal plus one column per distinct feature in `pairs`."""
    n_rows = len(identity)
    features = pairs[_FEATURE].to_numpy().astype(str)
    extra = np.unique(features)
    rows = np.concatenate([np.arange(n_rows), pairs[_ROW].to_numpy()])
    cols = np.concatenate([np.arange(n_rows), n_rows + np.searchsorted(extra, features)])
    matrix = sp.csr_matrix(
        (np.ones(len(rows), dtype=np.float32), (rows, cols)),
        shape=(n_rows, n_rows + len(extra)),
    )
    return FeatureMatrix(np.concatenate([identity, extra]), matrix)
