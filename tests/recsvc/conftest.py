"""Shared fixtures of the recsvc tests: the tiny bundle of `bundle_builder`, built once."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest
from bundle_builder import build_tiny_bundle

from recsvc.artifacts import Bundle, load_bundle, write_current
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


@pytest.fixture
def models_dir(tmp_path: Path, tiny_bundle_path: Path) -> Path:
    """A models directory serving a copy of the tiny bundle as `tiny-1`."""
    models = tmp_path / "models"
    models.mkdir()
    shutil.copytree(tiny_bundle_path, models / "tiny-1")
    write_current(models, "tiny-1")
    return models
