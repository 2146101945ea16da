"""Helpers shared by the reliability tests: production-like settings over a models dir.

The settings are those of a production deployment (no dev mode, a real admin token and
hash key), so the tests exercise what a shop would run; only the store and the reload
poller differ per test.
"""

from __future__ import annotations

import json
import os
import shutil
import socket
from collections.abc import Callable
from pathlib import Path
from typing import TypeVar

import pytest

from recsvc.artifacts import write_current
from recsvc.config import Settings

TOKEN = "reliability-admin-token-0123456789"
RUN_SLOW = os.environ.get("RECSVC_SLOW") == "1"
HASH_KEY = "reliability-hash-key-0123456789abcdef"
AUTH = {"Authorization": f"Bearer {TOKEN}"}


def make_models_dir(root: Path, bundle: Path, version: str = "tiny-1") -> Path:
    """`root/models` holding a copy of `bundle` as `version`, named by `current`."""
    models = root / "models"
    models.mkdir()
    shutil.copytree(bundle, models / version)
    write_current(models, version)
    return models


def make_settings(models_dir: Path, **overrides: object) -> Settings:
    """Production-like settings; `overrides` are Settings fields."""
    values: dict[str, object] = {
        "models_dir": models_dir,
        "dev_mode": False,
        "admin_token": TOKEN,
        "user_hash_key": HASH_KEY,
        "reload_poll_seconds": 0,
        "event_store_url": "memory://",
        **overrides,
    }
    return Settings(**values)  # type: ignore[arg-type]


def free_port() -> int:
    """A TCP port on 127.0.0.1 that was free a moment ago."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


def record(scenario: str, **figures: object) -> None:
    """Append `figures` as one JSON line to the file `RECSVC_RELIABILITY_REPORT` names, if
    set (`scripts/fault_scenarios.sh` prints them); tests call it with what they measured."""
    target = os.environ.get("RECSVC_RELIABILITY_REPORT")
    if target:
        with Path(target).open("a") as report:
            report.write(json.dumps({"scenario": scenario, **figures}) + "\n")


Test = TypeVar("Test", bound=Callable[..., None])


def slow(test: Test) -> Test:
    """Mark `test` slow and skip it unless RECSVC_SLOW=1 (`scripts/fault_scenarios.sh`)."""
    skip = pytest.mark.skipif(not RUN_SLOW, reason="slow scenario: set RECSVC_SLOW=1")
    marked: Test = pytest.mark.slow(skip(test))
    return marked
