"""`cart` on the tiny bundle: multi-item rules first, then summed single-item evidence."""

from __future__ import annotations

import pytest
from bundle_builder import TINY_GLOBAL, TINY_ITEMS

from recsvc.recommend import CartQuery, Context, Filters, ServingIndex, cart

NAME = {row[0]: row[1] for row in TINY_ITEMS}


def test_contained_multi_item_rule_leads_with_its_reason(tiny_index: ServingIndex) -> None:
    first = cart(tiny_index, CartQuery(("i05", "i04"), k=4)).items[0]
    assert (first.item_id, first.strategy, first.source) == ("i06", "cart_rules", "cart_rules")
    assert first.reason == (
        f"bought together with '{NAME['i04']}' and '{NAME['i05']}' in 30 orders, lift 2.0"
    )


def test_multi_item_rule_beats_stronger_single_item_evidence(tiny_index: ServingIndex) -> None:
    single = cart(tiny_index, CartQuery(("i04",), k=4)).item_ids
    assert single.index("i07") < single.index("i06")  # on its own, i04's evidence prefers i07
    both = cart(tiny_index, CartQuery(("i04", "i05"), k=4))
    assert both.item_ids[:2] == ["i06", "i07"]
    assert [s.source for s in both.items[:2]] == ["cart_rules", "cart_evidence"]


def test_a_rule_needs_its_whole_antecedent_in_the_cart(tiny_index: ServingIndex) -> None:
    assert "cart_rules" not in {s.source for s in cart(tiny_index, CartQuery(("i05",))).items}
    sources = {s.item_id: s.source for s in cart(tiny_index, CartQuery(("i06", "i04"))).items}
    assert sources["i07"] == "cart_rules"  # {i04, i06} -> i07


def test_single_item_evidence_is_summed_over_cart_items(tiny_index: ServingIndex) -> None:
    # i10 neighbours i08 (0.4 of 0.7) and i11 (0.6, its best): adding i11 adds evidence
    def score_of_i10(items: tuple[str, ...]) -> float:
        slots = cart(tiny_index, CartQuery(items, k=3)).items
        return next(s.score for s in slots if s.item_id == "i10")

    alone, together = score_of_i10(("i08",)), score_of_i10(("i08", "i11"))
    assert together > alone
    # i09 (rule + kNN of i08, kNN of i11) = 1 + 0.8 + 0.8 * 0.2 / 0.6; i10 = 0.8 * 4/7 + 0.8
    assert together == pytest.approx(
        (0.8 * 0.4 / 0.7 + 0.8) / (1 + 0.8 + 0.8 * 0.2 / 0.6), rel=1e-6
    )


def test_never_returns_cart_items(tiny_index: ServingIndex) -> None:
    items = ("i00", "i01", "i04", "i05", "i08")
    result = cart(tiny_index, CartQuery(items, k=12))
    assert not set(items) & set(result.item_ids) and len(result.items) == 7


def test_unknown_items_are_ignored(tiny_index: ServingIndex) -> None:
    assert cart(tiny_index, CartQuery(("i04", "zz"), k=6)) == cart(
        tiny_index, CartQuery(("i04",), k=6)
    )


def test_all_unknown_falls_back_to_popularity(tiny_index: ServingIndex) -> None:
    result = cart(tiny_index, CartQuery(("zz", "yy"), k=3))
    assert result.item_ids == [f"i{i:02d}" for i in TINY_GLOBAL[:3]]
    assert {s.strategy for s in result.items} == {"popular"}
    garden = cart(tiny_index, CartQuery(("zz",), k=2, context=Context(category="Garden")))
    assert [s.strategy for s in garden.items] == ["popular_in_category"] * 2


def test_filters_apply_to_every_section(tiny_index: ServingIndex) -> None:
    result = cart(tiny_index, CartQuery(("i04", "i05"), k=6, filters=Filters(category="Kitchen")))
    assert set(result.item_ids) == {"i06", "i07"}
