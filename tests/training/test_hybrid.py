"""Hybrid LightFM: features, exported representations against LightFM itself, cold start,
reproducibility and held-out hit rate."""

from __future__ import annotations

import numpy as np
import pytest
import scipy.sparse as sp
from numpy.typing import NDArray

from recsvc.artifacts import Part
from tests.training.conftest import (
    GARDEN,
    GARDEN_USERS,
    KITCHEN,
    KITCHEN_USERS,
    HeldOut,
    item_indices,
    user_index,
)
from tests.training.fixtures_models import assert_matches_contract
from training.data.dataset import TrainingData
from training.errors import ModelFitError
from training.models import hybrid
from training.models.hybrid import FittedHybrid, HybridConfig

TINY = HybridConfig(no_components=8, epochs=30, learning_rate=0.05, price_bands=2)


def _segments(data: TrainingData) -> NDArray[np.str_]:
    """ "new" for garden customers, nothing for kitchen customers."""
    return np.array(["new" if user in GARDEN_USERS else "" for user in data.user_ids])


@pytest.fixture(scope="module")
def fitted(two_clusters: TrainingData) -> FittedHybrid:
    return hybrid.fit_model(two_clusters, TINY, seed=5, segments=_segments(two_clusters))


@pytest.fixture(scope="module")
def part(fitted: FittedHybrid) -> Part:
    return hybrid.export(fitted, TINY, seed=5)


def _features_of(matrix: sp.csr_matrix, names: NDArray[np.str_], row: int) -> set[str]:
    return set(names[matrix[row].indices].tolist())


def _vector(part: Part, side: str, features: list[str]) -> tuple[NDArray[np.float32], float]:
    """Embedding and bias of a representation as the sum of the named feature rows."""
    position = {name: k for k, name in enumerate(part.arrays[f"{side}_feature_names"].tolist())}
    rows = [position[name] for name in features]
    embeddings = part.arrays[f"{side}_feature_embeddings"][rows].sum(axis=0)
    return embeddings, float(part.arrays[f"{side}_feature_biases"][rows].sum())


def test_part_matches_contract(two_clusters: TrainingData, part: Part) -> None:
    assert_matches_contract(part)
    arrays = part.arrays
    assert arrays["user_embeddings"].shape == (two_clusters.n_users, 8)
    assert arrays["item_embeddings"].shape == (two_clusters.n_items, 8)
    assert arrays["user_biases"].shape == (two_clusters.n_users,)
    assert arrays["item_biases"].shape == (two_clusters.n_items,)
    for side in ("user", "item"):
        n = len(arrays[f"{side}_feature_names"])
        assert arrays[f"{side}_feature_embeddings"].shape == (n, 8)
        assert arrays[f"{side}_feature_biases"].shape == (n,)
    assert all(array.dtype in (np.float32,) or array.dtype.kind == "U" for array in arrays.values())


def test_user_features_name_identity_context_and_segment(
    two_clusters: TrainingData, fitted: FittedHybrid
) -> None:
    users = fitted.users
    garden = user_index(two_clusters, "u01")
    kitchen = user_index(two_clusters, "u09")
    assert _features_of(users.matrix, users.names, garden) == {
        "user=u01",
        "country=GB",
        "hour_band=morning",
        "segment=new",
    }
    assert _features_of(users.matrix, users.names, kitchen) == {
        "user=u09",
        "country=FR",
        "hour_band=evening",
    }


def test_item_features_name_identity_categories_and_price_band(
    two_clusters: TrainingData, fitted: FittedHybrid
) -> None:
    items = fitted.items
    (a1, b1, cold) = item_indices(two_clusters, ("a1", "b1", "z"))
    assert _features_of(items.matrix, items.names, a1) == {
        "item=a1",
        "cat1=garden",
        "cat2=garden/pots",
        "price_band=1",
    }
    assert _features_of(items.matrix, items.names, b1) == {
        "item=b1",
        "cat1=kitchen",
        "cat2=kitchen/mugs",
        "price_band=2",
    }
    assert _features_of(items.matrix, items.names, cold) == {"item=z"}


def test_numpy_scores_equal_lightfm_predict(
    two_clusters: TrainingData, fitted: FittedHybrid, part: Part
) -> None:
    users = np.repeat(np.arange(two_clusters.n_users), two_clusters.n_items)
    items = np.tile(np.arange(two_clusters.n_items), two_clusters.n_users)
    predicted = fitted.model.predict(
        users, items, user_features=fitted.users.matrix, item_features=fitted.items.matrix
    ).reshape(two_clusters.n_users, two_clusters.n_items)
    arrays = part.arrays
    scores = (
        arrays["user_embeddings"] @ arrays["item_embeddings"].T
        + arrays["item_biases"]
        + arrays["user_biases"][:, None]
    )
    np.testing.assert_allclose(scores, predicted, rtol=1e-5, atol=1e-5)
    without_user_bias = scores - arrays["user_biases"][:, None]
    np.testing.assert_array_equal(
        np.argsort(-without_user_bias, axis=1, kind="stable")[:, :5],
        np.argsort(-predicted, axis=1, kind="stable")[:, :5],
    )


