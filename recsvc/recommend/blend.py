"""Blending item-to-item evidence around seed items, and aggregating weighted evidence.

For each seed s (weight w_s) and each evidence source q (weight W_q, `BlendWeights`):
- rules: single-item rules s → c, score = confidence × ln(lift);
- itemknn / als: the stored top-N neighbours of s, score = similarity (negatives dropped);
- hybrid: cosine of the hybrid item embeddings (`ServingIndex.hybrid_neighbors`).
Each score is first multiplied by the candidate's popularity prior share(c) ** β
(`PopularityIndex.share`, β = `BlendWeights.popularity`; β = 0 leaves scores as they are).
With β = 0.5, a cosine over co-buyers, c(s, c) / √(b_s b_c), becomes ∝ c(s, c) / √b_s:
candidates rank by how often they are bought with s, i.e. by P(c | s).
Contribution of candidate c = W_q × w_s × score / (best score of q for s, before filters).
A candidate's blended score is the sum of its contributions; its strategy and reason are
those of its largest contribution (ties: earlier source in `ITEM_SOURCES`, then earlier
seed). Scores in the result are divided by the best blended score.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Final

import numpy as np

from recsvc.recommend import reasons
from recsvc.recommend.candidates import (
    EMPTY,
    BoolArray,
    Candidates,
    FloatArray,
    IntArray,
    order,
    unit_scale,
)
from recsvc.recommend.config import BlendWeights
from recsvc.recommend.index import ServingIndex
from recsvc.recommend.neighbors import Neighbors
from recsvc.recommend.rules import single_rules

ITEM_SOURCES: Final = ("rules", "itemknn", "als", "hybrid")
_RULES, _ITEMKNN, _ALS, _HYBRID = range(len(ITEM_SOURCES))


@dataclass(frozen=True)
class Seeds:
    """Items to find related items for; `events[i]` is None for the query's own items,
    else the recent-activity event that made item i a seed."""

    items: IntArray
    weights: FloatArray
    events: tuple[str | None, ...]


@dataclass(frozen=True)
class Evidence:
    """One row per (seed, source, candidate): see the module docstring for `contrib`."""

    items: IntArray
    contrib: FloatArray
    source: IntArray  # index into ITEM_SOURCES
    seed: IntArray  # position in Seeds
    ref: IntArray  # rule row for rules evidence, else -1


def _evidence(
    items: IntArray, contrib: FloatArray, code: int, seed: IntArray, ref: IntArray
) -> Evidence:
    return Evidence(items, contrib, np.full(len(items), code, np.int64), seed, ref)


def _rules(index: ServingIndex, seeds: Seeds, weight: float, prior: FloatArray) -> Evidence:
    owner, rows = single_rules(index.rules, seeds.items)
    strength = index.rules.strength[rows] * prior[index.rules.consequents[rows]]
    best = np.zeros(len(seeds.items))
    np.maximum.at(best, owner, strength)
    contrib = weight * seeds.weights[owner] * strength / best[owner]
    return _evidence(index.rules.consequents[rows], contrib, _RULES, owner, rows)


def _neighbors(
    neighbors: Neighbors, seeds: Seeds, code: int, weight: float, prior: FloatArray
) -> Evidence:
    """Evidence from neighbour rows of the seeds (`neighbors` row i belongs to seed i)."""
    items = neighbors.items
    scores = np.maximum(neighbors.scores, 0.0) * np.where(items >= 0, prior[items], 0.0)
    best = scores.max(axis=1, keepdims=True, initial=0.0)
    norm = np.divide(scores, best, out=np.zeros_like(scores), where=best > 0)
    contrib = weight * seeds.weights[:, None] * norm
    owner = np.broadcast_to(np.arange(len(seeds.items))[:, None], items.shape)
    keep = (items >= 0) & (contrib > 0)
    return _evidence(items[keep], contrib[keep], code, owner[keep], np.full(keep.sum(), -1))


def _rows(neighbors: Neighbors, seeds: Seeds) -> Neighbors:
    return Neighbors(neighbors.items[seeds.items], neighbors.scores[seeds.items])


def gather(
    index: ServingIndex, seeds: Seeds, weights: BlendWeights, allowed: BoolArray
) -> Evidence:
    """Evidence of every source with a positive weight, restricted to allowed items that
    are not the seed they came from."""
    parts: list[Evidence] = []
    prior = index.popularity.prior(weights.popularity)
    if weights.rules > 0:
        parts.append(_rules(index, seeds, weights.rules, prior))
    if weights.itemknn > 0:
        knn = _rows(index.itemknn, seeds)
        parts.append(_neighbors(knn, seeds, _ITEMKNN, weights.itemknn, prior))
    if weights.als > 0:
        als = _rows(index.als_neighbors, seeds)
        parts.append(_neighbors(als, seeds, _ALS, weights.als, prior))
    if weights.hybrid > 0 and index.hybrid_neighbors is not None:
        hybrid = index.hybrid_neighbors.rows(seeds.items)
        parts.append(_neighbors(hybrid, seeds, _HYBRID, weights.hybrid, prior))
    if not parts:
        none = np.zeros(0, np.int64)
        return Evidence(none, np.zeros(0), none, none, none)
    items = np.concatenate([p.items for p in parts])
    seed = np.concatenate([p.seed for p in parts])
    keep = allowed[items] & (items != seeds.items[seed])
    return Evidence(
        items=items[keep],
        contrib=np.concatenate([p.contrib for p in parts])[keep],
        source=np.concatenate([p.source for p in parts])[keep],
        seed=seed[keep],
        ref=np.concatenate([p.ref for p in parts])[keep],
    )


def aggregate(
    items: IntArray, contrib: FloatArray, depth: int
) -> tuple[IntArray, FloatArray, IntArray]:
    """Sum contributions per item: (items best first, unit-scaled sums, row of each item's
    largest contribution, ties to the earlier row), at most `depth` items."""
    if not items.size:
        return items, contrib, np.zeros(0, np.int64)
    rows = np.lexsort((np.arange(len(items)), -contrib, items))
    sorted_items = items[rows]
    starts = np.flatnonzero(np.r_[True, sorted_items[1:] != sorted_items[:-1]])
    totals = np.add.reduceat(contrib[rows], starts)
    distinct, dominant = sorted_items[starts], rows[starts]
    top = order(distinct, totals)[:depth]
    return distinct[top], unit_scale(totals[top]), dominant[top]


def blend(
    index: ServingIndex, seeds: Seeds, weights: BlendWeights, allowed: BoolArray, depth: int
) -> Candidates:
    """Blended related items of `seeds` (module docstring), at most `depth`."""
    if not seeds.items.size:
        return EMPTY
    evidence = gather(index, seeds, weights, allowed)
    items, scores, dominant = aggregate(evidence.items, evidence.contrib, depth)

    def explain(position: int) -> tuple[str, str]:
        row = dominant[position]
        source = ITEM_SOURCES[evidence.source[row]]
        seed = int(evidence.seed[row])
        phrase = reasons.seed_phrase(
            index.catalog.label(int(seeds.items[seed])), seeds.events[seed]
        )
        if source == "rules":
            rule = evidence.ref[row]
            count, lift = int(index.rules.counts[rule]), float(index.rules.lift[rule])
            return source, reasons.bought_together(phrase, count, lift)
        return source, reasons.neighbour(source, phrase)

    return Candidates(items, scores, explain)
