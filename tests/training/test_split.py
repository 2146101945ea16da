"""Time splits: strict by timestamp, nothing lost, nothing leaked."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import polars as pl
import pytest
from hypothesis import given
from hypothesis import strategies as st

from training.data.split import holdout_window, time_split
from training.errors import EmptyDataError

MOMENTS = st.datetimes(
    min_value=datetime(2009, 1, 1), max_value=datetime(2012, 1, 1), timezones=st.just(UTC)
)


def frame(times: list[datetime]) -> pl.DataFrame:
    return pl.DataFrame(
        {"row": range(len(times)), "timestamp": times},
        schema={"row": pl.Int64, "timestamp": pl.Datetime("us", "UTC")},
    )


@given(st.lists(MOMENTS, max_size=40), MOMENTS)
def test_split_loses_nothing_and_leaks_nothing(times: list[datetime], cutoff: datetime) -> None:
    events = frame(times)
    train, test = time_split(events, cutoff)
    assert sorted(train["row"].to_list() + test["row"].to_list()) == list(range(len(times)))
    assert all(t < cutoff for t in train["timestamp"])
    assert all(t >= cutoff for t in test["timestamp"])


def test_event_at_the_cutoff_is_test_and_naive_cutoff_is_utc() -> None:
    cutoff = datetime(2011, 1, 1, 12, 0)
    events = frame(
        [cutoff.replace(tzinfo=UTC) - timedelta(microseconds=1), cutoff.replace(tzinfo=UTC)]
    )
    train, test = time_split(events, cutoff)
    assert (train["row"].to_list(), test["row"].to_list()) == ([0], [1])


def test_holdout_window_counts_back_from_the_latest_event() -> None:
    events = frame([datetime(2011, 1, d, tzinfo=UTC) for d in (1, 5, 10)])
    cutoff = holdout_window(events, 5)
    assert cutoff == datetime(2011, 1, 5, tzinfo=UTC)
    assert time_split(events, cutoff)[1]["row"].to_list() == [1, 2]
    with pytest.raises(ValueError, match="positive"):
        holdout_window(events, 0)
    with pytest.raises(EmptyDataError):
        holdout_window(events.clear(), 3)


def test_null_timestamps_are_refused() -> None:
    events = pl.DataFrame({"timestamp": [None]}, schema={"timestamp": pl.Datetime("us", "UTC")})
    with pytest.raises(ValueError, match="null timestamp"):
        time_split(events, datetime(2011, 1, 1, tzinfo=UTC))
