"""`TrainingData`: canonical events joined to the id maps every model shares.

Item index i is row i of the catalog (sorted by item id); user index u is row u of the
sorted distinct non-null user ids. Models receive this and nothing else.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

import numpy as np
import polars as pl
from numpy.typing import NDArray

from training.data.schema import ITEM, ITEM_IDX, TS, USER, USER_IDX


@dataclass(frozen=True)
class IdMaps:
    """The catalog, the id of each item and user index, and the training run's "now";
    what both engines' indexed event logs (`TrainingData`, Spark's `SparkData`) carry."""

    catalog: pl.DataFrame
    item_ids: NDArray[np.str_]
    user_ids: NDArray[np.str_]
    reference_time: datetime

    @property
    def n_items(self) -> int:
        return len(self.item_ids)

    @property
    def n_users(self) -> int:
        return len(self.user_ids)


@dataclass(frozen=True)
class TrainingData(IdMaps):
    """Events (canonical schema + `user_idx`, `item_idx`; sorted by time) and id maps."""

    events: pl.DataFrame


def build_dataset(
    events: pl.DataFrame, catalog: pl.DataFrame, reference_time: datetime | None = None
) -> TrainingData:
    """Index `events` against `catalog` (sorted by item id) and the distinct users.

    Events whose item is absent from the catalog are a programming error upstream (the
    catalog is built from the same events), so they raise instead of being dropped.
    """
    catalog = catalog.sort(ITEM)
    item_ids = catalog[ITEM].to_numpy().astype(str)
    users = events[USER].drop_nulls().unique().sort()
    user_ids = users.to_numpy().astype(str)
    item_map = pl.DataFrame(
        {ITEM: catalog[ITEM], ITEM_IDX: pl.int_range(len(catalog), dtype=pl.Int32, eager=True)}
    )
    user_map = pl.DataFrame(
        {USER: users, USER_IDX: pl.int_range(len(users), dtype=pl.Int32, eager=True)}
    )
    indexed = (
        events.join(item_map, on=ITEM, how="left")
        .join(user_map, on=USER, how="left")
        .sort(TS, maintain_order=True)
    )
    missing = indexed[ITEM_IDX].null_count()
    if missing:
        raise ValueError(f"{missing} events reference items absent from the catalog")
    if reference_time is None:
        reference_time = _max_time(indexed)
    return TrainingData(
        events=indexed,
        catalog=catalog,
        item_ids=item_ids,
        user_ids=user_ids,
        reference_time=reference_time,
    )


def _max_time(events: pl.DataFrame) -> datetime:
    value: Any = events[TS].max()
    if not isinstance(value, datetime):
        raise ValueError("cannot train on an empty event log")
    return value
