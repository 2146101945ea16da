"""Association rules X → y for "frequently bought together" and cart completion.

Rules have one item on the right-hand side and 1..max_len-1 items on the left, from the
frequent itemsets of `training.models.itemsets` (as R arules' `apriori` does, minus its
empty-antecedent rules). Thresholds are exact, read as the decimals they were written as:

- an itemset is frequent iff count ≥ ceil(min_support × n_baskets);
- X → y is kept iff count(X ∪ y) ≥ min_confidence × count(X), and, when `min_lift` is set,
  count(X ∪ y) × n_baskets ≥ min_lift × count(X) × count(y).

Metrics (n = n_baskets): support = count(X ∪ y) / n; confidence = count(X ∪ y) / count(X);
lift = confidence / support(y); leverage = support(X ∪ y) − support(X) support(y);
conviction = (1 − support(y)) / (1 − confidence), +inf where confidence == 1.
"""

from __future__ import annotations

import itertools
import logging
from collections.abc import Callable
import math
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any, NamedTuple

import numpy as np
import polars as pl
import scipy.sparse as sp
from numpy.typing import NDArray

from recsvc.artifacts.part import Part
from training.data.dataset import TrainingData
from training.data.matrices import basket_item_matrix
from training.errors import ModelFitError
from training.models.itemsets import (
    ItemsetLevel,
    TooManyCandidatesError,
    at_least,
    exact_fraction,
    frequent_itemsets,
    min_count,
)

IntArray = NDArray[np.int64]
FloatArray = NDArray[np.float64]

log = logging.getLogger(__name__)

ITEM_SEPARATOR = "|"


@dataclass(frozen=True)
class RulesConfig:
    """Thresholds of rule mining.

    min_support 0.005: on the two Online Retail years (~42k invoices, ~5k stock codes) an
    itemset then needs ~210 baskets, which keeps ~1,400 items (most of the catalogue that
    sells regularly) and ~12k rules at confidence 0.1, while 0.001 admits pairs seen in
    ~40 baskets, too few for a stable confidence estimate. `max_rules` keeps the best
    rules by lift, then confidence (see `mine_rules` for the full order).
    """

    min_support: float = 0.005
    min_confidence: float = 0.1
    max_len: int = 4  # itemset size: up to 3 items on the left
    min_lift: float | None = None
    max_rules: int | None = 200_000  # bounds the bundle on dense data; 14k on Online Retail

    def __post_init__(self) -> None:
        check_thresholds(**asdict(self))


@dataclass(frozen=True)
class RuleSet:
    """Mined rules, one per row, best first (see `mine_rules`).

    `antecedents`: int32 [n_rules, max_len - 1], item indices ascending, padded with -1.
    `consequents`: int32 [n_rules]. `counts`: int64 baskets holding antecedent ∪ consequent.
    Metric arrays are float64 [n_rules]. `n_itemsets[k - 1]` is the number of frequent
    itemsets of size k; `n_rules_uncapped` counts rules before the `max_rules` cap.
    """

    antecedents: NDArray[np.int32]
    consequents: NDArray[np.int32]
    counts: IntArray
    support: FloatArray
    confidence: FloatArray
    lift: FloatArray
    leverage: FloatArray
    conviction: FloatArray
    n_baskets: int
    min_count: int
    n_itemsets: tuple[int, ...]
    n_rules_uncapped: int

    def __len__(self) -> int:
        return len(self.consequents)

    def arrays(self) -> dict[str, NDArray[Any]]:
        """The arrays of the bundle's "rules" part."""
        return {
            "antecedents": self.antecedents,
            "consequents": self.consequents,
            "counts": self.counts,
            "support": self.support,
            "confidence": self.confidence,
            "lift": self.lift,
            "leverage": self.leverage,
            "conviction": self.conviction,
        }


class _RuleCounts(NamedTuple):
    """Candidate rules X → y with the basket counts of X ∪ y, X and y."""

    antecedents: NDArray[np.int32]
    consequents: NDArray[np.int32]
    joint: IntArray
    antecedent: IntArray
    consequent: IntArray

    def select(self, rows: NDArray[np.bool_] | IntArray) -> _RuleCounts:
        return _RuleCounts(
            self.antecedents[rows],
            self.consequents[rows],
            self.joint[rows],
            self.antecedent[rows],
            self.consequent[rows],
        )

    @staticmethod
    def concatenate(parts: list[_RuleCounts]) -> _RuleCounts:
        return _RuleCounts(
            np.concatenate([part.antecedents for part in parts]),
            np.concatenate([part.consequents for part in parts]),
            np.concatenate([part.joint for part in parts]),
            np.concatenate([part.antecedent for part in parts]),
            np.concatenate([part.consequent for part in parts]),
        )


