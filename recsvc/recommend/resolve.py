"""Turning a validated query into a `Request` in the bundle's index space.

Unknown item ids are dropped (cart items, recent activity, exclude lists) and an unknown
user becomes `user=None`; the chains then use their named fallbacks.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from recsvc.recommend.candidates import NO_HISTORY, History, IntArray, RecentItem, Request
from recsvc.recommend.config import RankingConfig
from recsvc.recommend.filters import allowed_mask, id_mask, known_items
from recsvc.recommend.index import ServingIndex
from recsvc.recommend.query import Activity, Context, Filters

NO_ITEMS: IntArray = np.zeros(0, dtype=np.int64)


def resolve_user(index: ServingIndex, user_id: str | None) -> int | None:
    return None if user_id is None else index.users.position.get(user_id)


def resolve_recent(index: ServingIndex, recent: Sequence[Activity]) -> tuple[RecentItem, ...]:
    """Known items' events, most recent first (equal times keep the given order)."""
    position = index.catalog.position
    known = [event for event in recent if event.item_id in position]
    known.sort(key=lambda event: -event.ts)
    return tuple(RecentItem(position[e.item_id], e.event, e.ts) for e in known)


def most_specific_category(index: ServingIndex, item: int) -> str:
    """The deepest non-empty category level of an item ("" when it has none)."""
    levels = [str(level) for level in index.catalog.categories[item].tolist() if level]
    return levels[-1] if levels else ""


def make_request(
    index: ServingIndex,
    config: RankingConfig,
    *,
    k: int,
    context: Context,
    filters: Filters,
    demote: frozenset[str],
    seeds: IntArray = NO_ITEMS,
    blocked: IntArray = NO_ITEMS,
    recent: tuple[RecentItem, ...] = (),
    user: int | None = None,
    history: History = NO_HISTORY,
    now: int | None = None,
    category: str = "",
) -> Request:
    """A Request whose `allowed` mask removes filtered items, the seeds, the context's
    cart items and `blocked`. Country: the context's, else the known user's; category:
    the context's, else `category`."""
    allowed = allowed_mask(index, filters)
    allowed[seeds] = False
    allowed[known_items(index, context.cart_items)] = False
    allowed[blocked] = False
    country = context.country
    if not country and user is not None:
        country = str(index.users.countries[user])
    return Request(
        k=k,
        context=context,
        config=config,
        allowed=allowed,
        demoted=id_mask(index, demote),
        seeds=seeds,
        recent=recent,
        user=user,
        history=history,
        now=now,
        country=country,
        category=context.category or category,
    )
