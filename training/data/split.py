"""Time splits of a canonical event frame.

`time_split` cuts strictly by timestamp: train holds every event with `timestamp < cutoff`,
test every event with `timestamp >= cutoff`. Every input row lands in exactly one side, in
its input order; no train event is later than any test event.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import polars as pl

from training.data.schema import TS
from training.errors import EmptyDataError


def time_split(events: pl.DataFrame, cutoff: datetime) -> tuple[pl.DataFrame, pl.DataFrame]:
    """(train, test) with train < `cutoff` <= test. A naive `cutoff` is read as UTC.

    Raises `ValueError` on null timestamps: such rows belong to neither side (adapters never
    emit them).
    """
    if events[TS].null_count():
        raise ValueError("events with a null timestamp cannot be split by time")
    before = pl.col(TS) < _utc(cutoff)
    return events.filter(before), events.filter(~before)


def holdout_window(events: pl.DataFrame, days: float) -> datetime:
    """The cutoff for "the last `days` days": latest event time minus `days` (UTC).

    With `time_split`, the test side is then every event in [latest - days, latest].
    Raises `EmptyDataError` when there is no event, `ValueError` when `days` <= 0.
    """
    if days <= 0:
        raise ValueError(f"a holdout window needs a positive number of days, not {days}")
    latest = events[TS].max()
    if not isinstance(latest, datetime):
        raise EmptyDataError("no events: a holdout window needs at least one event")
    return _utc(latest) - timedelta(days=days)


def _utc(moment: datetime) -> datetime:
    if moment.tzinfo is None:
        return moment.replace(tzinfo=UTC)
    return moment.astimezone(UTC)
