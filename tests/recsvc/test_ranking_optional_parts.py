"""Ranking on a bundle trained without the optional parts (item-kNN, hybrid), as the
Spark engine publishes it: every endpoint still answers, from the sources that exist."""

from __future__ import annotations

import json

import pytest
from bundle_builder import build_tiny_bundle

from recsvc.artifacts import load_bundle
from recsvc.artifacts.manifest import MANIFEST_FILE
from recsvc.recommend import (
    DEFAULT_CONFIG,
    CartQuery,
    Context,
    RelatedQuery,
    ServingIndex,
    UserQuery,
    build_index,
    cart,
    next_purchase,
    related,
)

NOW = 1_700_000_000


@pytest.fixture(scope="module")
def lean_index(tmp_path_factory: pytest.TempPathFactory) -> ServingIndex:
    path = build_tiny_bundle(tmp_path_factory.mktemp("lean") / "lean-1")
    manifest = json.loads((path / MANIFEST_FILE).read_text())
    for part in ("itemknn", "hybrid"):
        for name in [n for n in manifest["files"] if n.startswith(f"{part}/")]:
            del manifest["files"][name]
            (path / name).unlink()
    manifest["parts_not_trained"] = {"itemknn": "spark", "hybrid": "spark"}
    (path / MANIFEST_FILE).write_text(json.dumps(manifest))
    return build_index(load_bundle(path))


def test_every_endpoint_answers_without_optional_parts(lean_index: ServingIndex) -> None:
    item = lean_index.catalog.ids[0]
    user = str(lean_index.users.user_ids[0])
    answers = {
        "related": related(lean_index, RelatedQuery(item_id=item, k=5), DEFAULT_CONFIG),
        "cart": cart(lean_index, CartQuery(items=(item,), k=5), DEFAULT_CONFIG),
        "known user": next_purchase(
            lean_index, UserQuery(user_id=user, now=NOW, k=5), DEFAULT_CONFIG
        ),
        "new user": next_purchase(
            lean_index,
            UserQuery(user_id="nobody", now=NOW, k=5, context=Context(country="France")),
            DEFAULT_CONFIG,
        ),
    }
    for name, answer in answers.items():
        assert answer.items, name
        strategies = {slot.strategy for slot in answer.items}
        assert not strategies & {"itemknn", "hybrid", "cold_start_hybrid"}, (name, strategies)
