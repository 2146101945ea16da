"""Query, context and result types of the ranking functions.

Queries validate themselves on construction and raise `InvalidQueryError` naming the
field, so a ranking function never sees an out-of-range `k`, hour or price band. Item and
user ids are external ids (as in `catalog/item_ids`, `users/user_ids`); ids the bundle
does not know are legal and lead to named fallback strategies, not errors.
"""

from __future__ import annotations

import math
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Final, NamedTuple

from recsvc.errors import InvalidQueryError

K_MIN: Final = 1
K_MAX: Final = 100
DEFAULT_K: Final = 10
MAX_ID_LENGTH: Final = 256
ACTIVITY_EVENTS: Final = ("view", "bid", "purchase")


def check_id(value: object, field_name: str) -> None:
    """Raise `InvalidQueryError` unless `value` is a non-blank id of at most 256 chars."""
    if not isinstance(value, str) or not value.strip() or len(value) > MAX_ID_LENGTH:
        raise InvalidQueryError(
            f"{field_name}: expected a non-empty id of at most {MAX_ID_LENGTH} characters, "
            f"got {value!r}"
        )


def _check_ids(values: Iterable[object], field_name: str) -> None:
    for value in values:
        check_id(value, field_name)


def _check_k(k: object) -> None:
    if isinstance(k, bool) or not isinstance(k, int) or not K_MIN <= k <= K_MAX:
        raise InvalidQueryError(f"k: expected an integer within {K_MIN}..{K_MAX}, got {k!r}")


def _check_now(now: object) -> None:
    if isinstance(now, bool) or not isinstance(now, int) or now < 0:
        raise InvalidQueryError(f"now: expected unix seconds ≥ 0, got {now!r}")


@dataclass(frozen=True)
class Context:
    """Where and when the request happens; "" means unknown.

    `hour` is 0..23 in server time; the caller fills it (None disables hour-band sources).
    `category` is the category the page shows (as in `Filters`), used by category fallbacks.
    `cart_items` are the item ids in the visitor's cart, excluded from every list.
    """

    page_type: str = ""
    device: str = ""
    country: str = ""
    channel: str = ""
    hour: int | None = None
    category: str = ""
    cart_items: tuple[str, ...] = ()

    def __post_init__(self) -> None:
        if self.hour is not None and (
            isinstance(self.hour, bool)
            or not isinstance(self.hour, int)
            or not 0 <= self.hour <= 23
        ):
            raise InvalidQueryError(f"context.hour: expected 0..23, got {self.hour!r}")
        _check_ids(self.cart_items, "context.cart_items")


@dataclass(frozen=True)
class Filters:
    """Constraints on recommended items.

    `category` matches an item when any of its 4 category levels equals it, or its dotted
    level path does ("Home.Candles"). A price band
    (`price_min` and/or `price_max`, inclusive) excludes items whose price is unknown.
    `exclude` holds item ids never to return.
    """

    category: str = ""
    in_stock_only: bool = False
    price_min: float | None = None
    price_max: float | None = None
    exclude: frozenset[str] = frozenset()

    def __post_init__(self) -> None:
        for name in ("price_min", "price_max"):
            value = getattr(self, name)
            if value is not None and (not math.isfinite(value) or value < 0):
                raise InvalidQueryError(f"filters.{name}: expected a finite price ≥ 0")
        if (
            self.price_min is not None
            and self.price_max is not None
            and self.price_min > self.price_max
        ):
            raise InvalidQueryError("filters.price_min: must not exceed filters.price_max")
        _check_ids(self.exclude, "filters.exclude")


@dataclass(frozen=True)
class Activity:
    """One recent event of the visitor: `event` in view/bid/purchase, `ts` unix seconds."""

    item_id: str
    event: str
    ts: int

    def __post_init__(self) -> None:
        check_id(self.item_id, "recent.item_id")
        if self.event not in ACTIVITY_EVENTS:
            raise InvalidQueryError(
                f"recent.event: expected one of {ACTIVITY_EVENTS}, got {self.event!r}"
            )


@dataclass(frozen=True)
class RelatedQuery:
    """ "Customers also bought" for one item. `recent` seeds extra (lower-weight) candidates;
    a known `user_id` excludes the items that user bought and would not buy again. `now`
    (unix seconds, as in `UserQuery`) lets history sources such as "buy_again" rank the
    known user's own purchases; without it they give nothing."""

    item_id: str
    k: int = DEFAULT_K
    context: Context = field(default_factory=Context)
    filters: Filters = field(default_factory=Filters)
    user_id: str | None = None
    recent: tuple[Activity, ...] = ()
    demote: frozenset[str] = frozenset()
    now: int | None = None

    def __post_init__(self) -> None:
        check_id(self.item_id, "item_id")
        _check_k(self.k)
        if self.user_id is not None:
            check_id(self.user_id, "user_id")
        _check_ids(self.demote, "demote")
        if self.now is not None:
            _check_now(self.now)


@dataclass(frozen=True)
class CartQuery:
    """ "Frequently bought together" for the items of a cart (at least one id)."""

    items: tuple[str, ...]
    k: int = DEFAULT_K
    context: Context = field(default_factory=Context)
    filters: Filters = field(default_factory=Filters)
    user_id: str | None = None
    demote: frozenset[str] = frozenset()

    def __post_init__(self) -> None:
        if not self.items:
            raise InvalidQueryError("items: a cart query needs at least one item id")
        _check_ids(self.items, "items")
        _check_k(self.k)
        if self.user_id is not None:
            check_id(self.user_id, "user_id")
        _check_ids(self.demote, "demote")


@dataclass(frozen=True)
class UserQuery:
    """Next purchase for a user or an anonymous session; `now` is the query time in unix
    seconds (server time in the service, the replayed event's time offline)."""

    user_id: str | None
    now: int
    k: int = DEFAULT_K
    session_id: str | None = None
    context: Context = field(default_factory=Context)
    filters: Filters = field(default_factory=Filters)
    recent: tuple[Activity, ...] = ()
    demote: frozenset[str] = frozenset()

    def __post_init__(self) -> None:
        if self.user_id is None and self.session_id is None:
            raise InvalidQueryError("user_id: give a user_id or a session_id")
        if self.user_id is not None:
            check_id(self.user_id, "user_id")
        if self.session_id is not None:
            check_id(self.session_id, "session_id")
        _check_now(self.now)
        _check_k(self.k)
        _check_ids(self.demote, "demote")


class Slot(NamedTuple):
    """One recommended item (a named tuple: built for every slot of every ranked answer,
    it costs half a frozen dataclass).

    `score` is in [0, 1], relative to the best candidate of the chain step that filled the
    slot; it is non-increasing within a run of slots of the same `source`. `source` is the
    chain step (registry name) that filled the slot; `strategy` is the evidence behind it:
    the source itself, or for blended steps the component that contributed most.
    """

    item_id: str
    rank: int
    score: float
    strategy: str
    reason: str
    item_index: int
    source: str


@dataclass(frozen=True)
class Recommendation:
    """An ordered list of at most k distinct items, ranks 1..n."""

    items: list[Slot]

    @property
    def item_ids(self) -> list[str]:
        return [slot.item_id for slot in self.items]

    @property
    def strategies(self) -> list[str]:
        return [slot.strategy for slot in self.items]
