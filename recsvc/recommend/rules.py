"""Association rules indexed by antecedent for serving.

Only rules with lift > 1 (positive association) and confidence > 0 are indexed. A rule's
strength is confidence × ln(lift): confidence says how often the consequent follows, the
log of lift discounts consequents that are popular anyway.

- single-item rules: CSR by antecedent item, each item's rules by strength descending
  (ties: lower consequent index), one rule per (antecedent, consequent) pair (the
  strongest);
- multi-item rules: CSR from every antecedent item to the rules it belongs to, so the
  rules whose antecedent ⊆ cart are found by counting hits per rule.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from recsvc.artifacts import LoadedPart
from recsvc.errors import ContractError
from recsvc.recommend.candidates import BoolArray, FloatArray, IntArray, check_range, csr_gather


@dataclass(frozen=True)
class RuleIndex:
    """Rule rows as in the bundle (`antecedents` -1 padded) plus the two lookups."""

    antecedents: IntArray  # [n_rules, width]
    lengths: IntArray  # antecedent sizes
    consequents: IntArray
    counts: IntArray
    lift: FloatArray
    strength: FloatArray  # confidence × ln(lift); 0 where the rule is not indexed
    single_indptr: IntArray  # [n_items + 1] into single_rows
    single_rows: IntArray
    member_indptr: IntArray  # [n_items + 1] into member_rows
    member_rows: IntArray  # multi-item rule rows containing the item


def build_rule_index(part: LoadedPart, n_items: int) -> RuleIndex:
    """Index the `rules` part; raises `ContractError` on out-of-range items or empty
    antecedents."""
    antecedents = check_range(part["antecedents"], n_items, "rules/antecedents", padded=True)
    consequents = check_range(part["consequents"], n_items, "rules/consequents")
    lengths = (antecedents >= 0).sum(axis=1).astype(np.int64)
    if lengths.size and lengths.min() == 0:
        raise ContractError("rules/antecedents: every rule needs at least one antecedent item")
    lift = np.asarray(part["lift"], dtype=np.float64)
    confidence = np.asarray(part["confidence"], dtype=np.float64)
    usable = np.isfinite(lift) & (lift > 1.0) & (confidence > 0.0)
    strength = np.zeros(len(lift))
    strength[usable] = confidence[usable] * np.log(lift[usable])
    single = np.flatnonzero(usable & (lengths == 1))
    multi = np.flatnonzero(usable & (lengths > 1))
    single_indptr, single_rows = _single_csr(
        antecedents[single, 0], consequents, strength, single, n_items
    )
    member_indptr, member_rows = _member_csr(antecedents[multi], multi, n_items)
    return RuleIndex(
        antecedents=antecedents,
        lengths=lengths,
        consequents=consequents,
        counts=np.asarray(part["counts"], dtype=np.int64),
        lift=lift,
        strength=strength,
        single_indptr=single_indptr,
        single_rows=single_rows,
        member_indptr=member_indptr,
        member_rows=member_rows,
    )


def _csr_pointer(keys: IntArray, n_items: int) -> IntArray:
    pointer = np.zeros(n_items + 1, dtype=np.int64)
    np.cumsum(np.bincount(keys, minlength=n_items), out=pointer[1:])
    return pointer


def _single_csr(
    heads: IntArray, consequents: IntArray, strength: FloatArray, rows: IntArray, n_items: int
) -> tuple[IntArray, IntArray]:
    tails = consequents[rows]
    ordered = np.lexsort((tails, -strength[rows], heads))
    heads, tails, rows = heads[ordered], tails[ordered], rows[ordered]
    first = _first_occurrence(heads * n_items + tails)  # the strongest of duplicate pairs
    return _csr_pointer(heads[first], n_items), rows[first]


def _first_occurrence(keys: IntArray) -> BoolArray:
    """True at the first occurrence of each key (keys need not be adjacent)."""
    mask = np.zeros(len(keys), dtype=bool)
    mask[np.unique(keys, return_index=True)[1]] = True
    return mask


def _member_csr(antecedents: IntArray, rows: IntArray, n_items: int) -> tuple[IntArray, IntArray]:
    owners = np.broadcast_to(rows[:, None], antecedents.shape)
    present = antecedents >= 0
    items, owners = antecedents[present], owners[present]
    ordered = np.lexsort((owners, items))
    return _csr_pointer(items[ordered], n_items), owners[ordered]


def single_rules(rules: RuleIndex, seeds: IntArray) -> tuple[IntArray, IntArray]:
    """(position in `seeds`, rule row) of every indexed single-item rule of the seeds,
    seed by seed, strongest first within a seed."""
    owner, flat = csr_gather(rules.single_indptr, seeds)
    return owner, rules.single_rows[flat]


def contained_rules(rules: RuleIndex, cart: IntArray) -> IntArray:
    """Rows of the multi-item rules whose whole antecedent is in `cart` (distinct items),
    ascending. A rule is contained iff every one of its antecedent items hit it."""
    bounds = rules.member_indptr
    hits = [rules.member_rows[bounds[item] : bounds[item + 1]] for item in cart.tolist()]
    rows = np.sort(np.concatenate(hits)) if hits else np.zeros(0, np.int64)
    last = np.flatnonzero(np.r_[rows[1:] != rows[:-1], True]) if rows.size else rows
    counts = np.diff(last, prepend=-1)  # hits per distinct row: runs of the sorted rows
    distinct = rows[last]
    contained: IntArray = distinct[counts == rules.lengths[distinct]]
    return contained
