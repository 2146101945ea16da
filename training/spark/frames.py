"""Spark counterparts of `training.data.dataset` and `training.models.profiles.kept_purchases`.

`index_events` joins the canonical events to the same id maps as the polars engine (items
in catalog order, users sorted by id), and `kept_purchases` builds the shared "bought and
kept" table with the same rules; the one sequential step, netting returns against the
latest earlier baskets, runs per (user, item) pair in the workers through
`profiles.lifo_kept`, the function the polars engine calls.

`to_polars` is how results reach the driver: Arrow batches (no pandas), only for
aggregates whose size is bounded by the catalogue and the user base, never raw events.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Final

import numpy as np
import polars as pl
import pyarrow as pa
from numpy.typing import NDArray
from pyspark.sql import Column, DataFrame, SparkSession
from pyspark.sql import functions as sf

from training.data.dataset import IdMaps
from training.data.schema import (
    COUNTRY,
    EVENT,
    HOUR,
    ITEM,
    ITEM_IDX,
    ORDER,
    PRICE,
    QTY,
    SESSION,
    TS,
    USER,
    USER_IDX,
)
from training.errors import EmptyDataError
from training.models.profiles import BASKET, KIND, VALUE, lifo_kept

SEQ: Final = "_seq"  # source order (file, row): the tiebreak the polars engine's sort keeps
MICROS_PER_SECOND: Final = 1_000_000
_SQL_TYPES: Final = {pa.int32(): "int", pa.string(): "string", pa.float64(): "double"}
_NETTED: Final = pa.schema(
    [(USER_IDX, pa.int32()), (ITEM_IDX, pa.int32()), (BASKET, pa.string()), ("_kept", pa.float64())]
)


@dataclass(frozen=True)
class SparkData(IdMaps):
    """Indexed events on the cluster and the id maps on the driver (cf. `TrainingData`)."""

    events: DataFrame  # canonical columns + user_idx, item_idx, _seq


def to_polars(frame: DataFrame) -> pl.DataFrame:
    """Collect a (small) Spark frame to the driver through Arrow."""
    table: pa.Table = frame.toArrow()
    collected = pl.from_arrow(table)
    assert isinstance(collected, pl.DataFrame)
    return collected


def index_events(spark: SparkSession, events: DataFrame, catalog: pl.DataFrame) -> SparkData:
    """Attach `item_idx` (row of the sorted catalog) and `user_idx` (rank of the sorted
    distinct user ids), as `training.data.dataset.build_dataset` does."""
    catalog = catalog.sort(ITEM)
    item_ids = catalog[ITEM].to_numpy().astype(str)
    users = to_polars(events.select(USER).where(sf.col(USER).isNotNull()).distinct())[USER].sort()
    user_ids = users.to_numpy().astype(str)
    item_map = _id_map(spark, ITEM, ITEM_IDX, item_ids)
    user_map = _id_map(spark, USER, USER_IDX, user_ids)
    indexed = events.join(sf.broadcast(item_map), on=ITEM, how="left").join(
        sf.broadcast(user_map), on=USER, how="left"
    )
    latest = events.agg(sf.max(micros(TS))).first()
    if latest is None or latest[0] is None:
        raise EmptyDataError("cannot train on an empty event log")
    return SparkData(
        events=indexed.cache(),
        catalog=catalog,
        item_ids=item_ids,
        user_ids=user_ids,
        reference_time=from_micros(int(latest[0])),
    )


def micros(column: str) -> Column:
    """A timestamp column as microseconds since the epoch (what polars stores)."""
    return sf.unix_micros(sf.col(column))


def age_days(reference_time: datetime, column: str = TS) -> Column:
    """Days from `column` to `reference_time`, in the float operations of
    `training.models.profiles.age_days` (microseconds → seconds → days)."""
    reference = epoch_micros(reference_time)
    return (sf.lit(reference) - micros(column)) / MICROS_PER_SECOND / 86_400.0


def purchase_lines(events: DataFrame) -> DataFrame:
    """Purchases with a positive quantity (cf. `training.data.matrices.purchase_lines`)."""
    return events.where((sf.col(EVENT) == "purchase") & (sf.col(QTY) > 0))


def kept_purchases(events: DataFrame) -> DataFrame:
    """One row per (user_idx, item_idx, basket) kept after returns, with the columns and
    rules of `training.models.profiles.kept_purchases` (basket, timestamp, country, hour,
    quantity, value)."""
    basket = sf.coalesce(
        sf.concat(sf.lit("o:"), sf.col(ORDER)),
        sf.concat(sf.lit("s:"), sf.col(SESSION)),
        sf.concat(sf.lit("t:"), sf.col(TS).cast("string")),
    )
    first = sf.struct(sf.col(TS), sf.col(SEQ))
    baskets = (
        purchase_lines(events)
        .withColumn(BASKET, basket)
        .groupBy(USER_IDX, ITEM_IDX, BASKET)
        .agg(
            sf.min(TS).alias(TS),
            sf.min_by(COUNTRY, first).alias(COUNTRY),
            sf.min_by(HOUR, first).alias(HOUR),
            sf.sum(QTY).alias(QTY),
            sf.coalesce(sf.sum(sf.col(QTY) * sf.col(PRICE)), sf.lit(0.0)).alias(VALUE),
        )
    )
    returns = events.where(
        (sf.col(EVENT) == "return") & sf.col(USER_IDX).isNotNull() & (sf.col(QTY) != 0)
    ).select(USER_IDX, ITEM_IDX, TS, sf.abs(QTY).alias(QTY))
    pairs = returns.select(USER_IDX, ITEM_IDX).distinct()
    untouched = baskets.join(pairs, on=[USER_IDX, ITEM_IDX], how="left_anti")
    touched = baskets.join(pairs, on=[USER_IDX, ITEM_IDX], how="left_semi")
    no_basket = sf.lit(None).cast("string").alias(BASKET)
    timeline = touched.select(
        USER_IDX, ITEM_IDX, TS, BASKET, QTY, sf.lit(0).alias(KIND)
    ).unionByName(returns.select(USER_IDX, ITEM_IDX, TS, no_basket, QTY, sf.lit(1).alias(KIND)))
    kept = timeline.groupBy(USER_IDX, ITEM_IDX).applyInArrow(
        _net_pair, ", ".join(f"{field.name} {_SQL_TYPES[field.type]}" for field in _NETTED)
    )
    netted = (
        touched.join(kept, on=[USER_IDX, ITEM_IDX, BASKET])
        .withColumn(VALUE, sf.col(VALUE) * sf.col("_kept") / sf.col(QTY))
        .withColumn(QTY, sf.col("_kept"))
        .drop("_kept")
        .where(sf.col(QTY) > 0)
    )
    return untouched.unionByName(netted)


def _net_pair(table: pa.Table) -> pa.Table:
    """Kept quantity of each basket of one (user, item) pair (runs in a Spark worker)."""
    frame = pl.from_arrow(table)
    assert isinstance(frame, pl.DataFrame)
    frame = frame.sort(TS, KIND, BASKET, nulls_last=True)
    starts = pl.int_range(pl.len()) == 0
    kept = lifo_kept(starts=starts, timeline=frame)
    result = frame.with_columns(pl.Series("_kept", kept)).filter(pl.col(KIND) == 0)
    table = result.select(USER_IDX, ITEM_IDX, BASKET, "_kept").to_arrow()
    return table.cast(_NETTED)


def _id_map(spark: SparkSession, key: str, index: str, ids: NDArray[np.str_]) -> DataFrame:
    return to_spark(spark, pl.DataFrame({key: ids, index: np.arange(len(ids), dtype=np.int32)}))


def to_spark(spark: SparkSession, frame: pl.DataFrame) -> DataFrame:
    """A driver-side (small) polars frame as a Spark frame, through Arrow."""
    table: pa.Table = frame.to_arrow()
    return spark.createDataFrame(table)


def epoch_micros(moment: datetime) -> int:
    """Microseconds since the epoch of an aware datetime (exact integer arithmetic)."""
    return (moment - from_micros(0)) // timedelta(microseconds=1)


def from_micros(value: int) -> datetime:
    """A UTC datetime from microseconds since the epoch (exact, unlike float seconds)."""
    return datetime(1970, 1, 1, tzinfo=UTC) + timedelta(microseconds=value)
