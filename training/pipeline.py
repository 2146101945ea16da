"""Orchestration only: load -> validate -> fit -> export. Each step lives in its own module."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from threadpoolctl import threadpool_limits

from recsvc.artifacts import Part
from training.config import TrainingConfig
from training.data.dataset import TrainingData, build_dataset
from training.data.load import SourceFile, load_sources
from training.data.quality import QualityReport
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
class RunFacts:
    """What the manifest and the summary say about a run's data, from either engine."""

    engine: str
    start: datetime | None
    reference_time: datetime
    quality: QualityReport
    sources: tuple[SourceFile, ...]
    events: int
    items: int
    users: int
    window_days: int | None
    not_trained: dict[str, str] = field(default_factory=dict)  # optional part -> why


@dataclass(frozen=True)
class TrainResult:
    """What a run published, how long each stage took, and what the data looked like."""

    published: Published
    timings: list[StageTiming]
    facts: RunFacts
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
    facts = RunFacts(
        engine="polars",
        start=data.events[TS].dt.min(),  # type: ignore[arg-type]
        reference_time=data.reference_time,
        quality=loaded.quality,
        sources=loaded.sources,
        events=data.events.height,
        items=data.n_items,
        users=data.n_users,
        window_days=window_days,
    )
    with clock.stage("export"):
        staging = stage(out_dir, parts, facts, config, seed, created_at)
        if gate is not None:
            gate(staging, data)
        published = publish(staging, keep=config.export.keep)
    return TrainResult(published, clock.timings, facts, summarise(facts, parts))


def stage(
    out_dir: Path,
    parts: Sequence[Part],
    facts: RunFacts,
    config: TrainingConfig,
    seed: int,
    created_at: datetime | None,
) -> Path:
    """Stage the run's verified bundle under `out_dir` (see `training.export`)."""
    return stage_bundle(
        out_dir,
        parts,
        quality=facts.quality.to_dict(),
        manifest_fields=_manifest_fields(facts, config, seed, parts),
        created_at=created_at or datetime.now(UTC),
    )


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
    facts: RunFacts, config: TrainingConfig, seed: int, parts: Sequence[Part]
) -> dict[str, Any]:
    return {
        "engine": facts.engine,
        "parts_not_trained": dict(facts.not_trained),
        "data_window": {
            "start": str(facts.start) if facts.start is not None else None,
            "end": facts.reference_time.isoformat(),
            "window_days": str(facts.window_days) if facts.window_days else None,
        },
        "sources": [s.to_dict() for s in facts.sources],
        "row_counts": {"events": facts.events, "items": facts.items, "users": facts.users},
        "params": {"seed": seed, **config.to_dict()},
        "metrics": {part.name: dict(part.meta.get("metrics", {})) for part in parts},
    }


def summarise(facts: RunFacts, parts: Sequence[Part]) -> dict[str, Any]:
    """The figures the CLI prints after a run."""
    by_name = {part.name: part for part in parts}
    summary = {
        "engine": facts.engine,
        "events": facts.events,
        "items": facts.items,
        "users": facts.users,
        "rules": len(by_name["rules"].arrays["consequents"]),
        "window": f"{facts.start} → {facts.reference_time}",
    }
    if facts.not_trained:
        summary["not trained"] = ", ".join(sorted(facts.not_trained))
    return summary
