"""The `recsvc` command line end to end on real-data slices: train, rules, errors."""

from __future__ import annotations

import csv
import json
from pathlib import Path

import pytest
from typer.testing import CliRunner

from recsvc.artifacts import load_bundle, read_current
from recsvc.artifacts.manifest import MANIFEST_FILE
from training.cli import app

runner = CliRunner()


@pytest.fixture(scope="module")
def retail_slice(shared_data: Path) -> Path:
    return shared_data / "online_retail" / "online_retail_first50k.csv.gz"


def _train(data: Path, out: Path, *extra: str) -> dict[str, object]:
    result = runner.invoke(
        app, ["train", "--data", str(data), "--format", "online-retail", "--out", str(out), *extra]
    )
    assert result.exit_code == 0, result.output
    version = read_current(out)
    manifest: dict[str, object] = json.loads((out / version / MANIFEST_FILE).read_text())
    return manifest


@pytest.mark.realdata
def test_train_publishes_a_verified_bundle_and_same_seed_same_bundle(
    retail_slice: Path, tmp_path: Path
) -> None:
    first = _train(retail_slice, tmp_path / "a", "--seed", "7")
    second = _train(retail_slice, tmp_path / "b", "--seed", "7")
    assert first["files"] == second["files"]
    assert str(first["version"]).split("-")[-1] == str(second["version"]).split("-")[-1]
    quality = first["quality"]
    assert isinstance(quality, dict)
    bundle = load_bundle(tmp_path / "a" / str(first["version"]))
    assert len(bundle["catalog"]["item_ids"]) > 1000
    assert len(bundle["rules"]["consequents"]) > 0
    params = first["params"]
    assert isinstance(params, dict) and params["seed"] == 7


@pytest.mark.realdata
def test_rules_command_writes_the_groceries_rule_set(shared_data: Path, tmp_path: Path) -> None:
    out = tmp_path / "rules.csv"
    result = runner.invoke(
        app,
        [
            "rules",
            "--data",
            str(shared_data / "groceries" / "groceries.csv"),
            "--format",
            "groceries",
            "--min-support",
            "0.001",
            "--min-confidence",
            "0.8",
            "--max-len",
            "10",
            "--out",
            str(out),
        ],
    )
    assert result.exit_code == 0, result.output
    with out.open() as handle:
        rows = list(csv.DictReader(handle))
    assert list(rows[0]) == [
        "antecedents",
        "consequents",
        "support",
        "confidence",
        "lift",
        "leverage",
        "conviction",
        "count",
    ]
    # the exact-count rule set of the conformance test (tests/training/test_rules.py)
    assert len(rows) == 410
    assert all(float(r["confidence"]) >= 0.8 for r in rows)


def test_a_file_of_the_wrong_format_fails_with_a_clear_message(
    fixtures_dir: Path, tmp_path: Path
) -> None:
    bogus = tmp_path / "not_retail.csv"
    bogus.write_text("a,b\n1,2\n")
    result = runner.invoke(
        app, ["train", "--data", str(bogus), "--format", "online-retail", "--out", str(tmp_path)]
    )
    assert result.exit_code == 2
    assert "not_retail.csv" in result.output
    assert not (tmp_path / "current").exists()


def test_unknown_format_name_without_hint_asks_for_format(tmp_path: Path) -> None:
    data = tmp_path / "mystery.csv"
    data.write_text("x\n")
    result = runner.invoke(app, ["train", "--data", str(data), "--out", str(tmp_path / "m")])
    assert result.exit_code == 2
    assert "--format" in result.output


@pytest.mark.realdata
def test_users_erased_through_the_service_leave_the_next_bundle(
    retail_slice: Path, tmp_path: Path
) -> None:
    from recsvc.events import open_store

    url = f"sqlite:///{tmp_path / 'events.db'}"
    store = open_store(url)
    store.delete_user("17850")
    store.close()
    manifest = _train(retail_slice, tmp_path / "m", "--event-store", url)
    bundle = load_bundle(tmp_path / "m" / str(manifest["version"]))
    assert "17850" not in set(bundle["users"]["user_ids"].tolist())
    assert "erased user" in json.dumps(manifest["quality"])
