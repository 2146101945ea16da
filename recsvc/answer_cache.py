"""An LRU of ranked answers per live bundle, the way Gorse and Personalize serve precomputed
lists.

The ranking functions are pure functions of (index, query, config), so an answer can be
reused whenever the same query meets the same bundle and configuration. The key is
(endpoint, arm strategy, the query *after* personalisation): a visitor's recent activity,
contact-fatigue demotions and the ranking time are fields of that query, so a new event
or impression that changes them changes the key and the answer is ranked afresh. Only the
per-request parts (recommendation id, arm, impression, metrics) are added on each serving.

Everything kept is invisible to the cyclic GC: keys are strings, answers are plain tuples
of plain values and bytes. With query objects as keys and models as values, full
collections over a full cache paused the event loop for 100-500 ms.

The cache belongs to one `Live` bundle: the first lookup on another one (after a hot
swap) empties it, so an answer never outlives the bundle that ranked it.
"""

from __future__ import annotations

import math
import threading
from collections import Counter, OrderedDict
from collections.abc import Callable
from typing import NamedTuple

from recsvc.events import Slate
from recsvc.metrics import Metrics
from recsvc.recommend import Recommendation, ServingIndex

Row = tuple[str, int, float, str, str, int]
"""One slot as served: (item_id, rank, score, strategy, reason, item index)."""
RenderItems = Callable[[tuple[Row, ...], ServingIndex], bytes]
"""How the HTTP layer writes the `items` array of a response (`recsvc.api.render`)."""


class Answer(NamedTuple):
    """A ranked list as served, with what every serving of it reuses: its rows, the
    response's `items` array as JSON bytes, slot counts per strategy, and the impression
    log's slate for the propensity it was first served with.

    The cache keeps it as a plain tuple of plain values (`tuple(answer)`), which the cyclic
    GC stops tracking once it has seen it: a full collection then walks no cached answer.
    """

    rows: tuple[Row, ...]
    items_json: bytes
    strategy_counts: tuple[tuple[str, int], ...]
    propensity: float
    slate_id: str  # the `Slate` for `propensity`, as two strings (a plain tuple stays
    slate_items: str  # untracked by the GC, a NamedTuple inside one would not)

    @classmethod
    def of(
        cls,
        recommendation: Recommendation,
        index: ServingIndex,
        render: RenderItems,
        propensity: float,
    ) -> Answer:
        slots = recommendation.items
        rows = tuple(
            (s.item_id, s.rank, s.score, s.strategy, s.reason, s.item_index) for s in slots
        )
        counts = tuple(Counter(slot.strategy for slot in slots).items())
        return cls(rows, render(rows, index), counts, propensity, *_slate(rows, propensity))

    def slate_for(self, propensity: float) -> Slate:
        """The impression log's slate (score 0 where not finite) for an arm's propensity."""
        if propensity == self.propensity:
            return Slate(self.slate_id, self.slate_items)
        return _slate(self.rows, propensity)


def _slate(rows: tuple[Row, ...], propensity: float) -> Slate:
    return Slate.of(
        [
            (item_id, rank, score if math.isfinite(score) else 0.0, strategy, propensity)
            for item_id, rank, score, strategy, _, _ in rows
        ]
    )


class AnswerCache:
    """At most `capacity` answers per endpoint of one live bundle, least recently used
    evicted first; `capacity` 0 ranks every request. Each endpoint has its own LRU, so a
    stream of one-off carts does not evict the product pages' related items. Hits and
    misses are counted per endpoint in `recsvc_answer_cache_total`. Thread-safe."""

    def __init__(self, capacity: int, metrics: Metrics) -> None:
        self.capacity = capacity
        self._metrics = metrics
        self._owner: object | None = None
        self._answers: dict[str, OrderedDict[str, tuple[object, ...]]] = {}
        self._lock = threading.Lock()

    def __len__(self) -> int:
        return sum(len(answers) for answers in self._answers.values())

    def answer(self, owner: object, endpoint: str, key: str, rank: Callable[[], Answer]) -> Answer:
        """The cached answer of `key` for the bundle `owner`, else `rank()` (stored)."""
        if self.capacity <= 0:
            self._count(endpoint, "off")
            return rank()
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
            return Answer._make(found)
        self._count(endpoint, "miss")
        ranked = rank()
        with self._lock:
            if owner is self._owner:  # a request on a swapped-out bundle does not store
                answers = self._answers.setdefault(endpoint, OrderedDict())
                answers[key] = tuple(ranked)
                if len(answers) > self.capacity:
                    answers.popitem(last=False)
        return ranked

    def _count(self, endpoint: str, outcome: str) -> None:
        self._metrics.child(self._metrics.answer_cache, endpoint, outcome).inc()
