"""Domain models of the event store: feedback events, the impression log, and query results.

Ids are opaque strings of 1–128 characters. Every datetime is timezone-aware and normalised
to UTC on validation; a naive datetime is rejected. Ranks and positions are 1-based.
"""

from __future__ import annotations

import hashlib
import math
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from itertools import pairwise
from typing import Annotated, Literal, NamedTuple, Self

from pydantic import (
    AfterValidator,
    AwareDatetime,
    BaseModel,
    ConfigDict,
    Field,
    Strict,
    StringConstraints,
    model_validator,
)

from recsvc.compact_json import compact_json
from recsvc.errors import InvalidQueryError

EventType = Literal["impression", "view", "click", "bid", "purchase"]
"""`impression`: the client rendered a recommended item; `view`: a product page view;
`click`: a click on an item; `bid`: add-to-cart or order placed; `purchase`: a paid order line."""

ActivityType = Literal["view", "click", "bid", "purchase"]
ACTIVITY_TYPES: tuple[ActivityType, ...] = ("view", "click", "bid", "purchase")
AMOUNT_TYPES: frozenset[EventType] = frozenset({"bid", "purchase"})

Id = Annotated[str, StringConstraints(min_length=1, max_length=128)]
Label = Annotated[str, StringConstraints(min_length=1, max_length=64)]
UtcDatetime = Annotated[AwareDatetime, AfterValidator(lambda value: value.astimezone(UTC))]


