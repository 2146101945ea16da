"""The event store interface, and `open_store(url)` choosing an implementation by URL scheme.

URLs (the SQLAlchemy convention for paths):
- `sqlite:///relative/path/events.db` and `sqlite:////absolute/path/events.db`: a durable
  SQLite file (WAL, synchronous=FULL); its directory is created if missing.
- `memory://`: a fresh in-memory database running the same SQL, for tests; lost on close.

Every method may raise `EventStoreUnavailableError` (locked, read-only, missing: retry
later, HTTP 503) or `EventStoreError` (anything else the store cannot do). Datetime
arguments must be timezone-aware; a naive one raises `InvalidQueryError`.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Sequence
from datetime import datetime
from pathlib import Path
from typing import Any, Protocol

from recsvc.errors import ConfigError
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
from recsvc.events.sqlite_store import SqliteEventStore

DEFAULT_BUSY_TIMEOUT = 5.0


class EventStore(Protocol):
    """What the service and the evaluation read and write. Implementations are thread-safe."""

    def record_impression(self, impression: Impression) -> None:
        """Store a served recommendation, committed before return. A repeated
        `recommendation_id` is ignored (the first record wins)."""

    def record_impressions(self, impressions: Sequence[LoggedImpression]) -> None:
        """`record_impression` for each (in the store's form, see `Impression.logged`), in
        one transaction (one commit, one fsync): all are committed before return, or none
        is."""

    def add_events(self, events: Sequence[Event]) -> AddResult:
        """Store a batch atomically, committed before return; idempotent by `event_id`, also
        across restarts. An event whose `recommendation_id` names a recorded impression is
        attributed to it; an unknown one is stored anyway, flagged unattributed."""

    def add_event_batches(self, batches: Sequence[Sequence[Event]]) -> list[AddResult]:
        """`add_events` for each batch (one result each, in order), all in one transaction:
        one commit, one fsync for the events of many requests."""

    def recent_user_activity(
        self, subject: Subject, since: datetime, *, limit: int = 100
    ) -> UserActivity:
        """Items the subject viewed, clicked, bid on and purchased at or after `since`
        (event time), at most `limit` items per type, newest first."""

    def impression_counts(self, subject: Subject, since: datetime) -> dict[str, ImpressionCount]:
        """Per item shown to the subject in impressions created at or after `since`: how many
        impressions listed it, and how many click events the subject sent on it since then
        (any click, attributed or not). Items never shown are absent."""

    def visitor_state(
        self,
        subject: Subject,
        activity_since: datetime,
        fatigue_since: datetime,
        *,
        limit: int = 100,
    ) -> VisitorState:
        """`recent_user_activity(subject, activity_since, limit=limit)` and
        `impression_counts(subject, fatigue_since)` in one read: what the service reads for
        every request of a known visitor."""

    def delete_user(self, user_id: str) -> RemovedCounts:
        """Erase the user's events and impressions, and those of every session the user was
        seen in; record the raw id in `erasures` so training can exclude it."""

    def purge_older_than(self, cutoff: datetime) -> RemovedCounts:
        """Delete events with timestamp < cutoff and impressions created < cutoff (retention).
        Erasure records are kept."""

    def deleted_users(self) -> dict[str, datetime]:
        """Every erased user id and the time of its latest erasure."""

    def iter_events(self, since: datetime, until: datetime) -> Iterator[dict[str, Any]]:
        """Events with since <= timestamp < until, by timestamp then arrival: the fields of
        `Event` plus `attributed` (bool, None without recommendation_id) and `received_at`."""

    def iter_impressions(self, since: datetime, until: datetime) -> Iterator[dict[str, Any]]:
        """Impressions with since <= created_at < until, by creation then arrival, each in the
        shape of `Impression.model_dump()` (so `Impression.model_validate(row)` round-trips)."""

    def close(self) -> None:
        """Release connections; later calls raise `EventStoreError`."""


def _open_sqlite(location: str, busy_timeout: float) -> EventStore:
    if not location.startswith("/") or len(location) < 2:
        raise ConfigError(
            f"sqlite URL needs a path: sqlite:///relative/events.db or sqlite:////abs/events.db, "
            f"got sqlite://{location}"
        )
    return SqliteEventStore.open_file(Path(location[1:]), busy_timeout=busy_timeout)


def _open_memory(location: str, busy_timeout: float) -> EventStore:
    if location:
        raise ConfigError(f"memory:// takes no path, got memory://{location}")
    return SqliteEventStore.in_memory()


_OPENERS: dict[str, Callable[[str, float], EventStore]] = {
    "sqlite": _open_sqlite,
    "memory": _open_memory,
}


def open_store(url: str, *, busy_timeout: float = DEFAULT_BUSY_TIMEOUT) -> EventStore:
    """Open (creating and migrating if needed) the store named by `url`.

    `busy_timeout` (seconds) is how long a write waits for another writer's lock before
    raising `EventStoreUnavailableError`. An unknown scheme raises `ConfigError`.
    """
    scheme, separator, location = url.partition("://")
    opener = _OPENERS.get(scheme) if separator else None
    if opener is None:
        raise ConfigError(
            f"event store URL {url!r} is not one of: sqlite:///path/to/events.db, memory://"
        )
    return opener(location, busy_timeout)
