"""Both engines on the same canonical events: the parts must agree where they should.

The events come from the polars adapters (ingestion equality is tested separately in
test_spark_ingest.py), so any difference here is the models'. Identical: catalog, users,
segments' codes and counts, popularity, rules (arrays and metrics), repurchase counts.
Equal up to float summation order: monetary values and interval medians. ALS differs by
design (MLlib regularises ALS-WR style), so its neighbour lists are compared by overlap.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping
from pathlib import Path

import numpy as np
import polars as pl
import pytest
from pyspark.sql import SparkSession

from recsvc.artifacts import Part
from training.config import TrainingConfig
from training.data.dataset import build_dataset
from training.data.load import load_sources
from training.data.schema import EVENT, HOUR, WEEKDAY
from training.models.als import AlsConfig
from training.models.profiles import catalog_part
from training.models.segments import lifecycle_label_array
from training.pipeline import fit_models
from training.spark import models
from training.spark.frames import SEQ, index_events, kept_purchases, to_spark
from training.stages import StageClock

pytestmark = [pytest.mark.spark, pytest.mark.realdata]

CONFIG = dataclasses.replace(
    TrainingConfig(), als=AlsConfig(factors=16, iterations=8, neighbors=10)
)
FLOAT_TOLERANT = {("segments", "monetary"), ("repurchase", "item_interval_days")}
FLOAT_TOLERANT |= {("repurchase", "category_interval_days")}


@pytest.fixture(scope="module")
def both_engines(
    spark: SparkSession, shared_data: Path, tmp_path_factory: pytest.TempPathFactory
) -> tuple[dict[str, Part], dict[str, Part]]:
    raw = pl.read_parquet(shared_data / "online_retail" / "online_retail.parquet").head(12_000)
    path = tmp_path_factory.mktemp("slice") / "online_retail.parquet"
    raw.write_parquet(path)
    loaded = load_sources([(path, "online-retail")])
    data = build_dataset(loaded.events, loaded.catalog)
    polars_parts = fit_models(data, CONFIG, seed=0, clock=StageClock())
    events = loaded.events.with_columns(
        pl.col(EVENT).cast(pl.String),
        pl.col(HOUR).cast(pl.Int32),
        pl.col(WEEKDAY).cast(pl.Int32),
        pl.int_range(pl.len(), dtype=pl.Int64).alias(SEQ),  # sorted by time, ties in file order
    )
    spark_data = index_events(spark, to_spark(spark, events), loaded.catalog)
    assert spark_data.reference_time == data.reference_time
    kept = kept_purchases(spark_data.events).cache()
    segments = models.segments(spark_data, kept, CONFIG.segments, seed=0)
    spark_parts = [
        catalog_part(spark_data.catalog),
        models.users(spark_data, kept),
        segments,
        models.repurchase(spark, spark_data, kept, CONFIG.repurchase),
        models.popularity(
            spark, spark_data, kept, CONFIG.popularity, lifecycle_label_array(segments)
        ),
        models.rules(spark, spark_data, CONFIG.rules),
        models.als(spark_data, CONFIG.als, seed=0),
    ]
    return _by_name(polars_parts), _by_name(spark_parts)


def _by_name(parts: list[Part]) -> dict[str, Part]:
    return {part.name: part for part in parts}


def _assert_arrays_equal(
    name: str, ours: Mapping[str, np.ndarray], theirs: Mapping[str, np.ndarray]
) -> None:
    assert set(ours) == set(theirs), name
    for key, array in ours.items():
        other = theirs[key]
        assert array.shape == other.shape, f"{name}/{key}"
        if (name, key) in FLOAT_TOLERANT:
            np.testing.assert_allclose(array, other, rtol=1e-9, atol=1e-9, err_msg=f"{name}/{key}")
        elif array.dtype.kind == "f":
            np.testing.assert_array_equal(array, other, err_msg=f"{name}/{key}")
        else:
            assert np.array_equal(array, other), f"{name}/{key}"


@pytest.mark.parametrize("part", ["catalog", "users", "segments", "repurchase", "popularity"])
def test_profile_parts_agree(
    both_engines: tuple[dict[str, Part], dict[str, Part]], part: str
) -> None:
    polars_parts, spark_parts = both_engines
    _assert_arrays_equal(part, polars_parts[part].arrays, spark_parts[part].arrays)


def test_segment_counts_agree(both_engines: tuple[dict[str, Part], dict[str, Part]]) -> None:
    polars_meta, spark_meta = (parts["segments"].meta for parts in both_engines)
    for key in ("lifecycle_counts", "value_counts", "n_purchasers", "cluster_sizes"):
        assert polars_meta[key] == spark_meta[key], key
    assert sum(polars_meta["lifecycle_counts"].values()) > 100


def test_rule_sets_and_metrics_identical(
    both_engines: tuple[dict[str, Part], dict[str, Part]],
) -> None:
    polars_rules, spark_rules = (parts["rules"] for parts in both_engines)
    assert len(polars_rules.arrays["consequents"]) > 100  # a real rule set, not two empties
    _assert_arrays_equal("rules", polars_rules.arrays, spark_rules.arrays)
    for key in ("effective_min_support", "n_baskets", "min_count", "n_itemsets_by_size"):
        assert polars_rules.meta[key] == spark_rules.meta[key], key


def test_als_neighbour_lists_overlap(
    both_engines: tuple[dict[str, Part], dict[str, Part]],
) -> None:
    """Mean overlap of the top-10 neighbours of items that have a list in both engines.

    Different regularisation (ALS-WR in MLlib) gives different factors; the shared
    structure must still show: far above the overlap two random lists would have."""
    polars_als, spark_als = (parts["als"] for parts in both_engines)
    ours, theirs = polars_als.arrays["neighbors"], spark_als.arrays["neighbors"]
    assert ours.shape == theirs.shape
    listed = (ours[:, 0] >= 0) & (theirs[:, 0] >= 0)
    overlaps = [
        len(set(ours[i][ours[i] >= 0]) & set(theirs[i][theirs[i] >= 0])) / ours.shape[1]
        for i in np.flatnonzero(listed)
    ]
    n_candidates = int(listed.sum())
    chance = ours.shape[1] / max(n_candidates - 1, 1)
    overlap = float(np.mean(overlaps))
    print(f"ALS top-10 neighbour overlap polars vs spark: {overlap:.3f} (chance {chance:.3f})")
    assert n_candidates > 100
    assert overlap > 5 * chance
