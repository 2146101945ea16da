"""Experiment arms: validation, deterministic bucketing, distribution, propensities."""

from __future__ import annotations

import hashlib
import json
import os
import subprocess
import sys
from collections import Counter
from pathlib import Path

import pytest
from pydantic import TypeAdapter

from recsvc.errors import ConfigError, InvalidQueryError
from recsvc.experiments import Arm, Experiment, unit_interval

REPO = Path(__file__).resolve().parents[2]


def experiment(name: str = "exp", weights: tuple[float, ...] = (1.0, 2.0, 7.0)) -> Experiment:
    arms = tuple(Arm(f"arm{n}", weight, strategy="als") for n, weight in enumerate(weights))
    return Experiment(name, arms)


def test_assignment_is_deterministic_and_carries_the_normalised_weight() -> None:
    exp = experiment()
    first = [exp.assign(f"user-{n}") for n in range(200)]
    assert first == [experiment().assign(f"user-{n}") for n in range(200)]
    propensities = {a.arm.name: a.propensity for a in first}
    assert propensities == pytest.approx({"arm0": 0.1, "arm1": 0.2, "arm2": 0.7})
    assert sum(exp.propensities.values()) == pytest.approx(1.0)


def test_unit_interval_follows_the_documented_formula() -> None:
    digest = hashlib.sha256(b"checkout-test:user-42").digest()
    assert unit_interval("checkout-test", "user-42") == int.from_bytes(digest[:8], "big") / 2**64
    values = [unit_interval("e", str(n)) for n in range(1000)]
    assert all(0.0 <= value < 1.0 for value in values)


def test_assignment_is_the_same_in_another_process() -> None:
    """Another interpreter with a different string hash seed assigns identically."""
    probe = (
        "import json\n"
        "from recsvc.experiments import Arm, Experiment\n"
        "exp = Experiment('exp', tuple(Arm(f'arm{n}', w, strategy='als')"
        " for n, w in enumerate((1.0, 2.0, 7.0))))\n"
        "print(json.dumps([exp.assign(f'user-{n}').arm.name for n in range(300)]))"
    )
    env = {**os.environ, "PYTHONPATH": str(REPO), "PYTHONHASHSEED": "12345"}
    result = subprocess.run(
        [sys.executable, "-c", probe], capture_output=True, text=True, env=env, check=True
    )
    here = [experiment().assign(f"user-{n}").arm.name for n in range(300)]
    assert json.loads(result.stdout) == here


@pytest.mark.parametrize("weights", [(1.0, 2.0, 7.0), (3.0, 3.0), (0.001, 0.002, 0.003, 0.994)])
def test_100k_units_split_close_to_the_weights(weights: tuple[float, ...]) -> None:
    exp = experiment(weights=weights)
    n_units = 100_000
    counts = Counter(exp.assign(f"user-{n}").arm.name for n in range(n_units))
    expected = {name: p * n_units for name, p in exp.propensities.items()}
    chi_square = sum((counts[name] - e) ** 2 / e for name, e in expected.items())
    # 99.9th percentile of chi-square with 1..3 degrees of freedom is at most 16.27.
    assert chi_square < 16.27, (counts, expected)


def test_renaming_the_experiment_reshuffles_units() -> None:
    before = experiment("exp-a", (1.0, 1.0))
    after = experiment("exp-b", (1.0, 1.0))
    units = [f"user-{n}" for n in range(10_000)]
    moved = sum(before.assign(u).arm != after.assign(u).arm for u in units) / len(units)
    assert 0.47 < moved < 0.53  # independent buckets: half the units change arm


def test_a_single_arm_takes_everyone_with_propensity_one() -> None:
    exp = Experiment("solo", (Arm("only", 0.3, bundle_version="2026-11-01"),))
    assignment = exp.assign("session-7")
    assert (assignment.arm.name, assignment.propensity) == ("only", 1.0)


@pytest.mark.parametrize("weight", [0.0, -1.0, float("nan"), float("inf")])
def test_an_arm_needs_a_positive_finite_weight(weight: float) -> None:
    with pytest.raises(ConfigError, match="weight"):
        Arm("a", weight, strategy="als")


def test_an_arm_must_serve_something() -> None:
    with pytest.raises(ConfigError, match="strategy or a bundle_version"):
        Arm("a", 1.0)


def test_arm_names_must_be_distinct_and_arms_present() -> None:
    with pytest.raises(ConfigError, match=r"duplicate arm names \['a'\]"):
        Experiment(
            "exp", (Arm("a", 1, strategy="x"), Arm("b", 1, strategy="y"), Arm("a", 2, strategy="z"))
        )
    with pytest.raises(ConfigError, match="at least one arm"):
        Experiment("exp", ())
    with pytest.raises(ConfigError, match="name"):
        Experiment("", (Arm("a", 1, strategy="x"),))


def test_arms_read_from_settings_raise_config_error() -> None:
    """Arms inside a pydantic(-settings) model keep raising ConfigError, not ValidationError."""
    adapter = TypeAdapter(list[Arm])
    arms = adapter.validate_json('[{"name": "control", "weight": 2, "strategy": "als"}]')
    assert arms == [Arm("control", 2.0, strategy="als")]
    with pytest.raises(ConfigError, match="'control': weight"):
        adapter.validate_json('[{"name": "control", "weight": 0, "strategy": "als"}]')


def test_an_empty_unit_id_is_an_invalid_query() -> None:
    with pytest.raises(InvalidQueryError):
        experiment().assign("")
