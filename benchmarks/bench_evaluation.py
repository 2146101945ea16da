"""The offline evaluation harness on both Online Retail files (~1.07 M lines), and REES46.

Online Retail, time split: train on 2009-12-01 .. 2011-09-30 (both files), test on
2011-10-01 .. 2011-12-09. Setup (not timed as the harness): train a bundle on the events
before the cut-off with the default recipe and publish it into a temporary models
directory. Harness (timed, target ≤ 60 s): `recsvc evaluate` on that directory — load
and validate both files, build the held-out tasks (every next-order and related request,
no sampling), replay 8 strategies at k = 5, 10, 20 through the service's ranking
functions, score, bootstrap (1,000 replicates) and write report.json + report.html.
Peer in the same run: the same command when the models directory's bundle has seen the
test period, so the harness must retrain its recipe before the cut-off first.

REES46 (17 k events, 2 h 50 min): default cut-off (last 20 % of events held out), click
and bid uplift of related items over popularity.

Run: .venv/bin/python benchmarks/bench_evaluation.py  → benchmarks/results/evaluation.json
(reports under reports/evaluation/{online_retail,online_retail_retrained,rees46}/).
"""

from __future__ import annotations

import json
import os
import platform
import tempfile
import time
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

os.environ.setdefault("OPENBLAS_NUM_THREADS", "1")

from training.config import TrainingConfig
from training.data.load import load_sources
from training.evaluation.bundles import stage_before
from training.evaluation.cli_commands import EvaluateResult, run_evaluate
from training.export import publish

ROOT = Path(__file__).resolve().parents[1]
DATA = ROOT / ".." / "shared" / "data"
RETAIL = [
    DATA / "online_retail" / "online_retail_II_2009-2010.parquet",
    DATA / "online_retail" / "online_retail.parquet",
]
RETAIL_FORMATS = ["online-retail-ii", "online-retail"]
REES46 = DATA / "rees46" / "2019-Oct_head.csv"
CUTOFF = "2011-10-01"
RESULT = ROOT / "benchmarks" / "results" / "evaluation.json"
REPORTS = ROOT / "reports" / "evaluation"
TARGETS = {"next_order": (1.56, 7.59), "related": (1.83, 5.66)}  # floor, aim (bid_rate@10)
SINGLE = {"next_order": ("buy_again", "als", "lightfm"),
          "related": ("buy_again", "rules", "itemknn", "als", "lightfm")}  # fmt: skip


def _uplift(result: EvaluateResult, metrics: tuple[str, ...]) -> list[dict[str, Any]]:
    table = result.evaluation.scores.uplift
    rows = table.filter(
        table["metric"].is_in(list(metrics)) & (table["k"] == 10) & (table["baseline"] == "popular")
    )
    return [
        {
            key: row[key]
            for key in ("task", "metric", "strategy", "value", "ci_low", "ci_high", "rate")
        }
        for row in rows.sort("task", "metric", "value", descending=[False, False, True]).iter_rows(
            named=True
        )
    ]


def _checks(rows: list[dict[str, Any]]) -> dict[str, Any]:
    bid = {(r["task"], r["strategy"]): r for r in rows if r["metric"] == "bid_rate"}
    checks: dict[str, Any] = {}
    for task, (floor, aim) in TARGETS.items():
        blend = bid[(task, "blend")]
        best_single = max(SINGLE[task], key=lambda name: bid[(task, name)]["value"])
        checks[task] = {
            "blend_uplift": blend["value"],
            "ci": [blend["ci_low"], blend["ci_high"]],
            "floor": floor,
            "aim": aim,
            "meets_floor": blend["value"] >= floor,
            "best_single_strategy": best_single,
            "best_single_uplift": bid[(task, best_single)]["value"],
            "blend_beats_every_single": all(
                blend["value"] > bid[(task, name)]["value"] for name in SINGLE[task]
            ),
        }
    return checks


def _timed(**kwargs: Any) -> tuple[EvaluateResult, float]:
    started = time.perf_counter()
    result = run_evaluate(**kwargs)
    return result, time.perf_counter() - started


