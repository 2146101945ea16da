"""Candidate sources built on item-to-item evidence: around the query's items, around the
visitor's recent activity, and multi-item rules for a cart."""

from __future__ import annotations

import numpy as np

from recsvc.recommend import reasons
from recsvc.recommend.blend import Seeds, blend
from recsvc.recommend.candidates import (
    EMPTY,
    Candidates,
    Request,
    order,
    unit_scale,
)
from recsvc.recommend.config import BlendWeights
from recsvc.recommend.index import ServingIndex
from recsvc.recommend.rules import contained_rules


def recent_seeds(request: Request, weights: BlendWeights, scale: float) -> Seeds:
    """Distinct recently touched items that are not query items, most recent first, at
    most `weights.max_recent_seeds`; the i-th weighs `scale × recent_decay ** i`."""
    taken = set(request.seeds.tolist())
    items: list[int] = []
    events: list[str | None] = []
    for activity in request.recent:
        if activity.item not in taken:
            taken.add(activity.item)
            items.append(activity.item)
            events.append(activity.event)
        if len(items) == weights.max_recent_seeds:
            break
    decay = weights.recent_decay ** np.arange(len(items), dtype=np.float64)
    return Seeds(np.array(items, dtype=np.int64), scale * decay, tuple(events))


def query_seeds(request: Request, max_seeds: int) -> Seeds:
    """The query's own known items (weight 1 each), the first `max_seeds`."""
    items = request.seeds[:max_seeds]
    return Seeds(items, np.ones(len(items)), (None,) * len(items))


def _joined(first: Seeds, second: Seeds) -> Seeds:
    return Seeds(
        np.concatenate([first.items, second.items]),
        np.concatenate([first.weights, second.weights]),
        first.events + second.events,
    )


def related_blend(index: ServingIndex, request: Request) -> Candidates:
    """ "Customers also bought": rules, item-kNN, ALS and hybrid neighbours of the item,
    plus (weighted by `BlendWeights.recent`) neighbours of recently touched items."""
    weights = request.config.blend
    seeds = _joined(
        query_seeds(request, weights.max_seeds), recent_seeds(request, weights, weights.recent)
    )
    return blend(index, seeds, weights, request.allowed, request.depth)


def session_related(index: ServingIndex, request: Request) -> Candidates:
    """Neighbours of the items the visitor touched recently (views, cart adds, purchases)."""
    weights = request.config.blend
    return blend(
        index, recent_seeds(request, weights, 1.0), weights, request.allowed, request.depth
    )


def cart_evidence(index: ServingIndex, request: Request) -> Candidates:
    """Single-item evidence (`RankingConfig.cart` weights) summed over the cart's items."""
    weights = request.config.cart
    seeds = query_seeds(request, weights.max_seeds)
    return blend(index, seeds, weights, request.allowed, request.depth)


def cart_rules(index: ServingIndex, request: Request) -> Candidates:
    """Consequents of multi-item rules whose antecedent ⊆ cart.

    Score = |antecedent| × confidence × ln(lift): rules conditioned on more of the cart are
    preferred, yet a much stronger shorter rule can still win. Each consequent keeps its
    best rule (ties: lower rule row), which is also its reason.
    """
    rules = index.rules
    rows = contained_rules(rules, request.seeds)
    rows = rows[request.allowed[rules.consequents[rows]]]
    if not rows.size:
        return EMPTY
    scores = rules.lengths[rows] * rules.strength[rows]
    consequents = rules.consequents[rows]
    by_item = np.lexsort((rows, -scores, consequents))
    first = by_item[np.r_[True, consequents[by_item][1:] != consequents[by_item][:-1]]]
    best = first[order(consequents[first], scores[first])[: request.depth]]
    chosen = rows[best]

    def explain(position: int) -> tuple[str, str]:
        rule = chosen[position]
        antecedent = rules.antecedents[rule]
        labels = [index.catalog.label(int(item)) for item in antecedent[antecedent >= 0]]
        text = reasons.bought_together(
            reasons.joined(labels), int(rules.counts[rule]), float(rules.lift[rule])
        )
        return "cart_rules", text

    return Candidates(consequents[best], unit_scale(scores[best]), explain)
