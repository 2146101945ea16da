"""The offline evaluation end to end: load → split → bundle → tasks → replay → scores.

`evaluate(...)` returns an `Evaluation` whose polars frames a notebook can use directly:

    from training.evaluation.harness import evaluate
    result = evaluate([SourceSpec(path, "online-retail")], cutoff=datetime(2011, 10, 1))
    result.uplift.filter(pl.col("metric") == "bid_rate")

Which bundle is evaluated (`replay.bundle_for_cutoff`): the models directory's current
bundle when it was trained on data before the cut-off; otherwise its recipe (training
parameters and seed from its manifest; the defaults without one) retrained on the events
before the cut-off. The retrained bundle's version is `<cut-off>-<content hash>`, so the
same data, recipe and seed give the same version and the same numbers.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any, Final

import polars as pl

from recsvc.recommend import build_index
from training.data.load import LoadedData, load_sources
from training.data.schema import EVENT, ITEM, ORDER, QTY, TS, USER
from training.data.split import time_split
from training.evaluation.bundles import EvaluatedBundle, bundle_for_cutoff, default_cutoff
from training.evaluation.metrics import (
    DEFAULT_KS,
    KIND,
    POPULARITY,
    REQUEST,
    SLICE_COLUMNS,
    STRATEGY,
    aggregate_metrics,
    per_request_metrics,
)
from training.evaluation.replay import LIST_K, SOURCE, STRATEGIES, replay_task, strategies_for
from training.evaluation.tasks import CLICK, TASKS, TaskSet, build_tasks
from training.evaluation.uplift import TASK, UNIT, slice_uplift, uplift_table
from training.pipeline import SourceSpec
from training.stages import ProgressHook, SilentProgress, StageClock

HEADLINE_K: Final = 10
BASELINES: Final = ("popular", "deals")
SLICES: Final = ("segment", "country", "is_new")


@dataclass(frozen=True)
class Scores:
    """Everything computed from the served and outcome frames.

    `per_request`: the scored frame of `training.evaluation.uplift` (task, kind, k,
    strategy, request, unit, slices, metrics); `metrics`: `aggregate_metrics` per task,
    kind and k; `uplift`: `uplift_table` over `BASELINES`; `slices`: `slice_uplift` of
    bid_rate at the headline k vs popularity; `funnel`: per task and strategy at the
    headline k, slots served, slots clicked (null when not observable), slots bid on, and
    their revenue; `sources`: share of the blend's slots per provenance.
    """

    per_request: pl.DataFrame
    metrics: pl.DataFrame
    uplift: pl.DataFrame
    slices: pl.DataFrame
    funnel: pl.DataFrame
    sources: pl.DataFrame


@dataclass(frozen=True)
class Evaluation:
    """An offline evaluation: `meta` (what produced it: data, split, cut-off, bundle,
    seed, strategies, tasks) and its frames (`served`, `outcome` with a task column)."""

    meta: dict[str, Any]
    served: pl.DataFrame
    outcome: pl.DataFrame
    scores: Scores
    timings: dict[str, float] = field(default_factory=dict)


def score(
    served: pl.DataFrame,
    outcome: pl.DataFrame,
    *,
    catalog_size: int,
    popularity: pl.DataFrame | None = None,
    ks: Sequence[int] = DEFAULT_KS,
    n_boot: int = 1000,
    seed: int = 0,
) -> Scores:
    """`Scores` of served lists (`replay_task` output plus a task column) against outcomes
    (`tasks` outcome rows plus a task column). Lists of length k are scored at k only."""
    per_request = _per_request(served, outcome, ks, popularity)
    aggregated = [
        aggregate_metrics(
            rows.drop(TASK, KIND),
            served.filter((pl.col(TASK) == task) & (pl.col(LIST_K) == k)),
            catalog_size=catalog_size,
        ).with_columns(pl.lit(task).alias(TASK), pl.lit(kind).alias(KIND))
        for (task, kind, k), rows in sorted(per_request.group_by(TASK, KIND, "k"), key=str)
    ]
    metrics = pl.concat(aggregated).select(TASK, KIND, pl.exclude(TASK, KIND))
    headline = min(ks, key=lambda k: abs(k - HEADLINE_K))
    return Scores(
        per_request=per_request,
        metrics=metrics.sort(TASK, KIND, STRATEGY, "k"),
        uplift=uplift_table(per_request, baselines=BASELINES, n_boot=n_boot, seed=seed),
        slices=slice_uplift(per_request, SLICES, k=headline, n_boot=n_boot, seed=seed),
        funnel=_funnel(per_request, headline),
        sources=_sources(served, headline),
    )


def _per_request(
    served: pl.DataFrame, outcome: pl.DataFrame, ks: Sequence[int], popularity: pl.DataFrame | None
) -> pl.DataFrame:
    frames = []
    for task in served[TASK].unique().sort().to_list():
        task_served = served.filter(pl.col(TASK) == task).drop(TASK)
        task_outcome = outcome.filter(pl.col(TASK) == task)
        for kind in task_outcome[KIND].unique().sort().to_list():
            relevant = task_outcome.filter(pl.col(KIND) == kind)
            for k in ks:
                lists = task_served.filter(pl.col(LIST_K) == k).drop(LIST_K, SOURCE)
                rows = per_request_metrics(lists, relevant, ks=(k,), popularity=popularity)
                frames.append(rows.with_columns(pl.lit(task).alias(TASK), pl.lit(kind).alias(KIND)))
    scored = pl.concat(frames, how="diagonal_relaxed")
    unit = pl.coalesce(pl.col(USER), pl.format("request:{}", REQUEST)).alias(UNIT)
    return scored.with_columns(unit).select(TASK, KIND, pl.exclude(TASK, KIND))


def _funnel(per_request: pl.DataFrame, k: int) -> pl.DataFrame:
    rows = per_request.filter(pl.col("k") == k)
    hits = rows.group_by(TASK, STRATEGY, KIND).agg(
        pl.col("slots").sum(), pl.col("hits").sum(), pl.col("revenue").sum()
    )
    bids = hits.filter(pl.col(KIND) == "bid").select(
        TASK, STRATEGY, "slots", pl.col("hits").alias("bid_slots"), "revenue"
    )
    clicks = hits.filter(pl.col(KIND) == CLICK).select(
        TASK, STRATEGY, pl.col("hits").alias("clicked_slots")
    )
    return (
        bids.join(clicks, on=[TASK, STRATEGY], how="left")
        .select(
            TASK, STRATEGY, pl.lit(k).alias("k"), "slots", "clicked_slots", "bid_slots", "revenue"
        )
        .sort(TASK, STRATEGY)
    )


def _sources(served: pl.DataFrame, k: int) -> pl.DataFrame:
    blend = served.filter((pl.col(STRATEGY) == "blend") & (pl.col(LIST_K) == k))
    return (
        blend.group_by(TASK, SOURCE)
        .agg(slots=pl.len())
        .with_columns(share=pl.col("slots") / pl.col("slots").sum().over(TASK))
        .sort(TASK, "slots", descending=[False, True])
    )


def buyer_shares(events: pl.DataFrame) -> pl.DataFrame:
    """item_id, popularity = distinct buyers of the item / distinct buyers of anything
    (a buyer: the user, else the order), for the novelty metric."""
    buyer = pl.coalesce(USER, pl.format("order:{}", ORDER)).alias("_buyer")
    lines = events.filter((pl.col(EVENT) == "purchase") & (pl.col(QTY) > 0)).select(buyer, ITEM)
    total = max(lines["_buyer"].n_unique(), 1)
    return lines.group_by(ITEM).agg((pl.col("_buyer").n_unique() / total).alias(POPULARITY))


def evaluate(
    sources: Sequence[SourceSpec],
    *,
    models_dir: Path | None = None,
    cutoff: datetime | None = None,
    seed: int = 0,
    ks: Sequence[int] = DEFAULT_KS,
    strategies: Sequence[str] | None = None,
    max_requests: int | None = None,
    n_boot: int = 1000,
    progress: ProgressHook | None = None,
) -> Evaluation:
    """Run the offline evaluation (module docstring); see `Evaluation` for the result.

    `strategies` names entries of `replay.STRATEGIES` (default: all); `max_requests` caps
    each task with a seeded sample.
    """
    clock = StageClock(hook=progress or SilentProgress())
    with clock.stage("load"):
        loaded = load_sources([(s.path, s.format) for s in sources])
        cutoff = cutoff or default_cutoff(loaded.events)
        train, _ = time_split(loaded.events, cutoff)
    with clock.stage("bundle"):
        evaluated = bundle_for_cutoff(loaded, cutoff, models_dir=models_dir, seed=seed)
        index = build_index(evaluated.bundle)
    with clock.stage("tasks"):
        tasks = build_tasks(
            loaded.events, cutoff, index.users.position, max_requests=max_requests, seed=seed
        )
    served, outcome = [], []
    for task in tasks.values():
        with clock.stage(f"replay {task.name} ({task.requests.height} requests)"):
            chosen = strategies_for(task.name, strategies)
            frame = replay_task(index, task, chosen, ks, events=loaded.events)
        served.append(frame.with_columns(pl.lit(task.name).alias(TASK)))
        outcome.append(task.outcome.with_columns(pl.lit(task.name).alias(TASK)))
    with clock.stage("scores"):
        scores = score(
            pl.concat(served),
            pl.concat(outcome),
            catalog_size=index.n_items,
            popularity=buyer_shares(train),
            ks=ks,
            n_boot=n_boot,
            seed=seed,
        )
    meta = _meta(loaded, train, cutoff, evaluated, tasks, seed=seed, ks=ks, n_boot=n_boot)
    meta["strategies"] = {
        name: STRATEGIES[name].description for name in (strategies or list(STRATEGIES))
    }
    timings = {t.stage: t.seconds for t in clock.timings}
    return Evaluation(meta, pl.concat(served), pl.concat(outcome), scores, timings)


def _meta(
    loaded: LoadedData,
    train: pl.DataFrame,
    cutoff: datetime,
    evaluated: EvaluatedBundle,
    tasks: dict[str, TaskSet],
    *,
    seed: int,
    ks: Sequence[int],
    n_boot: int,
) -> dict[str, Any]:
    events = loaded.events
    kinds = next(iter(tasks.values())).kinds
    return {
        "data": {
            "sources": [s.to_dict() for s in loaded.sources],
            "events": events.height,
            "first_event": str(events[TS].min()),
            "last_event": str(events[TS].max()),
            "observable": list(kinds),
            "clicks": "observed (later views in the session)"
            if CLICK in kinds
            else "not observable: the data records purchases only",
        },
        "split": {
            "kind": "time",
            "cutoff": cutoff.isoformat(),
            "train_events": train.height,
            "test_events": events.height - train.height,
        },
        "cutoff": cutoff.isoformat(),
        "bundle": evaluated.describe(),
        "seed": seed,
        "ks": list(ks),
        "n_boot": n_boot,
        "ci": "95% percentile bootstrap over shoppers, paired across strategies",
        "tasks": {
            name: {"requests": task.requests.height, "outcome_rows": task.outcome.height}
            for name, task in tasks.items()
        },
        "task_names": list(TASKS),
        "slice_columns": list(SLICE_COLUMNS),
    }
