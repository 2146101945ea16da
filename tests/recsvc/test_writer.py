"""The store writer: flush waits for what came before it, not for silence; events are
group-committed."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Sequence
from datetime import UTC, datetime

import pytest
from test_event_store import WIDE, ev, imp

from recsvc.errors import EventStoreUnavailableError
from recsvc.events import LoggedImpression, open_store
from recsvc.events.writer import StoreWriter


class WrappedStore:
    """A real in-memory store that records the size of each impression batch and, before
    writing one, calls `before_write` (a sleep: a busy disk; an event wait: a stuck one)."""

    def __init__(self, before_write: Callable[[], object] = lambda: None) -> None:
        self.inner = open_store("memory://")
        self.before_write = before_write
        self.batches: list[int] = []

    def record_impressions(self, impressions: Sequence[LoggedImpression]) -> None:
        self.before_write()
        self.batches.append(len(impressions))
        self.inner.record_impressions(impressions)

    def __getattr__(self, name: str) -> object:
        return getattr(self.inner, name)


def gated() -> tuple[WrappedStore, threading.Event]:
    """A store whose impression writes wait (up to 10 s) until the event is set."""
    gate = threading.Event()
    return WrappedStore(lambda: gate.wait(10)), gate


def test_flush_returns_under_steady_traffic_and_covers_earlier_impressions() -> None:
    store = WrappedStore(lambda: time.sleep(0.005))  # a busy disk
    log = StoreWriter(store)  # type: ignore[arg-type]
    stop = threading.Event()
    counter = iter(range(10_000))

    def traffic() -> None:
        while not stop.is_set():
            log.submit(imp(f"bg{next(counter)}", ["a"], 0).logged())
            time.sleep(0.002)  # faster than the store writes: the queue never empties

    feeder = threading.Thread(target=traffic)
    feeder.start()
    try:
        time.sleep(0.05)
        log.submit(imp("mine", ["x"], 0).logged())
        started = time.perf_counter()
        log.flush(timeout=5.0)
        waited = time.perf_counter() - started
    finally:
        stop.set()
        feeder.join()
    since = datetime(2000, 1, 1, tzinfo=UTC)
    written = {
        row["recommendation_id"] for row in store.inner.iter_impressions(since, datetime.now(UTC))
    }
    assert "mine" in written
    assert waited < 5.0
    log.close()


def test_close_writes_everything_queued_and_a_full_queue_is_counted() -> None:
    store = open_store("memory://")
    errors: list[str] = []
    log = StoreWriter(store, max_queue=3, idle_wait=60.0, on_error=errors.append)
    # the writer sleeps until woken, so all five arrive while it waits: two do not fit
    for n in range(5):
        log.submit(imp(f"r{n}", ["a"], 0).logged())
    log.close()
    since = datetime(2000, 1, 1, tzinfo=UTC)
    written = [row["recommendation_id"] for row in store.iter_impressions(since, datetime.now(UTC))]
    assert sorted(written) == ["r0", "r1", "r2"]
    assert log.dropped == 2 and len(errors) == 2


def test_flush_for_waits_only_for_the_cited_impressions_still_queued() -> None:
    store, gate = gated()
    log = StoreWriter(store)  # type: ignore[arg-type]
    log.submit(imp("queued", ["a"], 0).logged())
    started = time.perf_counter()
    log.flush_for(["written-long-ago", "never-served"], timeout=5.0)  # nothing to wait for
    assert time.perf_counter() - started < 1.0
    with pytest.raises(EventStoreUnavailableError, match="1 impressions still pending"):
        log.flush_for(["written-long-ago", "queued"], timeout=0.2)
    gate.set()
    log.flush_for(["queued"], timeout=5.0)
    since = datetime(2000, 1, 1, tzinfo=UTC)
    written = [
        row["recommendation_id"] for row in store.inner.iter_impressions(since, datetime.now(UTC))
    ]
    assert written == ["queued"]
    log.close()


def test_events_are_stored_by_the_writer_and_refused_cleanly_when_it_is_stuck() -> None:
    store, gate = gated()
    log = StoreWriter(store)  # type: ignore[arg-type]
    click = ev("c1", "click", "a", 1)
    log.submit(imp("queued", ["a"], 0).logged())  # the writer waits inside this write
    time.sleep(0.05)
    with pytest.raises(EventStoreUnavailableError, match="events not stored"):
        log.store_events([click], timeout=0.2)
    gate.set()
    log.flush(timeout=5.0)
    assert list(store.inner.iter_events(*WIDE)) == []  # refused means not stored
    result = log.store_events([click], timeout=5.0)
    assert (result.accepted, result.duplicates) == (1, 0)
    assert log.store_events([click], timeout=5.0).duplicates == 1
    log.close()


def test_events_of_concurrent_requests_all_get_their_own_result() -> None:
    store = open_store("memory://")
    log = StoreWriter(store)
    results: dict[int, int] = {}

    def request(n: int) -> None:
        results[n] = log.store_events([ev(f"e{n}", "view", "a", 1)], timeout=5.0).accepted

    threads = [threading.Thread(target=request, args=(n,)) for n in range(20)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert results == dict.fromkeys(range(20), 1)
    assert len(list(store.iter_events(*WIDE))) == 20
    log.close()


def test_impressions_are_committed_once_per_interval_unless_someone_waits() -> None:
    store = WrappedStore()
    log = StoreWriter(store, commit_interval=0.5)  # type: ignore[arg-type]
    try:
        log.submit(imp("first", ["a"], 0).logged())
        log.flush(timeout=1.0)  # a waiting caller is served at once, not after the interval
        started = time.perf_counter()
        for n in range(20):
            log.submit(imp(f"r{n}", ["a"], 0).logged())
            time.sleep(0.005)
        log.flush(timeout=1.0)
        assert time.perf_counter() - started < 0.45
        time.sleep(0.1)
        assert sum(store.batches) == 21
        # the 20 came in while the writer was waiting out the interval: at most one write
        # for whatever arrived before it went to sleep, then one for the rest
        assert len(store.batches) <= 3
    finally:
        log.close()
    assert len(list(store.inner.iter_impressions(*WIDE))) == 21


def test_a_bug_in_a_write_fails_those_requests_and_the_writer_keeps_going() -> None:
    store = WrappedStore()
    broken = [True]

    def add_event_batches(batches: Sequence[Sequence[object]]) -> object:
        if broken[0]:
            raise RuntimeError("not a store error")
        return store.inner.add_event_batches(batches)

    store.add_event_batches = add_event_batches  # type: ignore[method-assign]
    log = StoreWriter(store)  # type: ignore[arg-type]
    click = ev("c1", "click", "a", 1)
    with pytest.raises(EventStoreUnavailableError, match="not a store error"):
        log.store_events([click], timeout=5.0)
    broken[0] = False
    assert log.store_events([click], timeout=5.0).accepted == 1  # the writer still runs
    log.close()


def test_a_bug_in_an_impression_write_is_counted_and_the_writer_keeps_going() -> None:
    calls = [0]

    def fail_once() -> None:
        calls[0] += 1
        if calls[0] == 1:
            raise RuntimeError("not a store error")

    store = WrappedStore(fail_once)
    log = StoreWriter(store)  # type: ignore[arg-type]
    log.submit(imp("lost", ["a"], 0).logged())
    log.flush(timeout=5.0)
    log.submit(imp("kept", ["b"], 1).logged())
    log.flush(timeout=5.0)
    assert log.failed == 1 and store.batches == [1]
    log.close()
