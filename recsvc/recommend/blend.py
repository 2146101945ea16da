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

Nothing in a seed's contributions depends on the query but w_s, so each seed's evidence
at w_s = 1 is computed once per (bundle, weights) and kept (`SeedRow`); a request scales
and sums the rows of its seeds.
"""

from __future__ import annotations

from dataclasses import dataclass
from itertools import pairwise
from typing import Final, cast

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
    """One row per (seed, source, candidate): `contrib` as in the module docstring at
    w_s = 1."""

    items: IntArray
    contrib: FloatArray
    source: IntArray  # index into ITEM_SOURCES
    seed: IntArray  # position of the seed among the seed items
    ref: IntArray  # rule row for rules evidence, else -1


SeedRow = tuple[IntArray, FloatArray, FloatArray, IntArray, IntArray]
"""One seed's evidence at w_s = 1, one entry per candidate (never the seed itself):
candidate items, the sum of each one's contributions, and its largest contribution with
that one's source (ties: the earlier) and rule row (-1 unless rules). A plain tuple of
arrays, so that the garbage collector stops tracking the thousands kept."""
_ITEMS, _TOTAL, _TOP, _SOURCE, _REF = range(5)


def _evidence(
    items: IntArray, contrib: FloatArray, code: int, seed: IntArray, ref: IntArray
) -> Evidence:
    return Evidence(items, contrib, np.full(len(items), code, np.int64), seed, ref)


def _rules(index: ServingIndex, seeds: IntArray, weight: float, prior: FloatArray) -> Evidence:
    owner, rows = single_rules(index.rules, seeds)
    strength = index.rules.strength[rows] * prior[index.rules.consequents[rows]]
    best = np.zeros(len(seeds))
    np.maximum.at(best, owner, strength)
    contrib = weight * strength / best[owner]
    return _evidence(index.rules.consequents[rows], contrib, _RULES, owner, rows)


def _neighbors(neighbors: Neighbors, code: int, weight: float, prior: FloatArray) -> Evidence:
    """Evidence from neighbour rows of the seeds (`neighbors` row i belongs to seed i)."""
    items = neighbors.items
    scores = np.maximum(neighbors.scores, 0.0) * np.where(items >= 0, prior[items], 0.0)
    best = scores.max(axis=1, keepdims=True, initial=0.0)
    norm = np.divide(scores, best, out=np.zeros_like(scores), where=best > 0)
    contrib = weight * norm
    owner = np.broadcast_to(np.arange(len(items))[:, None], items.shape)
    keep = (items >= 0) & (contrib > 0)
    return _evidence(items[keep], contrib[keep], code, owner[keep], np.full(keep.sum(), -1))


def _rows(neighbors: Neighbors, seeds: IntArray) -> Neighbors:
    return Neighbors(neighbors.items[seeds], neighbors.scores[seeds])


def gather(index: ServingIndex, seeds: IntArray, weights: BlendWeights) -> Evidence:
    """Evidence of every source with a positive weight, except a seed's own item."""
    parts: list[Evidence] = []
    prior = index.popularity.prior(weights.popularity)
    if weights.rules > 0:
        parts.append(_rules(index, seeds, weights.rules, prior))
    if weights.itemknn > 0:
        knn = _rows(index.itemknn, seeds)
        parts.append(_neighbors(knn, _ITEMKNN, weights.itemknn, prior))
    if weights.als > 0:
        als = _rows(index.als_neighbors, seeds)
        parts.append(_neighbors(als, _ALS, weights.als, prior))
    if weights.hybrid > 0 and index.hybrid_neighbors is not None:
        hybrid = index.hybrid_neighbors.rows(seeds)
        parts.append(_neighbors(hybrid, _HYBRID, weights.hybrid, prior))
    if not parts:
        none = np.zeros(0, np.int64)
        return Evidence(none, np.zeros(0), none, none, none)
    items = np.concatenate([p.items for p in parts])
    seed = np.concatenate([p.seed for p in parts])
    keep = items != seeds[seed]
    return Evidence(
        items=items[keep],
        contrib=np.concatenate([p.contrib for p in parts])[keep],
        source=np.concatenate([p.source for p in parts])[keep],
        seed=seed[keep],
        ref=np.concatenate([p.ref for p in parts])[keep],
    )


