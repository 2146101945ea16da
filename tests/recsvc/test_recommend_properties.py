"""Invariants of every ranking function on random queries over the tiny bundle."""

from __future__ import annotations

import math
from dataclasses import replace
from itertools import groupby

import numpy as np
from bundle_builder import DAY, NOW, TINY_ITEMS
from hypothesis import given, settings
from hypothesis import strategies as st

from recsvc.recommend import (
    Activity,
    CartQuery,
    Context,
    Filters,
    Recommendation,
    RelatedQuery,
    ServingIndex,
    UserQuery,
    cart,
    next_purchase,
    related,
)
from recsvc.recommend.filters import allowed_mask

ITEM_IDS = [row[0] for row in TINY_ITEMS]
item_ids = st.sampled_from([*ITEM_IDS, "unknown-1", "unknown-2"])
item_sets = st.frozensets(item_ids, max_size=4)
contexts = st.builds(
    Context,
    country=st.sampled_from(["", "United Kingdom", "France", "Spain"]),
    device=st.sampled_from(["", "mobile"]),
    hour=st.none() | st.integers(0, 23),
    category=st.sampled_from(["", "Home", "Mugs", "Garden", "Toys"]),
    cart_items=st.lists(item_ids, max_size=2).map(tuple),
)
filters = st.builds(
    Filters,
    category=st.sampled_from(["", "Kitchen", "Candles", "Pots"]),
    in_stock_only=st.booleans(),
    price_min=st.none() | st.sampled_from([0.5, 1.65]),
    price_max=st.none() | st.sampled_from([2.0, 5.0]),
    exclude=item_sets,
)
recent = st.lists(
    st.builds(
        Activity,
        item_id=item_ids,
        event=st.sampled_from(["view", "bid", "purchase"]),
        ts=st.integers(NOW - 90 * DAY, NOW),
    ),
    max_size=4,
).map(tuple)
ks = st.integers(1, 14)
related_queries = st.builds(
    RelatedQuery,
    item_id=item_ids,
    k=ks,
    context=contexts,
    filters=filters,
    user_id=st.none() | st.sampled_from(["u1", "u2", "u4", "nobody"]),
    recent=recent,
    demote=item_sets,
)
cart_queries = st.builds(
    CartQuery,
    items=st.lists(item_ids, min_size=1, max_size=4).map(tuple),
    k=ks,
    context=contexts,
    filters=filters,
    demote=item_sets,
)
user_queries = st.builds(
    UserQuery,
    user_id=st.sampled_from(["u1", "u2", "u3", "u4", "u5", "u6", "nobody"]),
    now=st.integers(NOW - 30 * DAY, NOW + 400 * DAY),
    k=ks,
    context=contexts,
    filters=filters,
    recent=recent,
    demote=item_sets,
)


def passes_filters(index: ServingIndex, item: int, f: Filters) -> bool:
    categories = set(index.catalog.categories[item].tolist())
    price = float(index.catalog.prices[item])
    return (
        (not f.category or f.category in categories)
        and (not f.in_stock_only or bool(index.catalog.available[item]))
        and (f.price_min is None or (not math.isnan(price) and price >= np.float32(f.price_min)))
        and (f.price_max is None or (not math.isnan(price) and price <= np.float32(f.price_max)))
        and index.catalog.ids[item] not in f.exclude
    )


def check_list(
    index: ServingIndex,
    result: Recommendation,
    k: int,
    forbidden: set[str],
    f: Filters,
    *,
    demote: frozenset[str],
) -> None:
    slots = result.items
    assert len(slots) <= k
    assert [s.rank for s in slots] == list(range(1, len(slots) + 1))
    assert len({s.item_id for s in slots}) == len(slots)
    assert not forbidden & {s.item_id for s in slots}
    for slot in slots:
        assert index.catalog.ids[slot.item_index] == slot.item_id
        assert passes_filters(index, slot.item_index, f)
        assert 0.0 <= slot.score <= 1.0 and slot.reason and slot.strategy
    demoted = [s.item_id in demote for s in slots]
    assert demoted == sorted(demoted)  # demoted slots only after all others
    fresh = [s for s in slots if s.item_id not in demote]
    for _, run in groupby(fresh, key=lambda s: s.source):
        scores = [s.score for s in run]
        assert scores == sorted(scores, reverse=True)


def filled(index: ServingIndex, f: Filters, forbidden: set[str]) -> int:
    """How many items a fully filled list can hold: the allowed catalog (global popularity
    lists every item of the tiny bundle, so the fallback reaches them all)."""
    allowed = allowed_mask(index, f)
    return sum(1 for i in np.flatnonzero(allowed) if index.catalog.ids[i] not in forbidden)


@settings(max_examples=300, deadline=None)
@given(related_queries)
def test_related_invariants(tiny_index: ServingIndex, query: RelatedQuery) -> None:
    result = related(tiny_index, query)
    forbidden = {query.item_id, *query.context.cart_items}
    check_list(tiny_index, result, query.k, forbidden, query.filters, demote=query.demote)
    if query.user_id is None and not any(a.event == "purchase" for a in query.recent):
        assert len(result.items) == min(query.k, filled(tiny_index, query.filters, forbidden))
    assert related(tiny_index, query) == result


@settings(max_examples=200, deadline=None)
@given(related_queries, st.integers(0, 4 * 365))
def test_related_without_a_history_does_not_depend_on_the_time(
    tiny_index: ServingIndex, query: RelatedQuery, days: int
) -> None:
    """Why the service leaves `now` out of anonymous related queries (answer cache keys)."""
    anonymous = replace(query, user_id=None, recent=(), now=None)
    assert related(tiny_index, replace(anonymous, now=NOW + days * DAY)) == related(
        tiny_index, anonymous
    )


@settings(max_examples=300, deadline=None)
@given(cart_queries)
def test_cart_invariants(tiny_index: ServingIndex, query: CartQuery) -> None:
    result = cart(tiny_index, query)
    forbidden = {*query.items, *query.context.cart_items}
    check_list(tiny_index, result, query.k, forbidden, query.filters, demote=query.demote)
    assert len(result.items) == min(query.k, filled(tiny_index, query.filters, forbidden))
    assert cart(tiny_index, query) == result


@settings(max_examples=300, deadline=None)
@given(user_queries)
def test_next_purchase_invariants(tiny_index: ServingIndex, query: UserQuery) -> None:
    result = next_purchase(tiny_index, query)
    check_list(
        tiny_index,
        result,
        query.k,
        set(query.context.cart_items),
        query.filters,
        demote=query.demote,
    )
    just_bought = {
        a.item_id for a in query.recent if a.event == "purchase" and a.ts > query.now - DAY
    }
    due_again = {s.item_id for s in result.items if s.strategy == "buy_again_due"}
    assert not (just_bought - due_again) & set(result.item_ids)
    assert next_purchase(tiny_index, query) == result
