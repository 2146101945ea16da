"""The bundle builders produce bundles that load, and serving imports stay light."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

from bundle_builder import NOW
from synthetic_bundle import build_random_bundle

from recsvc.artifacts import Bundle, load_bundle
from recsvc.recommend import (
    CartQuery,
    RelatedQuery,
    UserQuery,
    build_index,
    cart,
    next_purchase,
    related,
)


def test_tiny_bundle_has_the_documented_shape(tiny_bundle: Bundle) -> None:
    assert tiny_bundle.version == "tiny-1"
    assert len(tiny_bundle["catalog"]["item_ids"]) == 12
    assert len(tiny_bundle["users"]["user_ids"]) == 6
    assert set(tiny_bundle["catalog"]["categories"][:, 0].tolist()) == {"Home", "Kitchen", "Garden"}


def test_random_bundle_loads_and_serves(tmp_path: Path) -> None:
    sizes = {"n_items": 80, "n_users": 40, "d": 8, "n_rules": 300, "n_neighbors": 10}
    index = build_index(load_bundle(build_random_bundle(tmp_path / "r", seed=1, **sizes)))
    item, user = str(index.catalog.ids[0]), str(index.users.user_ids[0])
    assert len(related(index, RelatedQuery(item, k=10)).items) == 10
    assert len(cart(index, CartQuery((item, str(index.catalog.ids[1])), k=10)).items) == 10
    assert len(next_purchase(index, UserQuery(user, now=NOW, k=10)).items) == 10


def test_ranking_code_does_not_load_training_libraries() -> None:
    code = (
        "import sys, recsvc.recommend\n"
        "heavy = {'polars', 'scipy', 'implicit', 'lightfm', 'training', 'pandas', 'sklearn'}\n"
        "print(sorted(heavy & {name.split('.')[0] for name in sys.modules}))\n"
    )
    loaded = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True
    ).stdout.strip()
    assert loaded == "[]"