def _seed_rows(index: ServingIndex, weights: BlendWeights, items: IntArray) -> list[SeedRow]:
    """The `SeedRow` of each of `items`, computed (all missing ones at once) on first use
    and kept with the index."""
    kept = cast(dict[int, SeedRow], index.memo(("seed_rows", weights)))
    wanted = items.tolist()
    missing = [item for item in dict.fromkeys(wanted) if item not in kept]
    if missing:
        kept.update(_computed_rows(index, weights, np.array(missing, dtype=np.int64)))
    return [kept[item] for item in wanted]


def _computed_rows(
    index: ServingIndex, weights: BlendWeights, items: IntArray
) -> dict[int, SeedRow]:
    evidence = gather(index, items, weights)
    rows = np.lexsort((-evidence.contrib, evidence.items, evidence.seed))
    seed, candidate = evidence.seed[rows], evidence.items[rows]
    new_pair = np.ones(len(rows), dtype=np.bool_)
    new_pair[1:] = (seed[1:] != seed[:-1]) | (candidate[1:] != candidate[:-1])
    starts = np.flatnonzero(new_pair)
    total = np.add.reduceat(evidence.contrib[rows], starts) if starts.size else np.zeros(0)
    first = rows[starts]  # the largest contribution; ties: the earlier source
    candidates, top = candidate[starts], evidence.contrib[first]
    source, ref = evidence.source[first], evidence.ref[first]
    bounds = np.searchsorted(seed[starts], np.arange(len(items) + 1)).tolist()
    return {
        item: (
            candidates[start:stop],
            total[start:stop],
            top[start:stop],
            source[start:stop],
            ref[start:stop],
        )
        for item, (start, stop) in zip(items.tolist(), pairwise(bounds), strict=True)
    }


def aggregate(
    items: IntArray,
    contrib: FloatArray,
    depth: int,
    *,
    top: FloatArray | None = None,
    source: IntArray | None = None,
) -> tuple[IntArray, FloatArray, IntArray]:
    """Sum contributions per item: (items best first, unit-scaled sums, row of each item's
    largest `top` (default: its largest contribution), ties to the lower `source` if
    given, then to the earlier row), at most `depth` items."""
    if not items.size:
        return items, contrib, np.zeros(0, np.int64)
    keys = [np.arange(len(items))]
    if source is not None:
        keys.append(source)
    rows = np.lexsort((*keys, -(contrib if top is None else top), items))
    sorted_items = items[rows]
    starts = np.flatnonzero(np.r_[True, sorted_items[1:] != sorted_items[:-1]])
    totals = np.add.reduceat(contrib[rows], starts)
    distinct, dominant = sorted_items[starts], rows[starts]
    best = order(distinct, totals)[:depth]
    return distinct[best], unit_scale(totals[best]), dominant[best]


def blend(
    index: ServingIndex, seeds: Seeds, weights: BlendWeights, allowed: BoolArray, depth: int
) -> Candidates:
    """Blended related items of `seeds` (module docstring), at most `depth`."""
    if not seeds.items.size:
        return EMPTY
    rows = _seed_rows(index, weights, seeds.items)
    owner = np.repeat(np.arange(len(rows)), [len(row[_ITEMS]) for row in rows])
    keep = np.flatnonzero(allowed[np.concatenate([row[_ITEMS] for row in rows])])
    owner = owner[keep]
    scale = seeds.weights[owner]

    def joined(field: int) -> np.ndarray:
        return np.concatenate([row[field] for row in rows])[keep]

    source, ref = joined(_SOURCE), joined(_REF)
    items, scores, dominant = aggregate(
        joined(_ITEMS), joined(_TOTAL) * scale, depth, top=joined(_TOP) * scale, source=source
    )

    def explain(position: int) -> tuple[str, str]:
        row = dominant[position]
        name = ITEM_SOURCES[source[row]]
        seed = int(owner[row])
        phrase = reasons.seed_phrase(
            index.catalog.label(int(seeds.items[seed])), seeds.events[seed]
        )
        if name == "rules":
            rule = ref[row]
            count, lift = int(index.rules.counts[rule]), float(index.rules.lift[rule])
            return name, reasons.bought_together(phrase, count, lift)
        return name, reasons.neighbour(name, phrase)

    return Candidates(items, scores, explain)
