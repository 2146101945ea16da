"""Filling k slots from an ordered chain of sources, with provenance per slot.

Passes, all sharing one set of blocked items (disallowed or already placed):
1. each step in order takes up to ceil(share × k) of its candidates;
2. the steps again in order, without caps, until k slots are filled;
3. the fallback sources in order, until k slots are filled;
4. contact fatigue: demoted items were skipped by passes 1-3; if slots are still free,
   they are filled with demoted candidates, sources in the order they were first used.
So a demoted item never precedes a non-demoted one, and appears only when no
non-demoted candidate is left. A source is computed at most once per request, and only
when a pass needs it. Slots keep the order of the passes; within one source's run the
scores are non-increasing.

Depth: a pass reads a source's candidates only until it has what it needs, and among the
first 2k + d of them (d demoted items) at most k - 1 are placed and d demoted, so it never
reads further. Sources are asked for `depth(k, d)` = 2k × (2 + ⌊d / 2k⌋) ≥ 2k + d: the
same for every d in a step of 2k, so a `Plan` ranked again after a few more items were
demoted (up to 2k of them at first) reuses its sources.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import replace

import numpy as np

from recsvc.errors import ConfigError
from recsvc.recommend.candidates import BoolArray, Candidates, Request, depth
from recsvc.recommend.config import Step
from recsvc.recommend.filters import id_mask
from recsvc.recommend.index import ServingIndex
from recsvc.recommend.query import Recommendation, Slot
from recsvc.recommend.sources import SOURCES


class Plan:
    """A resolved request and its chain, ready to rank under any set of demoted items.

    Sources do not depend on contact fatigue, only on the depth it calls for, so the
    candidates computed by one `rank` are kept and reused by the next at the same depth:
    a visitor shown the same list a few more times gets their next answer without running
    the sources again. Ranking a plan gives exactly what ranking the query afresh with that
    demote set gives. Safe to share between threads (a race computes a source twice).
    """

    def __init__(
        self, index: ServingIndex, request: Request, steps: Sequence[Step], fallback: Sequence[str]
    ) -> None:
        check_sources([step.source for step in steps] + list(fallback))
        self.index = index
        self.request = request
        self.steps = tuple(steps)
        self.fallback = tuple(fallback)
        self._sources: tuple[Request, dict[str, Candidates]] = (request, {})

    def rank(self, demote: frozenset[str]) -> Recommendation:
        """At most k distinct allowed items from the steps then the fallback, items in
        `demote` (ids; unknown ones ignored) after all others (module docstring)."""
        demoted = id_mask(self.index, demote)
        request, computed = self._sources
        wanted = depth(request.k, int(np.count_nonzero(demoted)))
        if request.depth != wanted:
            request, computed = replace(request, depth=wanted), {}
            self._sources = request, computed
        filler = _Filler(self.index, request, demoted, computed)
        k = request.k
        for step in self.steps:
            filler.take(step.source, math.ceil(step.share * k))
        for step in self.steps:
            filler.take(step.source, k)
        for name in self.fallback:
            filler.take(name, k)
        for name in list(filler.used):
            filler.take(name, k, demoted=True)
        return Recommendation(items=filler.slots)


class _Filler:
    def __init__(
        self,
        index: ServingIndex,
        request: Request,
        demoted: BoolArray,
        computed: dict[str, Candidates],
    ) -> None:
        self.index = index
        self.request = request
        self.demoted = demoted
        self.blocked = ~request.allowed
        self.slots: list[Slot] = []
        self.computed = computed
        self.used: dict[str, None] = {}  # sources in the order this ranking first used them

    @property
    def free(self) -> int:
        return self.request.k - len(self.slots)

    def candidates(self, name: str) -> Candidates:
        self.used[name] = None
        found = self.computed.get(name)
        if found is None:
            found = self.computed[name] = SOURCES[name](self.index, self.request)
        return found

    def take(self, name: str, cap: int, *, demoted: bool = False) -> None:
        need = min(cap, self.free)
        if need <= 0:
            return
        found = self.candidates(name)
        usable = ~self.blocked[found.items]
        if not demoted:
            usable &= ~self.demoted[found.items]
        for position in np.flatnonzero(usable)[:need].tolist():
            self.place(name, found, position)

    def place(self, name: str, found: Candidates, position: int) -> None:
        item = int(found.items[position])
        strategy, reason = found.explain(position)
        self.slots.append(
            Slot(
                item_id=self.index.catalog.ids[item],
                rank=len(self.slots) + 1,
                score=float(found.scores[position]),
                strategy=strategy,
                reason=reason,
                item_index=item,
                source=name,
            )
        )
        self.blocked[item] = True


def check_sources(names: Sequence[str]) -> None:
    """Raise `ConfigError` naming the first name that is not a registered source."""
    for name in names:
        if name not in SOURCES:
            raise ConfigError(f"unknown candidate source {name!r}; known: {sorted(SOURCES)}")