class _Frozen(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")


class Event(_Frozen):
    """One feedback event sent by a client. Idempotent by `event_id`.

    At least one of `user_id` and `session_id` is set. `amount` (≥ 0, finite, the money
    value) is only allowed on `bid` and `purchase`. `position` is the 1-based rank at which
    the item was shown when the event answers a recommendation.
    """

    event_id: Id
    type: EventType
    user_id: Id | None = None
    session_id: Id | None = None
    item_id: Id
    timestamp: UtcDatetime
    recommendation_id: Id | None = None
    amount: Annotated[float, Strict(), Field(ge=0, allow_inf_nan=False)] | None = None
    position: Annotated[int, Field(ge=1)] | None = None

    @model_validator(mode="after")
    def _check_identity_and_amount(self) -> Self:
        if self.user_id is None and self.session_id is None:
            raise ValueError("an event needs a user_id or a session_id")
        if self.amount is not None and self.type not in AMOUNT_TYPES:
            raise ValueError(f"amount is only allowed on bid and purchase events, not {self.type}")
        return self


class ImpressionItem(_Frozen):
    """One slot of a served recommendation.

    `propensity` is the probability that the logging policy served this item in this slot
    (for a deterministic ranker inside an experiment arm: the arm's assignment propensity).
    """

    item_id: Id
    rank: Annotated[int, Field(ge=1)]
    score: Annotated[float, Field(allow_inf_nan=False)]
    strategy: Label
    propensity: Annotated[float, Field(gt=0, le=1)]


class RecommendationContext(_Frozen):
    """Request context logged with an impression; every field is optional."""

    page_type: str | None = None
    device: str | None = None
    country: str | None = None
    channel: str | None = None
    hour: Annotated[int, Field(ge=0, le=23)] | None = None
    cart: tuple[Id, ...] = ()


class Impression(_Frozen):
    """The log record of one served recommendation (written by the service, never by clients).

    `user_id` is the raw id: the store is the system of record and training joins on it;
    logs and metrics carry `recsvc.hashing` digests instead. `items` are in rank order with
    strictly increasing ranks and distinct item ids; the list may be empty.
    """

    recommendation_id: Id
    user_id: Id | None = None
    session_id: Id | None = None
    endpoint: Label
    placement: Label | None = None
    experiment: Label | None = None
    arm: Label | None = None
    model_version: Id
    items: tuple[ImpressionItem, ...]
    context: RecommendationContext = RecommendationContext()
    created_at: UtcDatetime

    def logged(self) -> LoggedImpression:
        """This impression in the store's form."""
        return LoggedImpression(
            recommendation_id=self.recommendation_id,
            user_id=self.user_id,
            session_id=self.session_id,
            endpoint=self.endpoint,
            placement=self.placement,
            experiment=self.experiment,
            arm=self.arm,
            model_version=self.model_version,
            slate=Slate.of(
                [(it.item_id, it.rank, it.score, it.strategy, it.propensity) for it in self.items]
            ),
            context_json=self.context.model_dump_json(),
            created_at=self.created_at,
        )

    @model_validator(mode="after")
    def _check_items(self) -> Self:
        ranks = [item.rank for item in self.items]
        if any(later <= earlier for earlier, later in pairwise(ranks)):
            raise ValueError("impression items must be in strictly increasing rank order")
        if len({item.item_id for item in self.items}) != len(self.items):
            raise ValueError("an impression lists each item at most once")
        return self


ItemRow = tuple[str, int, float, str, float]
"""An impression item in the store's form: (item_id, rank, score, strategy, propensity)."""


class Slate(NamedTuple):
    """The items of an impression as the store keeps them: a JSON array of `ItemRow`s and
    its digest. Every impression of the same answer (an answer-cache hit) shares one slate,
    stored once, so logging it costs one row instead of one per item. A plain tuple of
    strings: the answer cache keeps it without the cyclic GC tracking it."""

    slate_id: str
    items_json: str

    @classmethod
    def of(cls, items: Sequence[ItemRow]) -> Slate:
        """The slate of `items`; raises `ValueError` for a non-finite score or propensity."""
        if not all(math.isfinite(row[2]) and math.isfinite(row[4]) for row in items):
            raise ValueError("a slate's scores and propensities must be finite")
        text = compact_json(items)
        return cls(hashlib.blake2b(text, digest_size=16).hexdigest(), text.decode())


@dataclass(frozen=True, slots=True)
class LoggedImpression:
    """An impression in the form the store writes it (`EventStore.record_impressions`).

    The fields of `Impression`, its items as a `Slate` and its context as its JSON text.
    The service logs one per answer and builds it from values it has already validated, so
    this is a slotted dataclass of plain values rather than a model with a model per item
    (eleven `model_construct` calls cost a third of a cached answer).
    `Impression.logged()` gives it for a validated impression.
    """

    recommendation_id: str
    user_id: str | None
    session_id: str | None
    endpoint: str
    placement: str | None
    experiment: str | None
    arm: str | None
    model_version: str
    slate: Slate
    context_json: str
    created_at: datetime


@dataclass(frozen=True)
class Subject:
    """Whose activity a query reads: a signed-in user or an anonymous session."""

    kind: Literal["user", "session"]
    id: str

    def __post_init__(self) -> None:
        if not self.id:
            raise InvalidQueryError(f"a {self.kind} id must not be empty")

    @classmethod
    def user(cls, user_id: str) -> Subject:
        return cls("user", user_id)

    @classmethod
    def session(cls, session_id: str) -> Subject:
        return cls("session", session_id)

    @classmethod
    def of(cls, user_id: str | None, session_id: str | None) -> Subject | None:
        """The user if known, else the session, else None (nothing to personalise on)."""
        if user_id:
            return cls.user(user_id)
        return cls.session(session_id) if session_id else None


@dataclass(frozen=True)
class Touch:
    """The latest time a subject touched an item with one activity type."""

    item_id: str
    at: datetime


@dataclass(frozen=True)
class UserActivity:
    """Recent activity of one subject: per type, one `Touch` per item (its latest time),
    newest first, ties by item id ascending."""

    viewed: tuple[Touch, ...] = ()
    clicked: tuple[Touch, ...] = ()
    bid: tuple[Touch, ...] = ()
    purchased: tuple[Touch, ...] = ()


class ImpressionCount(NamedTuple):
    """How often an item was shown to a subject, and how often the subject clicked it."""

    shown: int
    clicked: int


class VisitorState(NamedTuple):
    """What the service reads about a visitor for each request, in one read: recent
    activity and, per item shown in the fatigue window, its `ImpressionCount`."""

    activity: UserActivity
    impressions: dict[str, ImpressionCount]


@dataclass(frozen=True)
class AddResult:
    """Outcome of `add_events`: `accepted + duplicates` is the batch size.

    `duplicates` counts events whose id was already stored (or repeated in the batch);
    `unattributed` counts accepted events whose `recommendation_id` names no impression.
    """

    accepted: int
    duplicates: int
    unattributed: int


@dataclass(frozen=True)
class RemovedCounts:
    """Rows removed by an erasure or a retention purge (impressions count recommendations)."""

    events: int
    impressions: int
