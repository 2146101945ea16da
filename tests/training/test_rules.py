"""Association rules: exact thresholds, a brute-force oracle, Groceries against mlxtend."""

from __future__ import annotations

import csv
import itertools
import math
from collections.abc import Sequence
from fractions import Fraction
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import scipy.sparse as sp
from hypothesis import given, settings
from hypothesis import strategies as st
from mlxtend.frequent_patterns import association_rules, fpgrowth
from mlxtend.preprocessing import TransactionEncoder

from tests.training.fixtures_models import Ev, assert_matches_contract, tiny_data
from training.data.dataset import TrainingData
from training.data.matrices import basket_item_matrix
from training.errors import ModelFitError
from training.models.rules import RulesConfig, RuleSet, fit, mine_rules, rules_to_csv

GROCERIES = Path(__file__).parents[2] / ".." / "shared" / "data" / "groceries" / "groceries.csv"

# (antecedent items, consequent) -> (count, support, confidence, lift, leverage, conviction)
RuleKey = tuple[frozenset[str], str]
Metrics = tuple[int, float, float, float, float, float]


def baskets_matrix(baskets: Sequence[Sequence[int]], n_items: int) -> sp.csr_matrix:
    """Binary CSR with one row per basket (item indices, duplicates allowed)."""
    rows = [row for row, basket in enumerate(baskets) for _ in basket]
    cols = [item for basket in baskets for item in basket]
    matrix = sp.csr_matrix(
        (np.ones(len(rows)), (rows, cols)), shape=(len(baskets), n_items), dtype=np.float32
    )
    matrix.data[:] = 1.0
    return matrix


def rule_table(rule_set: RuleSet, names: Sequence[str]) -> dict[RuleKey, Metrics]:
    """Our rules keyed by item names."""
    table: dict[RuleKey, Metrics] = {}
    for row in range(len(rule_set)):
        antecedent = frozenset(names[i] for i in rule_set.antecedents[row] if i >= 0)
        table[(antecedent, names[rule_set.consequents[row]])] = (
            int(rule_set.counts[row]),
            float(rule_set.support[row]),
            float(rule_set.confidence[row]),
            float(rule_set.lift[row]),
            float(rule_set.leverage[row]),
            float(rule_set.conviction[row]),
        )
    return table


def assert_same_rules(
    got: dict[RuleKey, Metrics], expected: dict[RuleKey, Metrics], tol: float
) -> None:
    assert set(got) == set(expected)
    for key, metrics in expected.items():
        assert got[key][0] == metrics[0], key
        for ours, theirs in zip(got[key][1:], metrics[1:], strict=True):
            assert ours == pytest.approx(theirs, rel=tol, abs=tol), key


# --- brute-force oracle --------------------------------------------------------------


def oracle_rules(
    baskets: Sequence[frozenset[int]],
    n_items: int,
    *,
    min_support: float,
    min_confidence: float,
    max_len: int,
    min_lift: float | None,
) -> dict[RuleKey, Metrics]:
    """Every rule by enumerating every itemset, thresholds and metrics in exact fractions."""
    n = len(baskets)
    support_threshold = Fraction(str(min_support))
    counts: dict[frozenset[int], int] = {}
    for size in range(1, max_len + 1):
        for combination in itertools.combinations(range(n_items), size):
            count = sum(1 for basket in baskets if basket.issuperset(combination))
            if count >= 1 and count >= support_threshold * n:
                counts[frozenset(combination)] = count
    rules: dict[RuleKey, Metrics] = {}
    for itemset, joint in counts.items():
        for consequent in itemset if len(itemset) > 1 else ():
            antecedent = itemset - {consequent}
            c_x, c_y = counts[antecedent], counts[frozenset([consequent])]
            confidence = Fraction(joint, c_x)
            lift = confidence / Fraction(c_y, n)
            if confidence < Fraction(str(min_confidence)):
                continue
            if min_lift is not None and lift < Fraction(str(min_lift)):
                continue
            support_y = Fraction(c_y, n)
            key = (frozenset(str(i) for i in antecedent), str(consequent))
            rules[key] = (
                joint,
                float(Fraction(joint, n)),
                float(confidence),
                float(lift),
                float(Fraction(joint, n) - Fraction(c_x, n) * support_y),
                math.inf if confidence == 1 else float((1 - support_y) / (1 - confidence)),
            )
    return rules


@st.composite
def basket_sets(draw: st.DrawFn) -> tuple[list[frozenset[int]], int]:
    n_items = draw(st.integers(1, 6))
    item_sets = st.frozensets(st.integers(0, n_items - 1), max_size=n_items)
    return draw(st.lists(item_sets, max_size=14)), n_items


