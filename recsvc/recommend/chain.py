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
"""

from __future__ import annotations

import math
from collections.abc import Sequence

import numpy as np

from recsvc.errors import ConfigError
from recsvc.recommend.candidates import Candidates, Request
from recsvc.recommend.config import Step
from recsvc.recommend.index import ServingIndex
from recsvc.recommend.query import Recommendation, Slot
from recsvc.recommend.sources import SOURCES


class _Filler:
    def __init__(self, index: ServingIndex, request: Request) -> None:
        self.index = index
        self.request = request
        self.blocked = ~request.allowed
        self.slots: list[Slot] = []
        self.computed: dict[str, Candidates] = {}

    @property
    def free(self) -> int:
        return self.request.k - len(self.slots)

    def candidates(self, name: str) -> Candidates:
        if name not in self.computed:
            self.computed[name] = SOURCES[name](self.index, self.request)
        return self.computed[name]

    def take(self, name: str, cap: int, *, demoted: bool = False) -> None:
        need = min(cap, self.free)
        if need <= 0:
            return
        found = self.candidates(name)
        usable = ~self.blocked[found.items]
        if not demoted:
            usable &= ~self.request.demoted[found.items]
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


def run_chain(
    index: ServingIndex, request: Request, steps: Sequence[Step], fallback: Sequence[str]
) -> Recommendation:
    """At most `request.k` distinct allowed items from `steps` then `fallback` (module
    docstring); raises `ConfigError` for a source name not in `SOURCES`."""
    check_sources([step.source for step in steps] + list(fallback))
    filler = _Filler(index, request)
    for step in steps:
        filler.take(step.source, math.ceil(step.share * request.k))
    for step in steps:
        filler.take(step.source, request.k)
    for name in fallback:
        filler.take(name, request.k)
    for name in list(filler.computed):
        filler.take(name, request.k, demoted=True)
    return Recommendation(items=filler.slots)
