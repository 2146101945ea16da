"""Enforces the event store's retention: rows older than N days are purged daily."""

from __future__ import annotations

import logging
import threading
from datetime import UTC, datetime, timedelta

from recsvc.errors import EventStoreError
from recsvc.events.store import EventStore

log = logging.getLogger(__name__)

PURGE_INTERVAL_SECONDS = 24 * 3600.0


class RetentionJob:
    """Purges once at start, then every `interval` seconds, in a daemon thread."""

    def __init__(
        self, store: EventStore, days: int, interval: float = PURGE_INTERVAL_SECONDS
    ) -> None:
        self._store = store
        self._days = days
        self._interval = interval
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="retention", daemon=True)

    def start(self) -> None:
        self._thread.start()

    def stop(self) -> None:
        self._stop.set()
        self._thread.join(timeout=5)

    def purge_now(self) -> None:
        cutoff = datetime.now(UTC) - timedelta(days=self._days)
        try:
            removed = self._store.purge_older_than(cutoff)
        except EventStoreError as exc:
            log.warning("retention purge failed", extra={"error": str(exc)})
            return
        log.info(
            "retention purge",
            extra={
                "events": removed.events,
                "impressions": removed.impressions,
                "days": self._days,
            },
        )

    def _run(self) -> None:
        self.purge_now()
        while not self._stop.wait(self._interval):
            self.purge_now()
