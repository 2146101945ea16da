"""Popularity sources: the fallbacks of every chain and the "popular in context" steps.

Each reads a precomputed ranking (`popularity` part) and keeps its allowed items in
stored order; a group the bundle does not have gives no candidates.
"""

from __future__ import annotations

import numpy as np

from recsvc.recommend import reasons
from recsvc.recommend.candidates import (
    EMPTY,
    BoolArray,
    Candidates,
    Request,
    keep_allowed,
    unit_scale,
)
from recsvc.recommend.context import hour_band
from recsvc.recommend.filters import category_mask
from recsvc.recommend.index import Ranked, ServingIndex


def _candidates(
    ranked: Ranked, allowed: BoolArray, depth: int, strategy: str, reason: str
) -> Candidates:
    items, scores = keep_allowed(*ranked, allowed, depth)
    if not items.size:
        return EMPTY

    def explain(position: int) -> tuple[str, str]:
        return strategy, reason

    return Candidates(items, unit_scale(np.maximum(scores, 0.0)), explain)


def _group(
    index: ServingIndex, request: Request, key: str, group: str, *, strategy: str, reason: str
) -> Candidates:
    ranked = index.popularity.groups[key].get(group) if group else None
    if ranked is None:
        return EMPTY
    return _candidates(ranked, request.allowed, request.depth, strategy, reason)


def popular(index: ServingIndex, request: Request) -> Candidates:
    """Global popularity."""
    window = index.popularity.window_days
    reason = f"popular{reasons.window(window)}" if window else "popular across the shop"
    return _candidates(index.popularity.global_, request.allowed, request.depth, "popular", reason)


def trending(index: ServingIndex, request: Request) -> Candidates:
    """Items gaining popularity (the `trending` ranking)."""
    return _candidates(
        index.popularity.trending, request.allowed, request.depth, "trending", "trending now"
    )


def popular_in_category(index: ServingIndex, request: Request) -> Candidates:
    """The global ranking restricted to `request.category` (a value at any level, or a
    dotted path such as "Home.Candles"); the popularity part defines its category
    rankings the same way, but this one is never truncated."""
    category = request.category
    allowed = category_mask(index, category) & request.allowed
    reason = reasons.popular_in(category, index.popularity.window_days)
    return _candidates(
        index.popularity.global_, allowed, request.depth, "popular_in_category", reason
    )


def popular_in_country(index: ServingIndex, request: Request) -> Candidates:
    """Popular in the request's country (context, else the known user's country)."""
    reason = reasons.popular_in(request.country, index.popularity.window_days)
    return _group(
        index, request, "country", request.country, strategy="popular_in_country", reason=reason
    )


def popular_at_hour(index: ServingIndex, request: Request) -> Candidates:
    """Popular in the hour band of `context.hour`; empty when the hour is unknown."""
    hour = request.context.hour
    band = "" if hour is None else hour_band(hour)
    return _group(
        index,
        request,
        "hour_band",
        band,
        strategy="popular_at_hour",
        reason=reasons.popular_at(band),
    )


def popular_in_segment(index: ServingIndex, request: Request) -> Candidates:
    """Popular in the known user's lifecycle segment."""
    label = "" if request.user is None else index.users.lifecycle_label(request.user)
    reason = "popular with shoppers like you"
    return _group(index, request, "segment", label, strategy="popular_in_segment", reason=reason)
