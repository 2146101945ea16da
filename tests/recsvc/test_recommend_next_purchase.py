"""`next_purchase` on the tiny bundle: buy-again due logic, segment mixes, cold start."""

from __future__ import annotations

import dataclasses

import pytest
from bundle_builder import DAY, NOW, TINY_GLOBAL, TINY_GROUPS

from recsvc.errors import ConfigError
from recsvc.recommend import (
    Activity,
    Context,
    MixConfig,
    RankingConfig,
    RepurchaseConfig,
    ServingIndex,
    Step,
    UserQuery,
    next_purchase,
)

I04_LAST = NOW - 35 * DAY  # u1 bought TEA MUG (interval 30 days, repeat rate 0.6) in 5 orders
I08_LAST = NOW - 61 * DAY  # u2 bought WATERING CAN (no own interval, Garden: 60 days)


def strategy_of(
    index: ServingIndex, query: UserQuery, item_id: str, **config: object
) -> str | None:
    result = next_purchase(index, query, RankingConfig(**config))  # type: ignore[arg-type]
    return next((s.strategy for s in result.items if s.item_id == item_id), None)


def test_due_item_leads_an_active_user(tiny_index: ServingIndex) -> None:
    first = next_purchase(tiny_index, UserQuery("u1", now=NOW, k=5)).items[0]
    assert (first.item_id, first.strategy) == ("i04", "buy_again_due")
    assert first.reason == "you buy this about every 30 days; last bought 35 days ago"


@pytest.mark.parametrize(
    ("now", "expected"),
    [(I04_LAST + 30 * DAY, "buy_again_due"), (I04_LAST + 30 * DAY - 1, "buy_again")],
)
def test_due_boundary_is_inclusive(tiny_index: ServingIndex, now: int, expected: str) -> None:
    assert strategy_of(tiny_index, UserQuery("u1", now=now, k=5), "i04") == expected


@pytest.mark.parametrize(("factor", "expected"), [(35 / 30, "buy_again_due"), (1.2, "buy_again")])
def test_due_factor_scales_the_interval(
    tiny_index: ServingIndex, factor: float, expected: str
) -> None:
    repurchase = RepurchaseConfig(due_factor=factor)
    query = UserQuery("u1", now=NOW, k=5)
    assert strategy_of(tiny_index, query, "i04", repurchase=repurchase) == expected


@pytest.mark.parametrize(("threshold", "expected"), [(0.6, "buy_again_due"), (0.61, "buy_again")])
def test_repeat_rate_threshold_is_inclusive(
    tiny_index: ServingIndex, threshold: float, expected: str
) -> None:
    # repeat rates are stored as float32; 0.6 must still count as reaching 0.6
    repurchase = RepurchaseConfig(min_repeat_rate=threshold)
    query = UserQuery("u1", now=NOW, k=5)
    assert strategy_of(tiny_index, query, "i04", repurchase=repurchase) == expected


@pytest.mark.parametrize(("days", "due"), [(60, True), (59, False)])
def test_category_interval_applies_without_an_own_interval(
    tiny_index: ServingIndex, days: int, *, due: bool
) -> None:
    query = UserQuery("u2", now=I08_LAST + days * DAY, k=5)
    assert (strategy_of(tiny_index, query, "i08") == "buy_again_due") is due


def test_items_not_bought_again_are_never_offered(tiny_index: ServingIndex) -> None:
    # u1: i00 bought once, repeat rate 0; u3: i05 bought once, rate 0.2 but no interval
    for user, item in (("u1", "i00"), ("u3", "i05")):
        result = next_purchase(tiny_index, UserQuery(user, now=NOW, k=12))
        assert item not in result.item_ids
        assert len(result.items) == 11


def test_recent_purchase_is_excluded_unless_due(tiny_index: ServingIndex) -> None:
    just_bought = (Activity("i04", "purchase", NOW - 3600),)
    result = next_purchase(tiny_index, UserQuery("u1", now=NOW, k=12, recent=just_bought))
    assert "i04" not in result.item_ids
    long_ago = (Activity("i04", "purchase", NOW - 31 * DAY),)
    query = UserQuery("u2", now=NOW, k=12, recent=long_ago)
    assert strategy_of(tiny_index, query, "i04") == "buy_again_due"


def test_cross_sell_offers_only_items_new_to_the_user(tiny_index: ServingIndex) -> None:
    result = next_purchase(tiny_index, UserQuery("u1", now=NOW, k=12))
    crossed = [s.item_id for s in result.items if s.source == "cross_sell"]
    assert crossed and not {"i00", "i04", "i06"} & set(crossed)


