"""Session fixtures of the collaborative-filtering and hybrid model tests.

`two_clusters`: 16 users in two groups whose answer is known. Garden customers (u01..u08,
GB, mornings) buy garden items a1..a6, kitchen customers (u09..u16, FR, evenings) buy
kitchen items b1..b6; user k skips item k mod 6 of its group, so every user has one
unseen item of its own group. u01 also bought b1 and returned it (no evidence); item
"z" is in the catalog but never bought.

`retail_holdout`: the Online Retail slice of `fixtures_models.retail_slice` (every tenth
customer, one year) split in time; the held-out pairs are purchases after the cut of items
the user had not bought before.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime

import numpy as np
import polars as pl
import pytest
from numpy.typing import NDArray

from tests.training.fixtures_models import Ev, retail_slice, tiny_data
from training.data.dataset import TrainingData, build_dataset
from training.data.matrices import purchase_lines
from training.data.schema import ITEM, ITEM_IDX, PRICE, TS, USER, USER_IDX

GARDEN = tuple(f"a{k}" for k in range(1, 7))
KITCHEN = tuple(f"b{k}" for k in range(1, 7))
GARDEN_USERS = tuple(f"u{k:02d}" for k in range(1, 9))
KITCHEN_USERS = tuple(f"u{k:02d}" for k in range(9, 17))
HOLDOUT_CUT = datetime(2011, 10, 1, tzinfo=UTC)

Scorer = Callable[[int], NDArray[np.floating]]
"""user index → scores of every item (higher = more likely)."""


def _cluster_events(
    users: tuple[str, ...], items: tuple[str, ...], country: str, hour: int
) -> list[Ev]:
    events = []
    for k, user in enumerate(users, start=int(users[0][1:])):
        bought = [item for position, item in enumerate(items) if position != k % len(items)]
        events += [
            Ev(user, item, day=1 + position % 2, country=country, hour=hour)
            for position, item in enumerate(bought)
        ]
    return events


@pytest.fixture(scope="session")
def two_clusters() -> TrainingData:
    events = [
        *_cluster_events(GARDEN_USERS, GARDEN, "GB", 9),
        *_cluster_events(KITCHEN_USERS, KITCHEN, "FR", 20),
        Ev("u01", "b1", day=3, country="GB", hour=9),
        Ev("u01", "b1", day=4, event="return", country="GB", hour=9),
    ]
    categories = {
        **{item: ("garden", "pots") for item in GARDEN},
        **{item: ("kitchen", "mugs") for item in KITCHEN},
    }
    data = tiny_data(events, categories=categories, extra_items=("z",))
    prices = pl.Series([2.0] * 6 + [20.0] * 6 + [None], dtype=pl.Float64)
    return dataclasses.replace(data, catalog=data.catalog.with_columns(prices.alias(PRICE)))


def user_index(data: TrainingData, user: str) -> int:
    return int(np.searchsorted(data.user_ids, user))


def item_indices(data: TrainingData, items: tuple[str, ...]) -> NDArray[np.intp]:
    return np.searchsorted(data.item_ids, items)


@dataclass(frozen=True)
class HeldOut:
    """`train` (events before the cut) and held-out (user, item) pairs in its index space,
    with each user's training purchases as a boolean [n_users, n_items] mask."""

    train: TrainingData
    users: NDArray[np.int64]
    items: NDArray[np.int64]
    bought: NDArray[np.bool_]

    def hit_rate(self, scorer: Scorer, k: int) -> float:
        """Share of held-out pairs whose item is among the user's k best-scored items not
        bought before the cut."""
        hits = 0
        for user in np.unique(self.users).tolist():
            scores = np.asarray(scorer(user), dtype=np.float64).copy()
            scores[self.bought[user]] = -np.inf
            best = np.argsort(-scores, kind="stable")[:k]
            hits += int(np.isin(self.items[self.users == user], best).sum())
        return hits / len(self.users)

    def chance(self, k: int) -> float:
        """`hit_rate` of a scorer that ranks the unseen items at random."""
        unseen = (~self.bought).sum(axis=1)
        return float(np.mean(k / unseen[self.users]))


def assert_neighbour_table(neighbors: NDArray[np.int32], scores: NDArray[np.float32]) -> None:
    """The `training.models.neighbors` conventions: no self or repeated neighbour, scores
    positive and descending with ties by ascending index, -1 / NaN padding at the end."""
    padded = neighbors == -1
    assert (padded == np.isnan(scores)).all()
    assert (padded[:, :-1] <= padded[:, 1:]).all(), "padding only after the last neighbour"
    assert not (neighbors == np.arange(len(neighbors))[:, None]).any()
    for row, row_scores in zip(neighbors, scores, strict=True):
        found = row[row >= 0]
        assert len(set(found.tolist())) == len(found)
        ranked = sorted(zip((-row_scores[row >= 0]).tolist(), found.tolist(), strict=True))
        assert [item for _, item in ranked] == found.tolist()
        assert (row_scores[row >= 0] > 0).all()


@pytest.fixture(scope="session")
def retail_holdout() -> HeldOut:
    full = retail_slice()
    raw = full.events.drop(USER_IDX, ITEM_IDX)
    train = build_dataset(raw.filter(pl.col(TS) < HOLDOUT_CUT), full.catalog)
    bought = np.zeros((train.n_users, train.n_items), dtype=bool)
    history = purchase_lines(train.events).filter(pl.col(USER_IDX).is_not_null())
    bought[history[USER_IDX].to_numpy(), history[ITEM_IDX].to_numpy()] = True
    later = (
        purchase_lines(raw.filter(pl.col(TS) >= HOLDOUT_CUT))
        .filter(pl.col(USER).is_in(train.user_ids.tolist()))
        .select(USER, ITEM)
        .unique()
        .sort(USER, ITEM)
    )
    users = np.searchsorted(train.user_ids, later[USER].to_numpy().astype(str))
    items = np.searchsorted(train.item_ids, later[ITEM].to_numpy().astype(str))
    new = ~bought[users, items]
    return HeldOut(train, users[new], items[new], bought)
