"""An LRU of ranked answers per live bundle, the way Gorse and Personalize serve precomputed
lists.

The ranking functions are pure functions of (index, query, config), so an answer can be
reused whenever the same query meets the same bundle and configuration. The key is
(endpoint, arm strategy, the query *after* personalisation): a visitor's recent activity,
contact-fatigue demotions and the ranking time are fields of that query, so a new event
or impression that changes them changes the key and the answer is ranked afresh. Only the
per-request parts (recommendation id, arm, impression, metrics) are added on each serving.

The cache belongs to one `Live` bundle: the first lookup on another one (after a hot
swap) empties it, so an answer never outlives the bundle that ranked it.
"""

from __future__ import annotations

import math
import threading
from collections import Counter, OrderedDict
from collections.abc import Callable, Hashable
from dataclasses import dataclass, field

from recsvc.events import ImpressionItem
from recsvc.metrics import Metrics
from recsvc.recommend import Recommendation, Slot


@dataclass
class Answer:
    """A ranked list as served, with the renderings every serving of it reuses.

    `slots` never change; `items_json` is filled once by the HTTP layer (the response's
    `items` array, see `recsvc.api.render`).
    """

    slots: tuple[Slot, ...]
    items_json: bytes | None = None
    strategy_counts: tuple[tuple[str, int], ...] = ()
    _impression_items: dict[float, tuple[ImpressionItem, ...]] = field(default_factory=dict)

    @classmethod
    def of(cls, recommendation: Recommendation) -> Answer:
        slots = tuple(recommendation.items)
        counts = Counter(slot.strategy for slot in slots)
        return cls(slots, strategy_counts=tuple(counts.items()))

    def impression_items(self, propensity: float) -> tuple[ImpressionItem, ...]:
        """The impression log's items (score 0 where not finite) for an arm's propensity."""
        items = self._impression_items.get(propensity)
        if items is None:
            items = tuple(
                ImpressionItem.model_construct(
                    item_id=slot.item_id,
                    rank=slot.rank,
                    score=slot.score if math.isfinite(slot.score) else 0.0,
                    strategy=slot.strategy,
                    propensity=propensity,
                )
                for slot in self.slots
            )
            self._impression_items[propensity] = items
        return items


class AnswerCache:
    """At most `capacity` answers of one live bundle, least recently used evicted first;
    `capacity` 0 ranks every request. Hits and misses are counted per endpoint in
    `recsvc_answer_cache_total`. Thread-safe."""

    def __init__(self, capacity: int, metrics: Metrics) -> None:
        self.capacity = capacity
        self._metrics = metrics
        self._owner: object | None = None
        self._answers: OrderedDict[Hashable, Answer] = OrderedDict()
        self._lock = threading.Lock()

    def __len__(self) -> int:
        return len(self._answers)

    def answer(
        self, owner: object, endpoint: str, key: Hashable, rank: Callable[[], Recommendation]
    ) -> Answer:
        """The cached answer of `key` for the bundle `owner`, else `rank()` (stored)."""
        if self.capacity <= 0:
            self._count(endpoint, "off")
            return Answer.of(rank())
        with self._lock:
            if owner is not self._owner:
                self._answers.clear()
                self._owner = owner
            found = self._answers.get(key)
            if found is not None:
                self._answers.move_to_end(key)
        if found is not None:
            self._count(endpoint, "hit")
            return found
        self._count(endpoint, "miss")
        ranked = Answer.of(rank())
        with self._lock:
            if owner is self._owner:  # a request on a swapped-out bundle does not store
                self._answers[key] = ranked
                if len(self._answers) > self.capacity:
                    self._answers.popitem(last=False)
        return ranked

    def _count(self, endpoint: str, outcome: str) -> None:
        self._metrics.child(self._metrics.answer_cache, endpoint, outcome).inc()
