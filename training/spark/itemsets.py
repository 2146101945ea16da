"""Frequent itemsets on Spark by level-wise co-occurrence joins (Apriori).

Why not MLlib's FPGrowth: it has no itemset size limit, so on invoice data, where a few
orders hold hundreds of lines, it enumerates every frequent itemset of every size. On a
month of Online Retail at the default support it died with a StackOverflowError in the
executor; the polars engine stops at `max_len` and, when candidates explode, raises
`TooManyCandidatesError` so that training can raise the support. The joins below have
both properties and produce exactly `training.models.itemsets.frequent_itemsets`' levels:

- size 1: item counts per distinct (basket, item);
- size 2: a self-join of each basket's frequent items (i < j), counted per pair;
- size k > 2: the driver forms the candidates from the frequent (k-1)-itemsets
  (`apriori_candidates`, the polars engine's join-and-prune, with its candidate guard);
  the cluster joins the baskets holding each candidate's (k-1)-prefix with the baskets
  holding its last item, and counts.

Each level's frequent itemsets come to the driver (they are what the bundle's rules are
made of); the (basket, itemset) membership rows stay on the cluster.
"""

from __future__ import annotations

from typing import Final

import numpy as np
import polars as pl
from pyspark.sql import DataFrame, SparkSession
from pyspark.sql import functions as sf

from training.models.itemsets import ItemsetLevel, apriori_candidates
from training.spark.frames import to_polars, to_spark

BASKET: Final = "basket"
ITEM: Final = "item"
_SET: Final = "itemset"
_PREFIX: Final = "prefix"
_COUNT: Final = "count"


def frequent_itemsets_spark(
    spark: SparkSession, lines: DataFrame, threshold: int, max_len: int
) -> list[ItemsetLevel]:
    """Itemsets of 1..max_len items in ≥ `threshold` baskets of `lines` (basket, item)
    rows; one level per size, ending before the first empty size (size 1 always)."""
    lines = lines.select(BASKET, ITEM).distinct()
    singles = to_polars(lines.groupBy(ITEM).agg(sf.count(sf.lit(1)).alias(_COUNT)))
    singles = singles.filter(pl.col(_COUNT) >= threshold).sort(ITEM)
    frequent = singles[ITEM].to_numpy().astype(np.int32)
    levels = [ItemsetLevel(frequent[:, None], singles[_COUNT].to_numpy().astype(np.int64))]
    if max_len < 2 or len(frequent) < 2:
        return levels
    items = lines.join(sf.broadcast(to_spark(spark, singles.select(ITEM))), on=ITEM).cache()
    left, right = items.alias("a"), items.alias("b")
    pairs = left.join(
        right, (sf.col("a.basket") == sf.col("b.basket")) & (sf.col("a.item") < sf.col("b.item"))
    ).select(
        sf.col("a.basket").alias(BASKET), sf.col("a.item").alias("i0"), sf.col("b.item").alias("i1")
    )
    counted = to_polars(pairs.groupBy("i0", "i1").agg(sf.count(sf.lit(1)).alias(_COUNT)))
    level, members = _keep(spark, counted, threshold, pairs, ["i0", "i1"])
    while len(level):
        levels.append(level)
        if level.items.shape[1] == max_len:
            break
        prefixes, candidates = apriori_candidates(level.items)
        if not len(candidates):
            break
        table = pl.DataFrame(
            {
                _PREFIX: prefixes.astype(np.int64),
                **{f"i{j}": candidates[:, j] for j in range(candidates.shape[1])},
            }
        )
        last = f"i{candidates.shape[1] - 1}"
        joined = (
            members.withColumnRenamed(_SET, _PREFIX)
            .join(sf.broadcast(to_spark(spark, table)), on=_PREFIX)
            .join(items.withColumnRenamed(ITEM, last), on=[BASKET, last])
            .drop(_PREFIX)
        )
        keys = [f"i{j}" for j in range(candidates.shape[1])]
        counted = to_polars(joined.groupBy(*keys).agg(sf.count(sf.lit(1)).alias(_COUNT)))
        members.unpersist()
        level, members = _keep(spark, counted, threshold, joined, keys)
    members.unpersist()
    items.unpersist()
    return levels


def _keep(
    spark: SparkSession, counted: pl.DataFrame, threshold: int, rows: DataFrame, keys: list[str]
) -> tuple[ItemsetLevel, DataFrame]:
    """The frequent itemsets among `counted` (lexicographic, numbered in that order) and
    the (basket, itemset number) rows of `rows` that hold one."""
    frequent = counted.filter(pl.col(_COUNT) >= threshold).sort(keys)
    numbered = frequent.select(*keys, pl.int_range(pl.len(), dtype=pl.Int64).alias(_SET))
    members = (
        rows.join(sf.broadcast(to_spark(spark, numbered)), on=keys).select(BASKET, _SET).cache()
    )
    level = ItemsetLevel(
        frequent.select(keys).to_numpy().astype(np.int32).reshape(-1, len(keys)),
        frequent[_COUNT].to_numpy().astype(np.int64),
    )
    return level, members