def test_representations_are_sums_of_feature_rows(
    two_clusters: TrainingData, fitted: FittedHybrid, part: Part
) -> None:
    for side, matrix, names in (
        ("user", fitted.users.matrix, fitted.users.names),
        ("item", fitted.items.matrix, fitted.items.names),
    ):
        for row in range(matrix.shape[0]):
            embedding, bias = _vector(part, side, sorted(_features_of(matrix, names, row)))
            np.testing.assert_allclose(
                part.arrays[f"{side}_embeddings"][row], embedding, rtol=1e-5, atol=1e-6
            )
            assert part.arrays[f"{side}_biases"][row] == pytest.approx(bias, abs=1e-6)


def test_cold_start_equals_lightfm_and_follows_context(
    two_clusters: TrainingData, fitted: FittedHybrid, part: Part
) -> None:
    context = ["country=GB", "hour_band=morning"]
    embedding, bias = _vector(part, "user", context)
    names = fitted.users.names.tolist()
    row = sp.csr_matrix(
        (
            np.ones(len(context), dtype=np.float32),
            ([0] * len(context), [names.index(f) for f in context]),
        ),
        shape=(1, len(names)),
    )
    lightfm_bias, lightfm_embedding = fitted.model.get_user_representations(row)
    np.testing.assert_allclose(embedding, lightfm_embedding[0], rtol=1e-5, atol=1e-6)
    assert bias == pytest.approx(float(lightfm_bias[0]), abs=1e-6)
    scores = part.arrays["item_embeddings"] @ embedding + part.arrays["item_biases"]
    garden, kitchen = item_indices(two_clusters, GARDEN), item_indices(two_clusters, KITCHEN)
    assert scores[garden].min() > scores[kitchen].max()


@pytest.mark.parametrize(("users", "cluster"), [(GARDEN_USERS, GARDEN), (KITCHEN_USERS, KITCHEN)])
def test_known_users_prefer_their_cluster(
    two_clusters: TrainingData, part: Part, users: tuple[str, ...], cluster: tuple[str, ...]
) -> None:
    own = item_indices(two_clusters, cluster)
    other = item_indices(two_clusters, KITCHEN if cluster == GARDEN else GARDEN)
    for user in users:
        scores = (
            part.arrays["item_embeddings"]
            @ part.arrays["user_embeddings"][user_index(two_clusters, user)]
        )
        scores += part.arrays["item_biases"]
        assert scores[own].min() > scores[other].max()


def test_same_seed_gives_identical_arrays(two_clusters: TrainingData, part: Part) -> None:
    again = hybrid.fit(two_clusters, TINY, seed=5, segments=_segments(two_clusters))
    for name, array in part.arrays.items():
        np.testing.assert_array_equal(again.arrays[name], array, err_msg=name)
    other = hybrid.fit(two_clusters, TINY, seed=6, segments=_segments(two_clusters))
    assert not np.array_equal(other.arrays["item_embeddings"], part.arrays["item_embeddings"])


def test_without_segments_no_segment_feature(two_clusters: TrainingData) -> None:
    names = hybrid.user_features(two_clusters, None).names
    assert not any(name.startswith("segment=") for name in names.tolist())


def test_unknown_loss_is_refused_when_configuring() -> None:
    with pytest.raises(ValueError, match="choose one of"):
        HybridConfig(loss="hinge")


def test_segments_of_the_wrong_length_are_refused(two_clusters: TrainingData) -> None:
    with pytest.raises(ModelFitError, match="segments"):
        hybrid.fit(two_clusters, TINY, segments=np.array(["new"]))


@pytest.mark.realdata
def test_held_out_purchases_rank_high(retail_holdout: HeldOut) -> None:
    arrays = hybrid.fit(retail_holdout.train, HybridConfig(), seed=0).arrays
    users, items, biases = (
        arrays["user_embeddings"],
        arrays["item_embeddings"],
        arrays["item_biases"],
    )
    hit_rate = retail_holdout.hit_rate(lambda user: items @ users[user] + biases, k=20)
    assert hit_rate > 4 * retail_holdout.chance(20)
