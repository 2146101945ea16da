"""The registry of candidate sources, chosen by name in chains (`RankingConfig`).

A source is a pure function of (ServingIndex, Request) returning `Candidates`: distinct
allowed items best first, at most `request.depth`, each with its strategy and reason.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from types import MappingProxyType
from typing import Final

from recsvc.recommend import fallback, item_sources, repurchase, user_sources
from recsvc.recommend.candidates import Candidates, Request
from recsvc.recommend.index import ServingIndex

Source = Callable[[ServingIndex, Request], Candidates]

SOURCES: Final[Mapping[str, Source]] = MappingProxyType(
    {
        "related_blend": item_sources.related_blend,
        "session_related": item_sources.session_related,
        "cart_rules": item_sources.cart_rules,
        "cart_evidence": item_sources.cart_evidence,
        "cross_sell": user_sources.cross_sell,
        "cold_start_hybrid": user_sources.cold_start_hybrid,
        "buy_again": repurchase.buy_again,
        "buy_again_due": repurchase.buy_again_due,
        "win_back": repurchase.win_back,
        "popular": fallback.popular,
        "trending": fallback.trending,
        "popular_in_category": fallback.popular_in_category,
        "popular_in_country": fallback.popular_in_country,
        "popular_at_hour": fallback.popular_at_hour,
        "popular_in_segment": fallback.popular_in_segment,
    }
)
