"""Schema, migrations and row layout of the SQLite event store (docs/event-store.md).

The schema version is `PRAGMA user_version`; `_MIGRATIONS[n]` takes a database from version
n to n + 1. Migrations are history: never edit one that has shipped, append a new one.
Times are stored as integer microseconds since the Unix epoch, UTC.
"""

from __future__ import annotations

import json
import sqlite3
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime, timedelta
from typing import Any

from recsvc.errors import EventStoreError, InvalidQueryError
from recsvc.events.models import Event

_MIGRATIONS: tuple[tuple[str, ...], ...] = (
    (  # 1: events, impressions with their items, erasures
        """CREATE TABLE events (
            event_id TEXT PRIMARY KEY NOT NULL,
            event_type TEXT NOT NULL
                CHECK (event_type IN ('impression', 'view', 'click', 'bid', 'purchase')),
            user_id TEXT,
            session_id TEXT,
            item_id TEXT NOT NULL,
            ts_us INTEGER NOT NULL,
            recommendation_id TEXT,
            attributed INTEGER CHECK (attributed IN (0, 1)),
            amount REAL CHECK (amount >= 0),
            position INTEGER CHECK (position >= 1),
            received_us INTEGER NOT NULL,
            CHECK (user_id IS NOT NULL OR session_id IS NOT NULL)
        )""",
        "CREATE INDEX events_user_ts ON events (user_id, ts_us) WHERE user_id IS NOT NULL",
        "CREATE INDEX events_session_ts ON events (session_id, ts_us) WHERE session_id IS NOT NULL",
        "CREATE INDEX events_ts ON events (ts_us)",
        """CREATE TABLE impressions (
            recommendation_id TEXT PRIMARY KEY NOT NULL,
            user_id TEXT,
            session_id TEXT,
            endpoint TEXT NOT NULL,
            placement TEXT,
            experiment TEXT,
            arm TEXT,
            model_version TEXT NOT NULL,
            context TEXT NOT NULL,
            created_us INTEGER NOT NULL
        )""",
        "CREATE INDEX impressions_user_created ON impressions (user_id, created_us)"
        " WHERE user_id IS NOT NULL",
        "CREATE INDEX impressions_session_created ON impressions (session_id, created_us)"
        " WHERE session_id IS NOT NULL",
        "CREATE INDEX impressions_created ON impressions (created_us)",
        """CREATE TABLE impression_items (
            recommendation_id TEXT NOT NULL
                REFERENCES impressions (recommendation_id) ON DELETE CASCADE,
            rank INTEGER NOT NULL CHECK (rank >= 1),
            item_id TEXT NOT NULL,
            score REAL NOT NULL,
            strategy TEXT NOT NULL,
            propensity REAL NOT NULL CHECK (propensity > 0 AND propensity <= 1),
            PRIMARY KEY (recommendation_id, rank)
        ) WITHOUT ROWID""",
        """CREATE TABLE erasures (
            user_id TEXT PRIMARY KEY NOT NULL,
            erased_us INTEGER NOT NULL
        ) WITHOUT ROWID""",
    ),
    (  # 2: an impression's items as a slate shared by every impression of the same list
        """CREATE TABLE slates (
            slate_id TEXT PRIMARY KEY NOT NULL,
            items TEXT NOT NULL CHECK (json_valid(items)),
            created_us INTEGER NOT NULL
        ) WITHOUT ROWID""",
        "ALTER TABLE impressions ADD COLUMN slate_id TEXT REFERENCES slates (slate_id)",
        # an existing impression's items become a slate with the impression's id
        """INSERT INTO slates (slate_id, items, created_us)
            SELECT i.recommendation_id, (
                SELECT json_group_array(
                    json_array(ii.item_id, ii.rank, ii.score, ii.strategy, ii.propensity))
                FROM impression_items AS ii WHERE ii.recommendation_id = i.recommendation_id
            ), i.created_us
            FROM impressions AS i""",
        "UPDATE impressions SET slate_id = recommendation_id",
        "DROP TABLE impression_items",
        "CREATE INDEX impressions_slate ON impressions (slate_id)",
    ),
)
SCHEMA_VERSION = len(_MIGRATIONS)
_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)


