"""Association rules on the Online Retail baskets: ours against mlxtend, then at 1M baskets.

The peer: mlxtend's fpgrowth + association_rules at the same thresholds, reduced to
single-item consequents, with the confidence boundary decided by exact integer counts
(mlxtend compares float ratios; it is asked for a hair below each threshold and the
exact filter is applied to its output). Both rule sets must be identical: same
(antecedent, consequent) pairs, same counts, metrics within 1e-9.

Timings exclude building each side's input (parquet → our CSR, CSR → mlxtend's one-hot
frame; both are recorded). Ours is the best of 3 runs, mlxtend one run. Every phase runs
in a fresh spawned process, so its peak RSS is its own; `peak_rss_mb_after_load` is the
peak before mining (interpreter, imports, data).

Baskets: both Online Retail files, invoice lines with quantity > 0 and an invoice number
not starting with "C"; a basket is an invoice, an item a stock code. The 1M-basket matrix
resamples those baskets with replacement (seed 0).

Run: .venv/bin/python benchmarks/bench_rules.py  → benchmarks/results/rules.json
"""

from __future__ import annotations

import json
import resource
import time
from collections.abc import Callable
from concurrent.futures import ProcessPoolExecutor
from fractions import Fraction
from multiprocessing import get_context
from pathlib import Path
from typing import Any, TypeVar

import numpy as np
import pandas as pd
import polars as pl
import scipy.sparse as sp
from mlxtend.frequent_patterns import association_rules, fpgrowth

from training.models.rules import RuleSet, mine_rules

ROOT = Path(__file__).resolve().parents[1]
RETAIL = ROOT / ".." / "shared" / "data" / "online_retail"
FILES = {
    "online_retail.parquet": "InvoiceNo",
    "online_retail_II_2009-2010.parquet": "Invoice",
}
RESULT = ROOT / "benchmarks" / "results" / "rules.json"
THRESHOLDS = [
    {"min_support": 0.01, "min_confidence": 0.1, "max_len": 4},
    {"min_support": 0.005, "min_confidence": 0.1, "max_len": 4},
]
SCALE_BASKETS = 1_000_000
OUR_RUNS = 3
SEED = 0
TOLERANCE = 1e-9

RuleKey = tuple[frozenset[str], str]
Metrics = tuple[int, float, float, float, float, float]
T = TypeVar("T")


def load_baskets() -> tuple[sp.csr_matrix, np.ndarray]:
    """Binary [n_invoices, n_stock_codes] CSR and the stock code of each column."""
    frames = [
        pl.read_parquet(RETAIL / name, columns=[invoice, "StockCode", "Quantity"]).rename(
            {invoice: "invoice"}
        )
        for name, invoice in FILES.items()
    ]
    lines = (
        pl.concat(frames)
        .filter((pl.col("Quantity") > 0) & ~pl.col("invoice").str.starts_with("C"))
        .select("invoice", "StockCode")
        .unique()
    )
    rows = (lines["invoice"].rank("dense") - 1).to_numpy()
    codes, cols = np.unique(lines["StockCode"].to_numpy().astype(str), return_inverse=True)
    matrix = sp.csr_matrix(
        (np.ones(len(rows), dtype=np.int8), (rows, cols)), shape=(int(rows.max()) + 1, len(codes))
    )
    return matrix, codes


def peak_rss_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def best_of(runs: int, work: Callable[[], T]) -> tuple[float, T]:
    """Smallest wall time of `runs` calls and the last result."""
    times = []
    for _ in range(runs):
        started = time.perf_counter()
        result = work()
        times.append(time.perf_counter() - started)
    return min(times), result


def our_table(rule_set: RuleSet, codes: np.ndarray) -> dict[RuleKey, Metrics]:
    return {
        (frozenset(codes[a[a >= 0]]), str(codes[y])): (
            int(c),
            float(s),
            float(conf),
            float(lift),
            float(lev),
            float(conv),
        )
        for a, y, c, s, conf, lift, lev, conv in zip(
            rule_set.antecedents,
            rule_set.consequents,
            rule_set.counts,
            rule_set.support,
            rule_set.confidence,
            rule_set.lift,
            rule_set.leverage,
            rule_set.conviction,
            strict=True,
        )
    }


def mlxtend_table(onehot: pd.DataFrame, min_count: int, thresholds: dict[str, Any]) -> Any:
    """mlxtend's single-consequent rules, boundary decided by exact counts."""
    n = len(onehot)
    confidence = Fraction(str(thresholds["min_confidence"]))
    itemsets = fpgrowth(
        onehot, min_support=(min_count - 0.5) / n, use_colnames=True, max_len=thresholds["max_len"]
    )
    with np.errstate(divide="ignore", invalid="ignore"):
        rules = association_rules(
            itemsets, num_itemsets=n, metric="confidence", min_threshold=float(confidence) - 1e-6
        )
    rules = rules[rules["consequents"].map(len) == 1]
    joint = (rules["support"].to_numpy() * n).round().astype(np.int64)
    antecedent = (rules["antecedent support"].to_numpy() * n).round().astype(np.int64)
    exact = (joint >= min_count) & (
        joint * confidence.denominator >= confidence.numerator * antecedent
    )
    metrics = ["support", "confidence", "lift", "leverage", "conviction"]
    return {
        (frozenset(row.antecedents), next(iter(row.consequents))): (
            int(count),
            *(float(getattr(row, name)) for name in metrics),
        )
        for row, count in zip(rules[exact].itertuples(index=False), joint[exact], strict=True)
    }