def check_thresholds(
    *,
    min_support: float,
    min_confidence: float,
    max_len: int,
    min_lift: float | None = None,
    max_rules: int | None = None,
) -> None:
    """Raise ValueError naming the first parameter out of its range."""
    if not 0 < min_support <= 1:
        raise ValueError(f"min_support must be in (0, 1], got {min_support}")
    if not 0 <= min_confidence <= 1:
        raise ValueError(f"min_confidence must be in [0, 1], got {min_confidence}")
    if max_len < 2:
        raise ValueError(f"max_len must be at least 2 (one item on each side), got {max_len}")
    if min_lift is not None and not (min_lift >= 0 and math.isfinite(min_lift)):
        raise ValueError(f"min_lift must be a finite number ≥ 0 or None, got {min_lift}")
    if max_rules is not None and max_rules < 0:
        raise ValueError(f"max_rules must be ≥ 0 or None, got {max_rules}")


def mine_rules(
    baskets: sp.sparray | sp.spmatrix,
    *,
    min_support: float,
    min_confidence: float,
    max_len: int,
    min_lift: float | None = None,
    max_rules: int | None = None,
) -> RuleSet:
    """Rules X → y over a binary [n_baskets, n_items] matrix (any stored nonzero = present).

    Item indices are the matrix columns. Rows are ordered by lift desc, confidence desc,
    then antecedent ascending (lexicographic over the padded row) and consequent ascending;
    `max_rules` keeps the first rows of that order. No baskets or no frequent item gives
    an empty rule set. Raises ValueError for thresholds out of range.
    """
    check_thresholds(
        min_support=min_support,
        min_confidence=min_confidence,
        max_len=max_len,
        min_lift=min_lift,
        max_rules=max_rules,
    )
    n_baskets = int(baskets.shape[0])
    threshold = min_count(min_support, n_baskets)
    levels = frequent_itemsets(baskets, threshold, max_len)
    return rules_from_itemsets(
        levels,
        n_baskets=n_baskets,
        threshold=threshold,
        min_confidence=min_confidence,
        max_len=max_len,
        min_lift=min_lift,
        max_rules=max_rules,
    )


def rules_from_itemsets(
    levels: list[ItemsetLevel],
    *,
    n_baskets: int,
    threshold: int,
    min_confidence: float,
    max_len: int,
    min_lift: float | None = None,
    max_rules: int | None = None,
) -> RuleSet:
    """The rules of `mine_rules` from frequent itemsets of sizes 1..max_len (`levels[k-1]`
    holds size k; any frequent-itemset miner's output, e.g. Spark's FPGrowth) mined at
    `threshold` baskets out of `n_baskets`."""
    rules = _rule_counts(levels, max_len - 1)
    keep = at_least(rules.joint, exact_fraction(min_confidence), rules.antecedent)
    if min_lift is not None:
        keep &= at_least(
            rules.joint * n_baskets,
            exact_fraction(min_lift),
            rules.antecedent * rules.consequent,
        )
    rules = rules.select(keep)
    metrics = _metrics(rules, n_baskets)
    order = np.lexsort(
        (
            rules.consequents,
            *rules.antecedents.T[::-1],
            -metrics["confidence"],
            -metrics["lift"],
        )
    )[:max_rules]
    rules = rules.select(order)
    return RuleSet(
        antecedents=rules.antecedents,
        consequents=rules.consequents,
        counts=rules.joint,
        **{name: values[order] for name, values in metrics.items()},
        n_baskets=n_baskets,
        min_count=threshold,
        n_itemsets=tuple(len(level) for level in levels),
        n_rules_uncapped=int(keep.sum()),
    )


def fit(data: TrainingData, config: RulesConfig, *, seed: int = 0) -> Part:
    """The bundle's "rules" part mined from the purchase baskets of `data.events`.

    A basket is an order id, else a session id (`basket_item_matrix`). Mining is
    deterministic; `seed` exists for the common model signature and changes nothing.
    Raises ModelFitError when no purchase belongs to a basket.
    """
    baskets = basket_item_matrix(data.events, data.n_items)
    if baskets.shape[0] == 0:
        raise ModelFitError(
            "rules: no purchase has an order id or a session id, so there are no baskets; "
            "drop the rules model for this source or load one with orders or sessions"
        )
    rule_set, support = mine_adaptively(
        lambda support: mine_rules(baskets, **{**asdict(config), "min_support": support}),
        config.min_support,
    )
    return rules_part(rule_set, config, support)


