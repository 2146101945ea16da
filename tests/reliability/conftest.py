"""Fixtures of the reliability tests: the tiny bundle (built once) and an app over a copy."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from recsvc.api.app import create_app
from tests.recsvc.bundle_builder import build_tiny_bundle
from tests.reliability.support import make_models_dir, make_settings


@pytest.fixture(scope="session")
def tiny_source(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The tiny bundle (version "tiny-1"); read-only: tests copy it."""
    return build_tiny_bundle(tmp_path_factory.mktemp("reliability") / "tiny-1")


@pytest.fixture
def models_dir(tmp_path: Path, tiny_source: Path) -> Path:
    """A fresh models directory whose `current` names a copy of the tiny bundle."""
    return make_models_dir(tmp_path, tiny_source)


@pytest.fixture
def client(models_dir: Path) -> Iterator[TestClient]:
    """A started app (production-like settings, in-memory event store)."""
    with TestClient(create_app(make_settings(models_dir))) as test_client:
        yield test_client
