"""The event store: models, idempotency, attribution, per-user reads, erasure, retention,
readers, durability, locking and the serving-side import boundary."""

from __future__ import annotations

import json
import os
import shutil
import signal
import sqlite3
import subprocess
import sys
import tempfile
import threading
import time
from collections import Counter
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta, timezone
from pathlib import Path

import numpy as np
import pytest
from pydantic import ValidationError

from recsvc.errors import (
    ConfigError,
    EventStoreError,
    EventStoreUnavailableError,
    InvalidQueryError,
)
from recsvc.events import (
    Event,
    EventStore,
    Impression,
    ImpressionCount,
    ImpressionItem,
    RecommendationContext,
    RemovedCounts,
    Slate,
    Subject,
    UserActivity,
    VisitorState,
    open_store,
    sqlite_schema,
    sqlite_store,
)
from recsvc.events.models import EventType
from recsvc.events.sqlite_schema import SCHEMA_VERSION

REPO = Path(__file__).resolve().parents[2]
T0 = datetime(2026, 11, 2, 9, 0, tzinfo=UTC)
WIDE = (T0 - timedelta(days=365), T0 + timedelta(days=365))


def ev(
    event_id: str,
    event_type: EventType,
    item: str,
    minutes: float,
    *,
    user: str | None = "u1",
    session: str | None = None,
    rec: str | None = None,
    amount: float | None = None,
) -> Event:
    return Event(
        event_id=event_id,
        type=event_type,
        user_id=user,
        session_id=session,
        item_id=item,
        timestamp=T0 + timedelta(minutes=minutes),
        recommendation_id=rec,
        amount=amount,
    )


def imp(
    rec: str, items: list[str], minutes: float, *, user: str | None = "u1", session: str = "s1"
) -> Impression:
    return Impression(
        recommendation_id=rec,
        user_id=user,
        session_id=session,
        endpoint="related",
        experiment="exp",
        arm="control",
        model_version="2026-11-01",
        items=tuple(
            ImpressionItem(item_id=item, rank=r, score=1.0 / r, strategy="als", propensity=0.5)
            for r, item in enumerate(items, start=1)
        ),
        context=RecommendationContext(device="mobile", country="UK", hour=9, cart=("c1",)),
        created_at=T0 + timedelta(minutes=minutes),
    )


def subprocess_env() -> dict[str, str]:
    return {**os.environ, "PYTHONPATH": str(REPO)}


