"""Training engines compared: `recsvc train --engine polars` vs `--engine spark` (local[2]).

Each run is the real command line in a fresh process with the default config and seed 0,
publishing into a temporary models directory. Per run: wall time, peak RSS of the whole
process tree sampled every 0.5 s (for Spark that includes the JVM and its Python
workers), the stage timings the command prints, and what the bundle holds. The two
bundles of a case are then compared: rule sets (identical?), popularity and segment
arrays (identical?), ALS top-10 neighbour overlap.

Cases: `online_retail_both` (both Online Retail years, ~1.07 M lines) and
`complete_journey` (1.47 M lines, `configs/complete_journey.toml` and the catalog
derived by bench_training.py). This machine has 2 shared cores: Spark in local mode pays
for its JVM, shuffles and Arrow transfers without the cluster that would make them
worthwhile, so the ratio says what the portability costs here, not what a cluster gives.

Run: .venv/bin/python benchmarks/bench_spark.py [--cases ...] → benchmarks/results/spark.json
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any, Final

import numpy as np
from bench_training import JOURNEY, JOURNEY_MAPPING, RETAIL, journey_catalog
from loadgen import machine_info, save_result, tree_rss_mib

from recsvc.artifacts import Bundle, load_bundle, read_current

ROOT: Final = Path(__file__).resolve().parents[1]
RECSVC: Final = ROOT / ".venv" / "bin" / "recsvc"
ENGINES: Final = ("polars", "spark")
IDENTICAL: Final = {
    "rules": ("antecedents", "consequents", "counts", "confidence", "lift"),
    "popularity": ("global_items", "global_scores", "country_items", "segment_items"),
    "segments": ("frequency", "rfm_scores", "lifecycle", "value_tier"),
    "users": ("history_items", "history_orders"),
}


def case_args(name: str, work: Path) -> list[str]:
    if name == "online_retail_both":
        return [
            *("--data", str(RETAIL / "online_retail_II_2009-2010.parquet")),
            *("--data", str(RETAIL / "online_retail.parquet")),
        ]
    if name == "complete_journey":
        return [
            *("--data", str(JOURNEY / "transactions.parquet")),
            *("--format", f"csv={JOURNEY_MAPPING}"),
            *("--catalog", str(journey_catalog(work / "journey_catalog.parquet"))),
        ]
    raise SystemExit(f"unknown case {name!r}")


def run(engine: str, args: Sequence[str], out: Path) -> dict[str, Any]:
    command = [str(RECSVC), "train", *args, "--out", str(out), "--engine", engine]
    if engine == "spark":
        command += ["--spark-master", "local[2]", "--spark-conf", "spark.driver.memory=6g"]
    samples: list[float] = []
    start = time.perf_counter()
    process = subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    done = threading.Event()

    def sample() -> None:
        while not done.wait(0.5):
            samples.append(tree_rss_mib(process.pid))

    sampler = threading.Thread(target=sample, daemon=True)
    sampler.start()
    output, _ = process.communicate()
    seconds = time.perf_counter() - start
    done.set()
    sampler.join()
    if process.returncode != 0:
        raise SystemExit(f"{engine} failed ({process.returncode}):\n{output[-4000:]}")
    return {
        "seconds": round(seconds, 1),
        "peak_rss_mib": max(samples, default=0.0),
        "output_tail": output.splitlines()[-40:],
    }


def compare(polars: Bundle, spark: Bundle) -> dict[str, Any]:
    same = {
        f"{part}/{name}": bool(
            np.array_equal(polars[part][name], spark[part][name], equal_nan=True)
            if polars[part][name].shape == spark[part][name].shape
            else False
        )
        for part, names in IDENTICAL.items()
        for name in names
    }
    ours, theirs = polars["als"]["neighbors"][:, :10], spark["als"]["neighbors"][:, :10]
    listed = (ours[:, 0] >= 0) & (theirs[:, 0] >= 0)
    overlap = [
        len(set(ours[i][ours[i] >= 0]) & set(theirs[i][theirs[i] >= 0])) / 10
        for i in np.flatnonzero(listed)
    ]
    return {
        "identical": same,
        "all_identical": all(same.values()),
        "n_rules": [len(b["rules"]["consequents"]) for b in (polars, spark)],
        "als_top10_overlap": round(float(np.mean(overlap)), 3) if overlap else None,
        "als_items_compared": int(listed.sum()),
        "spark_parts_not_trained": dict(spark.manifest.parts_not_trained),
    }


def main(cases: Sequence[str]) -> dict[str, Any]:
    load_start = list(os.getloadavg())
    results: dict[str, Any] = {}
    with tempfile.TemporaryDirectory(prefix="bench-spark-") as scratch:
        work = Path(scratch)
        for case in cases:
            args = case_args(case, work)
            runs, bundles = {}, {}
            for engine in ENGINES:
                out = work / f"{case}-{engine}"
                runs[engine] = run(engine, args, out)
                bundles[engine] = load_bundle(out / read_current(out))
                print(
                    f"{case} {engine}: {runs[engine]['seconds']} s, "
                    f"{runs[engine]['peak_rss_mib']} MiB",
                    flush=True,
                )
            results[case] = {
                "runs": runs,
                "spark_to_polars_time": round(
                    runs["spark"]["seconds"] / runs["polars"]["seconds"], 2
                ),
                "spark_to_polars_rss": round(
                    runs["spark"]["peak_rss_mib"] / runs["polars"]["peak_rss_mib"], 2
                ),
                "agreement": compare(bundles["polars"], bundles["spark"]),
            }
    return {"cases": results, "machine": machine_info(load_start)}


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--cases", nargs="+", default=["online_retail_both", "complete_journey"])
    result = main(parser.parse_args().cases)
    for case, figures in result["cases"].items():
        print(case, {k: v for k, v in figures.items() if k != "runs"})
    print(save_result("spark", result), file=sys.stderr)
