"""`related` on the tiny bundle, whose answers follow from `bundle_builder`'s tables."""

from __future__ import annotations

import math

import pytest
from bundle_builder import NOW, TINY_GLOBAL, TINY_ITEMS, TINY_KNN

from recsvc.artifacts import Bundle
from recsvc.recommend import (
    Activity,
    Context,
    Filters,
    RelatedQuery,
    ServingIndex,
    build_index,
    related,
)

HEART = TINY_ITEMS[0][1]


def ids(result: object) -> list[str]:
    return result.item_ids  # type: ignore[attr-defined,no-any-return]


def test_rule_partner_comes_first_with_count_and_lift(tiny_index: ServingIndex) -> None:
    first = related(tiny_index, RelatedQuery("i00", k=5)).items[0]
    assert (first.item_id, first.strategy, first.source) == ("i01", "rules", "related_blend")
    assert first.reason == f"bought together with '{HEART}' in 412 orders, lift 5.3"
    assert first.score == 1.0 and first.rank == 1 and first.item_index == 1


def test_never_returns_the_item_itself(tiny_index: ServingIndex) -> None:
    for item_id in (row[0] for row in TINY_ITEMS):
        assert item_id not in ids(related(tiny_index, RelatedQuery(item_id, k=12)))


def test_rules_with_lift_below_one_give_no_evidence(tiny_index: ServingIndex) -> None:
    result = related(tiny_index, RelatedQuery("i00", k=11))
    assert [s.strategy for s in result.items if s.item_id == "i11"] == ["popular"]


def test_blended_section_is_ordered_by_score(tiny_index: ServingIndex) -> None:
    slots = [s for s in related(tiny_index, RelatedQuery("i04", k=8)).items]
    blended = [s.score for s in slots if s.source == "related_blend"]
    assert len(blended) >= 3 and blended == sorted(blended, reverse=True)


def test_in_stock_filter(tiny_index: ServingIndex) -> None:
    assert "i02" in ids(related(tiny_index, RelatedQuery("i00", k=11)))
    stocked = related(tiny_index, RelatedQuery("i00", k=11, filters=Filters(in_stock_only=True)))
    assert "i02" not in ids(stocked) and len(stocked.items) == 10


def test_category_filter_matches_any_level(tiny_index: ServingIndex) -> None:
    for category, expected in (
        ("Home", {"i01", "i02", "i03"}),
        ("Candles", {"i01", "i02"}),
        ("Holders", {"i01"}),
    ):
        result = related(tiny_index, RelatedQuery("i00", k=10, filters=Filters(category=category)))
        assert set(ids(result)) == expected
    unknown = related(tiny_index, RelatedQuery("i00", filters=Filters(category="Toys")))
    assert unknown.items == []


def test_price_band_is_inclusive_and_drops_unknown_prices(tiny_index: ServingIndex) -> None:
    band = Filters(price_min=1.65, price_max=2.95)
    result = related(tiny_index, RelatedQuery("i00", k=12, filters=band))
    prices = {row[0]: row[3] for row in TINY_ITEMS}
    expected = {i for i, p in prices.items() if not math.isnan(p) and 1.65 <= p <= 2.95} - {"i00"}
    assert set(ids(result)) == expected == {"i01", "i04", "i05", "i07"}


def test_exclude_list(tiny_index: ServingIndex) -> None:
    result = related(
        tiny_index, RelatedQuery("i00", k=5, filters=Filters(exclude=frozenset({"i01", "zz"})))
    )
    assert "i01" not in ids(result) and len(result.items) == 5


def test_context_cart_items_are_never_returned(tiny_index: ServingIndex) -> None:
    result = related(
        tiny_index, RelatedQuery("i00", k=11, context=Context(cart_items=("i01", "i04")))
    )
    assert not {"i01", "i04"} & set(ids(result))


def test_unknown_item_falls_back_to_category_then_global(tiny_index: ServingIndex) -> None:
    query = RelatedQuery("nope", k=6, context=Context(category="Kitchen"))
    result = related(tiny_index, query)
    kitchen = [f"i{i:02d}" for i in TINY_GLOBAL if TINY_ITEMS[i][2][0] == "Kitchen"]
    assert ids(result)[:4] == kitchen
    assert [s.strategy for s in result.items] == ["popular_in_category"] * 4 + ["popular"] * 2
    assert result.items[0].reason == "popular in Kitchen this week"


def test_unknown_item_without_category_is_global_popularity(tiny_index: ServingIndex) -> None:
    result = related(tiny_index, RelatedQuery("nope", k=4))
    assert ids(result) == [f"i{i:02d}" for i in TINY_GLOBAL[:4]]
    assert {s.strategy for s in result.items} == {"popular"}


@pytest.mark.parametrize("category", ["Mugs", "Kitchen.Mugs"])
def test_category_fallback_at_any_level_or_dotted_path(
    tiny_index: ServingIndex, category: str
) -> None:
    result = related(tiny_index, RelatedQuery("nope", k=3, context=Context(category=category)))
    assert ids(result)[:2] == ["i04", "i05"]  # global order within Mugs
    assert [s.strategy for s in result.items] == ["popular_in_category"] * 2 + ["popular"]


def test_recent_views_seed_extra_candidates(tiny_index: ServingIndex) -> None:
    recent = (Activity("i08", "view", NOW),)
    plain = related(tiny_index, RelatedQuery("i03", k=6))
    seeded = related(tiny_index, RelatedQuery("i03", k=6, recent=recent))
    from_recent = [s for s in seeded.items if "(viewed recently)" in s.reason]
    neighbours_of_i08 = {f"i{n:02d}" for n, _ in TINY_KNN[8]} | {"i09", "i10", "i11"}
    assert from_recent and {s.item_id for s in from_recent} <= neighbours_of_i08
    assert not any("recently" in s.reason for s in plain.items)
    assert seeded.items[0].item_id == plain.items[0].item_id  # the item's own evidence leads


def test_known_user_does_not_get_back_what_they_will_not_rebuy(tiny_index: ServingIndex) -> None:
    # u1 bought i00 once and its repeat rate is 0: i01's rule partner must disappear
    assert ids(related(tiny_index, RelatedQuery("i01", k=3)))[0] == "i00"
    assert "i00" not in ids(related(tiny_index, RelatedQuery("i01", k=11, user_id="u1")))


def test_demoted_items_go_after_all_others(tiny_index: ServingIndex) -> None:
    result = related(tiny_index, RelatedQuery("i00", k=11, demote=frozenset({"i01"})))
    assert ids(result)[-1] == "i01" and len(result.items) == 11
    short = related(tiny_index, RelatedQuery("i00", k=5, demote=frozenset({"i01"})))
    assert "i01" not in ids(short)


def test_deterministic_across_calls_and_index_builds(
    tiny_index: ServingIndex, tiny_bundle: Bundle
) -> None:
    query = RelatedQuery("i04", k=10, recent=(Activity("i09", "bid", NOW),))
    assert related(tiny_index, query) == related(tiny_index, query)
    assert related(build_index(tiny_bundle), query) == related(tiny_index, query)
