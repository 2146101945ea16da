"""Atomic publication: a failed or interrupted export never moves `current`."""

from __future__ import annotations

import errno
import json
import os
import time
from datetime import UTC, datetime
from pathlib import Path

import pytest

from recsvc.artifacts import Part, load_bundle, read_current
from recsvc.artifacts.manifest import MANIFEST_FILE
from tests.recsvc.bundle_builder import tiny_parts
from training import export
from training.errors import ExportError


def _publish(
    out: Path, parts: list[Part] | None = None, keep: int = 5, second: int = 0
) -> export.Published:
    staging = export.stage_bundle(
        out,
        parts or tiny_parts(),
        quality={"rows_read": 1},
        manifest_fields={"params": {}},
        created_at=datetime(2026, 11, 23, 12, 0, second, tzinfo=UTC),
    )
    return export.publish(staging, keep=keep)


def test_publish_writes_a_verified_bundle_and_moves_current(tmp_path: Path) -> None:
    published = _publish(tmp_path)
    assert read_current(tmp_path) == published.version
    manifest = json.loads((published.path / MANIFEST_FILE).read_text())
    assert manifest["schema_version"] == 1
    assert manifest["quality"] == {"rows_read": 1}
    assert "catalog/item_ids.npy" in manifest["files"]
    assert load_bundle(published.path).version == published.version
    assert not list(tmp_path.glob(".staging-*"))


def test_same_parts_give_the_same_content_hash(tmp_path: Path) -> None:
    first = export.stage_bundle(tmp_path / "a", tiny_parts(), quality={}, manifest_fields={})
    second = export.stage_bundle(tmp_path / "b", tiny_parts(), quality={}, manifest_fields={})
    files = [json.loads((s / MANIFEST_FILE).read_text())["files"] for s in (first, second)]
    versions = [json.loads((s / MANIFEST_FILE).read_text())["version"] for s in (first, second)]
    assert files[0] == files[1]
    assert versions[0].split("-")[-1] == versions[1].split("-")[-1]


def test_disk_full_during_export_leaves_current_untouched(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    good = _publish(tmp_path)
    real_write = export.write_part
    calls = {"n": 0}

    def failing_write(root: Path, part: Part) -> list[Path]:
        calls["n"] += 1
        if calls["n"] == 4:
            raise OSError(errno.ENOSPC, "No space left on device")
        return real_write(root, part)

    monkeypatch.setattr(export, "write_part", failing_write)
    with pytest.raises(ExportError, match="No space left"):
        _publish(tmp_path, second=1)
    assert read_current(tmp_path) == good.version
    assert sorted(p.name for p in tmp_path.iterdir()) == sorted(["current", good.version])


def test_a_bundle_that_fails_verification_is_not_published(tmp_path: Path) -> None:
    good = _publish(tmp_path)
    broken = [p for p in tiny_parts() if p.name != "rules"]
    with pytest.raises(ExportError, match="rules"):
        _publish(tmp_path, broken, second=1)
    assert read_current(tmp_path) == good.version


def test_prune_keeps_the_newest_and_the_current(tmp_path: Path) -> None:
    versions = []
    for second in range(3):
        versions.append(_publish(tmp_path, keep=2, second=second).version)
    remaining = sorted(p.name for p in tmp_path.iterdir() if not p.name.startswith("current"))
    assert remaining == versions[-2:]
    assert read_current(tmp_path) == versions[-1]


def test_stale_staging_directories_are_removed_fresh_ones_kept(tmp_path: Path) -> None:
    stale = tmp_path / ".staging-dead"
    fresh = tmp_path / ".staging-running"
    stale.mkdir(parents=True)
    fresh.mkdir()
    old = time.time() - export.STALE_STAGING_SECONDS - 10
    os.utime(stale, (old, old))
    _publish(tmp_path)
    assert not stale.exists() and fresh.exists()
