"""Reports: scores of hand-made frames, the JSON contract, the self-contained HTML, and
one `recsvc evaluate` end to end on a real-data slice."""

from __future__ import annotations

import json
from pathlib import Path

import polars as pl
import pytest
from typer.testing import CliRunner

from training.cli import app
from training.evaluation.harness import Evaluation, score
from training.evaluation.report import report_dict, write_report

UPLIFT_KEYS = {"task", "metric", "strategy", "baseline", "k", "value", "ci_low", "ci_high"}


def _served() -> pl.DataFrame:
    lists = {  # (request, strategy) → items; blend hits twice as often as popular
        ("r1", "blend"): ["a", "b"],
        ("r1", "popular"): ["x", "a"],
        ("r2", "blend"): ["c", "y"],
        ("r2", "popular"): ["x", "y"],
        ("r3", "blend"): ["d", "e"],
        ("r3", "popular"): ["d", "x"],
    }
    rows = [
        {
            "request_id": request,
            "strategy": strategy,
            "list_k": 2,
            "rank": rank,
            "item_id": item,
            "source": strategy,
            "user_id": f"u{request[-1]}",
            "segment": "active",
            "country": "United Kingdom",
            "is_new": False,
            "task": "related",
        }
        for (request, strategy), items in lists.items()
        for rank, item in enumerate(items, start=1)
    ]
    return pl.DataFrame(rows)


def _outcome() -> pl.DataFrame:
    pairs = [("r1", "a"), ("r1", "b"), ("r2", "c"), ("r3", "d")]
    return pl.DataFrame(
        {
            "request_id": [r for r, _ in pairs],
            "item_id": [i for _, i in pairs],
            "kind": ["bid"] * len(pairs),
            "revenue": [2.0, 3.0, 4.0, 5.0],
            "task": ["related"] * len(pairs),
        }
    )


def _evaluation() -> Evaluation:
    scores = score(_served(), _outcome(), catalog_size=10, ks=(2,), n_boot=200, seed=3)
    meta = {"data": {"events": 4}, "cutoff": "2011-10-01T00:00:00+00:00", "seed": 3, "ks": [2]}
    return Evaluation(meta, _served(), _outcome(), scores)


def test_scores_give_uplift_per_slot_and_the_funnel() -> None:
    scores = _evaluation().scores
    bid = scores.uplift.filter(
        (pl.col("metric") == "bid_rate") & (pl.col("strategy") == "blend")
    ).row(0, named=True)
    assert bid["rate"] == pytest.approx((2 + 1 + 1) / 6)  # hits per slot, 3 lists of 2
    assert bid["baseline_rate"] == pytest.approx(2 / 6)
    assert bid["value"] == pytest.approx(2.0)
    funnel = {r["strategy"]: r for r in scores.funnel.iter_rows(named=True)}
    assert (funnel["blend"]["slots"], funnel["blend"]["bid_slots"]) == (6, 4)
    assert funnel["blend"]["revenue"] == pytest.approx(14.0)
    assert funnel["blend"]["clicked_slots"] is None  # not observable here


def test_report_json_holds_the_contract_and_is_reproducible(tmp_path: Path) -> None:
    first, _ = write_report(report_dict(_evaluation()), tmp_path / "a")
    second, _ = write_report(report_dict(_evaluation()), tmp_path / "b")
    assert first.read_bytes() == second.read_bytes()
    document = json.loads(first.read_text())
    assert document["cutoff"] == "2011-10-01T00:00:00+00:00" and document["seed"] == 3
    assert document["uplift"] and all(set(r) >= UPLIFT_KEYS for r in document["uplift"])
    assert {"metrics", "slices", "funnel", "sources"} <= set(document)


def test_report_html_is_self_contained_with_figures_and_tables(tmp_path: Path) -> None:
    _, page_path = write_report(report_dict(_evaluation()), tmp_path)
    page = page_path.read_text()
    assert page.count("data:image/png;base64,") == 3  # uplift bars, metric by k, funnel
    assert "<table>" in page and "2.00×" in page
    assert "http://" not in page and "https://" not in page


@pytest.mark.realdata
def test_recsvc_evaluate_writes_both_reports_on_real_data(
    shared_data: Path, tmp_path: Path
) -> None:
    data = str(shared_data / "online_retail" / "online_retail_first50k.csv.gz")
    models, config = tmp_path / "models", tmp_path / "small.toml"
    # three weeks of baskets are too few for the default rule thresholds (the itemset
    # miner runs out of memory): the current bundle's recipe raises them
    config.write_text("[rules]\nmin_support = 0.02\nmax_len = 2\n")
    runner = CliRunner()
    trained = runner.invoke(
        app,
        [
            "train",
            "--data",
            data,
            "--format",
            "online-retail",
            "--out",
            str(models),
            "--config",
            str(config),
        ],
    )
    assert trained.exit_code == 0, trained.output
    arguments = ["evaluate", "--models", str(models), "--data", data, "--format", "online-retail"]
    arguments += ["--cutoff", "2010-12-21", "--out", str(tmp_path / "report")]
    result = runner.invoke(app, [*arguments, "--max-requests", "150", "--n-boot", "200"])
    assert result.exit_code == 0, result.output
    document = json.loads((tmp_path / "report" / "report.json").read_text())
    assert document["bundle"]["trained_for_evaluation"] is True
    assert document["bundle"]["recipe_from"] is not None
    assert document["data"]["observable"] == ["bid"]
    found = {(r["task"], r["metric"]) for r in document["uplift"]}
    assert {("next_order", "bid_rate"), ("related", "bid_rate")} <= found
    assert not any(metric.startswith("click") for _, metric in found)
    assert (tmp_path / "report" / "report.html").stat().st_size > 10_000
