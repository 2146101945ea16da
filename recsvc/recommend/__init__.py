"""Ranking code of the service, shared with offline replay: pure functions of
(ServingIndex, query).

    index = build_index(bundle)                 # once per loaded bundle
    related(index, RelatedQuery("85123A", k=10))
    cart(index, CartQuery(("85123A", "22423")))
    next_purchase(index, UserQuery("17850", now=unix_seconds))
"""

from recsvc.recommend.cart import cart, cart_plan
from recsvc.recommend.chain import Plan
from recsvc.recommend.config import (
    DEFAULT_CONFIG,
    POPULAR_CONFIG,
    BlendWeights,
    CrossSellWeights,
    MixConfig,
    RankingConfig,
    RepurchaseConfig,
    Step,
)
from recsvc.recommend.context import HOUR_BANDS, hour_band
from recsvc.recommend.index import ServingIndex, build_index
from recsvc.recommend.next_purchase import next_purchase, next_purchase_plan
from recsvc.recommend.query import (
    Activity,
    CartQuery,
    Context,
    Filters,
    Recommendation,
    RelatedQuery,
    Slot,
    UserQuery,
)
from recsvc.recommend.related import related, related_plan
from recsvc.recommend.sources import SOURCES

__all__ = [
    "DEFAULT_CONFIG",
    "HOUR_BANDS",
    "POPULAR_CONFIG",
    "SOURCES",
    "Activity",
    "BlendWeights",
    "CartQuery",
    "Context",
    "CrossSellWeights",
    "Filters",
    "MixConfig",
    "Plan",
    "RankingConfig",
    "Recommendation",
    "RelatedQuery",
    "RepurchaseConfig",
    "ServingIndex",
    "Slot",
    "Step",
    "UserQuery",
    "build_index",
    "cart",
    "cart_plan",
    "hour_band",
    "next_purchase",
    "next_purchase_plan",
    "related",
    "related_plan",
]
