"""Contact fatigue: which items are fatigued, and how a ranked list demotes them."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from recsvc.errors import ConfigError
from recsvc.events import (
    Event,
    Impression,
    ImpressionCount,
    ImpressionItem,
    Subject,
    fatigued_items,
    open_store,
)


def test_items_shown_at_least_threshold_times_without_a_click_are_fatigued() -> None:
    counts = {
        "shown3": ImpressionCount(shown=3, clicked=0),
        "shown5": ImpressionCount(shown=5, clicked=0),
        "clicked": ImpressionCount(shown=9, clicked=1),
        "shown2": ImpressionCount(shown=2, clicked=0),
    }
    assert fatigued_items(counts, threshold=3) == {"shown3", "shown5"}
    assert fatigued_items(counts, threshold=1) == {"shown3", "shown5", "shown2"}
    assert fatigued_items({}, threshold=1) == frozenset()


@pytest.mark.parametrize("threshold", [0, -2])
def test_a_threshold_below_one_is_a_config_error(threshold: int) -> None:
    with pytest.raises(ConfigError, match="at least 1"):
        fatigued_items({}, threshold)


def test_store_counts_feed_the_fatigue_rule() -> None:
    now = datetime(2026, 11, 2, 12, tzinfo=UTC)
    store = open_store("memory://")
    for n in range(3):
        store.record_impression(
            Impression(
                recommendation_id=f"r{n}",
                user_id="u1",
                endpoint="next_purchase",
                model_version="v1",
                items=tuple(
                    ImpressionItem(item_id=item, rank=rank, score=0.0, strategy="s", propensity=1)
                    for rank, item in enumerate(["ignored", "clicked", "fresh"][: 3 - n], start=1)
                ),
                created_at=now - timedelta(hours=n),
            )
        )
    store.add_events(
        [Event(event_id="c", type="click", user_id="u1", item_id="clicked", timestamp=now)]
    )
    counts = store.impression_counts(Subject.user("u1"), now - timedelta(hours=24))
    store.close()
    tired = fatigued_items(counts, threshold=3)
    assert tired == {"ignored"}  # the service passes this set as the query's `demote`
