"""The bundle's parts fitted on Spark: aggregates on the cluster, the same parts on the driver.

Each function runs the event-scale work as Spark SQL or MLlib and hands the bounded
result (per item, per user, per group, or per frequent itemset) to the polars engine's
own part builder (`catalog_part`, `users_part`, `segments_part`, `repurchase_part`,
`popularity_part`, `rules_part`, `als_part`), so a part means the same thing whichever
engine trained it:

- rules: frequent itemsets by level-wise co-occurrence joins, not MLlib's `FPGrowth`
  (it has no itemset size limit and blew up on invoice data; see
  `training.spark.itemsets`). The rules are derived on the driver from the itemsets'
  exact counts (`rules_from_itemsets`), not with MLlib's `associationRules`, which
  compares float confidences (rules exactly at the threshold come and go with rounding)
  and has no lift threshold, leverage or conviction.
- als: MLlib `ALS` with implicit preferences on the same decayed confidence matrix. Its
  regularisation is ALS-WR (λ scaled by each row's number of ratings) where implicit's is
  plain λ, so the factors differ; neighbour lists are compared by overlap, not equality.
- item-kNN and the LightFM hybrid have no Spark counterpart: the bundle is published
  without them (`parts_not_trained` in the manifest) and the service does without.
"""

from __future__ import annotations

from dataclasses import asdict
from typing import Any, Final

import numpy as np
import polars as pl
from numpy.typing import NDArray
from pyspark.ml.recommendation import ALS
from pyspark.sql import Column, DataFrame, SparkSession, Window
from pyspark.sql import functions as sf

from recsvc.artifacts import Part
from training.data.schema import (
    CATEGORY_LEVELS,
    COUNTRY,
    EVENT,
    HOUR,
    ITEM_IDX,
    ORDER,
    SESSION,
    TS,
    USER_IDX,
)
from training.errors import EmptyDataError, ModelFitError
from training.models.als import AlsConfig, als_part
from training.models.itemsets import min_count
from training.models.popularity import (
    BUYER,
    GROUP,
    HOUR_BAND_OF,
    LONG,
    RECENT,
    SCORE,
    PopularityConfig,
    PopularityScores,
    category_groups,
    popularity_part,
    trending_from_counts,
)
from training.models.profiles import BASKET, EVENTS, LAST_TS, ORDERS, VALUE, users_part
from training.models.repurchase import (
    CATEGORY,
    INTERVAL,
    RATE,
    RepeatStats,
    RepurchaseConfig,
    repurchase_part,
)
from training.models.rules import (
    RulesConfig,
    RuleSet,
    mine_adaptively,
    rules_from_itemsets,
    rules_part,
)
from training.models.segments import (
    FIRST,
    FREQUENCY,
    LAST,
    MONETARY,
    SegmentsConfig,
    rfm_from,
    segments_part,
)
from training.spark.frames import (
    SparkData,
    age_days,
    micros,
    purchase_lines,
    to_polars,
    to_spark,
)
from training.spark.itemsets import BASKET as LINE_BASKET
from training.spark.itemsets import ITEM as LINE_ITEM
from training.spark.itemsets import frequent_itemsets_spark

NOT_TRAINED: Final = {
    "itemknn": "no Spark counterpart: MLlib has no item-kNN estimator",
    "hybrid": "no Spark counterpart: LightFM runs on one machine only",
}
_WEIGHT: Final = "_w"


def users(data: SparkData, kept: DataFrame) -> Part:
    """Part "users": purchase history and main country (see `profiles.fit_users`)."""
    history = (
        kept.where(sf.col(USER_IDX).isNotNull())
        .groupBy(USER_IDX, ITEM_IDX)
        .agg(sf.count(sf.lit(1)).alias(ORDERS), sf.max(sf.unix_seconds(TS)).alias(LAST_TS))
    )
    countries = (
        data.events.where(sf.col(USER_IDX).isNotNull() & sf.col(COUNTRY).isNotNull())
        .groupBy(USER_IDX, COUNTRY)
        .agg(sf.count(sf.lit(1)).alias(EVENTS))
    )
    return users_part(data.user_ids, to_polars(history), to_polars(countries))


def segments(data: SparkData, kept: DataFrame, config: SegmentsConfig, *, seed: int) -> Part:
    """Part "segments" from per-user RFM aggregates (see `segments.compute_rfm`)."""
    per_user = (
        kept.where(sf.col(USER_IDX).isNotNull())
        .groupBy(USER_IDX)
        .agg(
            sf.max(micros(TS)).alias(LAST),
            sf.min(micros(TS)).alias(FIRST),
            sf.count_distinct(BASKET).alias(FREQUENCY),
            sf.sum(VALUE).alias(MONETARY),
        )
    )
    frame = to_polars(per_user).with_columns(
        pl.from_epoch(pl.col(column), time_unit="us").dt.replace_time_zone("UTC")
        for column in (LAST, FIRST)
    )
    rfm = rfm_from(frame, data.reference_time, data.n_users)
    return segments_part(rfm, config, seed=seed, reference_time=data.reference_time)


