"""The SQLite event store: durable file (WAL, synchronous=FULL) or in-memory for tests.

The schema and its migrations are in `recsvc.events.sqlite_schema` (docs/event-store.md).

Concurrency: connections come from a pool (one per concurrent caller, so WAL readers run
beside the single writer); every write is one `BEGIN IMMEDIATE` transaction, so several
processes can share the file, a writer waiting at most `busy_timeout` for another's lock.
"""

from __future__ import annotations

import json
import sqlite3
import sys
import threading
from collections import Counter, OrderedDict, defaultdict
from collections.abc import Callable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from datetime import UTC, datetime
from functools import cache
from pathlib import Path
from typing import Any

import orjson

from recsvc.compact_json import compact_json
from recsvc.errors import EventStoreError, EventStoreUnavailableError
from recsvc.events.models import (
    ACTIVITY_TYPES,
    AddResult,
    Event,
    Impression,
    ImpressionCount,
    LoggedImpression,
    RemovedCounts,
    Subject,
    Touch,
    UserActivity,
    VisitorState,
)
from recsvc.events.sqlite_schema import (
    EVENT_COLUMNS,
    IMPRESSION_COLUMNS,
    INSERT_EVENT,
    event_dict,
    event_row,
    from_us,
    immediate_transaction,
    impression_dict,
    migrate,
    slate_items,
    to_us,
)

_CONNECTION_PRAGMAS = (
    "PRAGMA synchronous = FULL",  # an acknowledged commit is on disk
    "PRAGMA foreign_keys = ON",  # an impression's slate is stored
    "PRAGMA secure_delete = ON",  # erased rows are overwritten, not left in free pages
)
_SUBJECT_COLUMN = {"user": "user_id", "session": "session_id"}
_ACTIVITY_FIELD = {"view": "viewed", "click": "clicked", "bid": "bid", "purchase": "purchased"}
_PAGE = 1000
_PURGE_CHUNK = 5000
_SLATE_ITEM_IDS_CAPACITY = 50_000  # ~250 bytes each: item ids are interned
_HINTS = {
    "SQLITE_BUSY": "is locked by another writer; retry later",
    "SQLITE_LOCKED": "is locked by another writer; retry later",
    "SQLITE_READONLY": "is read-only: check the permissions of the file and its directory",
    "SQLITE_CANTOPEN": "cannot be opened: check that its directory exists and is writable",
    "SQLITE_FULL": "is on a full disk",
    "SQLITE_IOERR": "hit a disk I/O error",
    "SQLITE_PERM": "is not accessible: check permissions",
}


@contextmanager
def _translated_errors(where: str) -> Iterator[None]:
    """Turn sqlite3 and OS errors into the store's named errors, naming the database."""
    try:
        yield
    except sqlite3.OperationalError as exc:
        code = "_".join(getattr(exc, "sqlite_errorname", "").split("_")[:2])
        hint = _HINTS.get(code)
        if hint is None:
            raise EventStoreError(f"event store {where} failed: {exc}") from exc
        raise EventStoreUnavailableError(f"event store {where} {hint} ({exc})") from exc
    except sqlite3.Error as exc:
        raise EventStoreError(f"event store {where} failed: {exc}") from exc
    except OSError as exc:
        raise EventStoreUnavailableError(f"event store {where} is not accessible: {exc}") from exc


class _Pool:
    """Connections handed to one caller at a time; at most `max_size` exist (None: no limit)."""

    def __init__(self, connect: Callable[[], sqlite3.Connection], max_size: int | None) -> None:
        self._connect = connect
        self._max_size = max_size
        self._idle: list[sqlite3.Connection] = []
        self._created = 0
        self._closed = False
        self._available = threading.Condition()

    @contextmanager
    def connection(self) -> Iterator[sqlite3.Connection]:
        conn = self._acquire()
        try:
            yield conn
        finally:
            self._release(conn)

    def _acquire(self) -> sqlite3.Connection:
        with self._available:
            while not self._closed and not self._idle and self._created == self._max_size:
                self._available.wait()
            if self._closed:
                raise EventStoreError("the event store is closed")
            if self._idle:
                return self._idle.pop()
            conn = self._connect()
            self._created += 1
            return conn

    def _release(self, conn: sqlite3.Connection) -> None:
        with self._available:
            if self._closed:
                conn.close()
            else:
                self._idle.append(conn)
                self._available.notify()

    def close(self) -> None:
        with self._available:
            self._closed = True
            for conn in self._idle:
                conn.close()
            self._idle.clear()
            self._available.notify_all()


