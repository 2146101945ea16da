"""The event store's one writer thread: the service's impression log, written off the
request path, and the storefront's events, group-committed.

A recommendation is answered first and logged just after; before storing feedback the
event route calls `flush_for()` with the recommendation ids it cites, so a click is never
attributed before its impression is written (and waits only if that impression is still
queued). The writer takes whatever impressions have queued up (at most `max_batch`) and
stores them in one transaction, at most one such commit per `commit_interval` unless a
caller is waiting for them, so under load one commit (one fsync) covers many; if a
batch fails, its impressions are written one by one so that only the failing ones are
lost. If the queue is full (the store is far behind), the impression is counted in
`dropped` and logged, never silently lost. Events (`store_events`) wait for the writer,
which stores those of every request waiting in one transaction.
"""

from __future__ import annotations

import logging
import threading
import time
from collections import deque
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field

from recsvc.errors import EventStoreError, EventStoreUnavailableError
from recsvc.events.models import AddResult, Event, LoggedImpression
from recsvc.events.store import EventStore

log = logging.getLogger(__name__)

FLUSH_TIMEOUT_SECONDS = 2.0
"""How long a request waits for pending impressions before answering 503."""


class StoreWriter:
    """A deque + one writer thread in front of `EventStore.record_impressions` and
    `EventStore.add_event_batches`.

    Impressions are numbered as they are submitted and written in that order, so "the
    first n are written" answers both `flush` (everything before) and `flush_for` (the
    impressions some events cite). The writer takes up to `max_batch` queued impressions
    at a time; when there are none it sleeps up to `idle_wait` seconds or until woken.
    After a write it lets impressions queue for `commit_interval` seconds (a transaction
    costs about as much as 10 impressions), unless `max_batch` are queued or a caller
    waits for them (`flush`, `flush_for`, `store_events`, `close`).
    """

    def __init__(
        self,
        store: EventStore,
        *,
        max_queue: int = 50_000,
        max_batch: int = 1024,
        idle_wait: float = 0.005,
        commit_interval: float = 0.0,
        on_error: Callable[[str], None] | None = None,
    ) -> None:
        self._store = store
        self._pending: deque[LoggedImpression] = deque()
        self._on_error = on_error
        self._max_queue = max_queue
        self._max_batch = max_batch
        self._idle_wait = idle_wait
        self._commit_interval = commit_interval
        self._last_write = time.monotonic()
        self._closing = False
        self.dropped = 0
        self.failed = 0
        self._submitting = threading.Lock()  # numbers and queue order agree
        self._submitted = 0
        self._unwritten: dict[str, int] = {}  # recommendation id -> its number
        self._event_jobs: deque[_EventJob] = deque()
        self._progress = threading.Condition()
        self._finished = 0  # the first `_finished` impressions are written (or failed)
        self._wanted = 0  # a caller waits until the first `_wanted` are written
        self._thread = threading.Thread(target=self._run, name="impression-log", daemon=True)
        self._thread.start()

    def submit(self, impression: LoggedImpression) -> None:
        with self._submitting:
            if len(self._pending) >= self._max_queue:
                self.dropped += 1
            else:
                self._unwritten[impression.recommendation_id] = self._submitted
                self._submitted += 1
                self._pending.append(impression)
                return
        self._report("impression queue full; impression not logged")

    def flush(self, timeout: float | None = None) -> None:
        """Block until every impression submitted before this call has been written (or
        failed); later submissions do not extend the wait.

        Raises `EventStoreUnavailableError` after `timeout` seconds if some are still pending
        (the store is locked or far behind), so a caller can answer 503 instead of hanging
        for the store's busy timeout once per queued impression.
        """
        with self._submitting:
            target = self._submitted
        self._wait(target, timeout)

    def flush_for(self, recommendation_ids: Iterable[str], timeout: float | None = None) -> None:
        """`flush`, but only as far as the impressions of `recommendation_ids` that are
        still queued: none (the usual case for a click seconds after the answer), no wait."""
        with self._submitting:
            numbers = [self._unwritten.get(rid) for rid in recommendation_ids]
        self._wait(max((n + 1 for n in numbers if n is not None), default=0), timeout)

    def _wait(self, target: int, timeout: float | None) -> None:
        with self._progress:
            if self._finished >= target:
                return
            self._wanted = max(self._wanted, target)
            self._progress.notify_all()
            if not self._progress.wait_for(lambda: self._finished >= target, timeout):
                pending = target - self._finished
                raise EventStoreUnavailableError(
                    f"the event store is behind: {pending} impressions still pending after "
                    f"{timeout} s; retry later"
                )

    def store_events(self, events: Sequence[Event], timeout: float) -> AddResult:
        """`EventStore.add_events` done by the writer thread, in one transaction with the
        events of other requests waiting at the same time (group commit: one fsync for
        all, and no request thread queueing for the write lock and the GIL). Returns once
        committed; raises the store's error, or `EventStoreUnavailableError` if the writer
        has not taken the events within `timeout` seconds (then they are not stored; once
        taken, the store's own busy timeout bounds the wait)."""
        job = _EventJob(events)
        with self._progress:
            if self._closing:
                raise EventStoreUnavailableError("the service is shutting down; retry later")
            self._event_jobs.append(job)
            self._progress.notify_all()
        if not job.done.wait(timeout):
            with self._progress:
                if not job.taken:
                    self._event_jobs.remove(job)
                    raise EventStoreUnavailableError(
                        f"the event store is behind: events not stored within {timeout} s; "
                        "retry later"
                    )
            job.done.wait()
        if job.error is not None:
            raise job.error
        assert job.result is not None
        return job.result

    def close(self) -> None:
        with self._progress:
            self._closing = True
            self._progress.notify_all()
        self._thread.join(timeout=10)

    def _run(self) -> None:
        while True:
            batch, jobs, stop = self._next_batch()
            if batch:
                self._last_write = time.monotonic()
                try:
                    self._write(batch)
                except Exception as exc:  # a bug, not the store's: count it, keep writing
                    log.exception("impression log writer failed")
                    self.failed += len(batch)
                    self._report(f"{len(batch)} impressions not logged: {exc!r}")
            if jobs:
                try:
                    self._store_events(jobs)
                except Exception as exc:  # a bug: requests must not wait forever
                    log.exception("event writer failed")
                    for job in jobs:
                        if not job.done.is_set():
                            job.error = EventStoreUnavailableError(f"events not stored: {exc!r}")
                            job.done.set()
            if stop:
                return

    def _next_batch(self) -> tuple[list[LoggedImpression], list[_EventJob], bool]:
        """Up to `max_batch` queued impressions and every waiting event job (waiting while
        there are none); True once `close` was called and nothing is left."""
        with self._progress:
            pending = self._pending
            if not pending and not self._awaited():
                self._progress.wait(self._idle_wait)
            if pending and len(pending) < self._max_batch and not self._awaited():
                delay = self._last_write + self._commit_interval - time.monotonic()
                if delay > 0:
                    self._progress.wait(delay)
            batch = [pending.popleft() for _ in range(min(len(pending), self._max_batch))]
            jobs = list(self._event_jobs)
            self._event_jobs.clear()
            for job in jobs:
                job.taken = True
            return batch, jobs, self._closing and not pending

    def _awaited(self) -> bool:
        """Whether someone waits for the writer: events, a flush, or `close`."""
        return bool(self._event_jobs) or self._closing or self._wanted > self._finished

    def _store_events(self, jobs: list[_EventJob]) -> None:
        try:
            results = self._store.add_event_batches([job.events for job in jobs])
        except EventStoreError:
            for job in jobs:  # isolate the failing ones
                try:
                    job.result = self._store.add_events(job.events)
                except EventStoreError as exc:
                    job.error = exc
                job.done.set()
            return
        for job, result in zip(jobs, results, strict=True):
            job.result = result
            job.done.set()

    def _write(self, batch: list[LoggedImpression]) -> None:
        try:
            self._store.record_impressions(batch)
        except EventStoreError:
            for impression in batch:  # isolate the failing ones
                try:
                    self._store.record_impressions((impression,))
                except EventStoreError as exc:
                    self.failed += 1
                    self._report(f"impression not logged: {exc}")
        finally:
            with self._submitting:
                for impression in batch:
                    self._unwritten.pop(impression.recommendation_id, None)
            with self._progress:
                self._finished += len(batch)
                self._progress.notify_all()

    def _report(self, message: str) -> None:
        log.warning(message)
        if self._on_error is not None:
            self._on_error(message)


@dataclass(eq=False)  # compared by identity (the queue removes this very job)
class _EventJob:
    """One request's events, waiting for the writer: its result or error, then `done`."""

    events: Sequence[Event]
    taken: bool = False  # by the writer (under its condition's lock): no longer cancellable
    done: threading.Event = field(default_factory=threading.Event)
    result: AddResult | None = None
    error: EventStoreError | None = None
