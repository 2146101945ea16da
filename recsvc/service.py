"""What one recommendation request does, between the HTTP route and the ranking code.

assign an arm -> read the visitor's recent activity and fatigue -> rank with the arm's
configuration on the live bundle -> log the impression (off the request path) -> answer.
A failing event store degrades personalisation (counted), never the answer.
"""

from __future__ import annotations

import logging
import math
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass, replace
from datetime import UTC, datetime, timedelta
from typing import Literal

from recsvc.config import Settings
from recsvc.errors import ConfigError, EventStoreError
from recsvc.events import (
    EventStore,
    Impression,
    ImpressionItem,
    RecommendationContext,
    Subject,
    fatigued_items,
)
from recsvc.events.impression_log import ImpressionLog
from recsvc.experiments import Assignment, Experiment
from recsvc.hashing import KeyedHasher
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
    Slot,
    UserQuery,
    cart,
    next_purchase,
    related,
)

log = logging.getLogger(__name__)

Endpoint = Literal["related", "cart", "next_purchase"]
# rank(index, config, recent activity, items to demote, now in unix seconds) -> ranked list
Rank = Callable[
    [ServingIndex, RankingConfig, tuple[Activity, ...], frozenset[str], int], Recommendation
]

# Arm strategies by name: the model (blend) and the popularity control.
RANKING_CONFIGS: dict[str, RankingConfig] = {"blend": DEFAULT_CONFIG, "popular": POPULAR_CONFIG}


@dataclass(frozen=True)
class Served:
    """A ranked answer with everything the response and the impression log need."""

    recommendation_id: str
    model_version: str
    experiment: str
    arm: str
    items: list[Slot]
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
        impressions: ImpressionLog,
        metrics: Metrics,
    ) -> None:
        self.settings = settings
        self.holder = holder
        self.store = store
        self.impressions = impressions
        self.metrics = metrics
        self.experiment = Experiment(settings.experiment_name, tuple(settings.arms))
        self.hasher = KeyedHasher.from_secret(settings.user_hash_key.get_secret_value())
        for arm in self.experiment.arms:
            if (arm.strategy or "blend") not in RANKING_CONFIGS:
                raise ConfigError(
                    f"arm {arm.name!r}: unknown strategy {arm.strategy!r}; "
                    f"known: {sorted(RANKING_CONFIGS)}"
                )

    def related(self, query: RelatedQuery, visitor: Visitor) -> Served:
        return self._serve(
            "related",
            visitor,
            query.context,
            lambda index, config, recent, demote, now: related(
                index, replace(query, now=now, recent=query.recent + recent, demote=demote), config
            ),
        )

    def cart(self, query: CartQuery, visitor: Visitor) -> Served:
        return self._serve(
            "cart",
            visitor,
            query.context,
            lambda index, config, _recent, demote, _now: cart(
                index, replace(query, demote=demote), config
            ),
        )

    def next_purchase(self, query: UserQuery, visitor: Visitor) -> Served:
        return self._serve(
            "next_purchase",
            visitor,
            query.context,
            lambda index, config, recent, demote, now: next_purchase(
                index,
                replace(query, now=now, recent=query.recent + recent, demote=demote),
                config,
            ),
        )

    def _serve(self, endpoint: Endpoint, visitor: Visitor, context: Context, rank: Rank) -> Served:
        """Assign the arm, read the visitor's activity, rank, log the impression."""
        live = self.holder.current
        recommendation_id = uuid.uuid4().hex
        assignment = self.experiment.assign(
            visitor.user_id or visitor.session_id or recommendation_id
        )
        config = RANKING_CONFIGS[assignment.arm.strategy or "blend"]
        now = datetime.now(UTC)
        recent, demote = self._activity(visitor.subject, now)
        result = rank(live.index, config, recent, demote, self._ranking_time(live, now))
        served = Served(
            recommendation_id,
            live.version,
            self.experiment.name,
            assignment.arm.name,
            result.items,
            live,
        )
        self._log(endpoint, visitor, context, assignment, served, now)
        return served

    def _ranking_time(self, live: Live[ServingIndex], now: datetime) -> int:
        """Unix seconds the ranking treats as now: server time, or (clock "bundle", for
        demos on historical data) the end of the bundle's data window."""
        end = live.bundle.manifest.data_window.get("end")
        if self.settings.clock == "bundle" and end:
            return int(datetime.fromisoformat(end).timestamp())
        return int(now.timestamp())

    def _activity(
        self, subject: Subject | None, now: datetime
    ) -> tuple[tuple[Activity, ...], frozenset[str]]:
        if subject is None:
            return (), frozenset()
        settings = self.settings
        try:
            activity = self.store.recent_user_activity(
                subject, now - timedelta(days=settings.recent_activity_days)
            )
            counts = self.store.impression_counts(
                subject, now - timedelta(hours=settings.fatigue_window_hours)
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
        for slot in served.items:
            self.metrics.slots.labels(endpoint, slot.strategy).inc()
        log.info(
            "recommendation served",
            extra={
                "endpoint": endpoint,
                "recommendation_id": served.recommendation_id,
                "arm": served.arm,
                "model_version": served.model_version,
                "user": self.hasher(visitor.user_id) if visitor.user_id else None,
                "session": self.hasher(visitor.session_id) if visitor.session_id else None,
                "items": len(served.items),
            },
        )
        if not served.items:
            return
        impression = Impression(
            recommendation_id=served.recommendation_id,
            user_id=visitor.user_id,
            session_id=visitor.session_id,
            endpoint=endpoint,
            placement=context.page_type or endpoint,
            experiment=served.experiment,
            arm=served.arm,
            model_version=served.model_version,
            items=tuple(
                ImpressionItem(
                    item_id=slot.item_id,
                    rank=slot.rank,
                    score=slot.score if math.isfinite(slot.score) else 0.0,
                    strategy=slot.strategy,
                    propensity=assignment.propensity,
                )
                for slot in served.items
            ),
            context=RecommendationContext(
                page_type=context.page_type or None,
                device=context.device or None,
                country=context.country or None,
                channel=context.channel or None,
                hour=context.hour,
                cart=context.cart_items,
            ),
            created_at=now,
        )
        self.impressions.submit(impression)


def server_hour() -> int:
    """The current hour (UTC), the default `context.hour`."""
    return time.gmtime().tm_hour
