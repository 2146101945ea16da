"""Event models, the event store (`open_store(url)`) and contact fatigue."""

from recsvc.events.fatigue import fatigued_items
from recsvc.events.models import (
    AddResult,
    Event,
    EventType,
    Impression,
    ImpressionCount,
    ImpressionItem,
    ItemRow,
    LoggedImpression,
    RecommendationContext,
    RemovedCounts,
    Slate,
    Subject,
    Touch,
    UserActivity,
    VisitorState,
)
from recsvc.events.store import EventStore, open_store

__all__ = [
    "AddResult",
    "Event",
    "EventStore",
    "EventType",
    "Impression",
    "ImpressionCount",
    "ImpressionItem",
    "ItemRow",
    "LoggedImpression",
    "RecommendationContext",
    "RemovedCounts",
    "Slate",
    "Subject",
    "Touch",
    "UserActivity",
    "VisitorState",
    "fatigued_items",
    "open_store",
]