def to_us(moment: datetime) -> int:
    """Microseconds since the Unix epoch (UTC) of an aware datetime."""
    if moment.tzinfo is None:
        raise InvalidQueryError(f"{moment.isoformat()} has no time zone; pass an aware datetime")
    return (moment - _EPOCH) // timedelta(microseconds=1)


def from_us(micros: int) -> datetime:
    """Inverse of `to_us`, in UTC."""
    return _EPOCH + timedelta(microseconds=micros)


@contextmanager
def immediate_transaction(conn: sqlite3.Connection) -> Iterator[sqlite3.Connection]:
    """`BEGIN IMMEDIATE` (take the write lock now, waiting up to the busy timeout), commit
    on exit, roll back on any error. `conn` must be in autocommit mode."""
    conn.execute("BEGIN IMMEDIATE")
    try:
        yield conn
        conn.execute("COMMIT")
    except BaseException:
        if conn.in_transaction:
            conn.execute("ROLLBACK")
        raise


def migrate(conn: sqlite3.Connection, where: str) -> None:
    """Bring the schema to `SCHEMA_VERSION` in one transaction; refuse a newer schema."""
    if _schema_version(conn, where) == SCHEMA_VERSION:
        return
    with immediate_transaction(conn):
        version = _schema_version(conn, where)  # another process may have migrated meanwhile
        for statements in _MIGRATIONS[version:]:
            for statement in statements:
                conn.execute(statement)
        conn.execute(f"PRAGMA user_version = {SCHEMA_VERSION}")


def _schema_version(conn: sqlite3.Connection, where: str) -> int:
    version: int = conn.execute("PRAGMA user_version").fetchone()[0]
    if version > SCHEMA_VERSION:
        raise EventStoreError(
            f"event store {where} has schema version {version}, this recsvc reads up to "
            f"{SCHEMA_VERSION}: upgrade recsvc (never downgrade it over a migrated store)"
        )
    return version


INSERT_EVENT = "INSERT OR IGNORE INTO events VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)"
EVENT_COLUMNS = (
    "event_id, event_type, user_id, session_id, item_id, ts_us, recommendation_id, amount,"
    " position, attributed, received_us"
)
IMPRESSION_COLUMNS = (
    "recommendation_id, user_id, session_id, endpoint, placement, experiment, arm,"
    " model_version, context, created_us, slate_id"
)


def event_row(event: Event, attributed: bool | None, received_us: int) -> tuple[Any, ...]:
    return (
        event.event_id,
        event.type,
        event.user_id,
        event.session_id,
        event.item_id,
        to_us(event.timestamp),
        event.recommendation_id,
        None if attributed is None else int(attributed),
        event.amount,
        event.position,
        received_us,
    )


def event_dict(row: tuple[Any, ...]) -> dict[str, Any]:
    event_id, event_type, user_id, session_id, item_id, ts_us, rec_id, amount, position = row[:9]
    attributed, received_us = row[9:]
    return {
        "event_id": event_id,
        "type": event_type,
        "user_id": user_id,
        "session_id": session_id,
        "item_id": item_id,
        "timestamp": from_us(ts_us),
        "recommendation_id": rec_id,
        "amount": amount,
        "position": position,
        "attributed": None if attributed is None else bool(attributed),
        "received_at": from_us(received_us),
    }


def slate_items(items_json: str) -> list[dict[str, Any]]:
    """A slate's items as `ImpressionItem` dicts, in rank order."""
    rows = sorted(json.loads(items_json), key=lambda row: row[1])
    return [
        {
            "item_id": item_id,
            "rank": rank,
            "score": score,
            "strategy": strategy,
            "propensity": propensity,
        }
        for item_id, rank, score, strategy, propensity in rows
    ]


def impression_dict(row: tuple[Any, ...], items: list[dict[str, Any]]) -> dict[str, Any]:
    rec_id, user_id, session_id, endpoint, placement, experiment, arm, version = row[:8]
    context, created_us = row[8:10]
    return {
        "recommendation_id": rec_id,
        "user_id": user_id,
        "session_id": session_id,
        "endpoint": endpoint,
        "placement": placement,
        "experiment": experiment,
        "arm": arm,
        "model_version": version,
        "items": items,
        "context": json.loads(context),
        "created_at": from_us(created_us),
    }
