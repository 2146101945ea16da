"""Candidate sources that score the catalog for a user: cross-sell for known users (hybrid
and ALS user × item scores) and the hybrid cold-start representation for unknown ones.

User × item scores are one matrix-vector product each (n_items × d). A model's scores
enter as exp(score - best allowed score), its preference relative to its best item.
"""

from __future__ import annotations

from typing import Final

import numpy as np

from recsvc.recommend import reasons
from recsvc.recommend.blend import aggregate
from recsvc.recommend.candidates import (
    EMPTY,
    BoolArray,
    Candidates,
    FloatArray,
    IntArray,
    Request,
    relative,
    top_dense,
)
from recsvc.recommend.context import hour_band
from recsvc.recommend.index import Embeddings, ServingIndex

CROSS_SELL_MODELS: Final = ("hybrid", "als")


def _user_scores(model: Embeddings, user: int) -> FloatArray:
    scores: FloatArray = (model.item @ model.user[user] + model.item_bias).astype(np.float64)
    return scores


def _new_items(index: ServingIndex, request: Request) -> BoolArray:
    allowed = request.allowed.copy()
    allowed[request.history.items] = False
    return allowed


def cross_sell(index: ServingIndex, request: Request) -> Candidates:
    """Items new to the user, by the `CrossSellWeights`-weighted sum of each model's
    relative preference; strategy = the model contributing most."""
    if request.user is None:
        return EMPTY
    allowed = _new_items(index, request)
    weights = request.config.cross_sell
    found: list[tuple[IntArray, FloatArray, int]] = []
    for code, (name, model) in enumerate(
        zip(CROSS_SELL_MODELS, (index.hybrid, index.als), strict=True)
    ):
        weight: float = getattr(weights, name)
        if weight > 0 and model is not None:
            items, scores = top_dense(_user_scores(model, request.user), allowed, request.depth)
            found.append((items, weight * relative(scores), code))
    if not found:
        return EMPTY
    models = np.concatenate([np.full(len(f[0]), f[2]) for f in found])
    items, scores, dominant = aggregate(
        np.concatenate([f[0] for f in found]), np.concatenate([f[1] for f in found]), request.depth
    )

    def explain(position: int) -> tuple[str, str]:
        name = CROSS_SELL_MODELS[models[dominant[position]]]
        return name, reasons.CROSS_SELL[name]

    return Candidates(items, scores, explain)


def context_features(request: Request) -> list[str]:
    """Hybrid user-feature names describing the request's context, in a fixed order:
    country, hour band, device, channel (those known)."""
    context = request.context
    values = {
        "country": request.country,
        "hour_band": "" if context.hour is None else hour_band(context.hour),
        "device": context.device,
        "channel": context.channel,
    }
    return [f"{name}={value}" for name, value in values.items() if value]


def cold_start_hybrid(index: ServingIndex, request: Request) -> Candidates:
    """A new visitor as the sum of the hybrid embeddings of its context features (those
    the model has); empty when it has none of them."""
    features = index.user_features
    rows = [
        features.position[name] for name in context_features(request) if name in features.position
    ]
    if not rows or index.hybrid is None:
        return EMPTY
    vector = features.embeddings[rows].sum(axis=0)
    scores = index.hybrid.item @ vector + index.hybrid.item_bias
    items, raw = top_dense(scores, request.allowed, request.depth)
    uses_country = f"country={request.country}" in features.position
    reason = reasons.cold_start(request.country if uses_country else "")

    def explain(position: int) -> tuple[str, str]:
        return "cold_start_hybrid", reason

    return Candidates(items, relative(raw), explain)
