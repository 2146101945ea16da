"""Contact fatigue: stop pushing items a subject keeps being shown and keeps ignoring.

Rule: an item shown to the subject at least `threshold` times within the window (the
caller reads `EventStore.impression_counts(subject, now - window)`) with no click in that
window is fatigued. The service passes the set as the ranking query's `demote`: the chain
(`recsvc.recommend`) moves such items behind every fresh candidate rather than scaling
their scores (sources score on different scales), so they drop out when enough fresh
candidates exist and still fill the slots when they do not.
"""

from __future__ import annotations

from collections.abc import Mapping

from recsvc.errors import ConfigError
from recsvc.events.models import ImpressionCount


def fatigued_items(counts: Mapping[str, ImpressionCount], threshold: int) -> frozenset[str]:
    """Items with `shown >= threshold` and `clicked == 0`; `threshold` must be ≥ 1."""
    if threshold < 1:
        raise ConfigError(f"fatigue threshold must be at least 1 impression, got {threshold}")
    return frozenset(
        item for item, count in counts.items() if count.shown >= threshold and count.clicked == 0
    )
