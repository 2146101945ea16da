"""An LRU of ranked answers per live bundle, the way Gorse and Personalize serve precomputed
lists.

The ranking functions are pure functions of (index, query, config), so an answer can be
reused whenever the same query meets the same bundle and configuration. The key is
(endpoint, arm strategy, the query *after* personalisation): a visitor's recent activity,
contact-fatigue demotions and the ranking time are fields of that query, so a new event
or impression that changes them changes the key and the answer is ranked afresh. Only the
per-request parts (recommendation id, arm, impression, metrics) are added on each serving.

Everything kept is invisible to the cyclic GC but the `Answer` objects themselves: keys
are strings, rows are tuples of plain values, renderings are bytes. With query objects
as keys and models as values, full collections over a full cache paused the event loop
for 100-500 ms.

The cache belongs to one `Live` bundle: the first lookup on another one (after a hot
swap) empties it, so an answer never outlives the bundle that ranked it.
"""

from __future__ import annotations

import math
import threading
from collections import Counter, OrderedDict
from collections.abc import Callable, Sequence

from recsvc.events import ItemRow
from recsvc.metrics import Metrics
from recsvc.recommend import Recommendation, Slot

Row = tuple[str, int, float, str, str, int]
"""One slot as served: (item_id, rank, score, strategy, reason, item index)."""


class Answer:
    """A ranked list as served, with the rendering every serving of it reuses.

    Compact on purpose, because the cache keeps thousands of them and the cyclic GC walks
    every tracked object in its full collections: the slots are kept as plain tuples of
    plain values (`Row`), which the GC stops tracking once it has seen them, and
    `items_json` (the response's `items` array, see `recsvc.api.render`) is bytes, filled
    once by the HTTP layer. So one answer is one tracked object, not dozens.
    """

    __slots__ = ("_logged", "items_json", "rows", "strategy_counts")

    def __init__(self, slots: Sequence[Slot]) -> None:
        self.rows: tuple[Row, ...] = tuple(
            (s.item_id, s.rank, s.score, s.strategy, s.reason, s.item_index) for s in slots
        )
        self.items_json: bytes | None = None
        self.strategy_counts = tuple(Counter(slot.strategy for slot in slots).items())
        self._logged: tuple[float, tuple[ItemRow, ...]] | None = None

    @classmethod
    def of(cls, recommendation: Recommendation) -> Answer:
        return cls(recommendation.items)

    def logged_items(self, propensity: float) -> tuple[ItemRow, ...]:
        """The impression log's items (score 0 where not finite) for an arm's propensity;
        kept for the last propensity asked (plain tuples, like `rows`)."""
        if self._logged is not None and self._logged[0] == propensity:
            return self._logged[1]
        items = tuple(
            (item_id, rank, score if math.isfinite(score) else 0.0, strategy, propensity)
            for item_id, rank, score, strategy, _, _ in self.rows
        )
        self._logged = (propensity, items)
        return items


class AnswerCache:
    """At most `capacity` answers per endpoint of one live bundle, least recently used
    evicted first; `capacity` 0 ranks every request. Each endpoint has its own LRU, so a
    stream of one-off carts does not evict the product pages' related items. Hits and
    misses are counted per endpoint in `recsvc_answer_cache_total`. Thread-safe."""

    def __init__(self, capacity: int, metrics: Metrics) -> None:
        self.capacity = capacity
        self._metrics = metrics
        self._owner: object | None = None
        self._answers: dict[str, OrderedDict[str, Answer]] = {}
        self._lock = threading.Lock()

    def __len__(self) -> int:
        return sum(len(answers) for answers in self._answers.values())

    def answer(
        self, owner: object, endpoint: str, key: str, rank: Callable[[], Recommendation]
    ) -> Answer:
        """The cached answer of `key` for the bundle `owner`, else `rank()` (stored)."""
        if self.capacity <= 0:
            self._count(endpoint, "off")
            return Answer.of(rank())
        with self._lock:
            if owner is not self._owner:
                self._answers.clear()
                self._owner = owner
            answers = self._answers.setdefault(endpoint, OrderedDict())
            found = answers.get(key)
            if found is not None:
                answers.move_to_end(key)
        if found is not None:
            self._count(endpoint, "hit")
            return found
        self._count(endpoint, "miss")
        ranked = Answer.of(rank())
        with self._lock:
            if owner is self._owner:  # a request on a swapped-out bundle does not store
                answers = self._answers.setdefault(endpoint, OrderedDict())
                answers[key] = ranked
                if len(answers) > self.capacity:
                    answers.popitem(last=False)
        return ranked

    def _count(self, endpoint: str, outcome: str) -> None:
        self._metrics.child(self._metrics.answer_cache, endpoint, outcome).inc()
