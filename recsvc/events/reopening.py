"""An event store that may be unavailable at start-up without taking the service down.

`ReopeningStore(url)` opens `open_store(url)` at once if it can. If the store is unavailable
(a read-only volume, a missing permission, a lock held through the busy timeout:
`EventStoreUnavailableError`), the service starts anyway: every call raises that error, so
event posts get 503 and recommendations are served without recent activity, and a later
call tries to open the store again, at most once per `retry_seconds`. A bad URL
(`ConfigError`) or a store newer than this code (`EventStoreError`) still fails at once.
"""

from __future__ import annotations

import contextlib
import logging
import threading
import time
from collections.abc import Iterator, Sequence
from datetime import datetime
from typing import Any

from recsvc.errors import EventStoreUnavailableError
from recsvc.events.models import (
    AddResult,
    Event,
    Impression,
    ImpressionCount,
    LoggedImpression,
    RemovedCounts,
    Subject,
    UserActivity,
    VisitorState,
)
from recsvc.events.store import EventStore, open_store

log = logging.getLogger(__name__)

RETRY_SECONDS = 5.0


class ReopeningStore:
    """An `EventStore` over `open_store(url)` that (re)opens it on demand; thread-safe."""

    def __init__(self, url: str, *, retry_seconds: float = RETRY_SECONDS) -> None:
        self._url = url
        self._retry_seconds = retry_seconds
        self._lock = threading.Lock()
        self._store: EventStore | None = None
        self._failure = ""
        self._next_attempt = 0.0
        with contextlib.suppress(EventStoreUnavailableError):  # logged; calls answer 503
            self._current()

    def _current(self) -> EventStore:
        with self._lock:
            if self._store is not None:
                return self._store
            now = time.monotonic()
            if self._failure and now < self._next_attempt:
                raise EventStoreUnavailableError(self._failure)
            try:
                self._store = open_store(self._url)
            except EventStoreUnavailableError as exc:
                self._failure, self._next_attempt = str(exc), now + self._retry_seconds
                log.warning("event store unavailable", extra={"error": self._failure})
                raise
            if self._failure:
                log.info("event store available again")
            return self._store

    def record_impression(self, impression: Impression) -> None:
        self._current().record_impression(impression)

    def record_impressions(self, impressions: Sequence[LoggedImpression]) -> None:
        self._current().record_impressions(impressions)

    def add_events(self, events: Sequence[Event]) -> AddResult:
        return self._current().add_events(events)

    def add_event_batches(self, batches: Sequence[Sequence[Event]]) -> list[AddResult]:
        return self._current().add_event_batches(batches)

    def recent_user_activity(
        self, subject: Subject, since: datetime, *, limit: int = 100
    ) -> UserActivity:
        return self._current().recent_user_activity(subject, since, limit=limit)

    def impression_counts(self, subject: Subject, since: datetime) -> dict[str, ImpressionCount]:
        return self._current().impression_counts(subject, since)

    def visitor_state(
        self,
        subject: Subject,
        activity_since: datetime,
        fatigue_since: datetime,
        *,
        limit: int = 100,
    ) -> VisitorState:
        return self._current().visitor_state(subject, activity_since, fatigue_since, limit=limit)

    def delete_user(self, user_id: str) -> RemovedCounts:
        return self._current().delete_user(user_id)

    def purge_older_than(self, cutoff: datetime) -> RemovedCounts:
        return self._current().purge_older_than(cutoff)

    def deleted_users(self) -> dict[str, datetime]:
        return self._current().deleted_users()

    def iter_events(self, since: datetime, until: datetime) -> Iterator[dict[str, Any]]:
        return self._current().iter_events(since, until)

    def iter_impressions(self, since: datetime, until: datetime) -> Iterator[dict[str, Any]]:
        return self._current().iter_impressions(since, until)

    def close(self) -> None:
        with self._lock:
            if self._store is not None:
                self._store.close()