@cache
def _visitor_sql(column: str, activity: bool, fatigue: bool) -> str:
    """One row of three JSON texts about the subject (`:subject` in `column`): its recent
    activity `[[event_type, item_id, last_us, n], ...]` (n: 1 for the newest item of each
    type, at most `:limit` per type, events at or after `:activity_since`), and since
    `:fatigue_since` its impressions per slate `{slate_id: count}` and clicks per item
    `{item_id: count}`. A part not asked for is empty."""
    types = ", ".join(f"'{event_type}'" for event_type in ACTIVITY_TYPES)
    recent = f"""(SELECT json_group_array(json_array(event_type, item_id, last_us, n)) FROM (
            SELECT event_type, item_id, last_us, ROW_NUMBER() OVER (
                PARTITION BY event_type ORDER BY last_us DESC, item_id) AS n
            FROM (
                SELECT event_type, item_id, MAX(ts_us) AS last_us FROM events
                WHERE {column} = :subject AND ts_us >= :activity_since
                    AND event_type IN ({types})
                GROUP BY event_type, item_id))
        WHERE n <= :limit)"""
    shown = f"""(SELECT json_group_object(slate_id, times) FROM (
            SELECT slate_id, COUNT(*) AS times FROM impressions
            WHERE {column} = :subject AND created_us >= :fatigue_since GROUP BY slate_id))"""
    clicked = f"""(SELECT json_group_object(item_id, times) FROM (
            SELECT item_id, COUNT(*) AS times FROM events
            WHERE {column} = :subject AND ts_us >= :fatigue_since AND event_type = 'click'
            GROUP BY item_id))"""
    parts = (recent if activity else "'[]'", *((shown, clicked) if fatigue else ("'{}'",) * 2))
    return "SELECT " + ", ".join(parts)


class _SlateItemIds:
    """The item ids of slates, least recently used forgotten first. A slate is immutable
    (its id is the digest of its items), so a remembered one is never stale; one that
    erasure or retention deleted is simply no longer asked for. The slates this process
    writes are remembered as they are written: a visitor's next request reads the fatigue
    counts of what it was just shown. Thread-safe."""

    def __init__(self, capacity: int) -> None:
        self._capacity = capacity
        self._known: OrderedDict[str, tuple[str, ...]] = OrderedDict()
        self._lock = threading.Lock()

    def get(self, slate_ids: list[str], conn: sqlite3.Connection) -> dict[str, tuple[str, ...]]:
        """The item ids of each of `slate_ids` (stored slates), reading those not remembered."""
        found: dict[str, tuple[str, ...]] = {}
        with self._lock:
            for slate_id in slate_ids:
                items = self._known.get(slate_id)
                if items is not None:
                    self._known.move_to_end(slate_id)
                    found[slate_id] = items
        missing = [slate_id for slate_id in slate_ids if slate_id not in found]
        if not missing:
            return found
        read = {slate_id: _item_ids(items) for slate_id, items in _slates(conn, missing)}
        self._keep(read)
        return found | read

    def remember(self, slates: Mapping[str, str]) -> None:
        """Remember the item ids of `slates` (slate id → items JSON) not remembered yet."""
        with self._lock:
            new = [slate_id for slate_id in slates if slate_id not in self._known]
        self._keep({slate_id: _item_ids(slates[slate_id]) for slate_id in new})

    def _keep(self, item_ids: Mapping[str, tuple[str, ...]]) -> None:
        with self._lock:
            self._known.update(item_ids)
            while len(self._known) > self._capacity:
                self._known.popitem(last=False)


def _slates(conn: sqlite3.Connection, slate_ids: list[str]) -> list[tuple[str, str]]:
    """(slate_id, items JSON) of the stored slates among `slate_ids`."""
    sql = "SELECT slate_id, items FROM slates WHERE slate_id IN (SELECT value FROM json_each(?))"
    rows: list[tuple[str, str]] = conn.execute(sql, (compact_json(slate_ids).decode(),)).fetchall()
    return rows


def _item_ids(items_json: str) -> tuple[str, ...]:
    return tuple(sys.intern(row[0]) for row in orjson.loads(items_json))


