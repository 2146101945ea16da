"""A synthetic bundle of production size from random arrays, for benchmarks and smoke
tests: Zipf-skewed histories and rule antecedents, 10 level-1 × 5 level-2 categories,
5 countries, every array of the contract."""

from __future__ import annotations

from pathlib import Path

import numpy as np
from bundle_builder import (
    DAY,
    LIFECYCLE_LABELS,
    NOW,
    catalog_part,
    cosine_neighbors,
    factor_parts,
    popularity_part,
    repurchase_part,
    rules_part,
    segments_part,
    users_part,
    write_bundle,
)

from recsvc.artifacts import Part
from recsvc.recommend import HOUR_BANDS


def _random_histories(
    rng: np.random.Generator, n_users: int, n_items: int
) -> list[list[tuple[int, int, int]]]:
    histories = []
    for size in rng.integers(1, 40, n_users).tolist():
        items = np.unique(rng.zipf(1.3, size) % n_items)
        orders = rng.integers(1, 8, len(items))
        last = NOW - rng.integers(0, 365, len(items)) * DAY
        histories.append(list(zip(items.tolist(), orders.tolist(), last.tolist(), strict=True)))
    return histories


def _random_rules(
    rng: np.random.Generator, n_rules: int, n_items: int
) -> list[tuple[tuple[int, ...], int, int, float, float]]:
    heads = rng.zipf(1.2, (n_rules, 2)) % n_items
    lengths = np.where(rng.random(n_rules) < 0.7, 1, 2)
    tails = rng.integers(0, n_items, n_rules)
    counts = rng.integers(5, 500, n_rules)
    confidence = rng.uniform(0.01, 0.9, n_rules)
    lift = rng.uniform(0.5, 20.0, n_rules)
    rules = []
    for row in range(n_rules):
        antecedent = tuple(sorted(set(heads[row, : lengths[row]].tolist()) - {int(tails[row])}))
        if antecedent:
            rules.append(
                (
                    antecedent,
                    int(tails[row]),
                    int(counts[row]),
                    float(confidence[row]),
                    float(lift[row]),
                )
            )
    return rules


def random_parts(
    *, n_items: int, n_users: int, d: int, n_rules: int, n_neighbors: int = 50, seed: int = 0
) -> list[Part]:
    """The parts of a synthetic bundle of the given size (module docstring)."""
    rng = np.random.default_rng(seed)
    countries = ("United Kingdom", "France", "Germany", "EIRE", "Spain")
    categories = [(f"c{i % 10}", f"c{i % 10}.{i // 10 % 5}", "", "") for i in range(n_items)]
    catalog = [
        (
            f"{i:06d}",
            f"ITEM {i}",
            categories[i],
            float(rng.uniform(0.1, 20)),
            bool(rng.random() < 0.95),
        )
        for i in range(n_items)
    ]
    user_countries = [countries[c] for c in rng.integers(0, len(countries), n_users).tolist()]
    order = rng.permutation(n_items).tolist()
    groups: dict[str, dict[str, tuple[int, ...]]] = {
        "category": {f"1:c{c}": tuple(i for i in order if i % 10 == c) for c in range(10)},
        "country": {name: tuple(rng.permutation(n_items)[:1000]) for name in countries},
        "hour_band": {band: tuple(rng.permutation(n_items)[:1000]) for band, _, _ in HOUR_BANDS},
        "segment": {label: tuple(rng.permutation(n_items)[:1000]) for label in LIFECYCLE_LABELS},
    }
    features = {f"country={c}": rng.normal(0, 0.3, d) for c in countries}
    features |= {f"hour_band={b}": rng.normal(0, 0.3, d) for b in ("morning", "evening")}
    knn = cosine_neighbors(rng.normal(size=(n_items, 16)), n_neighbors)
    intervals = np.where(rng.random(n_items) < 0.3, rng.uniform(7, 90, n_items), np.nan)
    return [
        catalog_part(catalog),
        users_part(
            [f"u{u:06d}" for u in range(n_users)],
            user_countries,
            _random_histories(rng, n_users, n_items),
        ),
        rules_part(_random_rules(rng, n_rules, n_items), width=2),
        *factor_parts(
            rng.normal(0, 0.3, (n_users, d)),
            rng.normal(0, 0.3, (n_items, d)),
            rng.normal(0, 0.1, n_items),
            features=features,
            knn=knn,
            n_neighbors=n_neighbors,
        ),
        popularity_part(order, groups),
        segments_part(rng.integers(0, len(LIFECYCLE_LABELS), n_users).tolist(), rng),
        repurchase_part(intervals, rng.uniform(0, 0.8, n_items), {"c1": 30.0, "c2": 45.0}),
    ]


def build_random_bundle(path: Path, **sizes: int) -> Path:
    """Write `random_parts(**sizes)` into `path` (version "random-1")."""
    return write_bundle(path, random_parts(**sizes), version="random-1")
