"""Contact fatigue: which items are fatigued, and how a ranked list demotes them."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

import pytest
from hypothesis import given
from hypothesis import strategies as st

from recsvc.errors import ConfigError
from recsvc.events import (
    Event,
    Impression,
    ImpressionCount,
    ImpressionItem,
    Subject,
    demote_fatigued,
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


@given(
    ranked=st.lists(st.text(alphabet="abcdefgh", min_size=1, max_size=2), unique=True),
    fatigued=st.frozensets(st.text(alphabet="abcdefgh", min_size=1, max_size=2)),
)
def test_demotion_is_a_stable_partition(ranked: list[str], fatigued: frozenset[str]) -> None:
    # A stable sort on "is fatigued" is the brute-force oracle of the partition.
    expected = sorted(ranked, key=lambda item: item in fatigued)
    assert demote_fatigued(ranked, fatigued, item_id=str) == expected


@dataclass(frozen=True)
class Candidate:
    item_id: str
    score: float


def test_demotion_keeps_candidates_and_scores_untouched() -> None:
    ranked = [Candidate("a", 0.9), Candidate("b", -0.2), Candidate("c", -0.5)]
    demoted = demote_fatigued(ranked, {"a"}, item_id=lambda candidate: candidate.item_id)
    assert demoted == [ranked[1], ranked[2], ranked[0]]


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
    assert tired == {"ignored"}
    assert demote_fatigued(["ignored", "clicked", "fresh"], tired, item_id=str) == [
        "clicked",
        "fresh",
        "ignored",
    ]
