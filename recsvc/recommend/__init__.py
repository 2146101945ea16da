"""Ranking code of the service, shared with offline replay: pure functions of
(ServingIndex, query).

    index = build_index(bundle)                 # once per loaded bundle
    related(index, RelatedQuery("85123A", k=10))
    cart(index, CartQuery(("85123A", "22423")))
    next_purchase(index, UserQuery("17850", now=unix_seconds))
"""

from recsvc.recommend.cart import cart
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
from recsvc.recommend.next_purchase import next_purchase
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
from recsvc.recommend.related import related
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
    "hour_band",
    "next_purchase",
    "related",
]