def main() -> dict[str, Any]:
    with tempfile.TemporaryDirectory(prefix="bench-eval-") as work:
        models = Path(work) / "models"
        started = time.perf_counter()
        loaded = load_sources(list(zip(RETAIL, RETAIL_FORMATS, strict=True)))
        cutoff = datetime.fromisoformat(CUTOFF).replace(tzinfo=UTC)
        publish(stage_before(loaded, cutoff, TrainingConfig(), models, seed=0))
        setup_seconds = time.perf_counter() - started
        lines = sum(source.rows_read for source in loaded.sources)
        common = {"data": RETAIL, "formats": RETAIL_FORMATS, "cutoff": CUTOFF, "seed": 0}
        harness, harness_seconds = _timed(
            models_dir=models, out_dir=REPORTS / "online_retail", **common
        )
        seen = Path(work) / "seen"  # a bundle trained on everything: must be retrained
        publish(
            stage_before(loaded, datetime(2012, 1, 1, tzinfo=UTC), TrainingConfig(), seen, seed=0)
        )
        peer, peer_seconds = _timed(
            models_dir=seen, out_dir=REPORTS / "online_retail_retrained", **common
        )
        rees, rees_seconds = _timed(
            models_dir=Path(work) / "none",
            data=[REES46],
            formats=["rees46"],
            out_dir=REPORTS / "rees46",
            seed=0,
        )
    retail_rows = _uplift(harness, ("bid_rate", "bid_hit_rate"))
    meta = harness.evaluation.meta
    return {
        "machine": {"python": platform.python_version(), "cpus": os.cpu_count()},
        "online_retail": {
            "lines_read": lines,
            "split": meta["split"],
            "tasks": meta["tasks"],
            "bundle": meta["bundle"]["version"],
            "setup_train_bundle_seconds": round(setup_seconds, 1),
            "harness_seconds": round(harness_seconds, 1),
            "harness_stages": harness.evaluation.timings,
            "peer_with_retraining_seconds": round(peer_seconds, 1),
            "peer_stages": peer.evaluation.timings,
            "peer_same_numbers": peer.evaluation.scores.uplift.equals(
                harness.evaluation.scores.uplift
            ),
            "uplift_vs_popular_at_10": retail_rows,
            "targets": _checks(retail_rows),
        },
        "rees46": {
            "split": rees.evaluation.meta["split"],
            "tasks": rees.evaluation.meta["tasks"],
            "seconds": round(rees_seconds, 1),
            "uplift_vs_popular_at_10": _uplift(rees, ("click_rate", "bid_rate")),
            "funnel_at_10": rees.evaluation.scores.funnel.to_dicts(),
        },
        "ci": "95% percentile bootstrap over shoppers (1,000 replicates, paired)",
    }


def _print(result: dict[str, Any]) -> None:
    retail = result["online_retail"]
    print(
        f"Online Retail: {retail['lines_read']:,} lines; harness {retail['harness_seconds']} s "
        f"(peer with retraining {retail['peer_with_retraining_seconds']} s; "
        f"bundle setup {retail['setup_train_bundle_seconds']} s)"
    )
    for name, rows in (("Online Retail", retail), ("REES46", result["rees46"])):
        print(f"{name}: uplift over popularity at k = 10")
        for row in rows["uplift_vs_popular_at_10"]:
            print(
                f"  {row['task']:<11} {row['metric']:<13} {row['strategy']:<10} "
                f"{row['value']!s:>8.6} [{row['ci_low']!s:.6}, {row['ci_high']!s:.6}]"
            )
    print(json.dumps(retail["targets"], indent=1))


if __name__ == "__main__":
    outcome = main()
    _print(outcome)
    RESULT.parent.mkdir(parents=True, exist_ok=True)
    RESULT.write_text(json.dumps(outcome, indent=2, default=str) + "\n")
    print(f"saved {RESULT.relative_to(ROOT)}")
