"""Orchestration only: load -> validate -> fit -> export. Each step lives in its own module."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from threadpoolctl import threadpool_limits

from recsvc.artifacts import Part
from training.config import TrainingConfig
from training.data.dataset import TrainingData, build_dataset
from training.data.load import LoadedData, load_sources
from training.data.schema import TS
from training.export import Published, publish, stage_bundle
from training.models import als, hybrid, itemknn, popularity, profiles, repurchase, rules, segments
from training.stages import ProgressHook, SilentProgress, StageClock, StageTiming


@dataclass(frozen=True)
class SourceSpec:
    """One input file and its declared format (an adapter name)."""

    path: Path
    format: str


@dataclass(frozen=True)
class TrainResult:
    """What a run published, how long each stage took, and what the data looked like."""

    published: Published
    timings: list[StageTiming]
    loaded: LoadedData
    summary: dict[str, Any]


def train(
    sources: Sequence[SourceSpec],
    config: TrainingConfig,
    out_dir: Path,
    *,
    seed: int = 0,
    window_days: int | None = None,
    catalog_path: Path | None = None,
    progress: ProgressHook | None = None,
    created_at: datetime | None = None,
    gate: Callable[[Path, TrainingData], None] | None = None,
    erased_users: frozenset[str] = frozenset(),
) -> TrainResult:
    """Train every model on `sources` and publish one verified bundle under `out_dir`.

    `gate` (e.g. `training.evaluation.gate.make_gate`) sees the staged bundle before it is
    published and raises to keep it unpublished. `erased_users` (the service's erasure
    list) are removed from the data and counted in the quality report."""
    clock = StageClock(hook=progress or SilentProgress())
    with clock.stage("load"):
        loaded = load_sources(
            [(s.path, s.format) for s in sources],
            window_days=window_days,
            catalog_path=catalog_path,
            erased_users=erased_users,
        )
    with clock.stage("index"):
        data = build_dataset(loaded.events, loaded.catalog)
    parts = fit_models(data, config, seed=seed, clock=clock)
    with clock.stage("export"):
        staging = stage_bundle(
            out_dir,
            parts,
            quality=loaded.quality.to_dict(),
            manifest_fields=_manifest_fields(data, loaded, config, seed, window_days, parts),
            created_at=created_at or datetime.now(UTC),
        )
        if gate is not None:
            gate(staging, data)
        published = publish(staging, keep=config.export.keep)
    return TrainResult(published, clock.timings, loaded, _summary(data, parts))


def fit_models(
    data: TrainingData, config: TrainingConfig, *, seed: int, clock: StageClock
) -> list[Part]:
    """Fit every model family in dependency order (segments feed popularity and hybrid)."""
    with threadpool_limits(1, "blas"):
        with clock.stage("profiles"):
            parts = [profiles.fit_catalog(data), profiles.fit_users(data)]
        with clock.stage("segments"):
            segment_part = segments.fit(data, config.segments, seed=seed)
            labels = segments.lifecycle_label_array(segment_part)
        with clock.stage("repurchase"):
            parts += [segment_part, repurchase.fit(data, config.repurchase, seed=seed)]
        with clock.stage("popularity"):
            parts.append(popularity.fit(data, config.popularity, seed=seed, segments=labels))
        with clock.stage("rules"):
            parts.append(rules.fit(data, config.rules, seed=seed))
        with clock.stage("als"):
            parts.append(als.fit(data, config.als, seed=seed))
        with clock.stage("itemknn"):
            parts.append(itemknn.fit(data, config.itemknn, seed=seed))
        with clock.stage("hybrid"):
            parts.append(hybrid.fit(data, config.hybrid, seed=seed, segments=labels))
    return parts


def _manifest_fields(
    data: TrainingData,
    loaded: LoadedData,
    config: TrainingConfig,
    seed: int,
    window_days: int | None,
    parts: Sequence[Part],
) -> dict[str, Any]:
    start = data.events[TS].dt.min()
    return {
        "data_window": {
            "start": str(start) if start is not None else None,
            "end": data.reference_time.isoformat(),
            "window_days": str(window_days) if window_days else None,
        },
        "sources": [s.to_dict() for s in loaded.sources],
        "row_counts": {"events": data.events.height, "items": data.n_items, "users": data.n_users},
        "params": {"seed": seed, **config.to_dict()},
        "metrics": {part.name: dict(part.meta.get("metrics", {})) for part in parts},
    }


def _summary(data: TrainingData, parts: Sequence[Part]) -> dict[str, Any]:
    by_name = {part.name: part for part in parts}
    return {
        "events": data.events.height,
        "items": data.n_items,
        "users": data.n_users,
        "rules": len(by_name["rules"].arrays["consequents"]),
        "window": f"{data.events[TS].dt.min()} → {data.reference_time}",
    }