class SqliteEventStore:
    """The `EventStore` on SQLite. Build with `open_file` or `in_memory`."""

    def __init__(self, pool: _Pool, where: str) -> None:
        self._pool = pool
        # one writer at a time within the process: threads queue here and take the write
        # lock as it is released, instead of polling it with SQLite's busy handler, whose
        # sleeps (1, 2, 5, ... 100 ms) turned a few ms of contention into 100-900 ms waits
        self._writing = threading.Lock()
        self._where = where
        self._slate_item_ids = _SlateItemIds(_SLATE_ITEM_IDS_CAPACITY)
        with _translated_errors(where), pool.connection() as conn:
            migrate(conn, where)

    @classmethod
    def open_file(cls, path: Path, *, busy_timeout: float) -> SqliteEventStore:
        """Open or create the database at `path` (creating its directory) in WAL mode."""
        where = str(path)
        with _translated_errors(where):
            path.parent.mkdir(parents=True, exist_ok=True)

        def connect() -> sqlite3.Connection:
            conn = sqlite3.connect(
                path, timeout=busy_timeout, isolation_level=None, check_same_thread=False
            )
            if conn.execute("PRAGMA journal_mode").fetchone()[0] != "wal":
                conn.execute("PRAGMA journal_mode = WAL")
            _configure(conn)
            return conn

        return cls(_Pool(connect, max_size=None), where)

    @classmethod
    def in_memory(cls) -> SqliteEventStore:
        """A private in-memory database behind a single connection (for tests)."""

        def connect() -> sqlite3.Connection:
            conn = sqlite3.connect(":memory:", isolation_level=None, check_same_thread=False)
            _configure(conn)
            return conn

        return cls(_Pool(connect, max_size=1), "memory://")

    @contextmanager
    def _read(self) -> Iterator[sqlite3.Connection]:
        with _translated_errors(self._where), self._pool.connection() as conn:
            yield conn

    @contextmanager
    def _write(self) -> Iterator[sqlite3.Connection]:
        """One IMMEDIATE transaction, committed on exit (rolled back on error)."""
        with self._writing, self._read() as conn, immediate_transaction(conn):
            yield conn

    def record_impression(self, impression: Impression) -> None:
        self.record_impressions((impression.logged(),))

    def record_impressions(self, impressions: Sequence[LoggedImpression]) -> None:
        """Two statements for the whole batch (rows passed as one JSON array each): the
        sqlite3 module lets go of the GIL around every statement, and under load getting it
        back can take a whole switch interval, so a statement per row cannot keep up.
        Each distinct slate is inserted unless stored already, then the impressions; a
        repeated `recommendation_id` keeps its first record (its slate included)."""
        slates: dict[str, tuple[str, str, object]] = {}
        rows = []
        for impression in impressions:
            row = _impression_row(impression)
            slate = impression.slate
            slates.setdefault(slate.slate_id, (slate.slate_id, slate.items_json, row[9]))
            rows.append(row)
        with self._write() as conn:
            conn.execute(_INSERT_SLATES, (compact_json(list(slates.values())).decode(),))
            conn.execute(_INSERT_IMPRESSIONS, (compact_json(rows).decode(),))
        self._slate_item_ids.remember({slate_id: items for slate_id, items, _ in slates.values()})

    def add_events(self, events: Sequence[Event]) -> AddResult:
        return self.add_event_batches((events,))[0]

    def add_event_batches(self, batches: Sequence[Sequence[Event]]) -> list[AddResult]:
        if not any(batches):
            return [AddResult(accepted=0, duplicates=0, unattributed=0) for _ in batches]
        received_us = to_us(datetime.now(UTC))
        results = []
        with self._write() as conn:
            known = _known_recommendations(conn, [e for events in batches for e in events])
            for events in batches:
                accepted = unattributed = 0
                for event in events:
                    attributed = None
                    if event.recommendation_id is not None:
                        attributed = event.recommendation_id in known
                    row = event_row(event, attributed, received_us)
                    if conn.execute(INSERT_EVENT, row).rowcount:
                        accepted += 1
                        unattributed += attributed is False
                results.append(AddResult(accepted, len(events) - accepted, unattributed))
        return results

    def recent_user_activity(
        self, subject: Subject, since: datetime, *, limit: int = 100
    ) -> UserActivity:
        return self._visitor(subject, since, None, limit).activity

    def impression_counts(self, subject: Subject, since: datetime) -> dict[str, ImpressionCount]:
        return self._visitor(subject, None, since, 100).impressions

    def visitor_state(
        self,
        subject: Subject,
        activity_since: datetime,
        fatigue_since: datetime,
        *,
        limit: int = 100,
    ) -> VisitorState:
        return self._visitor(subject, activity_since, fatigue_since, limit)

    def _visitor(
        self,
        subject: Subject,
        activity_since: datetime | None,
        fatigue_since: datetime | None,
        limit: int,
    ) -> VisitorState:
        """One statement returning one row (`_visitor_sql`), then per item here: the
        sqlite3 module lets go of the GIL at every step of a statement, and while the
        impression writer runs, getting it back can take a whole switch interval, so a
        statement per part and a step per row made these reads the slowest part of a
        request. Impressions are counted per slate in SQL and per item through
        `_SlateItemIds`: a slate never changes, and unpacking every shown slate's JSON in
        SQL cost ~10 µs per impression in the window."""
        sql = _visitor_sql(
            _SUBJECT_COLUMN[subject.kind], activity_since is not None, fatigue_since is not None
        )
        params = {
            "subject": subject.id,
            "activity_since": None if activity_since is None else to_us(activity_since),
            "fatigue_since": None if fatigue_since is None else to_us(fatigue_since),
            "limit": limit,
        }
        with self._read() as conn:
            activity_json, shown_json, clicked_json = conn.execute(sql, params).fetchone()
            per_slate: dict[str, int] = orjson.loads(shown_json)
            items = self._slate_item_ids.get(list(per_slate), conn)
        touches: dict[str, list[tuple[int, Touch]]] = defaultdict(list)
        for event_type, item_id, last_us, n in orjson.loads(activity_json):
            touches[_ACTIVITY_FIELD[event_type]].append((n, Touch(item_id, from_us(last_us))))
        newest_first = {field: sorted(found) for field, found in touches.items()}  # n distinct
        activity = UserActivity(
            **{field: tuple(touch for _, touch in found) for field, found in newest_first.items()}
        )
        shown: Counter[str] = Counter()
        for slate_id, times in per_slate.items():
            for item in items[slate_id]:
                shown[item] += times
        clicked: dict[str, int] = orjson.loads(clicked_json)
        impressions = {item: ImpressionCount(n, clicked.get(item, 0)) for item, n in shown.items()}
        return VisitorState(activity, impressions)

    def delete_user(self, user_id: str) -> RemovedCounts:
        sessions_sql = """
            SELECT json_group_array(session_id) FROM (
                SELECT session_id FROM events WHERE user_id = ?1 AND session_id IS NOT NULL
                UNION SELECT session_id FROM impressions
                WHERE user_id = ?1 AND session_id IS NOT NULL)"""
        where = "user_id = ?1 OR session_id IN (SELECT value FROM json_each(?2))"
        with self._write() as conn:
            sessions = conn.execute(sessions_sql, (user_id,)).fetchone()[0]
            params = (user_id, sessions)
            events = conn.execute(f"DELETE FROM events WHERE {where}", params).rowcount
            slates = conn.execute(
                f"SELECT json_group_array(DISTINCT slate_id) FROM impressions WHERE {where}",
                params,
            ).fetchone()[0]
            impressions = conn.execute(f"DELETE FROM impressions WHERE {where}", params).rowcount
            # a personal list (buy again, ...) goes too once no other impression shows it
            conn.execute(
                "DELETE FROM slates WHERE slate_id IN (SELECT value FROM json_each(?))"
                f" AND {_UNUSED_SLATE}",
                (slates,),
            )
            conn.execute(
                "INSERT INTO erasures VALUES (?, ?)"
                " ON CONFLICT (user_id) DO UPDATE SET erased_us = excluded.erased_us",
                (user_id, to_us(datetime.now(UTC))),
            )
        with self._read() as conn:  # drop old page images from the WAL file too
            conn.execute("PRAGMA wal_checkpoint(TRUNCATE)")
        return RemovedCounts(events=events, impressions=impressions)

    def purge_older_than(self, cutoff: datetime) -> RemovedCounts:
        cutoff_us = to_us(cutoff)
        removed = RemovedCounts(
            events=self._delete_in_chunks("events", "ts_us", cutoff_us),
            impressions=self._delete_in_chunks("impressions", "created_us", cutoff_us),
        )
        # slates first stored before the cutoff that no impression shows any more
        self._delete_in_chunks("slates", "created_us", cutoff_us, _UNUSED_SLATE, "slate_id")
        return removed

    def _delete_in_chunks(
        self,
        table: str,
        time_column: str,
        cutoff_us: int,
        condition: str = "1",
        key: str = "rowid",
    ) -> int:
        """Delete old rows (meeting `condition`) in short transactions, so live writers wait
        milliseconds, not the length of the whole purge."""
        sql = f"""DELETE FROM {table} WHERE {key} IN (
            SELECT {key} FROM {table} WHERE {time_column} < ? AND {condition} LIMIT ?)"""
        total = 0
        while True:
            with self._write() as conn:
                removed = conn.execute(sql, (cutoff_us, _PURGE_CHUNK)).rowcount
            total += removed
            if removed < _PURGE_CHUNK:
                return total

    def deleted_users(self) -> dict[str, datetime]:
        with self._read() as conn:
            rows = conn.execute("SELECT user_id, erased_us FROM erasures").fetchall()
        return {user_id: from_us(erased_us) for user_id, erased_us in rows}

    def iter_events(self, since: datetime, until: datetime) -> Iterator[dict[str, Any]]:
        for page in self._pages("events", "ts_us", EVENT_COLUMNS, since, until):
            yield from map(event_dict, page)

    def iter_impressions(self, since: datetime, until: datetime) -> Iterator[dict[str, Any]]:
        for page in self._pages("impressions", "created_us", IMPRESSION_COLUMNS, since, until):
            slates = self._slate_items([row[10] for row in page])
            for row in page:
                yield impression_dict(row, slates.get(row[10], []))

    def _pages(
        self, table: str, time_column: str, columns: str, since: datetime, until: datetime
    ) -> Iterator[list[tuple[Any, ...]]]:
        """Rows (of `columns`) with since <= time < until in (time, rowid) order, one query
        per page, so no connection or lock is held while the caller consumes a page."""
        sql = f"""SELECT rowid, {time_column}, {columns} FROM {table}
            WHERE {time_column} < ? AND ({time_column}, rowid) > (?, ?)
            ORDER BY {time_column}, rowid LIMIT {_PAGE}"""
        until_us, after = to_us(until), (to_us(since), 0)
        while True:
            with self._read() as conn:
                page = conn.execute(sql, (until_us, *after)).fetchall()
            if page:
                yield [row[2:] for row in page]
            if len(page) < _PAGE:
                return
            after = (page[-1][1], page[-1][0])

    def _slate_items(self, slate_ids: list[str]) -> dict[str, list[dict[str, Any]]]:
        with self._read() as conn:
            rows = _slates(conn, sorted(set(slate_ids)))
        return {slate_id: slate_items(items) for slate_id, items in rows}

    def close(self) -> None:
        self._pool.close()