def rules_part(rule_set: RuleSet, config: RulesConfig, support: float) -> Part:
    """Part "rules" of a mined `RuleSet`; `support` is the min_support actually used."""
    meta = {
        **asdict(config),
        "effective_min_support": support,
        "n_baskets": rule_set.n_baskets,
        "min_count": rule_set.min_count,
        "n_itemsets_by_size": list(rule_set.n_itemsets),
        "n_rules": len(rule_set),
        "n_rules_uncapped": rule_set.n_rules_uncapped,
    }
    return Part(name="rules", arrays=rule_set.arrays(), meta=meta)


def mine_adaptively(mine: Callable[[float], RuleSet], min_support: float) -> tuple[RuleSet, float]:
    """`mine(min_support)`; when the support threshold is so low for these baskets that the
    candidate itemsets explode (small slices of data with a few huge orders), double it
    until mining fits, and report the support actually used (`effective_min_support`).
    The analyst CLI (`mine_rules`) never adapts: it raises instead."""
    support = min_support
    while True:
        try:
            return mine(support), support
        except TooManyCandidatesError:
            if support >= 1.0:
                raise
            log.warning("rules: min_support %.4g explodes; trying %.4g", support, support * 2)
            support = min(1.0, support * 2)


def rules_to_csv(rule_set: RuleSet, item_ids: NDArray[np.str_], path: Path) -> None:
    """Write one CSV row per rule for analysts.

    Columns: antecedents, consequents (external item ids, sorted, joined by "|"), support,
    confidence, lift, leverage, conviction ("inf" where confidence == 1), count. Rows by
    lift desc, confidence desc, then antecedents and consequents as strings ascending.
    `item_ids[i]` is the external id of item index i; an id containing "|" is refused
    (ValueError) because it could not be split back.
    """
    names = np.asarray(item_ids).astype(str)
    clashing = [name for name in names if ITEM_SEPARATOR in name]
    if clashing:
        raise ValueError(f"item id {clashing[0]!r} contains the separator {ITEM_SEPARATOR!r}")
    frame = pl.DataFrame(
        {
            "antecedents": [
                ITEM_SEPARATOR.join(sorted(names[row[row >= 0]])) for row in rule_set.antecedents
            ],
            "consequents": names[rule_set.consequents],
            "support": rule_set.support,
            "confidence": rule_set.confidence,
            "lift": rule_set.lift,
            "leverage": rule_set.leverage,
            "conviction": rule_set.conviction,
            "count": rule_set.counts,
        },
        schema_overrides={"antecedents": pl.String, "consequents": pl.String},
    )
    frame.sort(
        ["lift", "confidence", "antecedents", "consequents"],
        descending=[True, True, False, False],
    ).write_csv(path)


def _rule_counts(levels: list[ItemsetLevel], width: int) -> _RuleCounts:
    """Every X → y with X ∪ y a frequent itemset of size ≥ 2; antecedents padded to `width`."""
    items = levels[0]
    parts = [_empty_rule_counts(width)]
    for below, level in itertools.pairwise(levels):
        for position in range(level.items.shape[1]):
            antecedents = np.delete(level.items, position, axis=1)
            consequents = level.items[:, position]
            padding = np.full((len(level), width - antecedents.shape[1]), -1, dtype=np.int32)
            parts.append(
                _RuleCounts(
                    antecedents=np.concatenate([antecedents, padding], axis=1),
                    consequents=consequents,
                    joint=level.counts,
                    antecedent=below.counts[below.find(antecedents)],
                    consequent=items.counts[items.find(consequents[:, None])],
                )
            )
    return _RuleCounts.concatenate(parts)


def _empty_rule_counts(width: int) -> _RuleCounts:
    none = np.zeros(0, dtype=np.int64)
    return _RuleCounts(
        np.zeros((0, width), dtype=np.int32), np.zeros(0, dtype=np.int32), none, none, none
    )


def _metrics(rules: _RuleCounts, n_baskets: int) -> dict[str, FloatArray]:
    """Support, confidence, lift, leverage and conviction from exact counts.

    Each ratio divides exact integers once, so equal rationals give equal floats.
    """
    n = float(n_baskets)
    joint, antecedent, consequent = rules.joint, rules.antecedent, rules.consequent
    support = joint / n
    with np.errstate(divide="ignore", invalid="ignore"):
        conviction = ((n_baskets - consequent) * antecedent) / (n * (antecedent - joint))
    return {
        "support": support,
        "confidence": joint / antecedent,
        "lift": (joint * n_baskets) / (antecedent * consequent),
        "leverage": support - (antecedent / n) * (consequent / n),
        "conviction": np.where(joint == antecedent, np.inf, conviction),
    }
