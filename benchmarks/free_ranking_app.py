"""The service with ranking that costs nothing: what the serving path alone allows.

`recsvc.main:app` with each endpoint's ranking function (`related`, `cart`,
`next_purchase` as `recsvc.service` calls them) replaced by one that ranks the first
query it meets on a bundle for real and answers every later query on that bundle with
the same recommendation. Everything else a request does is the service's own, unchanged:
body and parameter validation, arm assignment, the visitor's activity and fatigue read,
the answer-cache lookup (a new query is still a miss and renders its answer), the
impression log, metrics, the response.

Its throughput as a ratio to the bare endpoint is therefore the most any ranking code can
reach through this serving path: when it is below a target, no faster ranking meets that
target. `benchmarks/bench_service.py` runs it as the "serving floor" phase.

    uvicorn free_ranking_app:app --app-dir benchmarks   (with the service's RECSVC_* env)
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TypeVar

import recsvc.service
from recsvc.main import app
from recsvc.recommend import RankingConfig, Recommendation, ServingIndex

QueryT = TypeVar("QueryT")
Rank = Callable[[ServingIndex, QueryT, RankingConfig], Recommendation]


def replay_first(rank: Rank[QueryT]) -> Rank[QueryT]:
    """`rank` for the first query on each bundle, its answer again for every later one."""
    first: list[tuple[ServingIndex, Recommendation]] = []

    def replayed(index: ServingIndex, query: QueryT, config: RankingConfig) -> Recommendation:
        if not first or first[0][0] is not index:
            first[:] = [(index, rank(index, query, config))]
        return first[0][1]

    return replayed


for _name in ("related", "cart", "next_purchase"):
    setattr(recsvc.service, _name, replay_first(getattr(recsvc.service, _name)))

__all__ = ["app"]
