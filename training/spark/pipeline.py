"""`recsvc train --engine spark`: load -> index -> fit -> export, with Spark doing the work.

The stages and the bundle are those of `training.pipeline.train` (same contract, schema
version, manifest and verification), minus the parts without a Spark counterpart (see
`training.spark.models.NOT_TRAINED`), which the manifest lists in `parts_not_trained`.
Sources and the models directory may be URIs (s3a://, gs://, hdfs://, file://): reading
goes through Spark's readers, publishing through Hadoop's FileSystem
(`training.spark.storage`).
"""

from __future__ import annotations

import tempfile
from collections.abc import Sequence
from datetime import UTC, datetime
from pathlib import Path

from pyspark.sql import SparkSession
from pyspark.sql import functions as sf
from threadpoolctl import threadpool_limits

from recsvc.artifacts import Part, load_bundle
from training.config import TrainingConfig
from training.data.schema import TS
from training.export import Published, publish
from training.models.profiles import catalog_part
from training.models.segments import lifecycle_label_array
from training.pipeline import RunFacts, TrainResult, stage, summarise
from training.spark import models
from training.spark.frames import from_micros, index_events, kept_purchases, micros
from training.spark.hadoop import local_path
from training.spark.ingest import load_sources_spark
from training.spark.storage import publish_remote
from training.stages import ProgressHook, SilentProgress, StageClock


def train_spark(
    spark: SparkSession,
    sources: Sequence[tuple[str, str]],
    config: TrainingConfig,
    out: str,
    *,
    seed: int = 0,
    window_days: int | None = None,
    catalog_path: str | None = None,
    progress: ProgressHook | None = None,
    created_at: datetime | None = None,
    erased_users: frozenset[str] = frozenset(),
) -> TrainResult:
    """Train on `sources` ((path or URI, adapter name) pairs) and publish under `out`."""
    clock = StageClock(hook=progress or SilentProgress())
    with clock.stage("load"):
        loaded = load_sources_spark(
            spark,
            list(sources),
            window_days=window_days,
            catalog_path=catalog_path,
            erased_users=erased_users,
        )
    with clock.stage("index"):
        data = index_events(spark, loaded.events, loaded.catalog)
        kept = kept_purchases(data.events).cache()
        counts = data.events.agg(sf.count(sf.lit(1)), sf.min(micros(TS))).first()
        loaded.events.unpersist()  # the indexed copy is cached and materialised now
    with threadpool_limits(1, "blas"):
        with clock.stage("profiles"):
            parts = [catalog_part(data.catalog), models.users(data, kept)]
        with clock.stage("segments"):
            segments = models.segments(data, kept, config.segments, seed=seed)
        with clock.stage("repurchase"):
            parts += [segments, models.repurchase(spark, data, kept, config.repurchase)]
        with clock.stage("popularity"):
            labels = lifecycle_label_array(segments)
            parts.append(models.popularity(spark, data, kept, config.popularity, labels))
        with clock.stage("rules"):
            parts.append(models.rules(spark, data, config.rules))
        with clock.stage("als"):
            parts.append(models.als(data, config.als, seed=seed))
    kept.unpersist()
    facts = RunFacts(
        engine="spark",
        start=from_micros(int(counts[1])) if counts and counts[1] is not None else None,
        reference_time=data.reference_time,
        quality=loaded.quality,
        sources=loaded.sources,
        events=int(counts[0]) if counts else 0,
        items=data.n_items,
        users=data.n_users,
        window_days=window_days,
        not_trained=dict(models.NOT_TRAINED),
    )
    with clock.stage("export"):
        published = _export(spark, out, parts, facts, config, seed, created_at)
    return TrainResult(published, clock.timings, facts, summarise(facts, parts))


def _export(
    spark: SparkSession,
    out: str,
    parts: list[Part],
    facts: RunFacts,
    config: TrainingConfig,
    seed: int,
    created_at: datetime | None,
) -> Published:
    created = created_at or datetime.now(UTC)
    directory = local_path(out)
    if directory is not None:
        return publish(
            stage(directory, parts, facts, config, seed, created), keep=config.export.keep
        )
    with tempfile.TemporaryDirectory(prefix="recsvc-bundle-") as scratch:
        staged = stage(Path(scratch), parts, facts, config, seed, created)
        bundle = load_bundle(staged)
        version = publish_remote(spark, staged, out, keep=config.export.keep)
    location = f"{out.rstrip('/')}/{version}"
    return Published(version=version, path=bundle.path, bundle=bundle, location=location)
