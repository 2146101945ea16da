"""Shared fixtures of the recsvc tests: the tiny bundle of `bundle_builder`, built once."""

from __future__ import annotations

from pathlib import Path

import pytest
from bundle_builder import build_tiny_bundle

from recsvc.artifacts import Bundle, load_bundle
from recsvc.recommend import ServingIndex, build_index


@pytest.fixture(scope="session")
def tiny_bundle_path(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Directory of the tiny bundle (read-only by convention: tests must not modify it)."""
    return build_tiny_bundle(tmp_path_factory.mktemp("bundles") / "tiny-1")


@pytest.fixture(scope="session")
def tiny_bundle(tiny_bundle_path: Path) -> Bundle:
    return load_bundle(tiny_bundle_path)


@pytest.fixture(scope="session")
def tiny_index(tiny_bundle: Bundle) -> ServingIndex:
    return build_index(tiny_bundle)