@settings(max_examples=150, deadline=None)
@given(
    data=basket_sets(),
    min_support=st.sampled_from([0.01, 0.1, 0.2, 0.25, 0.3, 0.5, 1.0]),
    min_confidence=st.sampled_from([0.0, 0.1, 0.5, 0.6, 0.7, 0.8, 1.0]),
    max_len=st.integers(2, 5),
    min_lift=st.sampled_from([None, 0.5, 1.0, 1.2]),
)
def test_matches_brute_force_oracle(
    data: tuple[list[frozenset[int]], int],
    min_support: float,
    min_confidence: float,
    max_len: int,
    min_lift: float | None,
) -> None:
    baskets, n_items = data
    rule_set = mine_rules(
        baskets_matrix([sorted(b) for b in baskets], n_items),
        min_support=min_support,
        min_confidence=min_confidence,
        max_len=max_len,
        min_lift=min_lift,
    )
    expected = oracle_rules(
        baskets,
        n_items,
        min_support=min_support,
        min_confidence=min_confidence,
        max_len=max_len,
        min_lift=min_lift,
    )
    names = [str(i) for i in range(n_items)]
    assert_same_rules(rule_table(rule_set, names), expected, tol=1e-12)
    assert rule_set.antecedents.shape == (len(expected), max_len - 1)


# --- order, cap and array layout -----------------------------------------------------


def ten_baskets() -> sp.csr_matrix:
    return baskets_matrix(
        [
            [0, 1, 2],
            [0, 1],
            [0, 1, 3],
            [1, 2],
            [2, 3],
            [0, 2, 3],
            [1, 3],
            [0, 1, 2, 3],
            [0, 4],
            [0],
        ],
        5,
    )


def test_rows_are_best_first_and_padded() -> None:
    rule_set = mine_rules(ten_baskets(), min_support=0.1, min_confidence=0.0, max_len=4)
    assert len(rule_set) > 10
    for row in range(len(rule_set) - 1):
        here = (rule_set.lift[row], rule_set.confidence[row])
        after = (rule_set.lift[row + 1], rule_set.confidence[row + 1])
        assert here >= after
    for antecedent, consequent in zip(rule_set.antecedents, rule_set.consequents, strict=True):
        items = antecedent[antecedent >= 0]
        assert list(items) == sorted(items) and (antecedent[len(items) :] == -1).all()
        assert consequent not in items and len(items) >= 1
    assert rule_set.antecedents.dtype == np.int32 and rule_set.counts.dtype == np.int64


def test_max_rules_keeps_the_head_of_the_order() -> None:
    full = mine_rules(ten_baskets(), min_support=0.1, min_confidence=0.0, max_len=4)
    capped = mine_rules(ten_baskets(), min_support=0.1, min_confidence=0.0, max_len=4, max_rules=5)
    assert len(capped) == 5 and capped.n_rules_uncapped == len(full)
    np.testing.assert_array_equal(capped.antecedents, full.antecedents[:5])
    np.testing.assert_array_equal(capped.consequents, full.consequents[:5])


def test_stored_values_and_duplicates_mean_presence() -> None:
    weighted = sp.csr_matrix(
        (
            np.array([3.0, 0.0, 2.0, 5.0, 1.0]),
            (np.array([0, 0, 1, 1, 1]), np.array([0, 1, 0, 1, 1])),
        ),
        shape=(2, 2),
    )
    rule_set = mine_rules(weighted, min_support=0.5, min_confidence=0.0, max_len=2)
    table = rule_table(rule_set, ["a", "b"])
    assert set(table) == {(frozenset("a"), "b"), (frozenset("b"), "a")}
    assert table[(frozenset("a"), "b")][:3] == (1, 0.5, 0.5)


# --- edge cases ----------------------------------------------------------------------


def test_empty_matrix_gives_no_rules() -> None:
    rule_set = mine_rules(sp.csr_matrix((0, 5)), min_support=0.1, min_confidence=0.5, max_len=4)
    assert len(rule_set) == 0 and rule_set.antecedents.shape == (0, 3)
    assert rule_set.n_baskets == 0 and rule_set.n_itemsets == (0,)


def test_no_frequent_item_gives_no_rules() -> None:
    distinct = baskets_matrix([[i] for i in range(10)], 10)
    rule_set = mine_rules(distinct, min_support=0.2, min_confidence=0.0, max_len=3)
    assert len(rule_set) == 0 and rule_set.n_itemsets == (0,) and rule_set.min_count == 2


def test_min_support_one_keeps_items_in_every_basket() -> None:
    matrix = baskets_matrix([[0, 1, 2], [0, 1], [0, 1, 3]], 4)
    rule_set = mine_rules(matrix, min_support=1.0, min_confidence=1.0, max_len=4)
    table = rule_table(rule_set, ["a", "b", "c", "d"])
    assert set(table) == {(frozenset("a"), "b"), (frozenset("b"), "a")}
    assert table[(frozenset("a"), "b")] == (3, 1.0, 1.0, 1.0, 0.0, math.inf)


