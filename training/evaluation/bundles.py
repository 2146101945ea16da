"""Which bundle an offline evaluation replays, trained without peeking past the cut-off.

- The models directory's current bundle is used as it is when its training data ended
  before the cut-off (`manifest.data_window.end` < cut-off).
- Otherwise its *recipe* — the training parameters, seed and window recorded in its
  manifest — is retrained on the events before the cut-off (`TrainingConfig()` defaults
  and the caller's seed when there is no current bundle). The bundle is staged in a
  temporary directory, verified with `load_bundle` and never published; its
  `created_at` is the cut-off, so its version depends only on the data, recipe and seed.
"""

from __future__ import annotations

import tempfile
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any, Final

import polars as pl

from recsvc.artifacts import Bundle, load_bundle, read_current
from recsvc.errors import BundleNotFoundError
from training.config import TrainingConfig, config_from_dict
from training.data.catalog import build_catalog
from training.data.dataset import build_dataset
from training.data.load import LoadedData
from training.data.schema import ITEM, PRICE, TS
from training.data.split import time_split
from training.errors import EmptyDataError
from training.export import stage_bundle
from training.pipeline import fit_models
from training.stages import StageClock

HOLDOUT_SHARE: Final = 0.2  # default cut-off: the last 20 % of the events are held out


@dataclass(frozen=True)
class EvaluatedBundle:
    """The bundle replayed, and where it came from."""

    bundle: Bundle
    retrained: bool
    recipe_from: str | None  # the current bundle whose recipe was used, if any
    seed: int
    window_days: int | None

    def describe(self) -> dict[str, Any]:
        window = self.bundle.manifest.data_window
        return {
            "version": self.bundle.version,
            "trained_for_evaluation": self.retrained,
            "recipe_from": self.recipe_from,
            "training_seed": self.seed,
            "window_days": self.window_days,
            "data_window": dict(window),
        }


def current_bundle(models_dir: Path | None) -> Bundle | None:
    """The verified current bundle of `models_dir`, or None when there is none yet."""
    if models_dir is None:
        return None
    try:
        return load_bundle(models_dir / read_current(models_dir))
    except BundleNotFoundError:
        return None


def recipe(bundle: Bundle | None, seed: int) -> tuple[TrainingConfig, int, int | None]:
    """(config, seed, window days) recorded in `bundle`'s manifest, else the defaults."""
    if bundle is None:
        return TrainingConfig(), seed, None
    params = dict(bundle.manifest.params)
    recorded_seed = params.pop("seed", seed)
    window = bundle.manifest.data_window.get("window_days")
    config = config_from_dict(params, source=f"manifest of {bundle.version}")
    return config, int(recorded_seed), int(window) if window else None


def _trained_before(bundle: Bundle, cutoff: datetime) -> bool:
    end = bundle.manifest.data_window.get("end")
    return end is not None and datetime.fromisoformat(end) < cutoff


def stage_before(
    loaded: LoadedData,
    cutoff: datetime,
    config: TrainingConfig,
    out_dir: Path,
    *,
    seed: int,
    window_days: int | None = None,
) -> Path:
    """Fit every model on the events before `cutoff` (and within `window_days` of it) and
    stage the verified bundle in `out_dir` (`training.export.stage_bundle`; `publish` it
    to make it current). Returns the staging directory.

    The catalog keeps the items seen before the cut-off, with the prices of those events.
    Raises `EmptyDataError` when no event precedes the cut-off.
    """
    train, _ = time_split(loaded.events, cutoff)
    if window_days is not None:
        train = train.filter(pl.col(TS) >= cutoff - timedelta(days=window_days))
    if train.is_empty():
        raise EmptyDataError(f"no event before the cut-off {cutoff.isoformat()} to train on")
    prices = build_catalog(train).select(ITEM, PRICE)
    catalog = loaded.catalog.drop(PRICE).join(prices, on=ITEM).select(loaded.catalog.columns)
    data = build_dataset(train, catalog)
    parts = fit_models(data, config, seed=seed, clock=StageClock())
    fields = {
        "data_window": {
            "start": str(train[TS].min()),
            "end": data.reference_time.isoformat(),
            "window_days": str(window_days) if window_days else None,
        },
        "row_counts": {"events": data.events.height, "items": data.n_items, "users": data.n_users},
        "params": {"seed": seed, **config.to_dict()},
        "evaluation": {"cutoff": cutoff.isoformat(), "published": False},
    }
    return stage_bundle(
        out_dir, parts, quality=loaded.quality.to_dict(), manifest_fields=fields, created_at=cutoff
    )


def train_before(
    loaded: LoadedData,
    cutoff: datetime,
    config: TrainingConfig,
    *,
    seed: int,
    window_days: int | None = None,
) -> Bundle:
    """`stage_before` into a temporary directory; returns the loaded bundle (in memory)."""
    with tempfile.TemporaryDirectory(prefix="recsvc-eval-") as work:
        staging = stage_before(
            loaded, cutoff, config, Path(work), seed=seed, window_days=window_days
        )
        return load_bundle(staging)


def bundle_for_cutoff(
    loaded: LoadedData, cutoff: datetime, *, models_dir: Path | None, seed: int
) -> EvaluatedBundle:
    """The bundle to replay for `cutoff` (module docstring)."""
    current = current_bundle(models_dir)
    if current is not None and _trained_before(current, cutoff):
        _, recorded_seed, window = recipe(current, seed)
        return EvaluatedBundle(current, False, current.version, recorded_seed, window)
    config, recorded_seed, window = recipe(current, seed)
    bundle = train_before(loaded, cutoff, config, seed=recorded_seed, window_days=window)
    origin = current.version if current is not None else None
    return EvaluatedBundle(bundle, True, origin, recorded_seed, window)


def default_cutoff(events: pl.DataFrame) -> datetime:
    """The time before which 1 − `HOLDOUT_SHARE` of the events happened, rounded down to
    midnight UTC when the events span at least 10 days, else to the minute. Counting
    events rather than time keeps bursty logs (REES46's first hours) from a near-empty
    training side."""
    stamps = events[TS].sort()
    if stamps.is_empty():
        raise EmptyDataError("no events: cannot choose a cut-off")
    start, end = stamps[0], stamps[-1]
    picked: datetime = stamps[int((len(stamps) - 1) * (1 - HOLDOUT_SHARE))]
    moment = picked.astimezone(UTC)
    if end - start >= timedelta(days=10):
        return moment.replace(hour=0, minute=0, second=0, microsecond=0)
    return moment.replace(second=0, microsecond=0)
