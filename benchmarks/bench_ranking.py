"""Per-request cost of the ranking functions on a synthetic bundle of production size.

Bundle: `tests/recsvc/bundle_builder.random_parts` with 5,000 items, 6,000 users, d = 48,
50,000 rules (70 % single-item antecedents), 50 neighbours per item; written, verified
with `load_bundle` and indexed with `build_index` (both timed once).

Each function runs on 2,000 pre-built queries (after 100 warm-up calls) in one process
on one core (BLAS threads limited to 1, as in the service); times are per call, wall
clock. The peer, in the same run, is the cheapest possible personalised list: one
user × item matrix-vector product over the hybrid embeddings plus a full argsort, the
brute-force "score everything" kernel every ranking function has to beat or match.
`related_first_call_per_item` runs 2,000 distinct items on a fresh index without warm-up,
so every call also computes (and memoises) that item's hybrid neighbours.

Run: .venv/bin/python benchmarks/bench_ranking.py  → benchmarks/results/ranking.json
"""

from __future__ import annotations

import os

os.environ.setdefault("OPENBLAS_NUM_THREADS", "1")
os.environ.setdefault("OMP_NUM_THREADS", "1")

import json
import platform
import sys
import tempfile
import time
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "tests" / "recsvc"))

from bundle_builder import NOW  # noqa: E402
from synthetic_bundle import build_random_bundle  # noqa: E402

from recsvc.artifacts import load_bundle  # noqa: E402
from recsvc.recommend import (  # noqa: E402
    Activity,
    CartQuery,
    Context,
    Filters,
    RelatedQuery,
    ServingIndex,
    UserQuery,
    build_index,
    cart,
    next_purchase,
    related,
)

RESULT = ROOT / "benchmarks" / "results" / "ranking.json"
SIZES = {"n_items": 5_000, "n_users": 6_000, "d": 48, "n_rules": 50_000, "n_neighbors": 50}
N_QUERIES = 2_000
WARMUP = 100
K = 10
SEED = 0


def _timed(
    call: Callable[[Any], object], queries: Sequence[Any], warmup: int = WARMUP
) -> dict[str, float]:
    for query in queries[:warmup]:
        call(query)
    times = np.empty(len(queries))
    for position, query in enumerate(queries):
        start = time.perf_counter_ns()
        call(query)
        times[position] = time.perf_counter_ns() - start
    micros = times / 1_000
    return {
        "mean_us": round(float(micros.mean()), 1),
        "p50_us": round(float(np.percentile(micros, 50)), 1),
        "p99_us": round(float(np.percentile(micros, 99)), 1),
        "calls": len(queries),
    }


def _queries(index: ServingIndex, rng: np.random.Generator) -> dict[str, list[Any]]:
    item_ids = index.catalog.item_ids
    popular = index.popularity.global_[0][:500]
    user_ids = index.users.user_ids
    items = [str(item_ids[i]) for i in rng.choice(popular, N_QUERIES)]
    users = [str(user_ids[u]) for u in rng.integers(0, len(user_ids), N_QUERIES)]
    hours = rng.integers(0, 24, N_QUERIES).tolist()
    recent = [
        tuple(Activity(str(item_ids[i]), "view", NOW - 60 * j) for j, i in enumerate(row))
        for row in rng.choice(popular, (N_QUERIES, 3))
    ]
    filters = Filters(category="c3", in_stock_only=True, price_min=1.0, price_max=15.0)
    return {
        "related": [RelatedQuery(item, k=K) for item in items],
        "related_filtered": [RelatedQuery(item, k=K, filters=filters) for item in items],
        "related_recent": [
            RelatedQuery(item, k=K, recent=r) for item, r in zip(items, recent, strict=True)
        ],
        "cart_3_items": [
            CartQuery(tuple(str(item_ids[i]) for i in row), k=K)
            for row in rng.choice(popular[:100], (N_QUERIES, 3))
        ],
        "next_purchase_known": [
            UserQuery(user, now=NOW, k=K, context=Context(hour=hour))
            for user, hour in zip(users, hours, strict=True)
        ],
        "next_purchase_cold_start": [
            UserQuery(f"new-{n}", now=NOW, k=K, context=Context(country="France", hour=hour))
            for n, hour in enumerate(hours)
        ],
    }


def _peer(index: ServingIndex, rng: np.random.Generator) -> Callable[[int], object]:
    embeddings, biases = index.hybrid.user, index.hybrid.item
    bias = index.hybrid.item_bias

    def score_everything(user: int) -> object:
        return np.argsort(-(biases @ embeddings[user] + bias))[:K]

    return score_everything


def main() -> None:
    rng = np.random.default_rng(SEED)
    with tempfile.TemporaryDirectory() as tmp:
        start = time.perf_counter()
        path = build_random_bundle(Path(tmp) / "random-1", seed=SEED, **SIZES)
        built = time.perf_counter() - start
        start = time.perf_counter()
        bundle = load_bundle(path)
        loaded = time.perf_counter() - start
    start = time.perf_counter()
    index = build_index(bundle)
    indexed = time.perf_counter() - start
    queries = _queries(index, rng)
    functions: dict[str, Callable[[Any], object]] = {
        "related": lambda q: related(index, q),
        "related_filtered": lambda q: related(index, q),
        "related_recent": lambda q: related(index, q),
        "cart_3_items": lambda q: cart(index, q),
        "next_purchase_known": lambda q: next_purchase(index, q),
        "next_purchase_cold_start": lambda q: next_purchase(index, q),
    }
    timings = {name: _timed(call, queries[name]) for name, call in functions.items()}
    # hybrid item neighbours are memoised per item: time first calls on a fresh index too
    fresh = build_index(bundle)
    distinct = [RelatedQuery(item_id, k=K) for item_id in fresh.catalog.ids[:N_QUERIES]]
    timings["related_first_call_per_item"] = _timed(lambda q: related(fresh, q), distinct, 0)
    user_rows = rng.integers(0, len(index.users.user_ids), N_QUERIES).tolist()
    timings["peer_full_argsort_hybrid"] = _timed(_peer(index, rng), user_rows)
    result = {
        "bundle": SIZES | {"n_rules_indexed": int(np.count_nonzero(index.rules.strength))},
        "setup_seconds": {
            "build_random_bundle": round(built, 2),
            "load_bundle": round(loaded, 3),
            "build_index": round(indexed, 3),
        },
        "k": K,
        "per_call": timings,
        "machine": {
            "python": platform.python_version(),
            "numpy": np.__version__,
            "cpus": os.cpu_count(),
            "blas_threads": os.environ["OPENBLAS_NUM_THREADS"],
        },
    }
    for name, row in timings.items():
        figures = "  ".join(f"{key} {row[key]:8.1f}" for key in ("mean_us", "p50_us", "p99_us"))
        print(f"{name:30s} {figures}")
    print("setup:", result["setup_seconds"])
    RESULT.parent.mkdir(parents=True, exist_ok=True)
    RESULT.write_text(json.dumps(result, indent=1) + "\n")


if __name__ == "__main__":
    main()
