"""Query validation and hour bands."""

from __future__ import annotations

import pytest

from recsvc.errors import InvalidQueryError
from recsvc.recommend import (
    HOUR_BANDS,
    Activity,
    CartQuery,
    Context,
    Filters,
    RelatedQuery,
    UserQuery,
    hour_band,
)


@pytest.mark.parametrize("k", [0, 101, -1, True, 2.5, "10"])
def test_k_out_of_range_names_the_field(k: object) -> None:
    with pytest.raises(InvalidQueryError, match=r"^k:"):
        RelatedQuery("i00", k=k)  # type: ignore[arg-type]


@pytest.mark.parametrize("k", [1, 100])
def test_k_bounds_are_inclusive(k: int) -> None:
    assert RelatedQuery("i00", k=k).k == k


@pytest.mark.parametrize(
    ("build", "field"),
    [
        (lambda: RelatedQuery(""), "item_id"),
        (lambda: RelatedQuery("   "), "item_id"),
        (lambda: RelatedQuery("x" * 257), "item_id"),
        (lambda: RelatedQuery("i00", user_id=""), "user_id"),
        (lambda: RelatedQuery("i00", demote=frozenset({""})), "demote"),
        (lambda: CartQuery(()), "items"),
        (lambda: CartQuery(("i00", "")), "items"),
        (lambda: UserQuery(None, now=0), "user_id"),
        (lambda: UserQuery("u1", now=-1), "now"),
        (lambda: UserQuery(None, now=0, session_id=""), "session_id"),
        (lambda: Context(hour=24), "context.hour"),
        (lambda: Context(hour=-1), "context.hour"),
        (lambda: Context(cart_items=("",)), "context.cart_items"),
        (lambda: Filters(price_min=-1.0), "filters.price_min"),
        (lambda: Filters(price_max=float("nan")), "filters.price_max"),
        (lambda: Filters(price_min=3.0, price_max=2.0), "filters.price_min"),
        (lambda: Filters(exclude=frozenset({""})), "filters.exclude"),
        (lambda: Activity("i00", "click", 0), "recent.event"),
        (lambda: Activity("", "view", 0), "recent.item_id"),
    ],
)
def test_invalid_fields_are_named(build: object, field: str) -> None:
    with pytest.raises(InvalidQueryError, match=f"^{field}:"):
        build()  # type: ignore[operator]


def test_a_session_alone_is_a_valid_user_query() -> None:
    assert UserQuery(None, now=0, session_id="s1").session_id == "s1"


def test_equal_price_bounds_are_a_valid_band() -> None:
    assert Filters(price_min=2.0, price_max=2.0).price_max == 2.0


@pytest.mark.parametrize(
    ("hour", "band"),
    [
        (0, "night"),
        (5, "night"),
        (6, "morning"),
        (11, "morning"),
        (12, "afternoon"),
        (17, "afternoon"),
        (18, "evening"),
        (23, "evening"),
    ],
)
def test_hour_band_boundaries(hour: int, band: str) -> None:
    assert hour_band(hour) == band


def test_every_hour_has_exactly_one_band_of_six_hours() -> None:
    bands = [hour_band(hour) for hour in range(24)]
    labels = [label for label, _, _ in HOUR_BANDS]
    assert {band: bands.count(band) for band in labels} == dict.fromkeys(labels, 6)
    assert all(hour_band(first) == hour_band(last) == label for label, first, last in HOUR_BANDS)
    with pytest.raises(ValueError, match=r"0\.\.23"):
        hour_band(24)
