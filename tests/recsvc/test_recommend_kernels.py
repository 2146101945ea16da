"""Fast kernels against brute-force oracles, and the index's contract checks."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from bundle_builder import TINY_RULES, tiny_parts, write_bundle
from hypothesis import given, settings
from hypothesis import strategies as st

from recsvc.artifacts import Part, load_bundle
from recsvc.errors import ContractError
from recsvc.recommend import ServingIndex, build_index
from recsvc.recommend.blend import ITEM_SOURCES, Seeds, aggregate, blend
from recsvc.recommend.candidates import csr_gather, top_dense
from recsvc.recommend.config import BlendWeights
from recsvc.recommend.neighbors import LazyNeighbors
from recsvc.recommend.rules import contained_rules, single_rules

scores_and_mask = st.integers(1, 40).flatmap(
    lambda n: st.tuples(
        st.lists(st.integers(-3, 3), min_size=n, max_size=n),  # small ints: many ties
        st.lists(st.booleans(), min_size=n, max_size=n),
        st.integers(1, n + 2),
    )
)


@given(scores_and_mask)
def test_top_dense_matches_a_full_sort(case: tuple[list[int], list[bool], int]) -> None:
    scores, allowed, depth = case
    items, top = top_dense(np.array(scores, dtype=np.float32), np.array(allowed), depth)
    oracle = sorted((-s, i) for i, s in enumerate(scores) if allowed[i])[:depth]
    assert items.tolist() == [i for _, i in oracle]
    assert top.tolist() == [-s for s, _ in oracle]


@given(st.lists(st.integers(0, 5), max_size=8), st.lists(st.integers(0, 3), min_size=1, max_size=6))
def test_csr_gather_matches_python_slices(rows: list[int], lengths: list[int]) -> None:
    indptr = np.concatenate([[0], np.cumsum(lengths)]).astype(np.int64)
    rows = [r % len(lengths) for r in rows]
    owner, flat = csr_gather(indptr, np.array(rows, dtype=np.int64))
    expected = [(pos, j) for pos, r in enumerate(rows) for j in range(indptr[r], indptr[r + 1])]
    assert list(zip(owner.tolist(), flat.tolist(), strict=True)) == expected


@given(st.sets(st.integers(0, 11), max_size=6))
def test_contained_rules_matches_set_inclusion(tiny_index: ServingIndex, cart: set[int]) -> None:
    found = contained_rules(tiny_index.rules, np.array(sorted(cart), dtype=np.int64)).tolist()
    oracle = [
        row
        for row, (antecedent, _, _, _, lift) in enumerate(TINY_RULES)
        if len(antecedent) > 1 and lift > 1 and set(antecedent) <= cart
    ]
    assert found == oracle


def test_single_rules_are_the_positive_ones_strongest_first(tiny_index: ServingIndex) -> None:
    owner, rows = single_rules(tiny_index.rules, np.array([0, 4], dtype=np.int64))
    consequents = tiny_index.rules.consequents[rows].tolist()
    assert list(zip(owner.tolist(), consequents, strict=True)) == [
        (0, 1),
        (0, 2),
        (0, 3),
        (1, 7),
        (1, 5),  # 0 -> 11 has lift 0.8: not indexed
    ]


@given(
    st.lists(st.tuples(st.integers(0, 6), st.floats(0.01, 5)), min_size=1, max_size=30),
    st.integers(1, 8),
)
def test_aggregate_matches_a_dictionary_sum(rows: list[tuple[int, float]], depth: int) -> None:
    items = np.array([r[0] for r in rows], dtype=np.int64)
    contrib = np.array([r[1] for r in rows])
    top, scores, dominant = aggregate(items, contrib, depth)
    sums: dict[int, float] = {}
    best: dict[int, int] = {}
    for row, (item, value) in enumerate(rows):
        sums[item] = sums.get(item, 0.0) + value
        if item not in best or value > rows[best[item]][1]:
            best[item] = row
    oracle = sorted(sums, key=lambda i: (-sums[i], i))[:depth]
    assert top.tolist() == oracle
    assert scores.tolist() == pytest.approx([sums[i] / sums[oracle[0]] for i in oracle])
    assert dominant.tolist() == [best[i] for i in oracle]


@settings(max_examples=30)
@given(st.integers(0, 2**31 - 1))
def test_lazy_neighbours_match_brute_force(seed: int) -> None:
    rng = np.random.default_rng(seed)
    vectors = rng.normal(size=(30, 4))
    unit = vectors / np.linalg.norm(vectors, axis=1, keepdims=True)
    lazy = LazyNeighbors(unit, 5)
    item = int(rng.integers(0, 30))
    similarity = unit @ unit[item]
    oracle = [j for j in np.argsort(-similarity, kind="stable").tolist() if j != item]
    oracle = [j for j in oracle[:5] if similarity[j] > 0]
    got = lazy.rows(np.array([item, item], dtype=np.int64))
    assert got.items[0].tolist() == oracle + [-1] * (5 - len(oracle))
    assert got.items[1].tolist() == got.items[0].tolist()


def _with(parts: list[Part], name: str, array: str, value: np.ndarray) -> list[Part]:
    return [
        Part(p.name, {**p.arrays, array: value}, p.meta) if p.name == name else p for p in parts
    ]


@pytest.mark.parametrize(
    ("part", "array", "value", "message"),
    [
        ("itemknn", "neighbors", np.full((12, 3), 12, dtype=np.int32), "itemknn/neighbors"),
        ("rules", "consequents", np.full(len(TINY_RULES), -1, dtype=np.int32), "rules/consequents"),
        ("users", "history_items", np.array([99] * 9, dtype=np.int32), "users/history_items"),
        ("rules", "antecedents", np.full((len(TINY_RULES), 2), -1, dtype=np.int32), "at least one"),
    ],
)
def test_out_of_range_indices_are_refused_by_name(
    tmp_path: Path, part: str, array: str, value: np.ndarray, message: str
) -> None:
    path = write_bundle(tmp_path / "bad", _with(tiny_parts(), part, array, value))
    with pytest.raises(ContractError, match=message):
        build_index(load_bundle(path))


def test_hour_bands_of_another_training_run_are_refused(tmp_path: Path) -> None:
    parts = tiny_parts()
    popularity = next(p for p in parts if p.name == "popularity")
    shifted = {**popularity.meta, "hour_bands": {"night": [0, 6], "day": [7, 23]}}
    parts = [Part(p.name, p.arrays, shifted) if p is popularity else p for p in parts]
    with pytest.raises(ContractError, match="hour_bands"):
        build_index(load_bundle(write_bundle(tmp_path / "bands", parts)))


def _blend_oracle(
    index: ServingIndex, seeds: list[tuple[int, float]], weights: BlendWeights, allowed: list[bool]
) -> dict[int, list[tuple[float, int, int]]]:
    """The blend module's docstring, one seed, source and candidate at a time: every
    contribution to each allowed candidate, as (value, source code, seed position)."""
    prior = index.popularity.share**weights.popularity
    assert index.hybrid_neighbors is not None
    found: dict[int, list[tuple[float, int, int]]] = {}
    for position, (seed, seed_weight) in enumerate(seeds):
        _, rules = single_rules(index.rules, np.array([seed], dtype=np.int64))
        hybrid = index.hybrid_neighbors.rows(np.array([seed], dtype=np.int64))
        tables = [
            (index.rules.consequents[rules], index.rules.strength[rules]),
            (index.itemknn.items[seed], index.itemknn.scores[seed]),
            (index.als_neighbors.items[seed], index.als_neighbors.scores[seed]),
            (hybrid.items[0], hybrid.scores[0]),
        ]
        source_weights = [weights.rules, weights.itemknn, weights.als, weights.hybrid]
        for code, ((items, raw), weight) in enumerate(zip(tables, source_weights, strict=True)):
            scores = {
                int(c): max(float(v), 0.0) * float(prior[c])
                for c, v in zip(items.tolist(), raw.tolist(), strict=True)
                if c >= 0
            }
            top = max(scores.values(), default=0.0)
            if weight <= 0 or top <= 0:
                continue
            for candidate, score in scores.items():
                value = weight * seed_weight * score / top
                if candidate != seed and allowed[candidate] and value > 0:
                    found.setdefault(candidate, []).append((value, code, position))
    return found


@settings(max_examples=60, deadline=None)
@given(st.data())
def test_blend_matches_the_docstring_oracle(tiny_index: ServingIndex, data: st.DataObject) -> None:
    n_items = tiny_index.n_items
    seeds = data.draw(
        st.lists(
            st.tuples(st.integers(0, n_items - 1), st.sampled_from([1.0, 0.3, 0.21, 0.7])),
            min_size=1,
            max_size=5,
            unique_by=lambda seed: seed[0],
        )
    )
    source_weight = st.sampled_from([0.0, 0.3, 0.8, 1.0])
    weights = BlendWeights(
        rules=data.draw(source_weight),
        itemknn=data.draw(source_weight),
        als=data.draw(source_weight),
        hybrid=data.draw(source_weight),
        popularity=data.draw(st.sampled_from([0.0, 0.5, 1.0])),
    )
    allowed = data.draw(st.lists(st.booleans(), min_size=n_items, max_size=n_items))
    depth = data.draw(st.integers(1, n_items))
    found = blend(
        tiny_index,
        Seeds(
            np.array([s for s, _ in seeds], dtype=np.int64),
            np.array([w for _, w in seeds]),
            tuple(None if w == 1 else "view" for _, w in seeds),
        ),
        weights,
        np.array(allowed),
        depth,
    )
    contributions = _blend_oracle(tiny_index, seeds, weights, allowed)
    sums = {item: sum(value for value, _, _ in rows) for item, rows in contributions.items()}
    oracle = sorted(sums, key=lambda item: (-sums[item], item))[:depth]
    got = found.items.tolist()
    assert len(got) == len(oracle) == len(set(got))
    # the oracle's order, up to sums rounded in another order: equal sums at each position
    assert [sums[item] for item in got] == pytest.approx([sums[item] for item in oracle])
    assert found.scores.tolist() == pytest.approx([sums[item] / sums[oracle[0]] for item in got])
    label = tiny_index.catalog.label
    for position, item in enumerate(got):
        largest = max(value for value, _, _ in contributions[item])
        # the (source, seed) of the largest contribution; exact ties go to the earlier
        # source, then the earlier seed, but sums rounded in another order may turn a tie
        # into a near one: any contribution within rounding of the largest is accepted
        ties = [
            (ITEM_SOURCES[code], f"'{label(seeds[seed][0])}'")
            for value, code, seed in contributions[item]
            if value == pytest.approx(largest, rel=1e-12)
        ]
        strategy, reason = found.explain(position)
        assert any(strategy == name and phrase in reason for name, phrase in ties)