def test_support_threshold_is_exact() -> None:
    # 0.1 * 30 is 3.0000000000000004 in floats: a float ceil would demand 4 baskets.
    matrix = baskets_matrix([[0, 1]] * 3 + [[2]] * 27, 3)
    rule_set = mine_rules(matrix, min_support=0.1, min_confidence=0.0, max_len=2)
    assert rule_set.min_count == 3
    assert set(rule_table(rule_set, ["a", "b", "c"])) == {
        (frozenset("a"), "b"),
        (frozenset("b"), "a"),
    }


@pytest.mark.parametrize(("joint", "kept"), [(7, True), (6, False)])
def test_confidence_threshold_is_exact(joint: int, kept: bool) -> None:
    # 0.7 * 10 is 7.000000000000001 in floats: 7 of 10 must still pass at 0.7.
    matrix = baskets_matrix([[0, 1]] * joint + [[0]] * (10 - joint) + [[1]] * 10, 2)
    rule_set = mine_rules(matrix, min_support=0.01, min_confidence=0.7, max_len=2)
    assert ((frozenset("a"), "b") in rule_table(rule_set, ["a", "b"])) is kept


@pytest.mark.parametrize(
    "thresholds",
    [
        {"min_support": 0.0},
        {"min_support": 1.5},
        {"min_support": math.nan},
        {"min_confidence": -0.1},
        {"min_confidence": 1.01},
        {"max_len": 1},
        {"min_lift": -1.0},
        {"min_lift": math.inf},
        {"max_rules": -1},
    ],
)
def test_invalid_thresholds_are_refused(thresholds: dict[str, float]) -> None:
    with pytest.raises(ValueError, match=next(iter(thresholds))):
        RulesConfig(**thresholds)  # type: ignore[arg-type]


# --- fit and the bundle part ---------------------------------------------------------


def test_fit_returns_the_rules_part_in_catalog_indices() -> None:
    events = [
        Ev("u1", "a", 0, order="o1"),
        Ev("u1", "b", 0, order="o1"),
        Ev("u2", "a", 1, order="o2"),
        Ev("u2", "b", 1, order="o2"),
        Ev("u3", "a", 2, order="o3"),
        Ev("u3", "c", 2, order="o3"),
        Ev("u3", "b", 3, event="view", order="o4"),
    ]
    data = tiny_data(events)
    config = RulesConfig(min_support=0.5, min_confidence=0.5, max_len=3)
    part = fit(data, config, seed=1)
    assert part.name == "rules"
    assert_matches_contract(part)
    assert part.arrays["antecedents"].shape == (2, 2)
    names = list(data.item_ids)
    pairs = {
        (names[row[0]], names[y]): conf
        for row, y, conf in zip(
            part.arrays["antecedents"],
            part.arrays["consequents"],
            part.arrays["confidence"],
            strict=True,
        )
    }
    assert pairs == {("a", "b"): pytest.approx(2 / 3), ("b", "a"): 1.0}
    assert part.meta["n_baskets"] == 3 and part.meta["min_support"] == 0.5
    again = fit(data, config, seed=2)
    for name, array in part.arrays.items():
        np.testing.assert_array_equal(again.arrays[name], array)


def test_fit_without_baskets_is_a_model_fit_error() -> None:
    data = tiny_data([Ev("u1", "a", 0, event="view"), Ev("u1", "b", 0, event="view")])
    with pytest.raises(ModelFitError, match="no baskets"):
        fit(data, RulesConfig())


# --- analyst CSV ---------------------------------------------------------------------


def test_rules_to_csv_writes_sorted_named_rows(tmp_path: Path) -> None:
    rule_set = mine_rules(ten_baskets(), min_support=0.1, min_confidence=0.0, max_len=3)
    item_ids = np.array(["z9", "b2", "a1", "c3", "d4"])
    path = tmp_path / "rules.csv"
    rules_to_csv(rule_set, item_ids, path)
    with path.open(newline="") as handle:
        rows = list(csv.DictReader(handle))
    assert list(rows[0]) == [
        "antecedents",
        "consequents",
        "support",
        "confidence",
        "lift",
        "leverage",
        "conviction",
        "count",
    ]
    assert len(rows) == len(rule_set)
    keys = [(-float(r["lift"]), -float(r["confidence"]), r["antecedents"]) for r in rows]
    assert keys == sorted(keys)
    written = {
        (frozenset(r["antecedents"].split("|")), r["consequents"]): int(r["count"]) for r in rows
    }
    expected = {key: value[0] for key, value in rule_table(rule_set, list(item_ids)).items()}
    assert written == expected
    assert all(r["antecedents"].split("|") == sorted(r["antecedents"].split("|")) for r in rows)
    assert {r["conviction"] for r in rows if r["confidence"] == "1.0"} == {"inf"}  # 4 -> 0


