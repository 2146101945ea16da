"""The promotion gate on the tiny hand-made bundle: a shuffled candidate is blocked, an
equal one passes, the decision lands in the manifest, `force` publishes anyway."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from recsvc.artifacts import Bundle, Part, load_bundle, read_current
from recsvc.artifacts.manifest import MANIFEST_FILE
from tests.recsvc.bundle_builder import tiny_parts
from tests.training.fixtures_eval import E, events
from training.config import TrainingConfig
from training.data.catalog import build_catalog
from training.data.dataset import TrainingData, build_dataset
from training.errors import GateRejectedError
from training.evaluation.gate import GateConfig, decide, make_gate
from training.export import publish, stage_bundle
from training.pipeline import SourceSpec, train

# Held-out baskets that follow the tiny bundle's rules and neighbours (i00 → i01, i04 → i07
# and i05, i08 → i09, i05 → i04) and the known shoppers' habits (u1: i04, i06).
BASKETS = [
    ("u1", ("i00", "i01")),
    ("u1", ("i04", "i07", "i06")),
    ("u2", ("i08", "i09")),
    ("u3", ("i05", "i04")),
    ("u5", ("i00", "i01", "i03")),
    (None, ("i04", "i05")),
]
LOG = events(
    [
        E(user, item, 2 + day, order=f"o{day}")
        for day, (user, items) in enumerate(BASKETS)
        for item in items
    ]
)
CONFIG = GateConfig(k=2, holdout_days=30.0, tolerance=0.05)


def _data() -> TrainingData:
    return build_dataset(LOG, build_catalog(LOG))


def _stage(out: Path, parts: list[Part]) -> Path:
    return stage_bundle(out, parts, quality={}, manifest_fields={"params": {}})


def _shuffled(parts: list[Part]) -> list[Part]:
    """The same arrays with the catalog's item ids permuted: every model now points at the
    wrong items (a broken id map, the worst silent failure a bundle can have)."""
    rng = np.random.default_rng(0)
    out = []
    for part in parts:
        arrays = dict(part.arrays)
        if part.name == "catalog":
            arrays["item_ids"] = rng.permutation(arrays["item_ids"])
        out.append(Part(part.name, arrays, part.meta))
    return out


@pytest.fixture
def current(tmp_path: Path) -> Bundle:
    return publish(_stage(tmp_path / "models", tiny_parts())).bundle


def test_a_shuffled_bundle_is_blocked(tmp_path: Path, current: Bundle) -> None:
    candidate = load_bundle(_stage(tmp_path / "work", _shuffled(tiny_parts())))
    decision = decide(candidate, current, LOG, CONFIG)
    assert not decision.publish and not decision.forced
    assert decision.current_score is not None and decision.candidate_score is not None
    assert decision.current_score > 0.1
    assert decision.candidate_score < decision.current_score * 0.95
    assert decision.n_requests == len(BASKETS)


def test_an_equal_bundle_passes_and_no_current_passes(tmp_path: Path, current: Bundle) -> None:
    candidate = load_bundle(_stage(tmp_path / "work", tiny_parts()))
    decision = decide(candidate, current, LOG, CONFIG)
    assert decision.publish and decision.candidate_score == decision.current_score
    first = decide(candidate, None, LOG, CONFIG)
    assert first.publish and first.reason == "no current bundle"


def test_the_hook_records_the_decision_and_refuses(tmp_path: Path, current: Bundle) -> None:
    models = tmp_path / "models"
    staging = _stage(models, _shuffled(tiny_parts()))
    with pytest.raises(GateRejectedError, match="refused"):
        make_gate(models, CONFIG)(staging, _data())
    recorded = json.loads((staging / MANIFEST_FILE).read_text())["gate"]
    assert recorded["publish"] is False
    assert recorded["current_version"] == current.version
    assert read_current(models) == current.version  # nothing was published


def test_force_publishes_a_refused_candidate_and_says_so(tmp_path: Path, current: Bundle) -> None:
    models = tmp_path / "models"
    staging = _stage(models, _shuffled(tiny_parts()))
    make_gate(models, CONFIG, force=True)(staging, _data())
    published = publish(staging)
    manifest = json.loads((published.path / MANIFEST_FILE).read_text())
    assert manifest["gate"]["publish"] is True and manifest["gate"]["forced"] is True
    assert read_current(models) == published.version != current.version


def test_config_refuses_unknown_metrics() -> None:
    with pytest.raises(ValueError, match="unknown"):
        GateConfig(metric="clicks")


def test_the_training_pipeline_runs_the_gate_before_publishing(
    tmp_path: Path, fixtures_dir: Path
) -> None:
    sources = [SourceSpec(fixtures_dir / "online_retail_tiny.csv", "online-retail")]
    first = train(sources, TrainingConfig(), tmp_path)
    gate = make_gate(tmp_path, GateConfig(holdout_days=365.0))
    second = train(sources, TrainingConfig(), tmp_path, gate=gate)
    recorded = json.loads((second.published.path / MANIFEST_FILE).read_text())["gate"]
    assert recorded["publish"] is True
    assert recorded["current_version"] == first.published.version
    assert read_current(tmp_path) == second.published.version
