"""`related`: "customers also bought" for one item."""

from __future__ import annotations

import numpy as np

from recsvc.recommend.chain import run_chain
from recsvc.recommend.config import DEFAULT_CONFIG, RankingConfig
from recsvc.recommend.index import ServingIndex
from recsvc.recommend.query import Recommendation, RelatedQuery
from recsvc.recommend.repurchase import merge_history, never_again
from recsvc.recommend.resolve import (
    NO_ITEMS,
    make_request,
    most_specific_category,
    resolve_recent,
    resolve_user,
)


def related(
    index: ServingIndex, query: RelatedQuery, config: RankingConfig = DEFAULT_CONFIG
) -> Recommendation:
    """Items bought with `query.item_id`: `config.related_chain` (default: the blend of
    rules, item-kNN, ALS and hybrid neighbours, see `recsvc.recommend.blend`, then the
    known user's own "buy_again" items when `query.now` is given), topped up by
    `config.fallback` (popular in the context's category, else the item's most specific
    category; then global popularity).

    Never returns the item itself, excluded or filtered items, the context's cart items,
    nor items the known user bought and would not buy again or just bought (recent
    activity; with `query.now`, unless due again). An unknown item gets only the
    fallback: strategies "popular_in_category" (when `context.category` is given) and
    "popular".
    """
    item = index.catalog.position.get(query.item_id)
    user = resolve_user(index, query.user_id)
    recent = resolve_recent(index, query.recent)
    history = merge_history(index, user, recent)
    request = make_request(
        index,
        config,
        k=query.k,
        context=query.context,
        filters=query.filters,
        demote=query.demote,
        seeds=NO_ITEMS if item is None else np.array([item], dtype=np.int64),
        blocked=never_again(index, config.repurchase, history, query.now),
        recent=recent,
        user=user,
        history=history,
        now=query.now,
        category="" if item is None else most_specific_category(index, item),
    )
    steps = () if item is None else config.related_chain
    return run_chain(index, request, steps, config.fallback)
