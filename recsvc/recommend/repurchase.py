"""Buy-again logic: which bought items may be offered again, which are due, and the three
history-based sources (`buy_again`, `buy_again_due`, `win_back`).

With `RepurchaseConfig` c, per history item (interval: own, else level-1 category):
- cyclic: interval known and repeat rate ≥ c.min_repeat_rate;
- repurchasable: cyclic, or bought by this user in ≥ 2 orders;
- due: cyclic and days since last purchase ≥ factor × interval (boundary is due), factor =
  c.due_factor, or when None the bundle's (`repurchase` meta "due_factor", else 1.0).
Never offered back: history that is not repurchasable, and items bought in the query's
recent activity unless due (without a query time: recent purchases are never offered).
"""

from __future__ import annotations

from typing import Final

import numpy as np

from recsvc.recommend import reasons
from recsvc.recommend.candidates import (
    EMPTY,
    BoolArray,
    Candidates,
    FloatArray,
    History,
    IntArray,
    RecentItem,
    Request,
    order,
    unit_scale,
)
from recsvc.recommend.config import RepurchaseConfig
from recsvc.recommend.index import ServingIndex

REPEAT_RATE_FLOOR: Final = 0.01  # items nobody rebought still rank by the user's own habit


def merge_history(index: ServingIndex, user: int | None, recent: tuple[RecentItem, ...]) -> History:
    """The user's bundle history (empty for unknown users) plus recent purchases: a recent
    purchase moves `last_ts` forward and counts as at least one order."""
    if user is None:
        items, orders, last_ts = (np.zeros(0, np.int64),) * 3
    else:
        items, orders, last_ts = index.users.history(user)
    bought = [event for event in recent if event.event == "purchase"]
    if not bought:
        return History(items, orders, last_ts, np.zeros(len(items), np.bool_))
    new_items = np.array([event.item for event in bought], dtype=np.int64)
    new_ts = np.array([event.ts for event in bought], dtype=np.int64)
    merged, inverse = np.unique(np.concatenate([items, new_items]), return_inverse=True)
    merged_ts = np.full(len(merged), np.iinfo(np.int64).min)
    np.maximum.at(merged_ts, inverse, np.concatenate([last_ts, new_ts]))
    merged_orders = np.zeros(len(merged), np.int64)
    np.add.at(merged_orders, inverse[: len(items)], orders)
    return History(
        items=merged,
        orders=np.maximum(merged_orders, 1),
        last_ts=merged_ts,
        recent=np.isin(merged, new_items),
    )


def _terms(index: ServingIndex, history: History) -> tuple[FloatArray, FloatArray]:
    return (
        index.repurchase.interval_days[history.items],
        index.repurchase.repeat_rate[history.items],
    )


def cyclic(index: ServingIndex, config: RepurchaseConfig, history: History) -> BoolArray:
    interval, rate = _terms(index, history)
    return np.isfinite(interval) & (rate >= config.min_repeat_rate)


def days_since(history: History, now: int) -> FloatArray:
    """Whole and fractional days since each item's last purchase, never negative."""
    return np.maximum(now - history.last_ts, 0) / reasons.SECONDS_PER_DAY


def due(index: ServingIndex, config: RepurchaseConfig, history: History, now: int) -> BoolArray:
    interval, _ = _terms(index, history)
    factor = index.repurchase.due_factor if config.due_factor is None else config.due_factor
    overdue = days_since(history, now) >= factor * interval
    return cyclic(index, config, history) & overdue


def never_again(
    index: ServingIndex, config: RepurchaseConfig, history: History, now: int | None
) -> IntArray:
    """History items not to offer back to this user (see the module docstring)."""
    blocked = ~(cyclic(index, config, history) | (history.orders >= 2))
    recent_not_due = history.recent
    if now is not None:
        recent_not_due = recent_not_due & ~due(index, config, history, now)
    return history.items[blocked | recent_not_due]


def _ranked(
    request: Request, keep: BoolArray, scores: FloatArray
) -> tuple[IntArray, FloatArray, IntArray]:
    """(items, unit scores, positions in history) of the kept history entries, best first."""
    history = request.history
    positions = np.flatnonzero(keep & request.allowed[history.items])
    lookup = positions[order(history.items[positions], scores[positions])[: request.depth]]
    return history.items[lookup], unit_scale(scores[lookup]), lookup


def habit_weight(index: ServingIndex, config: RepurchaseConfig, request: Request) -> FloatArray:
    """Per history item, the item-level factor of the buy-again score (`RepurchaseConfig`):
    repeat-rate prior (unknown rate counts as 0) × the known user's relative ALS preference."""
    items = request.history.items
    weight = np.ones(len(items))
    if config.repeat_rate_exponent:
        weight *= index.repurchase.rate_prior(config.repeat_rate_exponent, REPEAT_RATE_FLOOR)[items]
    if config.preference_weight and request.user is not None and items.size:
        model = index.als
        preference = (model.item[items] @ model.user[request.user]).astype(np.float64)
        weight *= np.exp(config.preference_weight * (preference - preference.max()))
    return weight


def _habit_scores(index: ServingIndex, request: Request, days: FloatArray) -> FloatArray:
    """orders × 0.5 ** (days since last / half life) × `habit_weight`, per history item."""
    config = request.config.repurchase
    recency = 0.5 ** (days / config.recency_half_life_days)
    scores: FloatArray = request.history.orders * recency * habit_weight(index, config, request)
    return scores


def buy_again(index: ServingIndex, request: Request) -> Candidates:
    """The user's own purchases by orders × 0.5 ** (days since last / half life), times
    `habit_weight`."""
    if request.now is None or not request.history.items.size:
        return EMPTY
    history = request.history
    days = days_since(history, request.now)
    scores = _habit_scores(index, request, days)
    items, unit, lookup = _ranked(request, np.ones(len(history.items), np.bool_), scores)

    def explain(position: int) -> tuple[str, str]:
        j = lookup[position]
        return "buy_again", reasons.buy_again(int(history.orders[j]), float(days[j]))

    return Candidates(items, unit, explain)


def buy_again_due(index: ServingIndex, request: Request) -> Candidates:
    """Due items, strongest habit first (the `buy_again` score). Ranking them by how far
    overdue they are instead cost 4 % of next-order bids per slot in offline replay: the
    most overdue items are the most likely to have been dropped."""
    if request.now is None or not request.history.items.size:
        return EMPTY
    history, config = request.history, request.config.repurchase
    interval, _ = _terms(index, history)
    days = days_since(history, request.now)
    is_due = due(index, config, history, request.now)
    items, unit, lookup = _ranked(request, is_due, _habit_scores(index, request, days))

    def explain(position: int) -> tuple[str, str]:
        j = lookup[position]
        return "buy_again_due", reasons.due(float(interval[j]), float(days[j]))

    return Candidates(items, unit, explain)


def win_back(index: ServingIndex, request: Request) -> Candidates:
    """Items the user bought before, by their repeat rate (share of buyers who rebuy)."""
    history = request.history
    if not history.items.size:
        return EMPTY
    _, rate = _terms(index, history)
    keep = rate >= request.config.repurchase.min_repeat_rate
    items, unit, lookup = _ranked(request, keep, np.where(keep, rate, 0.0))

    def explain(position: int) -> tuple[str, str]:
        return "win_back", reasons.win_back(float(rate[lookup[position]]))

    return Candidates(items, unit, explain)
