"""Item-kNN: co-occurrence neighbours against a brute-force oracle, registries, held-out
hit rate on real purchases."""

from __future__ import annotations

import numpy as np
import pytest
import scipy.sparse as sp
from hypothesis import given, settings
from hypothesis import strategies as st
from hypothesis.extra.numpy import arrays
from numpy.typing import NDArray

from recsvc.artifacts import Part
from tests.training.conftest import (
    GARDEN,
    KITCHEN,
    HeldOut,
    assert_neighbour_table,
    item_indices,
)
from tests.training.fixtures_models import Ev, assert_matches_contract, tiny_data
from training.data.dataset import TrainingData
from training.models import itemknn
from training.models.itemknn import ItemKnnConfig
from training.models.neighbors import top_n_table


@pytest.fixture(scope="module", params=sorted(itemknn.SIMILARITIES))
def tiny_part(request: pytest.FixtureRequest, two_clusters: TrainingData) -> Part:
    return itemknn.fit(two_clusters, ItemKnnConfig(similarity=request.param, neighbors=8))


def test_part_matches_contract(two_clusters: TrainingData, tiny_part: Part) -> None:
    assert_matches_contract(tiny_part)
    assert tiny_part.arrays["neighbors"].shape == (two_clusters.n_items, 8)
    assert tiny_part.arrays["neighbors"].dtype == np.int32
    assert tiny_part.arrays["neighbor_scores"].dtype == np.float32
    assert_neighbour_table(tiny_part.arrays["neighbors"], tiny_part.arrays["neighbor_scores"])


@pytest.mark.parametrize("cluster", [GARDEN, KITCHEN])
def test_neighbours_are_exactly_the_co_bought_items(
    two_clusters: TrainingData, tiny_part: Part, cluster: tuple[str, ...]
) -> None:
    """Nothing is co-bought across clusters (u01's b1 was returned), so each item has the
    other five items of its cluster and padding."""
    members = item_indices(two_clusters, cluster)
    for item in members:
        row = tiny_part.arrays["neighbors"][item]
        assert set(row[row >= 0].tolist()) == set(members.tolist()) - {item}


def test_unbought_item_has_no_neighbours(two_clusters: TrainingData, tiny_part: Part) -> None:
    (cold,) = item_indices(two_clusters, ("z",))
    assert (tiny_part.arrays["neighbors"][cold] == -1).all()
    assert cold not in tiny_part.arrays["neighbors"]


@st.composite
def _similarities(draw: st.DrawFn) -> NDArray[np.float32]:
    """Square matrices of few distinct values (-1..2), so most rows tie at the cut."""
    n = draw(st.integers(1, 9))
    values: NDArray[np.int8] = draw(arrays(np.int8, (n, n), elements=st.integers(-1, 2)))
    return values.astype(np.float32)


@settings(max_examples=60, deadline=None)
@given(values=_similarities(), n_neighbors=st.integers(1, 10))
def test_top_n_table_matches_brute_force(values: NDArray[np.float32], n_neighbors: int) -> None:
    neighbors, scores = top_n_table(lambda a, b: values[a:b], len(values), n_neighbors)
    for item, row in enumerate(values):
        ranked = sorted((-row[j], j) for j in range(len(row)) if j != item and row[j] > 0)
        expected = [j for _, j in ranked[:n_neighbors]]
        assert neighbors[item].tolist() == expected + [-1] * (n_neighbors - len(expected))
        np.testing.assert_array_equal(scores[item, : len(expected)], values[item, expected])
    assert_neighbour_table(neighbors, scores)


def _oracle_cosine(bought: NDArray[np.bool_], item: int, n: int) -> list[int]:
    """Brute force: other items by co-buyers / sqrt(buyers_i · buyers_j), then index."""
    counts = bought.sum(axis=0).astype(np.float64)
    co = (bought[:, [item]] & bought).sum(axis=0).astype(np.float64)
    cosine = np.divide(co, np.sqrt(counts[item] * counts), out=np.zeros_like(co), where=co > 0)
    scores = cosine.astype(np.float32)
    ranked = sorted((-scores[j], j) for j in range(len(scores)) if j != item and scores[j] > 0)
    return [j for _, j in ranked[:n]]


