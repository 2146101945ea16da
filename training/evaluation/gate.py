"""Promotion gate: publish tonight's bundle only if it is not worse than the current one.

Both bundles replay the same requests of the latest holdout window — the last
`holdout_days` of the training events (`training.data.split.holdout_window`) — through
the service's ranking code with `DEFAULT_CONFIG`. The score is the primary metric
(`GateConfig.metric`, a key of `training.evaluation.uplift.METRICS`) of `GateConfig.task`
at k. The candidate passes when

    candidate ≥ current × (1 − tolerance)

(or when there is no current bundle). The decision and both scores go into the candidate's
manifest under "gate"; a rejected candidate is left staged (unpublished) and
`GateRejectedError` is raised, unless `force` publishes it anyway ("forced": true).

Both bundles have seen (most of) the window, the candidate all of it: the gate guards
against broken or degraded bundles (a bad export, shuffled ids, a failed fit), it does not
estimate how much better a model generalises — `recsvc evaluate` with a cut-off does that.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import asdict, dataclass
from datetime import datetime
from pathlib import Path
from typing import Any, Final

import polars as pl

from recsvc.artifacts import Bundle, load_bundle
from recsvc.artifacts.manifest import MANIFEST_FILE
from recsvc.recommend import build_index
from training.data.dataset import TrainingData
from training.data.split import holdout_window
from training.errors import GateRejectedError
from training.evaluation.bundles import current_bundle
from training.evaluation.metrics import KIND, per_request_metrics
from training.evaluation.replay import LIST_K, SOURCE, STRATEGIES, replay_task
from training.evaluation.tasks import RELATED, TaskSet, build_tasks
from training.evaluation.uplift import METRICS, metric_rate

Gate = Callable[[Path, TrainingData], None]
GATE_KEY: Final = "gate"


@dataclass(frozen=True)
class GateConfig:
    """The primary metric, the window and the tolerance (relative, 0.02 = 2 % worse)."""

    task: str = RELATED
    metric: str = "bid_rate"
    k: int = 10
    holdout_days: float = 28.0
    tolerance: float = 0.02
    max_requests: int | None = 2000
    seed: int = 0

    def __post_init__(self) -> None:
        if self.metric not in METRICS:
            raise ValueError(f"gate metric {self.metric!r} unknown; choose from {sorted(METRICS)}")
        if not 0 <= self.tolerance < 1:
            raise ValueError(f"gate tolerance must be in [0, 1), got {self.tolerance}")


@dataclass(frozen=True)
class GateDecision:
    """What the gate decided and on which numbers (recorded in the manifest)."""

    publish: bool
    forced: bool
    reason: str
    candidate_score: float | None
    current_score: float | None
    current_version: str | None
    window_start: str | None
    n_requests: int
    config: dict[str, Any]

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


def holdout_tasks(
    events: pl.DataFrame, known_users: list[str], config: GateConfig
) -> tuple[TaskSet, datetime]:
    """The gate's task on the last `holdout_days` of `events`, and the window's start."""
    start = holdout_window(events, config.holdout_days)
    tasks = build_tasks(
        events, start, known_users, max_requests=config.max_requests, seed=config.seed
    )
    return tasks[config.task], start


def bundle_score(bundle: Bundle, task: TaskSet, events: pl.DataFrame, config: GateConfig) -> float:
    """The primary metric of `bundle` with `DEFAULT_CONFIG` on `task` (a rate, not an
    uplift); 0.0 when no request has a relevant item of the metric's kind."""
    spec = METRICS[config.metric]
    served = replay_task(
        build_index(bundle), task, [STRATEGIES["blend"]], (config.k,), events=events
    ).drop(LIST_K, SOURCE)
    relevant = task.outcome.filter(pl.col(KIND) == spec.kind)
    return metric_rate(per_request_metrics(served, relevant, ks=(config.k,)), spec) or 0.0


def decide(
    candidate: Bundle,
    current: Bundle | None,
    events: pl.DataFrame,
    config: GateConfig,
    *,
    force: bool = False,
) -> GateDecision:
    """Score both bundles on the holdout window and apply the rule of the module docstring."""
    settings = asdict(config)
    if current is None:
        return GateDecision(True, False, "no current bundle", None, None, None, None, 0, settings)
    users = sorted(
        set(candidate["users"]["user_ids"].tolist()) & set(current["users"]["user_ids"].tolist())
    )
    task, start = holdout_tasks(events, users, config)
    candidate_score = bundle_score(candidate, task, events, config)
    current_score = bundle_score(current, task, events, config)
    passes = candidate_score >= current_score * (1.0 - config.tolerance)
    comparison = ">=" if passes else "<"
    reason = (
        f"{config.task} {config.metric}@{config.k}: candidate {candidate_score:.5f} {comparison} "
        f"current {current_score:.5f} × (1 − {config.tolerance})"
    )
    return GateDecision(
        publish=passes or force,
        forced=force and not passes,
        reason=reason,
        candidate_score=candidate_score,
        current_score=current_score,
        current_version=current.version,
        window_start=start.isoformat(),
        n_requests=task.requests.height,
        config=settings,
    )


def record(staging: Path, decision: GateDecision) -> None:
    """Write the decision into the staged bundle's manifest under "gate" (the manifest is
    not among the checksummed files, so the bundle stays valid)."""
    path = staging / MANIFEST_FILE
    manifest = json.loads(path.read_text())
    manifest[GATE_KEY] = decision.to_dict()
    path.write_text(json.dumps(manifest, indent=1, sort_keys=True))


def make_gate(models_dir: Path, config: GateConfig | None = None, *, force: bool = False) -> Gate:
    """The hook `training.pipeline.train(gate=...)` calls between staging and publishing:
    decides against `models_dir`'s current bundle, records, and raises
    `GateRejectedError` for a rejected, unforced candidate."""
    settings = config or GateConfig()

    def gate(staging: Path, data: TrainingData) -> None:
        decision = decide(
            load_bundle(staging), current_bundle(models_dir), data.events, settings, force=force
        )
        record(staging, decision)
        if not decision.publish:
            raise GateRejectedError(
                f"promotion gate refused the candidate ({decision.reason}); it stays unpublished "
                f"in {staging}; rerun with --force-publish to publish it anyway"
            )

    return gate