def identical(ours: dict[RuleKey, Metrics], theirs: dict[RuleKey, Metrics]) -> bool:
    if set(ours) != set(theirs):
        return False
    return all(
        ours[key][0] == theirs[key][0]
        and np.allclose(ours[key][1:], theirs[key][1:], rtol=TOLERANCE, atol=TOLERANCE)
        for key in theirs
    )


def phase_ours(thresholds: dict[str, Any]) -> dict[str, Any]:
    load_seconds, (matrix, codes) = best_of(1, load_baskets)
    loaded_rss = peak_rss_mb()
    seconds, rule_set = best_of(OUR_RUNS, lambda: mine_rules(matrix, **thresholds))
    return {
        "seconds": seconds,
        "load_parquet_to_csr_seconds": load_seconds,
        "n_rules": len(rule_set),
        "n_itemsets_by_size": list(rule_set.n_itemsets),
        "min_count": rule_set.min_count,
        "peak_rss_mb_after_load": loaded_rss,
        "peak_rss_mb": peak_rss_mb(),
        "table": our_table(rule_set, codes),
    }


def phase_mlxtend(thresholds: dict[str, Any], min_count: int) -> dict[str, Any]:
    matrix, codes = load_baskets()
    loaded_rss = peak_rss_mb()
    onehot_seconds, onehot = best_of(
        1, lambda: pd.DataFrame(matrix.toarray().astype(bool), columns=codes)
    )
    seconds, table = best_of(1, lambda: mlxtend_table(onehot, min_count, thresholds))
    return {
        "seconds": seconds,
        "csr_to_onehot_frame_seconds": onehot_seconds,
        "n_rules": len(table),
        "peak_rss_mb_after_load": loaded_rss,
        "peak_rss_mb": peak_rss_mb(),
        "table": table,
    }


def phase_scale(thresholds: dict[str, Any]) -> dict[str, Any]:
    matrix, _ = load_baskets()
    rows = np.random.default_rng(SEED).integers(0, matrix.shape[0], SCALE_BASKETS)
    big = matrix[rows]
    loaded_rss = peak_rss_mb()
    seconds, rule_set = best_of(OUR_RUNS, lambda: mine_rules(big, **thresholds))
    return {
        "n_baskets": SCALE_BASKETS,
        "nnz": int(big.nnz),
        "thresholds": thresholds,
        "seconds": seconds,
        "n_rules": len(rule_set),
        "n_itemsets_by_size": list(rule_set.n_itemsets),
        "peak_rss_mb_after_load": loaded_rss,
        "peak_rss_mb": peak_rss_mb(),
    }


def in_fresh_process(work: Callable[..., dict[str, Any]], *args: Any) -> dict[str, Any]:
    with ProcessPoolExecutor(max_workers=1, mp_context=get_context("spawn")) as pool:
        return pool.submit(work, *args).result()


def main() -> dict[str, Any]:
    matrix, _ = load_baskets()
    comparisons = []
    for thresholds in THRESHOLDS:
        ours = in_fresh_process(phase_ours, thresholds)
        theirs = in_fresh_process(phase_mlxtend, thresholds, ours["min_count"])
        same = identical(ours.pop("table"), theirs.pop("table"))
        comparisons.append(
            {
                "thresholds": thresholds,
                "min_count": ours.pop("min_count"),
                "identical": same,
                "speedup": theirs["seconds"] / ours["seconds"],
                "ours": ours,
                "mlxtend": theirs,
            }
        )
    return {
        "n_baskets": matrix.shape[0],
        "n_items": matrix.shape[1],
        "nnz": int(matrix.nnz),
        "seconds": "ours best of 3, mlxtend 1 run (fpgrowth + association_rules)",
        "comparisons": comparisons,
        "scale": in_fresh_process(phase_scale, THRESHOLDS[-1]),
    }


def print_table(outcome: dict[str, Any]) -> None:
    print(f"Online Retail: {outcome['n_baskets']} baskets, {outcome['n_items']} items")
    print(f"{'support':>8} {'rules':>7} {'ours s':>8} {'mlxtend s':>10} {'speedup':>8} identical")
    for run in outcome["comparisons"]:
        print(
            f"{run['thresholds']['min_support']:>8} {run['ours']['n_rules']:>7} "
            f"{run['ours']['seconds']:>8.3f} {run['mlxtend']['seconds']:>10.2f} "
            f"{run['speedup']:>7.1f}x {run['identical']}"
        )
    scale = outcome["scale"]
    print(
        f"{scale['n_baskets']} baskets ({scale['nnz']} lines): {scale['seconds']:.2f} s, "
        f"{scale['n_rules']} rules, peak RSS {scale['peak_rss_mb']:.0f} MB"
    )


if __name__ == "__main__":
    outcome = main()
    print_table(outcome)
    RESULT.parent.mkdir(parents=True, exist_ok=True)
    RESULT.write_text(json.dumps(outcome, indent=2) + "\n")
