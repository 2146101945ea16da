"""Contact fatigue: stop pushing items a subject keeps being shown and keeps ignoring.

Rule: an item shown to the subject at least `threshold` times within the window (the
caller reads `EventStore.impression_counts(subject, now - window)`) with no click in that
window is fatigued. A fatigued item is *moved behind* every fresh candidate, keeping the
relative order inside both groups, rather than having its score multiplied: candidates come
from sources whose scores are on different scales and may be negative (a factor < 1 would
raise a negative score), while a move is scale-free. Apply it to the candidate list before
cutting it to k, so fatigued items drop out when enough fresh ones exist and still fill the
slots when they do not.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from collections.abc import Set as AbstractSet
from typing import TypeVar

from recsvc.errors import ConfigError
from recsvc.events.models import ImpressionCount

T = TypeVar("T")


def fatigued_items(counts: Mapping[str, ImpressionCount], threshold: int) -> frozenset[str]:
    """Items with `shown >= threshold` and `clicked == 0`; `threshold` must be ≥ 1."""
    if threshold < 1:
        raise ConfigError(f"fatigue threshold must be at least 1 impression, got {threshold}")
    return frozenset(
        item for item, count in counts.items() if count.shown >= threshold and count.clicked == 0
    )


def demote_fatigued(
    ranked: Sequence[T], fatigued: AbstractSet[str], item_id: Callable[[T], str]
) -> list[T]:
    """`ranked` with every candidate whose `item_id(candidate)` is in `fatigued` moved to the
    end; a stable partition (same length, same elements, order kept within each group)."""
    fresh = [candidate for candidate in ranked if item_id(candidate) not in fatigued]
    tired = [candidate for candidate in ranked if item_id(candidate) in fatigued]
    return fresh + tired
