"""End-to-end training: both Online Retail years, and complete_journey at 25, 50, 100 %.

Each run is `training.pipeline.train` with the default `TrainingConfig` and seed 0, in a
fresh Python process (`OPENBLAS_NUM_THREADS=1`, as `recsvc train` sets), publishing into a
temporary models directory. Per run: the pipeline's own stage timings (`StageTiming`: wall
seconds, and the process's peak RSS when the stage ended), the wall time of `train()`, and
from the parent the child's whole-life peak RSS and CPU time (`os.wait4` rusage of that one
child, so the figure is its own, not the maximum over earlier children).

Cases:
- `online_retail_both`: online_retail.parquet (2010-2011) and
  online_retail_II_2009-2010.parquet, ~1.07 M invoice lines.
- `complete_journey_{25,50,100}`: transactions.parquet (1.47 M lines) through the generic
  adapter with `configs/complete_journey.toml`, and a catalog file derived here from
  products.parquet (name: product type and package size; category: department >
  product category > product type) with the last positive sales_value / quantity of each
  product as its price (the mapping format has no expressions, see the TOML). The 25 % and
  50 % cases keep a seeded random sample of households, with all their lines.

Targets (data issue): ≤ 120 s end to end and ≤ 4 GiB peak RSS for online_retail_both and
complete_journey_100; time at 100 % ≤ 4.5 × time at 25 % (the `train()` wall times).

Run: .venv/bin/python benchmarks/bench_training.py  → benchmarks/results/training.json
     (--cases to choose, --repeat N to run each N times; figures then use the fastest)
"""

from __future__ import annotations

import argparse
import json
import os
import signal
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Final

import numpy as np
import polars as pl

ROOT: Final = Path(__file__).resolve().parents[1]
DATA: Final = ROOT / ".." / "shared" / "data"
RETAIL: Final = DATA / "online_retail"
JOURNEY: Final = DATA / "complete_journey"
JOURNEY_MAPPING: Final = ROOT / "configs" / "complete_journey.toml"
RESULT: Final = ROOT / "benchmarks" / "results" / "training.json"

TIME_TARGET_S: Final = 120.0
RSS_TARGET_MIB: Final = 4096.0
SCALING_TARGET: Final = 4.5
SCALES: Final = (25, 50, 100)
CHILD_TIMEOUT_S: Final = 1800.0
SEED: Final = 0


@dataclass(frozen=True)
class Case:
    """One training run: sources as (path, adapter name), and an optional catalog file."""

    name: str
    sources: tuple[tuple[str, str], ...]
    catalog: str | None = None

    def to_json(self) -> str:
        return json.dumps({"name": self.name, "sources": self.sources, "catalog": self.catalog})

    @classmethod
    def from_json(cls, text: str) -> Case:
        raw = json.loads(text)
        sources = tuple((path, fmt) for path, fmt in raw["sources"])
        return cls(raw["name"], sources, raw["catalog"])


# ---------------------------------------------------------------------------- child


def child_main(case: Case, out_dir: Path, result_path: Path) -> None:
    """Train `case` into `out_dir` and write its figures to `result_path` (JSON)."""
    from training.config import TrainingConfig
    from training.pipeline import SourceSpec, train

    specs = [SourceSpec(Path(path), fmt) for path, fmt in case.sources]
    catalog = Path(case.catalog) if case.catalog else None
    started = time.perf_counter()
    result = train(specs, TrainingConfig(), out_dir, seed=SEED, catalog_path=catalog)
    wall = time.perf_counter() - started
    bundle_bytes = sum(p.stat().st_size for p in result.published.path.rglob("*") if p.is_file())
    figures = {
        "train_wall_s": round(wall, 2),
        "stages": [
            {"stage": t.stage, "seconds": t.seconds, "peak_rss_mib": t.peak_rss_mib}
            for t in result.timings
        ],
        "summary": result.summary,
        "rows_read": sum(s.rows_read for s in result.facts.sources),
        "bundle_mib": round(bundle_bytes / 2**20, 1),
    }
    result_path.write_text(json.dumps(figures))


# ---------------------------------------------------------------------------- parent