def repurchase(
    spark: SparkSession, data: SparkData, kept: DataFrame, config: RepurchaseConfig
) -> Part:
    """Part "repurchase" (see `repurchase.fit`); medians are Spark's exact `median`."""
    baskets = kept.where(sf.col(USER_IDX).isNotNull())
    order = Window.partitionBy(USER_IDX, ITEM_IDX).orderBy(TS, BASKET)
    gap = (micros(TS) - sf.lag(micros(TS)).over(order)) / 1_000_000 / 86_400.0
    intervals = (
        baskets.select(ITEM_IDX, gap.alias(INTERVAL))
        .where(sf.col(INTERVAL).isNotNull() & (sf.col(INTERVAL) >= config.min_gap_days))
        .cache()
    )
    level_1 = data.catalog.select(
        pl.int_range(pl.len(), dtype=pl.Int32).alias(ITEM_IDX),
        pl.col(CATEGORY_LEVELS[0]).fill_null("").alias(CATEGORY),
    ).filter(pl.col(CATEGORY) != "")
    median = [sf.median(INTERVAL).alias(INTERVAL), sf.count(sf.lit(1)).alias("n")]
    categories = intervals.join(sf.broadcast(to_spark(spark, level_1)), on=ITEM_IDX)
    rates = (
        baskets.groupBy(USER_IDX, ITEM_IDX)
        .agg(sf.count(sf.lit(1)).alias(ORDERS))
        .groupBy(ITEM_IDX)
        .agg(sf.avg((sf.col(ORDERS) >= 2).cast("double")).alias(RATE))
    )
    overall = intervals.agg(sf.count(sf.lit(1)), sf.median(INTERVAL)).first()
    stats = RepeatStats(
        items=to_polars(intervals.groupBy(ITEM_IDX).agg(*median)),
        categories=to_polars(categories.groupBy(CATEGORY).agg(*median)),
        repeat_rates=to_polars(rates),
        n_intervals=int(overall[0]) if overall else 0,
        global_median=float(overall[1]) if overall and overall[1] is not None else None,
    )
    intervals.unpersist()
    return repurchase_part(stats, data.n_items, config)


def popularity(
    spark: SparkSession,
    data: SparkData,
    kept: DataFrame,
    config: PopularityConfig,
    labels: NDArray[np.str_],
) -> Part:
    """Part "popularity" (see `popularity.fit`): distinct buyers per group and item."""
    buyer = sf.coalesce(
        sf.concat(sf.lit("u"), sf.col(USER_IDX).cast("string")),
        sf.concat(sf.lit("b"), sf.col(BASKET)),
    )
    lines = kept.withColumn(BUYER, buyer).cache()
    bands = sf.create_map(*(sf.lit(v) for pair in HOUR_BAND_OF.items() for v in pair))
    segment_table = pl.DataFrame(
        {USER_IDX: np.arange(len(labels), dtype=np.int32), GROUP: np.asarray(labels, dtype=str)}
    ).filter(pl.col(GROUP) != "")
    segment_lines = lines.join(sf.broadcast(to_spark(spark, segment_table)), on=USER_IDX)
    items = to_polars(_scores(lines.withColumn(GROUP, sf.lit("")), data, config))
    age = age_days(data.reference_time)
    window = lines.where((age >= 0) & (age < config.trending_long_days))
    counts = window.groupBy(ITEM_IDX).agg(
        sf.count_distinct(sf.when(age < config.trending_recent_days, sf.col(BUYER))).alias(RECENT),
        sf.count_distinct(BUYER).alias(LONG),
    )
    scores = PopularityScores(
        items=items,
        trending=trending_from_counts(to_polars(counts), config),
        groups={
            "category": items.drop(GROUP).join(category_groups(data.catalog), on=ITEM_IDX),
            "segment": to_polars(_scores(segment_lines, data, config)),
            "country": to_polars(_scores(lines.withColumn(GROUP, sf.col(COUNTRY)), data, config)),
            "hour_band": to_polars(
                _scores(lines.withColumn(GROUP, bands[sf.col(HOUR)]), data, config)
            ),
        },
        n_buyers=int(to_polars(lines.select(sf.count_distinct(BUYER))).item()),
    )
    lines.unpersist()
    return popularity_part(scores, config, data.reference_time)


def _grouped(
    lines: DataFrame, group: Column, data: SparkData, config: PopularityConfig
) -> pl.DataFrame:
    return to_polars(_scores(lines.withColumn(GROUP, group), data, config))


