"""Shared fixtures: where the hand-made fixture files and the real data live."""

from __future__ import annotations

from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]


@pytest.fixture(scope="session")
def fixtures_dir() -> Path:
    """tests/fixtures: tiny hand-made files whose right answers are known."""
    return REPO / "tests" / "fixtures"


@pytest.fixture(scope="session")
def shared_data() -> Path:
    """`<repo>/../shared/data` (never modified); skips the test when it is absent."""
    path = (REPO / ".." / "shared" / "data").resolve()
    if not path.is_dir():
        pytest.skip(f"real data not found at {path}")
    return path