def run_child(case: Case, work: Path) -> dict[str, Any]:
    """Run `case` in a fresh interpreter; its figures plus its own rusage."""
    out_dir = work / f"models-{case.name}"
    result_path = work / f"{case.name}.json"
    command = [sys.executable, str(Path(__file__).resolve()), "--child", case.to_json()]
    command += ["--child-out", str(out_dir), "--child-result", str(result_path)]
    env = {**os.environ, "OPENBLAS_NUM_THREADS": "1"}
    started = time.perf_counter()
    process = subprocess.Popen(command, env=env)
    watchdog = threading.Timer(CHILD_TIMEOUT_S, os.kill, (process.pid, signal.SIGKILL))
    watchdog.start()
    try:
        _, status, usage = os.wait4(process.pid, 0)
    finally:
        watchdog.cancel()
    process.returncode = os.waitstatus_to_exitcode(status)
    if process.returncode != 0:
        raise RuntimeError(f"{case.name}: training exited with {process.returncode}")
    figures: dict[str, Any] = json.loads(result_path.read_text())
    return figures | {
        "process_wall_s": round(time.perf_counter() - started, 2),
        "process_peak_rss_mib": round(usage.ru_maxrss / 1024, 1),
        "process_cpu_s": round(usage.ru_utime + usage.ru_stime, 1),
    }


def journey_catalog(path: Path) -> Path:
    """products.parquet as a catalog file (see the module docstring) at `path`."""
    prices = (
        pl.scan_parquet(JOURNEY / "transactions.parquet")
        .filter((pl.col("quantity") > 0) & (pl.col("sales_value") > 0))
        .sort("transaction_timestamp", maintain_order=True)
        .group_by("product_id")
        .agg((pl.col("sales_value") / pl.col("quantity")).last().round(2).alias("price"))
    )
    products = pl.scan_parquet(JOURNEY / "products.parquet").select(
        pl.col("product_id"),
        pl.col("product_id").cast(pl.String).alias("item_id"),
        pl.concat_str(["product_type", "package_size"], separator=", ", ignore_nulls=True).alias(
            "name"
        ),
        pl.concat_str(
            ["department", "product_category", "product_type"], separator=" > ", ignore_nulls=True
        ).alias("category"),
    )
    catalog = products.join(prices, on="product_id", how="left").drop("product_id")
    catalog.collect().write_parquet(path)
    return path


def household_sample(share: int, path: Path) -> Path:
    """The transactions of a seeded random `share` % of households, written to `path`."""
    lines = pl.read_parquet(JOURNEY / "transactions.parquet")
    households = np.sort(lines["household_id"].unique().to_numpy())
    rng = np.random.default_rng(SEED)
    kept = rng.choice(households, size=round(len(households) * share / 100), replace=False)
    lines.filter(pl.col("household_id").is_in(kept.tolist())).write_parquet(path)
    return path


def build_cases(work: Path, names: Sequence[str]) -> list[Case]:
    """The cases named in `names`, preparing catalog and sample files in `work`."""
    cases: list[Case] = []
    if "online_retail_both" in names:
        retail = (
            (str(RETAIL / "online_retail.parquet"), "online-retail"),
            (str(RETAIL / "online_retail_II_2009-2010.parquet"), "online-retail-ii"),
        )
        cases.append(Case("online_retail_both", retail))
    journey_names = [f"complete_journey_{share}" for share in SCALES]
    if any(name in names for name in journey_names):
        catalog = str(journey_catalog(work / "journey_catalog.parquet"))
        adapter = f"csv={JOURNEY_MAPPING}"
        for share, name in zip(SCALES, journey_names, strict=True):
            if name not in names:
                continue
            source = JOURNEY / "transactions.parquet"
            if share < 100:
                source = household_sample(share, work / f"journey_{share}.parquet")
            cases.append(Case(name, ((str(source), adapter),), catalog))
    return cases


def run_cases(cases: Sequence[Case], work: Path, repeat: int) -> dict[str, Any]:
    runs: dict[str, Any] = {}
    for case in cases:
        attempts = [run_child(case, work) for _ in range(repeat)]
        best = min(attempts, key=lambda a: a["train_wall_s"])
        run = annotate(best) | {"all_train_wall_s": [a["train_wall_s"] for a in attempts]}
        runs[case.name] = run
        print(
            f"{case.name}: {run['train_wall_s']:.1f} s, peak RSS "
            f"{run['process_peak_rss_mib']:.0f} MiB, slowest stage {run['slowest_stage']}"
        )
    return runs