def test_cosine_matches_brute_force_with_index_tie_break() -> None:
    """Users x, y, z buy overlapping sets; ties (equal co-counts) resolve by item index."""
    baskets = {"x": "pqrs", "y": "pqr", "z": "qrt", "w": "st"}
    events = [Ev(user, item, day=1) for user, items in baskets.items() for item in items]
    data = tiny_data(events)
    part = itemknn.fit(data, ItemKnnConfig(similarity="cosine", neighbors=3, neighbor_min_buyers=1))
    bought = np.array([[item in baskets[user] for item in data.item_ids] for user in data.user_ids])
    for item in range(data.n_items):
        row = part.arrays["neighbors"][item]
        assert row[row >= 0].tolist() == _oracle_cosine(bought, item, 3)


def test_bm25_matches_implicit_weighting() -> None:
    """`bm25_weights` equals implicit's `bm25_weight` as its BM25Recommender applies it."""
    from implicit.nearest_neighbours import bm25_weight

    rng = np.random.default_rng(0)
    counts = sp.csr_matrix((rng.random((30, 12)) < 0.3).astype(np.float64))
    config = ItemKnnConfig(similarity="bm25", k1=1.5, b=0.6)
    expected = bm25_weight(counts.T, K1=config.k1, B=config.b).T.toarray()
    np.testing.assert_allclose(itemknn.bm25_weights(counts, config).toarray(), expected)


def test_returned_purchases_do_not_count() -> None:
    events = [
        Ev("x", "p", day=1),
        Ev("x", "q", day=1),
        Ev("x", "q", day=2, event="return"),
        Ev("y", "p", day=1),
        Ev("y", "r", day=1),
    ]
    data = tiny_data(events)
    config = ItemKnnConfig(similarity="cosine", neighbors=2, neighbor_min_buyers=1)
    neighbors = itemknn.fit(data, config).arrays["neighbors"]
    p, q, r = item_indices(data, ("p", "q", "r"))
    assert neighbors[p].tolist() == [r, -1]
    assert (neighbors[q] == -1).all()


def test_unknown_names_are_refused_when_configuring() -> None:
    with pytest.raises(ValueError, match="choose one of"):
        ItemKnnConfig(similarity="jaccard")
    with pytest.raises(ValueError, match="choose one of"):
        ItemKnnConfig(source="sessions")


@pytest.mark.realdata
@pytest.mark.parametrize("source", sorted(itemknn.SOURCES))
def test_held_out_purchases_rank_high(retail_holdout: HeldOut, source: str) -> None:
    part = itemknn.fit(retail_holdout.train, ItemKnnConfig(source=source), seed=0)
    assert_neighbour_table(part.arrays["neighbors"], part.arrays["neighbor_scores"])
    neighbors, scores = part.arrays["neighbors"], part.arrays["neighbor_scores"]
    present = neighbors >= 0
    similarity = sp.csr_matrix(
        (scores[present], (np.nonzero(present)[0], neighbors[present])),
        shape=(len(neighbors), len(neighbors)),
    )
    history = sp.csr_matrix(retail_holdout.bought.astype(np.float32))

    def scorer(user: int) -> NDArray[np.float64]:
        return np.asarray((history[user] @ similarity).todense(), dtype=np.float64).ravel()

    assert retail_holdout.hit_rate(scorer, k=20) > 4 * retail_holdout.chance(20)


def test_items_with_too_few_buyers_get_no_neighbours_and_are_nobodys(
    two_clusters: TrainingData,
) -> None:
    buyers = np.diff(itemknn.user_purchases(two_clusters).tocsc().indptr)
    threshold = int(np.sort(buyers[buyers > 0])[len(buyers[buyers > 0]) // 2])
    part = itemknn.fit(two_clusters, ItemKnnConfig(neighbors=8, neighbor_min_buyers=threshold))
    rare = np.flatnonzero(buyers < threshold)
    table = part.arrays["neighbors"]
    assert len(rare) and (table[rare] == -1).all()
    assert not np.isin(table, rare).any()
    assert (table[buyers >= threshold] >= 0).any()