def test_segment_chain_comes_from_the_registry(tiny_index: ServingIndex) -> None:
    # sleeping: due (share 0.2 → 1 of 5 slots), then win-back by repeat rate
    sleeping = next_purchase(tiny_index, UserQuery("u4", now=NOW, k=5))
    assert [(s.item_id, s.source) for s in sleeping.items[:2]] == [
        ("i06", "buy_again_due"),
        ("i09", "win_back"),
    ]
    mix = MixConfig(segments={"sleeping": (Step("popular_in_country"),)})
    custom = next_purchase(tiny_index, UserQuery("u4", now=NOW, k=2), RankingConfig(mix=mix))
    assert custom.item_ids == [f"i{i:02d}" for i in TINY_GROUPS["country"]["Germany"]]
    assert custom.items[0].reason == "popular in Germany this week"


def test_labels_without_a_chain_use_the_default(tiny_index: ServingIndex) -> None:
    mix = MixConfig(segments={}, default=(Step("popular_in_segment"),))
    result = next_purchase(tiny_index, UserQuery("u5", now=NOW, k=1), RankingConfig(mix=mix))
    assert result.item_ids == [f"i{i:02d}" for i in TINY_GROUPS["segment"]["lost"]]


def test_known_users_country_is_used_when_context_has_none(tiny_index: ServingIndex) -> None:
    mix = MixConfig(default=(Step("popular_in_country"),), segments={})
    result = next_purchase(tiny_index, UserQuery("u5", now=NOW, k=1), RankingConfig(mix=mix))
    assert result.items[0].reason == "popular in United Kingdom this week"


def test_cold_start_uses_context_features(tiny_index: ServingIndex) -> None:
    query = UserQuery("stranger", now=NOW, k=4, context=Context(country="France", hour=20))
    result = next_purchase(tiny_index, query)
    first = result.items[0]
    assert first.strategy == "cold_start_hybrid"
    assert first.reason == "recommended for shoppers in France"
    # France leans to Kitchen and evening to Garden in the hybrid features
    assert {"Kitchen", "Garden"} >= {
        str(tiny_index.catalog.categories[s.item_index, 0])
        for s in result.items
        if s.strategy == "cold_start_hybrid"
    }
    assert {s.strategy for s in result.items} <= {
        "cold_start_hybrid",
        "popular_in_country",
        "popular_at_hour",
    }


def test_cold_start_without_context_is_global_popularity(tiny_index: ServingIndex) -> None:
    result = next_purchase(tiny_index, UserQuery("stranger", now=NOW, k=3))
    assert result.item_ids == [f"i{i:02d}" for i in TINY_GLOBAL[:3]]
    assert {s.strategy for s in result.items} == {"popular"}


def test_cold_start_hour_band(tiny_index: ServingIndex) -> None:
    mix = MixConfig(cold_start=(Step("popular_at_hour"),))
    query = UserQuery("stranger", now=NOW, k=2, context=Context(hour=7))
    result = next_purchase(tiny_index, query, RankingConfig(mix=mix))
    assert result.item_ids == [f"i{i:02d}" for i in TINY_GROUPS["hour_band"]["morning"]]
    assert result.items[0].reason == "popular in the morning"


def test_session_activity_seeds_an_anonymous_visitor(tiny_index: ServingIndex) -> None:
    recent = (Activity("i08", "view", NOW - 60), Activity("i04", "bid", NOW - 30))
    result = next_purchase(tiny_index, UserQuery(None, now=NOW, session_id="s", recent=recent))
    first = result.items[0]
    assert first.source == "session_related"
    assert "(added to cart recently)" in first.reason  # the most recent event weighs most


def test_unknown_source_name_is_a_config_error(tiny_index: ServingIndex) -> None:
    config = RankingConfig(mix=MixConfig(default=(Step("magic"),), segments={}))
    with pytest.raises(ConfigError, match="magic"):
        next_purchase(tiny_index, UserQuery("u1", now=NOW), config)


def test_step_share_must_be_a_fraction() -> None:
    with pytest.raises(ConfigError, match="share"):
        Step("popular", 0.0)


def test_due_factor_defaults_to_the_bundles(tiny_index: ServingIndex) -> None:
    assert tiny_index.repurchase.due_factor == 1.0
    stricter = dataclasses.replace(
        tiny_index, repurchase=dataclasses.replace(tiny_index.repurchase, due_factor=1.2)
    )
    query = UserQuery("u1", now=NOW, k=5)
    assert strategy_of(tiny_index, query, "i04") == "buy_again_due"
    assert strategy_of(stricter, query, "i04") == "buy_again"