def test_rules_to_csv_refuses_ids_with_the_separator(tmp_path: Path) -> None:
    rule_set = mine_rules(ten_baskets(), min_support=0.1, min_confidence=0.0, max_len=2)
    with pytest.raises(ValueError, match="separator"):
        rules_to_csv(rule_set, np.array(["a|b", "b", "c", "d", "e"]), tmp_path / "r.csv")


# --- Groceries against mlxtend -------------------------------------------------------


def read_groceries() -> list[list[str]]:
    """One basket per line, comma-separated item names as written (no header)."""
    if not GROCERIES.is_file():
        pytest.skip(f"{GROCERIES} is absent")
    return [line.split(",") for line in GROCERIES.read_text(encoding="utf-8").splitlines()]


def mlxtend_rules(
    transactions: list[list[str]], min_count: int, confidence: Fraction
) -> dict[RuleKey, Metrics]:
    """Single-consequent rules from mlxtend's fpgrowth + association_rules, with the
    boundary decided by exact integer counts (mlxtend compares float ratios)."""
    encoder = TransactionEncoder()
    onehot = pd.DataFrame(
        encoder.fit(transactions).transform(transactions), columns=encoder.columns_
    )
    n = len(onehot)
    # Slightly below the exact threshold, so float rounding cannot lose an itemset.
    itemsets = fpgrowth(onehot, min_support=(min_count - 0.5) / n, use_colnames=True)
    with np.errstate(divide="ignore", invalid="ignore"):
        rules = association_rules(
            itemsets, num_itemsets=n, metric="confidence", min_threshold=float(confidence) - 1e-6
        )
    rules = rules[rules["consequents"].map(len) == 1]
    joint = (rules["support"].to_numpy() * n).round().astype(int)
    antecedent = (rules["antecedent support"].to_numpy() * n).round().astype(int)
    exact = (joint >= min_count) & (
        joint * confidence.denominator >= confidence.numerator * antecedent
    )
    metrics = ["support", "confidence", "lift", "leverage", "conviction"]
    table: dict[RuleKey, Metrics] = {}
    for row, count in zip(rules[exact].itertuples(index=False), joint[exact], strict=True):
        (consequent,) = row.consequents
        values = tuple(float(getattr(row, name)) for name in metrics)
        table[(frozenset(row.antecedents), consequent)] = (int(count), *values)  # type: ignore[assignment]
    return table


@pytest.mark.realdata
def test_groceries_rules_equal_mlxtend_with_exact_counts() -> None:
    transactions = read_groceries()
    names = sorted({item for basket in transactions for item in basket})
    index = {name: i for i, name in enumerate(names)}
    matrix = baskets_matrix([[index[i] for i in basket] for basket in transactions], len(names))
    rule_set = mine_rules(matrix, min_support=0.001, min_confidence=0.8, max_len=10)
    assert rule_set.min_count == 10 and len(rule_set.n_itemsets) < 10  # max_len never binds
    expected = mlxtend_rules(transactions, min_count=10, confidence=Fraction(4, 5))
    # The published arules figure; 39 of these rules sit exactly at confidence 0.8
    # (12/15, 16/20, ...), so the boundary is exercised.
    assert len(expected) == 410
    assert any(5 * count == 4 * round(count / conf) for count, _, conf, *_ in expected.values())
    assert_same_rules(rule_table(rule_set, names), expected, tol=1e-9)


def test_fit_raises_a_support_that_would_explode_and_reports_it(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    # 30 identical orders of 8 items plus 30 single-item orders: at support 0.1 every one of
    # the C(8,2) = 28 pairs is frequent, so the size-3 join has 56 candidates.
    events = [Ev(None, f"x{i}", 0, order=f"big{o}") for o in range(30) for i in range(8)]
    events += [Ev(None, "lone", 0, order=f"small{o}") for o in range(30)]
    data = tiny_data(events)
    monkeypatch.setattr("training.models.itemsets.MAX_CANDIDATES", 50)
    config = RulesConfig(min_support=0.1, min_confidence=0.5, max_len=4)
    with pytest.raises(ModelFitError, match="candidate itemsets of size 3"):
        mine_rules(data_baskets(data), **{**config.__dict__})
    part = fit(data, config)
    # 0.1 -> 0.2 -> 0.4 -> 0.8 (above 30/60 = 0.5 nothing is frequent any more)
    assert part.meta["effective_min_support"] == 0.8
    assert len(part.arrays["consequents"]) == 0


def data_baskets(data: TrainingData) -> sp.csr_matrix:
    return basket_item_matrix(data.events, data.n_items)
