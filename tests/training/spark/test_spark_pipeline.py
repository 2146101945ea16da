"""`recsvc train --engine spark` end to end: a bundle the service loads and answers from,
published locally or through Hadoop's FileSystem, and agreeing with the polars engine."""

from __future__ import annotations

import dataclasses
import json
from pathlib import Path

import numpy as np
import polars as pl
import pytest
from pyspark.sql import SparkSession

from recsvc.artifacts import load_bundle, read_current
from recsvc.artifacts.manifest import MANIFEST_FILE
from recsvc.recommend import (
    DEFAULT_CONFIG,
    RelatedQuery,
    UserQuery,
    build_index,
    next_purchase,
    related,
)
from training.config import TrainingConfig
from training.models.als import AlsConfig
from training.pipeline import SourceSpec, train
from training.spark.hadoop import local_path
from training.spark.pipeline import train_spark
from training.spark.storage import publish_remote

pytestmark = [pytest.mark.spark, pytest.mark.realdata]

CONFIG = dataclasses.replace(TrainingConfig(), als=AlsConfig(factors=8, iterations=4))


@pytest.fixture(scope="module")
def retail_slice(shared_data: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    raw = pl.read_parquet(shared_data / "online_retail" / "online_retail.parquet").head(6_000)
    path = tmp_path_factory.mktemp("slice") / "online_retail.parquet"
    raw.write_parquet(path)
    return path


def test_spark_bundle_is_served_and_agrees_with_polars(
    spark: SparkSession, retail_slice: Path, tmp_path: Path
) -> None:
    result = train_spark(spark, [(str(retail_slice), "online-retail")], CONFIG, str(tmp_path / "s"))
    reference = train([SourceSpec(retail_slice, "online-retail")], CONFIG, tmp_path / "p")
    bundle = load_bundle(tmp_path / "s" / read_current(tmp_path / "s"))
    assert bundle.manifest.engine == "spark"
    assert set(bundle.manifest.parts_not_trained) == {"itemknn", "hybrid"}
    assert bundle.get("hybrid") is None
    polars_bundle = reference.published.bundle
    assert bundle.manifest.quality == polars_bundle.manifest.quality
    assert bundle.manifest.row_counts == polars_bundle.manifest.row_counts
    for part, array in [
        ("rules", "lift"),
        ("popularity", "global_items"),
        ("segments", "lifecycle"),
    ]:
        np.testing.assert_array_equal(bundle[part][array], polars_bundle[part][array])
    assert result.summary["not trained"] == "hybrid, itemknn"

    index = build_index(bundle)
    top_item = index.catalog.ids[int(index.popularity.global_[0][0])]
    answer = related(index, RelatedQuery(item_id=top_item, k=5), DEFAULT_CONFIG)
    assert len(answer.items) == 5 and all(s.item_id != top_item for s in answer.items)
    buyer = str(index.users.user_ids[0])
    mine = next_purchase(index, UserQuery(user_id=buyer, now=1_291_600_000, k=5), DEFAULT_CONFIG)
    assert mine.items


def test_remote_publish_through_hadoop_filesystem(
    spark: SparkSession, retail_slice: Path, tmp_path: Path
) -> None:
    """The object-storage path (here Hadoop's local FileSystem behind a file:// URI):
    version directory copied, `current` written last, older versions pruned."""
    staged = train([SourceSpec(retail_slice, "online-retail")], CONFIG, tmp_path / "local")
    remote = tmp_path / "bucket" / "models"
    versions = []
    for copy in range(3):
        source = tmp_path / f"staged-{copy}"
        manifest_path = staged.published.path / MANIFEST_FILE
        source.mkdir()
        for file in staged.published.path.rglob("*"):
            target = source / file.relative_to(staged.published.path)
            if file.is_dir():
                target.mkdir(exist_ok=True)
            else:
                target.parent.mkdir(parents=True, exist_ok=True)
                target.write_bytes(file.read_bytes())
        manifest = json.loads(manifest_path.read_text())
        manifest["version"] = f"v{copy}"
        (source / MANIFEST_FILE).write_text(json.dumps(manifest))
        versions.append(publish_remote(spark, source, remote.as_uri(), keep=2))
    assert versions == ["v0", "v1", "v2"]
    assert read_current(remote) == "v2"
    assert sorted(p.name for p in remote.iterdir() if not p.name.startswith(".")) == [
        "current",
        "v1",
        "v2",
    ]
    assert load_bundle(remote / "v2").version == "v2"


def test_local_targets_are_told_from_uris() -> None:
    assert local_path("/models") == Path("/models")
    assert local_path("file:///srv/models") == Path("/srv/models")
    assert local_path("s3a://bucket/models") is None
    assert local_path("gs://bucket/models") is None
