"""Offline replay: ask the service's ranking functions for every held-out request, per strategy.

Strategies are `RankingConfig`s run through the very functions the service calls
(`recsvc.recommend.related` for the related task, `next_purchase` for the next order), so a
replayed list is what production would have served with that bundle and configuration:

- `blend`: `DEFAULT_CONFIG`, the service's model arm;
- `popular`: `POPULAR_CONFIG`, the service's control arm (global popularity);
- `deals`: "today's deals" (`training.evaluation.baselines`), not a ranking config;
- single models, each topped up with global popularity to k slots like any list the shop
  would show: `buy_again` (the shopper's own purchases by frequency and recency) on the
  next order; `rules` (association rules), `itemknn` (item-kNN neighbours) on related
  items; `als` and `lightfm` (the hybrid) on both — neighbours of the item for related
  items, user × item scores ("cross_sell") for the next order.

Lists are requested at every k separately, because a chain's shares depend on k. A
single-step chain (or none) gives nested lists — its list at k is the prefix of its list at
any larger k — so those strategies are asked once at the largest k and cut.

The `served` frame (see `training.evaluation.metrics`) gets `list_k` (the k asked for; every
metric of a list is taken at k = list_k) and `source` (the provenance the ranking reported
per slot), plus the request's slice columns: user_id, segment (the bundle's lifecycle label
of a known shopper, "first_time" for a shopper id it does not know, "anonymous"), country,
is_new.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field, replace
from typing import Any, Final

import polars as pl

from recsvc.recommend import (
    DEFAULT_CONFIG,
    POPULAR_CONFIG,
    Activity,
    BlendWeights,
    Context,
    CrossSellWeights,
    MixConfig,
    RankingConfig,
    Recommendation,
    RelatedQuery,
    RepurchaseConfig,
    ServingIndex,
    Step,
    UserQuery,
    next_purchase,
    related,
)
from training.data.schema import COUNTRY, EVENT, HOUR, ITEM, SESSION, TS, USER
from training.evaluation.baselines import DEALS, todays_deals
from training.evaluation.metrics import IS_NEW, RANK, REQUEST, SEGMENT, STRATEGY
from training.evaluation.tasks import RECENT, RELATED, SEEDS, TASKS, TaskSet

LIST_K: Final = "list_k"
SOURCE: Final = "source"
FIRST_TIME: Final = "first_time"
ANONYMOUS: Final = "anonymous"

SERVED_SCHEMA: Final = pl.Schema(
    {
        REQUEST: pl.String,
        STRATEGY: pl.String,
        LIST_K: pl.Int64,
        RANK: pl.Int64,
        ITEM: pl.String,
        SOURCE: pl.String,
    }
)


@dataclass(frozen=True)
class Strategy:
    """A named way to fill a list; `config` None means a computed baseline (deals)."""

    name: str
    description: str
    config: RankingConfig | None = None
    tasks: tuple[str, ...] = TASKS


# The single models run as they come, without the tuning of `DEFAULT_CONFIG`: no
# popularity prior on item neighbours, the plain buy-again score.
PLAIN_REPURCHASE: Final = RepurchaseConfig(repeat_rate_exponent=0.0, preference_weight=0.0)


def _item_weights(
    *, rules: float = 0.0, itemknn: float = 0.0, als: float = 0.0, hybrid: float = 0.0
) -> BlendWeights:
    """Blend weights with every item-to-item source off except those given, no prior."""
    return replace(
        BlendWeights(), rules=rules, itemknn=itemknn, als=als, hybrid=hybrid, popularity=0.0
    )


def _single(
    user_step: str, item_step: str = "related_blend", *, blend: BlendWeights, **fields: Any
) -> RankingConfig:
    """`user_step` alone in every next-order chain, `item_step` alone for related items,
    global popularity to top the list up."""
    chain = (Step(user_step),)
    return RankingConfig(
        blend=blend,
        repurchase=PLAIN_REPURCHASE,
        mix=MixConfig(segments={}, default=chain, cold_start=chain),
        related_chain=(Step(item_step),),
        fallback=("popular",),
        **fields,
    )


STRATEGIES: Final[Mapping[str, Strategy]] = {
    s.name: s
    for s in (
        Strategy(
            "blend", "the service's model arm (recsvc.recommend.DEFAULT_CONFIG)", DEFAULT_CONFIG
        ),
        Strategy("popular", "global popularity, the service's control arm", POPULAR_CONFIG),
        Strategy(DEALS, "today's deals: most bought in the 7 days before the request's day"),
        Strategy(
            "buy_again",
            "the shopper's own purchases by orders and recency, then popularity",
            _single("buy_again", "buy_again", blend=_item_weights()),
        ),
        Strategy(
            "rules",
            "association rules of the item (basket co-occurrence), then popularity",
            _single("cross_sell", blend=_item_weights(rules=1.0)),
            (RELATED,),
        ),
        Strategy(
            "itemknn",
            "item-kNN neighbours of the item, then popularity",
            _single("cross_sell", blend=_item_weights(itemknn=1.0)),
            (RELATED,),
        ),
        Strategy(
            "als",
            "ALS: item neighbours (related) or user × item scores (next order), then popularity",
            _single(
                "cross_sell",
                blend=_item_weights(als=1.0),
                cross_sell=CrossSellWeights(hybrid=0.0, als=1.0),
            ),
        ),
        Strategy(
            "lightfm",
            "LightFM hybrid: item neighbours or user × item scores, then popularity",
            _single(
                "cross_sell",
                blend=_item_weights(hybrid=1.0),
                cross_sell=CrossSellWeights(hybrid=1.0, als=0.0),
            ),
        ),
    )
}


def strategies_for(task: str, names: Iterable[str] | None = None) -> list[Strategy]:
    """The strategies of `names` (default: all, in `STRATEGIES` order) that apply to `task`."""
    chosen = STRATEGIES if names is None else {n: STRATEGIES[n] for n in names}
    return [s for s in chosen.values() if task in s.tasks]


def nested(config: RankingConfig, task: str) -> bool:
    """True when every chain the task can run has at most one step (module docstring)."""
    if task == RELATED:
        chains: Iterable[tuple[Step, ...]] = [config.related_chain]
    else:
        mix = config.mix
        chains = [*mix.segments.values(), mix.default, mix.cold_start]
    return all(len(chain) <= 1 for chain in chains)


@dataclass
class _Lists:
    """Accumulates served rows column-wise (much cheaper than one dict per row)."""

    columns: dict[str, list[Any]] = field(
        default_factory=lambda: {name: [] for name in SERVED_SCHEMA.names()}
    )

    def add(self, request: str, strategy: str, k: int, result: Recommendation) -> None:
        for slot in result.items:
            for name, value in zip(
                SERVED_SCHEMA.names(),
                (request, strategy, k, slot.rank, slot.item_id, slot.strategy),
                strict=True,
            ):
                self.columns[name].append(value)

    def frame(self) -> pl.DataFrame:
        return pl.DataFrame(self.columns, schema=SERVED_SCHEMA)


Ranker = Callable[[RankingConfig], Recommendation]


def _activities(row: Mapping[str, Any]) -> tuple[Activity, ...]:
    return tuple(Activity(a[ITEM], a[EVENT], a[TS]) for a in row[RECENT])


def _context(row: Mapping[str, Any], page: str) -> Context:
    return Context(page_type=page, country=row[COUNTRY] or "", hour=row[HOUR])


def _ranker(index: ServingIndex, task: str, row: Mapping[str, Any], k: int) -> Ranker:
    """The ranking call of one request at k, awaiting only the configuration."""
    recent = _activities(row)
    if task == RELATED:
        query = RelatedQuery(
            row[SEEDS][0],
            k=k,
            context=_context(row, "product"),
            user_id=row[USER],
            recent=recent,
            now=int(row[TS].timestamp()),
        )
        return lambda config: related(index, query, config)
    user = UserQuery(
        row[USER],
        now=int(row[TS].timestamp()),
        k=k,
        session_id=row[SESSION],
        context=_context(row, "home"),
        recent=recent,
    )
    return lambda config: next_purchase(index, user, config)


def replay_task(
    index: ServingIndex,
    task: TaskSet,
    strategies: Sequence[Strategy],
    ks: Sequence[int],
    *,
    events: pl.DataFrame,
) -> pl.DataFrame:
    """The served frame (module docstring) of every strategy on every request of `task`.

    `events` is the full event log, read by the deals baseline only.
    """
    top = max(ks)
    ranked = [(s.name, s.config) for s in strategies if s.config is not None]
    lists = _Lists()
    for row in task.requests.iter_rows(named=True):
        for k in ks:
            rank = _ranker(index, task.name, row, k)
            for name, config in ranked:
                if k == top or not nested(config, task.name):
                    lists.add(row[REQUEST], name, k, rank(config))
    served = lists.frame()
    if any(s.name == DEALS for s in strategies):
        deals = todays_deals(events, task.requests, k=top).with_columns(
            pl.lit(top).alias(LIST_K), pl.lit(DEALS).alias(SOURCE)
        )
        served = pl.concat([served, deals.select(SERVED_SCHEMA.names()).cast(SERVED_SCHEMA)])
    return _with_slices(_expand_nested(served, strategies, task.name, ks), task.requests, index)


def _expand_nested(
    served: pl.DataFrame, strategies: Sequence[Strategy], task: str, ks: Sequence[int]
) -> pl.DataFrame:
    """Add the lists at smaller k of strategies asked only at the largest k (prefixes)."""
    top = max(ks)
    once = [s.name for s in strategies if s.config is None or nested(s.config, task)]
    prefixes = [
        served.filter(pl.col(STRATEGY).is_in(once) & (pl.col(RANK) <= k)).with_columns(
            pl.lit(k, dtype=pl.Int64).alias(LIST_K)
        )
        for k in ks
        if k != top
    ]
    return pl.concat([served, *prefixes]).sort(STRATEGY, LIST_K, REQUEST, RANK)


def _segments(index: ServingIndex, users: pl.Series) -> pl.Series:
    position = index.users.position
    labels = [
        ANONYMOUS
        if user is None
        else index.users.lifecycle_label(position[user])
        if user in position
        else FIRST_TIME
        for user in users.to_list()
    ]
    return pl.Series(SEGMENT, labels, dtype=pl.String)


def _with_slices(served: pl.DataFrame, requests: pl.DataFrame, index: ServingIndex) -> pl.DataFrame:
    slices = requests.select(REQUEST, USER, COUNTRY, IS_NEW).with_columns(
        _segments(index, requests[USER])
    )
    return served.join(slices, on=REQUEST, how="left")