def _json_select(columns: int) -> str:
    values = ", ".join(f"json_extract(value, '$[{i}]')" for i in range(columns))
    return f"SELECT {values} FROM json_each(?1)"


_INSERT_SLATES = "INSERT OR IGNORE INTO slates " + _json_select(3)
_INSERT_IMPRESSIONS = "INSERT OR IGNORE INTO impressions " + _json_select(11)
_UNUSED_SLATE = "NOT EXISTS (SELECT 1 FROM impressions AS i WHERE i.slate_id = slates.slate_id)"


def _impression_row(impression: LoggedImpression) -> tuple[object, ...]:
    return (
        impression.recommendation_id,
        impression.user_id,
        impression.session_id,
        impression.endpoint,
        impression.placement,
        impression.experiment,
        impression.arm,
        impression.model_version,
        impression.context_json,
        to_us(impression.created_at),
        impression.slate.slate_id,
    )


def _configure(conn: sqlite3.Connection) -> None:
    for pragma in _CONNECTION_PRAGMAS:
        conn.execute(pragma)


def _known_recommendations(conn: sqlite3.Connection, events: Sequence[Event]) -> set[str]:
    wanted = sorted({e.recommendation_id for e in events if e.recommendation_id is not None})
    if not wanted:
        return set()
    rows = conn.execute(
        "SELECT recommendation_id FROM impressions"
        " WHERE recommendation_id IN (SELECT value FROM json_each(?))",
        (json.dumps(wanted),),
    ).fetchall()
    return {row[0] for row in rows}
