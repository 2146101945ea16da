"""The knobs the offline replay tuned (`training.evaluation`): the popularity prior of the
item-to-item blend, the habit weight of buy-again, and the shopper's own items in
"customers also bought" when the query carries a time."""

from __future__ import annotations

import numpy as np
from bundle_builder import NOW

from recsvc.recommend import (
    DEFAULT_CONFIG,
    BlendWeights,
    MixConfig,
    RankingConfig,
    RelatedQuery,
    RepurchaseConfig,
    ServingIndex,
    Step,
    UserQuery,
    next_purchase,
    related,
)
from recsvc.recommend.index import RepurchaseIndex


def _knn_only(prior: float) -> RankingConfig:
    weights = BlendWeights(rules=0.0, itemknn=1.0, als=0.0, hybrid=0.0, popularity=prior)
    return RankingConfig(blend=weights, related_chain=(Step("related_blend"),), fallback=())


def test_the_popularity_prior_reorders_neighbours_by_popularity(tiny_index: ServingIndex) -> None:
    query = RelatedQuery("i04", k=3)
    # i04's item-kNN neighbours: i05 0.8, i07 0.6, i06 0.3; popularity ranks i07 > i05 > i06
    assert related(tiny_index, query, _knn_only(0.0)).item_ids == ["i05", "i07", "i06"]
    assert related(tiny_index, query, _knn_only(5.0)).item_ids == ["i07", "i05", "i06"]


def _buy_again(repurchase: RepurchaseConfig) -> RankingConfig:
    chain = (Step("buy_again"),)
    return RankingConfig(
        repurchase=repurchase, mix=MixConfig(segments={}, default=chain), fallback=()
    )


def test_the_repeat_rate_weight_favours_habits_many_buyers_share(tiny_index: ServingIndex) -> None:
    # u1: i04 in 5 orders 35 days ago (repeat rate 0.6), i06 in 3 orders 10 days ago (0.4)
    query = UserQuery("u1", now=NOW, k=2)
    recent_first = RepurchaseConfig(
        recency_half_life_days=10.0, repeat_rate_exponent=0.0, preference_weight=0.0
    )
    assert next_purchase(tiny_index, query, _buy_again(recent_first)).item_ids == ["i06", "i04"]
    habit = RepurchaseConfig(
        recency_half_life_days=10.0, repeat_rate_exponent=5.0, preference_weight=0.0
    )
    assert next_purchase(tiny_index, query, _buy_again(habit)).item_ids == ["i04", "i06"]


def test_related_items_add_the_shoppers_own_items_only_with_a_query_time(
    tiny_index: ServingIndex,
) -> None:
    timed = related(tiny_index, RelatedQuery("i08", k=6, user_id="u1", now=NOW), DEFAULT_CONFIG)
    untimed = related(tiny_index, RelatedQuery("i08", k=6, user_id="u1"), DEFAULT_CONFIG)
    assert timed.items[0].source == "related_blend"
    assert {"i04", "i06"} <= {s.item_id for s in timed.items if s.source == "buy_again"}
    assert "buy_again" not in {s.source for s in untimed.items}


def test_the_repeat_rate_prior_counts_unknown_rates_as_zero_and_is_computed_once() -> None:
    rates = RepurchaseIndex(
        interval_days=np.full(4, np.nan),
        repeat_rate=np.array([0.6, np.nan, -0.2, 0.0]),
        due_factor=1.0,
    )
    prior = rates.rate_prior(2.0, 0.01)
    np.testing.assert_allclose(prior, [0.61**2, 0.01**2, 0.01**2, 0.01**2])
    assert rates.rate_prior(2.0, 0.01) is prior and not prior.flags.writeable
    np.testing.assert_allclose(rates.rate_prior(1.0, 0.01), [0.61, 0.01, 0.01, 0.01])