def _scores(lines: DataFrame, data: SparkData, config: PopularityConfig) -> DataFrame:
    """(group, item_idx, score) as `popularity._scores`: distinct buyers, decayed if set."""
    last = lines.groupBy(GROUP, ITEM_IDX, BUYER).agg(sf.max(TS).alias(TS))
    if config.half_life_days is None:
        score: Column = sf.count(sf.lit(1)).cast("double")
    else:
        decay = sf.greatest(age_days(data.reference_time), sf.lit(0.0)) / config.half_life_days
        score = sf.sum(sf.pow(sf.lit(0.5), decay))
    return last.groupBy(GROUP, ITEM_IDX).agg(score.alias(SCORE))


def rules(spark: SparkSession, data: SparkData, config: RulesConfig) -> Part:
    """Part "rules": itemsets by co-occurrence joins (`training.spark.itemsets`), rules
    derived from their exact counts, support raised as `rules.fit` does when it explodes."""
    basket = sf.coalesce(sf.col(ORDER), sf.col(SESSION))
    lines = (
        purchase_lines(data.events)
        .where(basket.isNotNull())
        .select(basket.alias(LINE_BASKET), sf.col(ITEM_IDX).alias(LINE_ITEM))
        .distinct()
        .cache()
    )
    counted = lines.select(sf.count_distinct(LINE_BASKET)).first()
    n_baskets = int(counted[0]) if counted else 0
    if n_baskets == 0:
        raise ModelFitError(
            "rules: no purchase has an order id or a session id, so there are no baskets"
        )

    def mine(support: float) -> RuleSet:
        threshold = min_count(support, n_baskets)
        return rules_from_itemsets(
            frequent_itemsets_spark(spark, lines, threshold, config.max_len),
            n_baskets=n_baskets,
            threshold=threshold,
            min_confidence=config.min_confidence,
            max_len=config.max_len,
            min_lift=config.min_lift,
            max_rules=config.max_rules,
        )

    rule_set, support = mine_adaptively(mine, config.min_support)
    lines.unpersist()
    return rules_part(rule_set, config, support)


def als(data: SparkData, config: AlsConfig, *, seed: int) -> Part:
    """Part "als": MLlib ALS (implicit preferences) on the decayed confidence matrix of
    `training.data.matrices.user_item_confidence`; neighbours as in `als.fit`."""
    weights = config.confidence.by_event
    weight = sf.create_map(*(sf.lit(v) for pair in weights.items() for v in pair))
    decay = sf.pow(
        sf.lit(0.5),
        sf.greatest(age_days(data.reference_time), sf.lit(0.0)) / config.confidence.half_life_days,
    )
    confidence = (
        data.events.where(sf.col(USER_IDX).isNotNull())
        .withColumn(_WEIGHT, sf.coalesce(weight[sf.col(EVENT)], sf.lit(0.0)) * decay)
        .groupBy(USER_IDX, ITEM_IDX)
        .agg(sf.sum(_WEIGHT).alias(_WEIGHT))
        .where(sf.col(_WEIGHT) > 0)
        .cache()
    )
    nonzeros = confidence.count()
    if nonzeros == 0:
        raise EmptyDataError("ALS: no user has a positive interaction to factorise")
    model = ALS(
        rank=config.factors,
        maxIter=config.iterations,
        regParam=config.regularization,
        alpha=config.alpha,
        implicitPrefs=True,
        userCol=USER_IDX,
        itemCol=ITEM_IDX,
        ratingCol=_WEIGHT,
        seed=seed,
    ).fit(confidence)
    user_factors = _factors(to_polars(model.userFactors), data.n_users, config.factors)
    item_factors = _factors(to_polars(model.itemFactors), data.n_items, config.factors)
    if not (np.isfinite(user_factors).all() and np.isfinite(item_factors).all()):
        raise ModelFitError("ALS produced non-finite factors; increase regularization")
    buyers = to_polars(confidence.groupBy(ITEM_IDX).agg(sf.count(sf.lit(1)).alias("n")))
    per_item = np.zeros(data.n_items, dtype=np.int64)
    per_item[buyers[ITEM_IDX].to_numpy()] = buyers["n"].to_numpy()
    confidence.unpersist()
    meta: dict[str, Any] = {
        "params": {**asdict(config), "seed": seed},
        "metrics": {},
        "nonzeros": nonzeros,
        "solver": "Spark MLlib ALS (implicitPrefs, ALS-WR regularisation)",
    }
    return als_part(user_factors, item_factors, buyers=per_item, config=config, meta=meta)


def _factors(frame: pl.DataFrame, n_rows: int, width: int) -> NDArray[np.float32]:
    """MLlib's (id, features) rows as a dense [n_rows, width] matrix; absent rows are 0."""
    factors = np.zeros((n_rows, width), dtype=np.float32)
    if frame.height:
        ids = frame["id"].to_numpy()
        factors[ids] = np.array(frame["features"].to_list(), dtype=np.float32)
    return factors
