"""Builders of valid bundle directories from small numpy arrays, for tests and benchmarks.

- `write_bundle(path, parts, version)`: write parts + quality.json + a manifest with
  sha256 of every file, so that `recsvc.artifacts.load_bundle` accepts it.
- `build_tiny_bundle(path)`: a hand-made bundle whose right answers are known (12 items in
  3 level-1 categories, 6 users, 12 rules); the facts tests rely on are the constants and
  tables below.
- `synthetic_bundle.build_random_bundle(path, ...)`: random arrays of realistic size.

The part builders (`catalog_part`, `users_part`, ...) take plain Python or numpy data.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Mapping, Sequence
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import numpy as np
from numpy.typing import NDArray

from recsvc.artifacts import SCHEMA_VERSION, Manifest, Part, sha256_file, write_part
from recsvc.artifacts.contract import POPULARITY_GROUPS
from recsvc.artifacts.manifest import MANIFEST_FILE, QUALITY_FILE

DAY = 86_400
NOW = 1_323_475_200  # 2011-12-10 00:00 UTC: the tiny bundle's "today"
# as training.models.segments labels them
LIFECYCLE_LABELS = ("prospect", "new", "active", "cooling", "at_risk", "sleeping", "lost")
NAN = float("nan")

# id, name, category levels, price, in stock
TINY_ITEMS: tuple[tuple[str, str, tuple[str, str, str, str], float, bool], ...] = (
    ("i00", "WHITE HANGING HEART T-LIGHT HOLDER", ("Home", "Candles", "Holders", ""), 2.55, True),
    ("i01", "RED HANGING HEART T-LIGHT HOLDER", ("Home", "Candles", "Holders", ""), 2.95, True),
    ("i02", "CANDLE TIN", ("Home", "Candles", "", ""), 1.25, False),
    ("i03", "WOODEN FRAME", ("Home", "Decor", "", ""), 4.95, True),
    ("i04", "TEA MUG", ("Kitchen", "Mugs", "", ""), 1.65, True),
    ("i05", "COFFEE MUG", ("Kitchen", "Mugs", "", ""), 1.65, True),
    ("i06", "JAM JAR", ("Kitchen", "Storage", "", ""), 0.85, True),
    ("i07", "LUNCH BOX", ("Kitchen", "Storage", "", ""), 1.95, True),
    ("i08", "WATERING CAN", ("Garden", "Tools", "", ""), 6.75, True),
    ("i09", "SEED TRAY", ("Garden", "Tools", "", ""), 0.42, True),
    ("i10", "PLANT POT", ("Garden", "Pots", "", ""), NAN, True),
    ("i11", "BIRD FEEDER", ("Garden", "Pots", "", ""), 3.75, True),
)
# id, country, lifecycle label, history: (item index, orders, days before NOW)
TINY_USERS: tuple[tuple[str, str, str, tuple[tuple[int, int, int], ...]], ...] = (
    ("u1", "United Kingdom", "active", ((0, 1, 100), (4, 5, 35), (6, 3, 10))),
    ("u2", "United Kingdom", "active", ((1, 1, 5), (8, 2, 61))),
    ("u3", "France", "new", ((5, 1, 3),)),
    ("u4", "Germany", "sleeping", ((6, 2, 200), (9, 1, 190))),
    ("u5", "United Kingdom", "lost", ((11, 1, 400),)),
    ("u6", "", "new", ()),
)
# antecedent item indices, consequent, count, confidence, lift
TINY_RULES: tuple[tuple[tuple[int, ...], int, int, float, float], ...] = (
    ((0,), 1, 412, 0.6, 5.3),
    ((1,), 0, 412, 0.5, 5.3),
    ((0,), 3, 50, 0.2, 1.5),
    ((0,), 2, 100, 0.3, 3.0),
    ((0,), 11, 10, 0.05, 0.8),  # lift < 1: never used
    ((4,), 5, 120, 0.4, 3.0),
    ((4,), 7, 200, 0.5, 4.0),
    ((4, 5), 6, 30, 0.3, 2.0),
    ((8,), 9, 80, 0.5, 2.5),
    ((5,), 4, 120, 0.35, 3.0),
    ((4, 6), 7, 25, 0.4, 2.2),
    ((8, 9), 10, 20, 0.25, 3.5),
)
# item-kNN: item → ((neighbour, cosine), ...)
TINY_KNN: dict[int, tuple[tuple[int, float], ...]] = {
    0: ((1, 0.9), (3, 0.5), (2, 0.4)),
    1: ((0, 0.9), (2, 0.3)),
    2: ((0, 0.4), (1, 0.3)),
    3: ((0, 0.5),),
    4: ((5, 0.8), (7, 0.6), (6, 0.3)),
    5: ((4, 0.8), (6, 0.4)),
    6: ((7, 0.5), (5, 0.4), (4, 0.3)),
    7: ((4, 0.6), (6, 0.5)),
    8: ((9, 0.7), (10, 0.4)),
    9: ((8, 0.7), (11, 0.2)),
    10: ((11, 0.6), (8, 0.4)),
    11: ((10, 0.6), (9, 0.2)),
}
TINY_INTERVALS = {4: 30.0, 6: 20.0}  # own repurchase interval in days
TINY_CATEGORY_INTERVALS = {"Garden": 60.0}
TINY_REPEAT_RATES = {0: 0.0, 1: 0.05, 4: 0.6, 5: 0.2, 6: 0.4, 8: 0.3, 9: 0.3, 11: 0.5}
TINY_GLOBAL = (4, 0, 1, 7, 5, 8, 6, 9, 3, 11, 2, 10)  # every item, most popular first
TINY_GROUPS: dict[str, dict[str, tuple[int, ...]]] = {
    "category": {"1:Home": (0, 1, 3, 2), "1:Kitchen": (4, 7, 5, 6), "1:Garden": (8, 9, 11, 10)},
    "country": {"United Kingdom": (0, 4, 1, 8), "France": (5, 6, 4), "Germany": (9, 8)},
    "hour_band": {"evening": (11, 10), "morning": (4, 5)},
    "segment": {"new": (3, 0), "active": (4, 6), "sleeping": (11,), "lost": (9,)},
}
# hybrid cold-start features and the level-1 category each one leans to
TINY_FEATURES = {
    "country=United Kingdom": "Home",
    "country=France": "Kitchen",
    "hour_band=evening": "Garden",
    "device=mobile": "Kitchen",
}
TINY_FAVOURITE = {"u1": "Kitchen", "u2": "Garden", "u3": "Kitchen", "u4": "Home", "u5": "Garden"}
LEVEL1 = ("Home", "Kitchen", "Garden")


def write_bundle(path: Path, parts: Iterable[Part], version: str = "test-1") -> Path:
    """Write `parts` and a manifest under `path` (created); returns `path`."""
    path.mkdir(parents=True, exist_ok=False)
    (path / QUALITY_FILE).write_text(json.dumps({"checks": []}))
    relative = [Path(QUALITY_FILE)]
    for part in parts:
        relative.extend(write_part(path, part))
    manifest = Manifest(
        schema_version=SCHEMA_VERSION,
        version=version,
        created_at=datetime.now(UTC).isoformat(),
        files={str(rel): sha256_file(path / rel) for rel in relative},
    )
    (path / MANIFEST_FILE).write_text(manifest.model_dump_json(indent=1))
    return path


def grouped(key: str, groups: Mapping[str, Sequence[int]]) -> dict[str, NDArray[Any]]:
    """CSR popularity arrays for `key`; scores descend within each group."""
    items = [np.asarray(members, dtype=np.int32) for members in groups.values()]
    lengths = [len(members) for members in items]
    return {
        f"{key}_groups": np.array(list(groups), dtype=str),
        f"{key}_indptr": np.concatenate([[0], np.cumsum(lengths)]).astype(np.int64),
        f"{key}_items": np.concatenate(items or [np.zeros(0, np.int32)]),
        f"{key}_scores": np.concatenate(
            [np.linspace(1.0, 0.5, n, dtype=np.float32) for n in lengths] or [np.zeros(0)]
        ).astype(np.float32),
    }


def cosine_neighbors(
    factors: NDArray[Any], n: int
) -> tuple[NDArray[np.int32], NDArray[np.float32]]:
    """Top-n cosine neighbours of every row (itself excluded), -1 padded."""
    norms = np.linalg.norm(factors, axis=1, keepdims=True)
    unit = factors / np.where(norms > 0, norms, 1.0)
    n_rows = len(factors)
    width = min(n, n_rows - 1)
    items = np.full((n_rows, n), -1, dtype=np.int32)
    scores = np.zeros((n_rows, n), dtype=np.float32)
    for start in range(0, n_rows, 1024):
        block = unit[start : start + 1024] @ unit.T
        block[np.arange(len(block)), np.arange(start, start + len(block))] = -np.inf
        top = np.argsort(-block, axis=1, kind="stable")[:, :width]
        items[start : start + len(block), :width] = top
        scores[start : start + len(block), :width] = np.take_along_axis(block, top, axis=1)
    return items, scores


def catalog_part(items: Sequence[tuple[str, str, tuple[str, ...], float, bool]]) -> Part:
    return Part(
        "catalog",
        {
            "item_ids": np.array([row[0] for row in items], dtype=str),
            "names": np.array([row[1] for row in items], dtype=str),
            "categories": np.array([row[2] for row in items], dtype=str),
            "prices": np.array([row[3] for row in items], dtype=np.float32),
            "available": np.array([row[4] for row in items], dtype=bool),
        },
    )


def users_part(
    user_ids: Sequence[str],
    countries: Sequence[str],
    histories: Sequence[Sequence[tuple[int, int, int]]],
) -> Part:
    rows = [sorted(history) for history in histories]
    flat = [entry for history in rows for entry in history]
    return Part(
        "users",
        {
            "user_ids": np.array(user_ids, dtype=str),
            "countries": np.array(countries, dtype=str),
            "history_indptr": np.concatenate([[0], np.cumsum([len(r) for r in rows])]).astype(
                np.int64
            ),
            "history_items": np.array([e[0] for e in flat], dtype=np.int32),
            "history_orders": np.array([e[1] for e in flat], dtype=np.int32),
            "history_last_ts": np.array([e[2] for e in flat], dtype=np.int64),
        },
    )


def rules_part(rules: Sequence[tuple[Sequence[int], int, int, float, float]], width: int) -> Part:
    antecedents = np.full((len(rules), width), -1, dtype=np.int32)
    for row, rule in enumerate(rules):
        antecedents[row, : len(rule[0])] = sorted(rule[0])
    confidence = np.array([r[3] for r in rules], dtype=np.float32)
    lift = np.array([r[4] for r in rules], dtype=np.float32)
    counts = np.array([r[2] for r in rules], dtype=np.int64)
    with np.errstate(divide="ignore"):
        conviction = np.where(confidence < 1, (1 - confidence / lift) / (1 - confidence), np.inf)
    return Part(
        "rules",
        {
            "antecedents": antecedents,
            "consequents": np.array([r[1] for r in rules], dtype=np.int32),
            "counts": counts,
            "support": (counts / max(1, int(counts.max(initial=1)) * 10)).astype(np.float32),
            "confidence": confidence,
            "lift": lift,
            "leverage": np.zeros(len(rules), dtype=np.float32),
            "conviction": conviction.astype(np.float32),
        },
        {"max_len": width + 1},
    )


def factor_parts(
    user_vectors: NDArray[Any],
    item_vectors: NDArray[Any],
    item_biases: NDArray[Any],
    *,
    features: Mapping[str, NDArray[Any]],
    knn: tuple[NDArray[Any], NDArray[Any]],
    n_neighbors: int,
) -> list[Part]:
    als_items, als_scores = cosine_neighbors(item_vectors, n_neighbors)
    d = item_vectors.shape[1]
    return [
        Part(
            "als",
            {
                "user_factors": user_vectors.astype(np.float32),
                "item_factors": item_vectors.astype(np.float32),
                "neighbors": als_items,
                "neighbor_scores": als_scores,
            },
        ),
        Part("itemknn", {"neighbors": knn[0], "neighbor_scores": knn[1]}),
        Part(
            "hybrid",
            {
                "user_embeddings": user_vectors.astype(np.float32),
                "user_biases": np.zeros(len(user_vectors), dtype=np.float32),
                "item_embeddings": item_vectors.astype(np.float32),
                "item_biases": item_biases.astype(np.float32),
                "user_feature_names": np.array(list(features), dtype=str),
                "user_feature_embeddings": np.array(
                    list(features.values()) or np.zeros((0, d)), dtype=np.float32
                ).reshape(-1, d),
                "user_feature_biases": np.zeros(len(features), dtype=np.float32),
            },
        ),
    ]


def popularity_part(
    global_items: Sequence[int], groups: Mapping[str, Mapping[str, Sequence[int]]]
) -> Part:
    arrays: dict[str, NDArray[Any]] = {
        "global_items": np.asarray(global_items, dtype=np.int32),
        "global_scores": np.linspace(100.0, 1.0, len(global_items), dtype=np.float32),
        "trending_items": np.asarray(global_items[::-1][:3], dtype=np.int32),
        "trending_scores": np.array([3.0, 2.0, 1.0][: len(global_items)], dtype=np.float32),
    }
    for key in POPULARITY_GROUPS:
        arrays.update(grouped(key, groups.get(key, {})))
    bands = {"night": [0, 5], "morning": [6, 11], "afternoon": [12, 17], "evening": [18, 23]}
    return Part("popularity", arrays, {"window_days": 7, "hour_bands": bands})


def segments_part(lifecycle: Sequence[int], rng: np.random.Generator) -> Part:
    n = len(lifecycle)
    return Part(
        "segments",
        {
            "recency_days": rng.uniform(0, 365, n).astype(np.float32),
            "frequency": rng.integers(1, 20, n).astype(np.int32),
            "monetary": rng.uniform(10, 1000, n).astype(np.float32),
            "rfm_scores": rng.integers(1, 6, (n, 3)).astype(np.int32),
            "lifecycle": np.asarray(lifecycle, dtype=np.int32),
            "value_tier": rng.integers(0, 3, n).astype(np.int32),
            "cluster": rng.integers(0, 4, n).astype(np.int32),
        },
        {"lifecycle_labels": list(LIFECYCLE_LABELS), "value_labels": ["low", "mid", "high"]},
    )


def repurchase_part(
    intervals: NDArray[Any],
    repeat_rates: NDArray[Any],
    categories: Mapping[str, float],
    *,
    due_factor: float = 1.0,
) -> Part:
    return Part(
        "repurchase",
        {
            "item_interval_days": intervals.astype(np.float32),
            "item_repeat_rate": repeat_rates.astype(np.float32),
            "category_groups": np.array(list(categories), dtype=str),
            "category_interval_days": np.array(list(categories.values()), dtype=np.float32),
        },
        {"due_factor": due_factor},
    )


def _onehot(category: str, extra: float = 0.0) -> NDArray[np.float64]:
    vector = np.zeros(len(LEVEL1) + 1)
    vector[LEVEL1.index(category)] = 1.0
    vector[-1] = extra
    return vector


def tiny_parts() -> list[Part]:
    """The parts of the tiny bundle (module constants describe them)."""
    n_items = len(TINY_ITEMS)
    knn_items = np.full((n_items, 3), -1, dtype=np.int32)
    knn_scores = np.zeros((n_items, 3), dtype=np.float32)
    for item, row in TINY_KNN.items():
        knn_items[item, : len(row)] = [neighbour for neighbour, _ in row]
        knn_scores[item, : len(row)] = [score for _, score in row]
    # item vectors: level-1 category one-hot plus a small item-specific component
    items = np.array([_onehot(row[2][0], 0.1 * (i % 4)) for i, row in enumerate(TINY_ITEMS)])
    users = np.array([_onehot(TINY_FAVOURITE.get(u[0], "Home")) for u in TINY_USERS])
    biases = np.zeros(n_items)
    biases[list(TINY_GLOBAL)] = np.linspace(0.1, 0.0, n_items)
    intervals = np.full(n_items, np.nan)
    intervals[list(TINY_INTERVALS)] = list(TINY_INTERVALS.values())
    rates = np.zeros(n_items)
    rates[10] = np.nan
    rates[list(TINY_REPEAT_RATES)] = list(TINY_REPEAT_RATES.values())
    histories = [[(i, o, NOW - days * DAY) for i, o, days in u[3]] for u in TINY_USERS]
    return [
        catalog_part(TINY_ITEMS),
        users_part([u[0] for u in TINY_USERS], [u[1] for u in TINY_USERS], histories),
        rules_part(TINY_RULES, width=2),
        *factor_parts(
            users,
            items,
            biases,
            features={name: _onehot(category) for name, category in TINY_FEATURES.items()},
            knn=(knn_items, knn_scores),
            n_neighbors=3,
        ),
        popularity_part(TINY_GLOBAL, TINY_GROUPS),
        segments_part([LIFECYCLE_LABELS.index(u[2]) for u in TINY_USERS], np.random.default_rng(0)),
        repurchase_part(intervals, rates, TINY_CATEGORY_INTERVALS, due_factor=1.0),
    ]


def build_tiny_bundle(path: Path) -> Path:
    """Write the tiny bundle (version "tiny-1") into `path`, which must not exist."""
    return write_bundle(path, tiny_parts(), version="tiny-1")