@pytest.fixture(params=["memory", "sqlite"])
def store(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[EventStore]:
    url = "memory://" if request.param == "memory" else f"sqlite:///{tmp_path}/events.db"
    opened = open_store(url)
    yield opened
    opened.close()


# --- models ---------------------------------------------------------------------------


def test_event_needs_a_user_or_a_session() -> None:
    with pytest.raises(ValidationError, match="user_id or a session_id"):
        ev("e", "click", "i", 0, user=None)
    assert ev("e", "click", "i", 0, user=None, session="s").session_id == "s"


@pytest.mark.parametrize(
    ("changes", "message"),
    [
        ({"amount": 5.0}, "only allowed on bid and purchase"),
        ({"type": "purchase", "amount": -1.0}, "greater than or equal to 0"),
        ({"type": "purchase", "amount": float("inf")}, "finite"),
        ({"event_id": "x" * 129}, "at most 128"),
        ({"event_id": ""}, "at least 1"),
        ({"position": 0}, "greater than or equal to 1"),
        ({"timestamp": datetime(2026, 1, 1)}, "timezone"),
        ({"type": "return"}, "impression"),
    ],
)
def test_event_rejects_invalid_fields(changes: dict[str, object], message: str) -> None:
    fields: dict[str, object] = {
        "event_id": "e1",
        "type": "click",
        "user_id": "u",
        "item_id": "i",
        "timestamp": T0,
    }
    with pytest.raises(ValidationError, match=message):
        Event.model_validate(fields | changes)


def test_event_timestamp_is_normalised_to_utc() -> None:
    paris = timezone(timedelta(hours=1))
    event = Event(
        event_id="e", type="view", user_id="u", item_id="i", timestamp=T0.astimezone(paris)
    )
    assert event.timestamp.utcoffset() == timedelta(0)
    assert event.timestamp == T0


def test_impression_items_must_be_in_rank_order_and_distinct() -> None:
    base = imp("r", ["a", "b"], 0).model_dump()
    first, second = base["items"]
    with pytest.raises(ValidationError, match="strictly increasing rank"):
        Impression.model_validate(base | {"items": [second, first]})
    with pytest.raises(ValidationError, match="at most once"):
        Impression.model_validate(base | {"items": [first, second | {"item_id": "a"}]})


def test_subject_of_prefers_the_user_and_refuses_empty_ids() -> None:
    assert Subject.of("u", "s") == Subject.user("u")
    assert Subject.of(None, "s") == Subject.session("s")
    assert Subject.of(None, None) is None
    with pytest.raises(InvalidQueryError):
        Subject.user("")


# --- idempotency and attribution ------------------------------------------------------


def test_add_events_counts_each_event_id_once(store: EventStore) -> None:
    first = store.add_events(
        [ev("e1", "view", "a", 0), ev("e2", "view", "b", 1), ev("e1", "view", "a", 0)]
    )
    again = store.add_events([ev("e2", "view", "b", 1), ev("e3", "view", "c", 2)])
    assert (first.accepted, first.duplicates) == (2, 1)
    assert (again.accepted, again.duplicates) == (1, 1)
    assert [row["event_id"] for row in store.iter_events(*WIDE)] == ["e1", "e2", "e3"]
    assert store.add_events([]).accepted == 0


def test_idempotency_survives_a_restart(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path}/events.db"
    first = open_store(url)
    first.add_events([ev("e1", "purchase", "a", 0, amount=9.5)])
    first.close()
    second = open_store(url)
    result = second.add_events([ev("e1", "purchase", "a", 0, amount=9.5), ev("e2", "view", "b", 1)])
    assert (result.accepted, result.duplicates) == (1, 1)
    second.close()


def test_events_are_attributed_to_recorded_impressions(store: EventStore) -> None:
    store.record_impression(imp("rec-1", ["a", "b"], 0))
    result = store.add_events(
        [
            ev("e1", "click", "a", 1, rec="rec-1"),
            ev("e2", "click", "b", 2, rec="rec-unknown"),
            ev("e3", "view", "c", 3),
        ]
    )
    assert (result.accepted, result.unattributed) == (3, 1)
    flags = {row["event_id"]: row["attributed"] for row in store.iter_events(*WIDE)}
    assert flags == {"e1": True, "e2": False, "e3": None}


def test_a_repeated_impression_keeps_the_first_record(store: EventStore) -> None:
    store.record_impression(imp("rec-1", ["a", "b"], 0))
    store.record_impression(imp("rec-1", ["z"], 5))
    (row,) = store.iter_impressions(*WIDE)
    assert [item["item_id"] for item in row["items"]] == ["a", "b"]


def test_a_batch_is_stored_whole_and_repeats_keep_their_first_record(store: EventStore) -> None:
    store.record_impression(imp("rec-1", ["a", "b"], 0))
    batch = [imp("rec-2", ["c"], 1), imp("rec-1", ["z"], 2), imp("rec-3", ["d", "e", "f"], 3)]
    store.record_impressions([impression.logged() for impression in batch])
    rows = {row["recommendation_id"]: row for row in store.iter_impressions(*WIDE)}
    assert {rec: [item["item_id"] for item in row["items"]] for rec, row in rows.items()} == {
        "rec-1": ["a", "b"],
        "rec-2": ["c"],
        "rec-3": ["d", "e", "f"],
    }
    assert rows["rec-3"]["items"][2]["rank"] == 3
    assert rows["rec-3"]["context"]["cart"] == ["c1"]


def test_event_batches_share_a_transaction_but_keep_their_own_counts(store: EventStore) -> None:
    store.record_impression(imp("rec-1", ["a"], 0))
    results = store.add_event_batches(
        [
            [ev("e1", "click", "a", 1, rec="rec-1"), ev("e2", "view", "b", 2)],
            [ev("e1", "click", "a", 1, rec="rec-1"), ev("e3", "click", "c", 3, rec="nope")],
            [],
        ]
    )
    assert [(r.accepted, r.duplicates, r.unattributed) for r in results] == [
        (2, 0, 0),
        (1, 1, 1),  # e1 was stored by the first batch of the same transaction
        (0, 0, 0),
    ]
    assert {row["event_id"] for row in store.iter_events(*WIDE)} == {"e1", "e2", "e3"}


# --- per-user reads -------------------------------------------------------------------


def test_recent_activity_keeps_the_latest_touch_per_item_newest_first(store: EventStore) -> None:
    store.add_events(
        [
            ev("old", "view", "a", -120),  # before `since`
            ev("v1", "view", "a", 1),
            ev("v2", "view", "b", 2),
            ev("v3", "view", "a", 3),  # a again, later than b
            ev("c1", "click", "b", 4),
            ev("p1", "purchase", "c", 5, amount=3.0),
            ev("i1", "impression", "d", 6),  # shown, not an interest signal
            ev("x1", "view", "z", 7, user="u2"),
        ]
    )
    activity = store.recent_user_activity(Subject.user("u1"), T0)
    assert [(t.item_id, t.at) for t in activity.viewed] == [
        ("a", T0 + timedelta(minutes=3)),
        ("b", T0 + timedelta(minutes=2)),
    ]
    assert [t.item_id for t in activity.clicked] == ["b"]
    assert [t.item_id for t in activity.purchased] == ["c"]
    assert activity.bid == ()
    limited = store.recent_user_activity(Subject.user("u1"), T0, limit=1)
    assert [t.item_id for t in limited.viewed] == ["a"]


def test_recent_activity_of_an_anonymous_session(store: EventStore) -> None:
    store.add_events(
        [
            ev("e1", "bid", "a", 0, user=None, session="s9", amount=4.0),
            ev("e2", "bid", "b", 1, user="u1", session="s1"),
        ]
    )
    activity = store.recent_user_activity(Subject.session("s9"), T0)
    assert [t.item_id for t in activity.bid] == ["a"]


def test_impression_counts_count_shows_and_clicks_since(store: EventStore) -> None:
    store.record_impression(imp("r0", ["a"], -600))  # before the window
    for n in range(3):
        store.record_impression(imp(f"r{n + 1}", ["a", "b"] if n < 2 else ["a"], n))
    store.record_impression(imp("r9", ["a"], 1, user="u2"))
    store.add_events([ev("c1", "click", "b", 5, rec="r1"), ev("c2", "click", "a", 5, user="u2")])
    counts = store.impression_counts(Subject.user("u1"), T0)
    assert counts == {"a": ImpressionCount(3, 0), "b": ImpressionCount(2, 1)}
    assert store.impression_counts(Subject.session("s1"), T0)["a"].shown == 4


def test_naive_datetimes_are_refused(store: EventStore) -> None:
    with pytest.raises(InvalidQueryError, match="time zone"):
        store.impression_counts(Subject.user("u1"), datetime(2026, 1, 1))


# --- erasure and retention ------------------------------------------------------------


def test_delete_user_erases_events_impressions_and_linked_sessions(store: EventStore) -> None:
    store.record_impression(imp("r1", ["a", "b"], 0, session="s1"))
    store.record_impression(imp("r2", ["a"], 1, user="u2", session="s2"))
    store.add_events(
        [
            ev("e1", "click", "a", 1, rec="r1", session="s1"),
            ev("e2", "view", "c", 2, user=None, session="s1"),  # anonymous, same session
            ev("e3", "view", "c", 2, user="u2", session="s2"),
        ]
    )
    assert store.delete_user("u1") == RemovedCounts(events=2, impressions=1)
    assert [row["event_id"] for row in store.iter_events(*WIDE)] == ["e3"]
    assert [row["recommendation_id"] for row in store.iter_impressions(*WIDE)] == ["r2"]
    assert store.impression_counts(Subject.user("u1"), WIDE[0]) == {}
    assert set(store.deleted_users()) == {"u1"}
    assert store.delete_user("nobody") == RemovedCounts(events=0, impressions=0)


def test_purge_older_than_works_in_chunks_and_keeps_erasures(
    store: EventStore, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(sqlite_store, "_PURGE_CHUNK", 2)
    store.add_events([ev(f"e{n}", "view", "a", n) for n in range(7)])
    for n in range(5):
        store.record_impression(imp(f"r{n}", ["a"], n))
    store.delete_user("gone")
    removed = store.purge_older_than(T0 + timedelta(minutes=4))
    assert removed == RemovedCounts(events=4, impressions=4)
    assert [row["event_id"] for row in store.iter_events(*WIDE)] == ["e4", "e5", "e6"]
    assert [row["recommendation_id"] for row in store.iter_impressions(*WIDE)] == ["r4"]
    assert set(store.deleted_users()) == {"gone"}


def _slate_count(path: Path) -> int:
    conn = sqlite3.connect(path)
    try:
        count: int = conn.execute("SELECT COUNT(*) FROM slates").fetchone()[0]
    finally:
        conn.close()
    return count


@pytest.mark.parametrize("bad", [float("nan"), float("inf"), float("-inf")])
def test_a_slate_is_its_items_as_json_and_refuses_non_finite_numbers(bad: float) -> None:
    rows = [("a", 1, 0.5, "rules", 0.9), ("é", 2, np.float64(0.25), "als", np.float32(0.5))]
    slate = Slate.of(rows)
    assert json.loads(slate.items_json) == [["a", 1, 0.5, "rules", 0.9], ["é", 2, 0.25, "als", 0.5]]
    assert Slate.of(list(rows)) == slate != Slate.of(rows[::-1])
    with pytest.raises(ValueError, match="finite"):
        Slate.of([("a", 1, bad, "rules", 0.9)])
    with pytest.raises(ValueError, match="finite"):
        Slate.of([("a", 1, 0.5, "rules", bad)])


def test_impressions_of_the_same_list_share_one_slate(tmp_path: Path) -> None:
    path = tmp_path / "events.db"
    store = open_store(f"sqlite:///{path}")
    store.record_impressions([imp(f"r{n}", ["a", "b"], n).logged() for n in range(4)])
    store.record_impression(imp("r9", ["b", "a"], 9))
    assert _slate_count(path) == 2
    rows = list(store.iter_impressions(*WIDE))
    assert [[item["item_id"] for item in row["items"]] for row in rows] == [["a", "b"]] * 4 + [
        ["b", "a"]
    ]
    assert store.impression_counts(Subject.user("u1"), WIDE[0]) == {
        "a": ImpressionCount(5, 0),
        "b": ImpressionCount(5, 0),
    }
    store.close()


def test_the_visitor_state_is_recent_activity_and_fatigue_counts_in_one_read(
    store: EventStore,
) -> None:
    store.add_events(
        [
            ev("v1", "view", "a", 1),
            ev("v2", "view", "b", 2),
            ev("v3", "view", "a", 3),  # a's latest view
            ev("c1", "click", "b", 4),
            ev("p1", "purchase", "c", 5),
            ev("old", "view", "z", -60),  # before the activity window
            ev("s1", "view", "d", 6, user=None, session="s9"),
        ]
    )
    store.record_impressions([imp(f"r{n}", ["a", "b"], n).logged() for n in range(3)])
    store.record_impression(imp("r9", ["e"], 9, user=None, session="s9"))
    activity_since, fatigue_since = T0 - timedelta(minutes=30), T0 + timedelta(minutes=1)
    state = store.visitor_state(Subject.user("u1"), activity_since, fatigue_since)
    assert state == VisitorState(
        store.recent_user_activity(Subject.user("u1"), activity_since),
        store.impression_counts(Subject.user("u1"), fatigue_since),
    )
    assert [touch.item_id for touch in state.activity.viewed] == ["a", "b"]
    assert state.activity.viewed[0].at == T0 + timedelta(minutes=3)
    assert [touch.item_id for touch in state.activity.clicked] == ["b"]
    assert [touch.item_id for touch in state.activity.purchased] == ["c"]
    assert state.impressions == {"a": ImpressionCount(2, 0), "b": ImpressionCount(2, 1)}
    limited = store.visitor_state(Subject.user("u1"), activity_since, fatigue_since, limit=1)
    assert [touch.item_id for touch in limited.activity.viewed] == ["a"]
    session = store.visitor_state(Subject.session("s9"), activity_since, fatigue_since)
    assert [touch.item_id for touch in session.activity.viewed] == ["d"]
    assert session.impressions == {"e": ImpressionCount(1, 0)}
    nobody = store.visitor_state(Subject.user("nobody"), activity_since, fatigue_since)
    assert nobody == VisitorState(UserActivity(), {})


def test_fatigue_counts_stay_exact_when_remembered_slates_are_forgotten(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(sqlite_store, "_SLATE_ITEM_IDS_CAPACITY", 2)  # fewer than the lists
    path = tmp_path / "events.db"
    store, other_worker = open_store(f"sqlite:///{path}"), open_store(f"sqlite:///{path}")
    lists = [["a", "b"], ["b", "c"], ["c", "d", "a"], ["e"]]
    shown = [lists[n % 3] if n % 5 else lists[3] for n in range(30)]
    for n, items in enumerate(shown):
        (store if n % 2 else other_worker).record_impression(imp(f"r{n}", items, n))
    for since_minute in (0, 12, 29, 30):
        expected = Counter(item for items in shown[since_minute:] for item in items)
        for reader in (store, other_worker, store):  # the second read of each is remembered
            counts = reader.impression_counts(
                Subject.user("u1"), T0 + timedelta(minutes=since_minute)
            )
            assert counts == {item: ImpressionCount(n, 0) for item, n in expected.items()}
    assert store.impression_counts(Subject.user("nobody"), WIDE[0]) == {}
    store.close()
    other_worker.close()


def test_erasure_and_retention_drop_slates_no_impression_shows(tmp_path: Path) -> None:
    path = tmp_path / "events.db"
    store = open_store(f"sqlite:///{path}")
    store.record_impression(imp("mine", ["bought-before"], 0))  # u1's own list
    store.record_impression(imp("shared-1", ["popular"], 1))
    store.record_impression(imp("shared-2", ["popular"], 2, user="u2", session="s2"))
    store.delete_user("u1")
    assert _slate_count(path) == 1  # the list u2 was shown stays
    assert [row["items"][0]["item_id"] for row in store.iter_impressions(*WIDE)] == ["popular"]
    store.record_impression(imp("later", ["new"], 10, user="u3", session="s3"))
    store.purge_older_than(T0 + timedelta(minutes=5))
    assert _slate_count(path) == 1  # "popular" went with its last impression; "new" stays
    assert [row["recommendation_id"] for row in store.iter_impressions(*WIDE)] == ["later"]
    store.close()


def test_a_version_1_store_keeps_its_impressions_after_the_migration(tmp_path: Path) -> None:
    path = tmp_path / "events.db"
    conn = sqlite3.connect(path, isolation_level=None)
    for statement in sqlite_schema._MIGRATIONS[0]:
        conn.execute(statement)
    conn.execute("PRAGMA user_version = 1")
    conn.execute(
        "INSERT INTO impressions VALUES ('r1', 'u1', 's1', 'related', 'product', 'exp',"
        " 'control', 'v1', '{\"device\": \"mobile\"}', ?)",
        (sqlite_schema.to_us(T0),),
    )
    for rank, item in [(2, "b"), (1, "a")]:
        conn.execute(
            "INSERT INTO impression_items VALUES ('r1', ?, ?, 0.25, 'als', 0.5)", (rank, item)
        )
    conn.close()
    store = open_store(f"sqlite:///{path}")
    (row,) = store.iter_impressions(*WIDE)
    assert row["items"] == [
        {"item_id": item, "rank": rank, "score": 0.25, "strategy": "als", "propensity": 0.5}
        for rank, item in [(1, "a"), (2, "b")]
    ]
    assert row["context"] == {"device": "mobile"}
    assert store.impression_counts(Subject.user("u1"), WIDE[0])["b"] == ImpressionCount(1, 0)
    store.record_impression(imp("r2", ["a"], 1))  # new impressions beside the migrated ones
    assert len(list(store.iter_impressions(*WIDE))) == 2
    store.close()


# --- readers for evaluation -----------------------------------------------------------


def test_iter_events_pages_through_a_half_open_window(
    store: EventStore, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(sqlite_store, "_PAGE", 3)
    # Ten events on four distinct timestamps, inserted out of order.
    minutes = [3, 0, 1, 1, 1, 2, 2, 0, 3, 4]
    store.add_events([ev(f"e{n}", "view", "a", m) for n, m in enumerate(minutes)])
    rows = list(store.iter_events(T0, T0 + timedelta(minutes=4)))
    assert len(rows) == 9
    assert [row["timestamp"] for row in rows] == sorted(row["timestamp"] for row in rows)
    assert [row["event_id"] for row in rows[:2]] == ["e1", "e7"]  # arrival order within a tie


def test_iter_impressions_round_trip_to_the_model(
    store: EventStore, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(sqlite_store, "_PAGE", 2)
    served = [imp(f"r{n}", ["a", "b", "c"][: n % 3 + 1], n) for n in range(5)]
    served.append(imp("empty", [], 5, user=None))
    for impression in served:
        store.record_impression(impression)
    rows = list(store.iter_impressions(*WIDE))
    assert [Impression.model_validate(row) for row in rows] == served


# --- opening, schema, errors ----------------------------------------------------------


@pytest.mark.parametrize("url", ["postgres://x/y", "events.db", "sqlite://", "memory://x"])
def test_open_store_refuses_bad_urls(url: str) -> None:
    with pytest.raises(ConfigError):
        open_store(url)


def test_sqlite_url_paths_follow_the_sqlalchemy_convention(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    open_store("sqlite:///data/relative.db").close()
    open_store(f"sqlite:///{tmp_path}/abs/absolute.db").close()  # four slashes
    assert (tmp_path / "data" / "relative.db").is_file()
    assert (tmp_path / "abs" / "absolute.db").is_file()


def test_a_new_file_is_migrated_to_the_current_schema_in_wal_mode(tmp_path: Path) -> None:
    path = tmp_path / "events.db"
    open_store(f"sqlite:///{path}").close()
    with sqlite3.connect(path) as conn:
        assert conn.execute("PRAGMA user_version").fetchone()[0] == SCHEMA_VERSION
        assert conn.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
        tables = {row[0] for row in conn.execute("SELECT name FROM sqlite_master")}
    assert {"events", "impressions", "slates", "erasures"} <= tables
    conn.close()


def test_a_store_from_a_newer_recsvc_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "events.db"
    conn = sqlite3.connect(path)
    conn.execute(f"PRAGMA user_version = {SCHEMA_VERSION + 1}")
    conn.close()
    with pytest.raises(EventStoreError, match="upgrade recsvc"):
        open_store(f"sqlite:///{path}")


def test_a_file_that_is_not_a_database_is_an_error_not_unavailability(tmp_path: Path) -> None:
    path = tmp_path / "events.db"
    path.write_text("this is not sqlite" * 100)
    with pytest.raises(EventStoreError) as caught:
        open_store(f"sqlite:///{path}")
    assert not isinstance(caught.value, EventStoreUnavailableError)


def test_a_closed_store_refuses_calls(store: EventStore) -> None:
    store.close()
    with pytest.raises(EventStoreError, match="closed"):
        store.add_events([ev("e1", "view", "a", 0)])


def test_a_locked_database_is_unavailable_after_the_busy_timeout(tmp_path: Path) -> None:
    path = tmp_path / "events.db"
    store = open_store(f"sqlite:///{path}", busy_timeout=0.05)
    holder = sqlite3.connect(path, isolation_level=None)
    holder.execute("BEGIN EXCLUSIVE")
    started = time.perf_counter()
    with pytest.raises(EventStoreUnavailableError, match="locked"):
        store.add_events([ev("e1", "view", "a", 0)])
    assert time.perf_counter() - started < 2.0
    holder.execute("ROLLBACK")
    holder.close()
    assert store.add_events([ev("e1", "view", "a", 0)]).accepted == 1
    store.close()


_UNPRIVILEGED_PROBE = """
import sys
from datetime import UTC, datetime
from recsvc.events import Event, open_store
for url in sys.argv[1:]:
    try:
        store = open_store(url)
        store.add_events([Event(event_id="e", type="view", user_id="u", item_id="i",
                                timestamp=datetime.now(UTC))])
        print("OK")
    except Exception as exc:
        print(type(exc).__name__, exc)
"""


def _unprivileged(command: list[str]) -> list[str]:
    """`command` run as nobody when we are root (root ignores file permissions)."""
    if os.geteuid() != 0:
        return command
    if shutil.which("setpriv") is None:
        pytest.skip("running as root without setpriv: cannot drop privileges")
    return ["setpriv", "--reuid=65534", "--regid=65534", "--clear-groups", *command]


def test_read_only_file_and_unwritable_directory_are_unavailable() -> None:
    work = Path(tempfile.mkdtemp())  # not under pytest's 0700 tmp root, so nobody can enter
    try:
        open_store(f"sqlite:///{work}/events.db").close()
        (work / "events.db").chmod(0o444)
        work.chmod(0o555)
        urls = [f"sqlite:///{work}/events.db", f"sqlite:///{work}/missing/events.db"]
        result = subprocess.run(
            _unprivileged([sys.executable, "-c", _UNPRIVILEGED_PROBE, *urls]),
            capture_output=True,
            text=True,
            env=subprocess_env(),
            cwd="/",
            check=True,
            timeout=60,
        )
    finally:
        work.chmod(0o755)
        shutil.rmtree(work)
    read_only, missing_dir = result.stdout.splitlines()
    assert read_only.startswith("EventStoreUnavailableError") and "read-only" in read_only
    assert missing_dir.startswith("EventStoreUnavailableError")
    assert "Permission denied" in missing_dir


# --- durability and concurrency -------------------------------------------------------

_WRITER = """
import sys
from datetime import UTC, datetime
from recsvc.events import Event, open_store
store = open_store(sys.argv[1])
for batch in range(100_000):
    store.add_events([Event(event_id=f"{batch}-{n}", type="view", session_id="s", item_id="i",
                            timestamp=datetime.now(UTC)) for n in range(10)])
    print(f"acked {batch}", flush=True)
"""


def test_acknowledged_events_survive_sigkill(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path}/events.db"
    command = [sys.executable, "-c", _WRITER, url]
    with subprocess.Popen(
        command, stdout=subprocess.PIPE, text=True, env=subprocess_env()
    ) as writer:
        assert writer.stdout is not None
        for _ in range(20):
            assert writer.stdout.readline().startswith("acked")
        writer.send_signal(signal.SIGKILL)
        acked = 20 + sum(1 for line in writer.stdout if line.startswith("acked"))
    assert writer.returncode == -signal.SIGKILL
    store = open_store(url)
    per_batch = Counter(row["event_id"].split("-")[0] for row in store.iter_events(*WIDE))
    store.close()
    assert {str(batch) for batch in range(acked)} <= set(per_batch)
    assert set(per_batch.values()) == {10}  # every batch is all or nothing
    assert len(per_batch) in (acked, acked + 1)  # at most one committed before its ack


def test_threads_and_processes_share_the_file_without_double_counting(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path}/events.db"
    stores = [open_store(url), open_store(url)]  # two stores stand in for two workers
    results = []

    def write(worker: int) -> None:
        # Workers overlap: ids 0..59 are sent by two workers each.
        batch = [ev(f"e{n}", "view", "a", n) for n in range(worker * 30, worker * 30 + 60)]
        results.append(stores[worker % 2].add_events(batch))

    threads = [threading.Thread(target=write, args=(worker,)) for worker in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert sum(r.accepted for r in results) == 150
    assert sum(r.duplicates for r in results) == 90
    assert len(list(stores[0].iter_events(*WIDE))) == 150
    for opened in stores:
        opened.close()


def test_the_serving_side_does_not_import_training_libraries() -> None:
    probe = (
        "import sys, recsvc.events, recsvc.experiments, recsvc.hashing\n"
        "heavy = {'polars', 'scipy', 'implicit', 'lightfm', 'training'}\n"
        "print(sorted(heavy & {name.split('.')[0] for name in sys.modules}))"
    )
    result = subprocess.run(
        [sys.executable, "-c", probe],
        capture_output=True,
        text=True,
        env=subprocess_env(),
        check=True,
        timeout=60,
    )
    assert result.stdout.strip() == "[]"
