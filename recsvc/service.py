"""What one recommendation request does, between the HTTP route and the ranking code.

assign an arm -> read the visitor's recent activity and fatigue -> rank with the arm's
configuration on the live bundle, or reuse the answer already ranked for the very same
personalised query (`recsvc.answer_cache`) -> log the impression (off the request path)
-> answer. A failing event store degrades personalisation (counted), never the answer.

The ranking time ("now" of buy-again and due items) has a resolution of
`RANKING_TIME_STEP_SECONDS`, one hour: within one step the same query gets the same
answer. It only moves days since a last purchase (repurchase cycles and recency half-lives
are days long; a purchase in the current hour counts as 0 days ago), and the default
context changes its hour of day at the same moments. Recent activity and fatigue act at
once through the query itself.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from dataclasses import dataclass, replace
from datetime import UTC, datetime, timedelta
from functools import lru_cache
from typing import Final, Literal, TypeVar

from recsvc.answer_cache import Answer, AnswerCache, RenderItems
from recsvc.config import Settings
from recsvc.errors import ConfigError, EventStoreError
from recsvc.events import (
    EventStore,
    LoggedImpression,
    RecommendationContext,
    Subject,
    fatigued_items,
)
from recsvc.events.writer import StoreWriter
from recsvc.experiments import Assignment, Experiment
from recsvc.hashing import KeyedHasher
from recsvc.ids import new_id
from recsvc.live import BundleHolder, Live
from recsvc.metrics import Metrics
from recsvc.recommend import (
    DEFAULT_CONFIG,
    POPULAR_CONFIG,
    Activity,
    CartQuery,
    Context,
    RankingConfig,
    Recommendation,
    RelatedQuery,
    ServingIndex,
    UserQuery,
    cart,
    next_purchase,
    related,
)

log = logging.getLogger(__name__)

Endpoint = Literal["related", "cart", "next_purchase"]
QueryT = TypeVar("QueryT", RelatedQuery, CartQuery, UserQuery)
RANKING_TIME_STEP_SECONDS: Final = 3600

# Arm strategies by name: the model (blend) and the popularity control.
RANKING_CONFIGS: dict[str, RankingConfig] = {"blend": DEFAULT_CONFIG, "popular": POPULAR_CONFIG}


@dataclass(frozen=True)
class Personal:
    """What the visitor adds to a query: recent activity (newest first), contact-fatigued
    item ids, and the ranking time in unix seconds."""

    recent: tuple[Activity, ...]
    demote: frozenset[str]
    now: int


@dataclass(frozen=True)
class Served:
    """A ranked answer with everything the response and the impression log need."""

    recommendation_id: str
    model_version: str
    experiment: str
    arm: str
    answer: Answer
    live: Live[ServingIndex]


@dataclass(frozen=True)
class Visitor:
    """Who asks: a signed-in user, an anonymous session, or neither."""

    user_id: str | None = None
    session_id: str | None = None

    @property
    def subject(self) -> Subject | None:
        return Subject.of(self.user_id, self.session_id)


class Recommender:
    """The request-level domain service the routes call."""

    def __init__(
        self,
        settings: Settings,
        holder: BundleHolder[ServingIndex],
        store: EventStore,
        writer: StoreWriter,
        metrics: Metrics,
        render_items: RenderItems,
    ) -> None:
        self.settings = settings
        self.render_items = render_items
        self.holder = holder
        self.store = store
        self.writer = writer
        self.metrics = metrics
        self.answers = AnswerCache(settings.answer_cache_size, metrics)
        self.experiment = Experiment(settings.experiment_name, tuple(settings.arms))
        self.hasher = KeyedHasher.from_secret(settings.user_hash_key.get_secret_value())
        for arm in self.experiment.arms:
            if (arm.strategy or "blend") not in RANKING_CONFIGS:
                raise ConfigError(
                    f"arm {arm.name!r}: unknown strategy {arm.strategy!r}; "
                    f"known: {sorted(RANKING_CONFIGS)}"
                )

    def related(self, query: RelatedQuery, visitor: Visitor) -> Served:
        def personalise(personal: Personal) -> RelatedQuery:
            recent = query.recent + personal.recent
            # the ranking time only acts on a history (a user's or recent activity); without
            # one, leaving it out keeps the answer reusable from one minute to the next
            now = personal.now if query.user_id is not None or recent else None
            if (now, recent, personal.demote) == (query.now, query.recent, query.demote):
                return query  # an anonymous product page: nothing to personalise
            return replace(query, now=now, recent=recent, demote=personal.demote)

        return self._serve("related", visitor, query.context, personalise, related)

    def cart(self, query: CartQuery, visitor: Visitor) -> Served:
        def personalise(personal: Personal) -> CartQuery:
            return replace(query, demote=personal.demote) if personal.demote else query

        return self._serve("cart", visitor, query.context, personalise, cart)

    def next_purchase(self, query: UserQuery, visitor: Visitor) -> Served:
        def personalise(personal: Personal) -> UserQuery:
            return replace(
                query,
                now=personal.now,
                recent=query.recent + personal.recent,
                demote=personal.demote,
            )

        return self._serve("next_purchase", visitor, query.context, personalise, next_purchase)

    def _serve(
        self,
        endpoint: Endpoint,
        visitor: Visitor,
        context: Context,
        personalise: Callable[[Personal], QueryT],
        rank: Callable[[ServingIndex, QueryT, RankingConfig], Recommendation],
    ) -> Served:
        """Assign the arm, read the visitor's activity, rank (or reuse), log the impression."""
        live = self.holder.current
        recommendation_id = new_id()
        assignment = self.experiment.assign(
            visitor.user_id or visitor.session_id or recommendation_id
        )
        strategy = assignment.arm.strategy or "blend"
        config = RANKING_CONFIGS[strategy]
        now = datetime.now(UTC)
        recent, demote = self._activity(visitor.subject, now)
        query = personalise(Personal(recent, demote, self._ranking_time(live, now)))
        # the query's repr: equal for equal queries (dataclasses of plain values; a set
        # printed in another order only costs a miss), and a string the GC does not track
        key = f"{strategy}:{query!r}"
        answer = self.answers.answer(
            live,
            endpoint,
            key,
            lambda: Answer.of(
                rank(live.index, query, config),
                live.index,
                self.render_items,
                assignment.propensity,
            ),
        )
        served = Served(
            recommendation_id,
            live.version,
            self.experiment.name,
            assignment.arm.name,
            answer,
            live,
        )
        self._log(endpoint, visitor, context, assignment, served, now)
        return served

    def _ranking_time(self, live: Live[ServingIndex], now: datetime) -> int:
        """Unix seconds the ranking treats as now: server time rounded down to
        `RANKING_TIME_STEP_SECONDS`, or (clock "bundle", for demos on historical data) the
        end of the bundle's data window."""
        end = live.bundle.manifest.data_window.get("end")
        if self.settings.clock == "bundle" and end:
            return int(datetime.fromisoformat(end).timestamp())
        seconds = int(now.timestamp())
        return seconds - seconds % RANKING_TIME_STEP_SECONDS

    def _activity(
        self, subject: Subject | None, now: datetime
    ) -> tuple[tuple[Activity, ...], frozenset[str]]:
        if subject is None:
            return (), frozenset()
        settings = self.settings
        try:
            activity, counts = self.store.visitor_state(
                subject,
                now - timedelta(days=settings.recent_activity_days),
                now - timedelta(hours=settings.fatigue_window_hours),
            )
        except EventStoreError as exc:
            self.metrics.fallbacks.labels("event_store_unavailable").inc()
            log.warning("recent activity unavailable", extra={"error": str(exc)})
            return (), frozenset()
        recent = tuple(
            Activity(touch.item_id, event, int(touch.at.timestamp()))
            for event, touches in (
                ("purchase", activity.purchased),
                ("bid", activity.bid),
                ("view", activity.clicked + activity.viewed),
            )
            for touch in touches
        )
        return recent, fatigued_items(counts, settings.fatigue_max_impressions)

    def _log(
        self,
        endpoint: Endpoint,
        visitor: Visitor,
        context: Context,
        assignment: Assignment,
        served: Served,
        now: datetime,
    ) -> None:
        for strategy, count in served.answer.strategy_counts:
            self.metrics.child(self.metrics.slots, endpoint, strategy).inc(count)
        if log.isEnabledFor(logging.DEBUG):  # the impression log is the record of what was served
            log.debug(
                "recommendation served",
                extra={
                    "endpoint": endpoint,
                    "recommendation_id": served.recommendation_id,
                    "arm": served.arm,
                    "model_version": served.model_version,
                    "user": self.hasher(visitor.user_id) if visitor.user_id else None,
                    "session": self.hasher(visitor.session_id) if visitor.session_id else None,
                    "items": len(served.answer.rows),
                },
            )
        if not served.answer.rows:
            return
        # every value is ours and already validated (the API's schemas, the ranking's
        # invariants: distinct items, ranks 1..n)
        impression = LoggedImpression(
            recommendation_id=served.recommendation_id,
            user_id=visitor.user_id,
            session_id=visitor.session_id,
            endpoint=endpoint,
            placement=context.page_type or endpoint,
            experiment=served.experiment,
            arm=served.arm,
            model_version=served.model_version,
            slate=served.answer.slate_for(assignment.propensity),
            context_json=logged_context(context),
            created_at=now,
        )
        self.writer.submit(impression)


@lru_cache(maxsize=4096)
def logged_context(context: Context) -> str:
    """The impression log's context (JSON of `RecommendationContext`) of a ranking context
    (few distinct ones: remembered)."""
    return RecommendationContext.model_construct(
        page_type=context.page_type or None,
        device=context.device or None,
        country=context.country or None,
        channel=context.channel or None,
        hour=context.hour,
        cart=context.cart_items,
    ).model_dump_json()


def server_hour() -> int:
    """The current hour (UTC), the default `context.hour`."""
    return time.gmtime().tm_hour