def annotate(run: Mapping[str, Any]) -> dict[str, Any]:
    """Add each stage's share of the time and its rise of the peak RSS; name the slowest
    stage and the stage that set the final peak."""
    stages = []
    previous_peak = 0.0
    total = sum(s["seconds"] for s in run["stages"]) or 1.0
    for stage in run["stages"]:
        stages.append(
            stage
            | {
                "share_of_time": round(stage["seconds"] / total, 3),
                "peak_rise_mib": round(max(stage["peak_rss_mib"] - previous_peak, 0.0), 1),
            }
        )
        previous_peak = max(previous_peak, stage["peak_rss_mib"])
    slowest = max(stages, key=lambda s: s["seconds"])
    peak_stage = next(s for s in stages if s["peak_rss_mib"] >= previous_peak)
    return {
        **run,
        "stages": stages,
        "slowest_stage": f"{slowest['stage']} ({slowest['seconds']:.1f} s, "
        f"{slowest['share_of_time']:.0%})",
        "peak_set_by_stage": peak_stage["stage"],
    }


def targets(runs: Mapping[str, Any]) -> dict[str, Any]:
    checks: dict[str, Any] = {}
    for name in ("online_retail_both", "complete_journey_100"):
        if name not in runs:
            continue
        seconds, rss = runs[name]["train_wall_s"], runs[name]["process_peak_rss_mib"]
        checks[f"{name}_seconds"] = {
            "value": seconds,
            "target": f"<= {TIME_TARGET_S}",
            "met": seconds <= TIME_TARGET_S,
        }
        checks[f"{name}_peak_rss_mib"] = {
            "value": rss,
            "target": f"<= {RSS_TARGET_MIB}",
            "met": rss <= RSS_TARGET_MIB,
        }
    if "complete_journey_25" in runs and "complete_journey_100" in runs:
        ratio = (
            runs["complete_journey_100"]["train_wall_s"]
            / runs["complete_journey_25"]["train_wall_s"]
        )
        checks["scaling_100_over_25"] = {
            "value": round(ratio, 2),
            "target": f"<= {SCALING_TARGET}",
            "met": ratio <= SCALING_TARGET,
        }
    return checks


def main(names: Sequence[str], repeat: int) -> dict[str, Any]:
    load_start = os.getloadavg()
    with tempfile.TemporaryDirectory(prefix="bench-training-") as tmp:
        work = Path(tmp)
        runs = run_cases(build_cases(work, names), work, repeat)
    return {
        "machine": {
            "cores": os.cpu_count(),
            "loadavg_at_start": [round(x, 2) for x in load_start],
            "loadavg_at_end": [round(x, 2) for x in os.getloadavg()],
            "note": "2 cores shared with other engineers' test runs",
        },
        "settings": {"config": "TrainingConfig() defaults", "seed": SEED, "repeat": repeat},
        "runs": runs,
        "targets": targets(runs),
    }


def parse_args() -> argparse.Namespace:
    all_cases = ["online_retail_both", *(f"complete_journey_{s}" for s in SCALES)]
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--cases", nargs="+", choices=all_cases, default=all_cases)
    parser.add_argument("--repeat", type=int, default=1)
    parser.add_argument("--child", help=argparse.SUPPRESS)
    parser.add_argument("--child-out", type=Path, help=argparse.SUPPRESS)
    parser.add_argument("--child-result", type=Path, help=argparse.SUPPRESS)
    return parser.parse_args()


if __name__ == "__main__":
    args = parse_args()
    if args.child:
        child_main(Case.from_json(args.child), args.child_out, args.child_result)
    else:
        outcome = main(args.cases, args.repeat)
        for check_name, check in outcome["targets"].items():
            verdict = "met" if check["met"] else "NOT met"
            print(f"{check_name:>36}: {check['value']} (target {check['target']}) {verdict}")
        RESULT.parent.mkdir(parents=True, exist_ok=True)
        RESULT.write_text(json.dumps(outcome, indent=1) + "\n")
        print(f"saved {RESULT}")
