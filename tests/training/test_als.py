"""ALS: known answers on two clusters, reproducibility, neighbour tables, held-out AUC."""

from __future__ import annotations

import numpy as np
import pytest

from recsvc.artifacts import Part
from tests.training.conftest import (
    GARDEN,
    GARDEN_USERS,
    KITCHEN,
    KITCHEN_USERS,
    HeldOut,
    assert_neighbour_table,
    item_indices,
    user_index,
)
from tests.training.fixtures_models import assert_matches_contract
from training.data.dataset import TrainingData
from training.models import als
from training.models.als import AlsConfig

TINY = AlsConfig(factors=4, iterations=15, neighbors=20)


@pytest.fixture(scope="module")
def tiny_part(two_clusters: TrainingData) -> Part:
    return als.fit(two_clusters, TINY, seed=7)


def test_part_matches_contract_and_shapes(two_clusters: TrainingData, tiny_part: Part) -> None:
    assert_matches_contract(tiny_part)
    arrays = tiny_part.arrays
    assert arrays["user_factors"].shape == (two_clusters.n_users, 4)
    assert arrays["item_factors"].shape == (two_clusters.n_items, 4)
    assert (
        arrays["neighbors"].shape == arrays["neighbor_scores"].shape == (two_clusters.n_items, 20)
    )
    assert arrays["user_factors"].dtype == arrays["item_factors"].dtype == np.float32
    assert arrays["neighbors"].dtype == np.int32


def test_unbought_item_has_zero_factors_and_no_neighbours(
    two_clusters: TrainingData, tiny_part: Part
) -> None:
    (cold,) = item_indices(two_clusters, ("z",))
    assert not tiny_part.arrays["item_factors"][cold].any()
    assert (tiny_part.arrays["neighbors"][cold] == -1).all()
    assert np.isnan(tiny_part.arrays["neighbor_scores"][cold]).all()
    assert cold not in tiny_part.arrays["neighbors"]


@pytest.mark.parametrize("cluster", [GARDEN, KITCHEN])
def test_nearest_neighbours_stay_in_the_cluster(
    two_clusters: TrainingData, tiny_part: Part, cluster: tuple[str, ...]
) -> None:
    members = item_indices(two_clusters, cluster)
    for item in members:
        nearest = tiny_part.arrays["neighbors"][item, : len(cluster) - 1]
        assert set(nearest.tolist()) == set(members.tolist()) - {item}


@pytest.mark.parametrize(("users", "cluster"), [(GARDEN_USERS, GARDEN), (KITCHEN_USERS, KITCHEN)])
def test_best_unseen_item_is_from_the_users_cluster(
    two_clusters: TrainingData,
    tiny_part: Part,
    users: tuple[str, ...],
    cluster: tuple[str, ...],
) -> None:
    factors, items = tiny_part.arrays["user_factors"], tiny_part.arrays["item_factors"]
    own = set(item_indices(two_clusters, cluster).tolist())
    for k, user in enumerate(users, start=int(users[0][1:])):
        scores = items @ factors[user_index(two_clusters, user)]
        unseen = [i for i in own if i != item_indices(two_clusters, (cluster[k % 6],))[0]]
        scores[unseen] = -np.inf  # leave the one own item the user skipped
        assert int(np.argmax(scores)) in own


def test_returned_purchase_leaves_no_trace(two_clusters: TrainingData, tiny_part: Part) -> None:
    """u01 bought b1 and returned it: b1 ranks below every garden item for u01."""
    scores = tiny_part.arrays["item_factors"] @ tiny_part.arrays["user_factors"][0]
    (b1,) = item_indices(two_clusters, ("b1",))
    assert scores[b1] < scores[item_indices(two_clusters, GARDEN)].min()


def test_same_seed_gives_identical_arrays(two_clusters: TrainingData, tiny_part: Part) -> None:
    again = als.fit(two_clusters, TINY, seed=7)
    for name, array in tiny_part.arrays.items():
        np.testing.assert_array_equal(again.arrays[name], array, err_msg=name)
    other = als.fit(two_clusters, TINY, seed=8)
    assert not np.array_equal(other.arrays["item_factors"], tiny_part.arrays["item_factors"])


def test_meta_records_parameters_and_loss(tiny_part: Part) -> None:
    assert tiny_part.meta["params"]["factors"] == 4
    assert tiny_part.meta["params"]["seed"] == 7
    assert np.isfinite(tiny_part.meta["metrics"]["final_loss"])


@pytest.mark.realdata
def test_held_out_purchases_score_above_random_items(retail_holdout: HeldOut) -> None:
    part = als.fit(retail_holdout.train, AlsConfig(factors=32, iterations=10), seed=0)
    users, items = part.arrays["user_factors"], part.arrays["item_factors"]
    hit_rate = retail_holdout.hit_rate(lambda user: items @ users[user], k=20)
    popular = retail_holdout.bought.sum(axis=0).astype(np.float64)
    assert hit_rate > 4 * retail_holdout.chance(20)
    assert hit_rate > retail_holdout.hit_rate(lambda user: popular, k=20)


@pytest.mark.realdata
def test_neighbour_table_is_sorted_and_reproducible(retail_holdout: HeldOut) -> None:
    config = AlsConfig(factors=16, iterations=5, neighbors=30)
    part = als.fit(retail_holdout.train, config, seed=3)
    again = als.fit(retail_holdout.train, config, seed=3)
    np.testing.assert_array_equal(part.arrays["neighbors"], again.arrays["neighbors"])
    np.testing.assert_array_equal(part.arrays["item_factors"], again.arrays["item_factors"])
    assert_neighbour_table(part.arrays["neighbors"], part.arrays["neighbor_scores"])
