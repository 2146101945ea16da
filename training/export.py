"""Atomic publication of a bundle: stage, checksum, verify, rename, move `current`, prune.

An interrupted or failed run leaves at most a `.staging-*` directory, which no reader picks
up (`read_current` only names versions, and versions never start with a dot), and the
`current` pointer is moved only after the renamed bundle passed `load_bundle`.
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import time
import uuid
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from recsvc.artifacts import SCHEMA_VERSION, Bundle, Part, load_bundle, write_current, write_part
from recsvc.artifacts.bundle import fsync_path, read_current
from recsvc.artifacts.manifest import MANIFEST_FILE, QUALITY_FILE, sha256_file
from recsvc.errors import BundleError
from training.errors import ExportError

STAGING_PREFIX = ".staging-"
STALE_STAGING_SECONDS = 6 * 3600


@dataclass(frozen=True)
class Published:
    """Where a bundle went and what it holds. `location` is where it was published when
    that is not a local path (an object-storage URI); `path` is then the verified local
    staging copy, which is gone once the run ends."""

    version: str
    path: Path
    bundle: Bundle
    location: str | None = None


def stage_bundle(
    out_dir: Path,
    parts: Iterable[Part],
    *,
    quality: Mapping[str, Any],
    manifest_fields: Mapping[str, Any],
    created_at: datetime | None = None,
) -> Path:
    """Write a complete, verified bundle into a fresh staging directory and return it.

    The version is `<created UTC>-<first 8 hex of the content hash>`, so two runs with the
    same seed and data differ only in the timestamp part and in `created_at`.
    """
    created = (created_at or datetime.now(UTC)).replace(microsecond=0)
    out_dir.mkdir(parents=True, exist_ok=True)
    staging = out_dir / f"{STAGING_PREFIX}{uuid.uuid4().hex}"
    staging.mkdir()
    try:
        written = [path for part in parts for path in write_part(staging, part)]
        (staging / QUALITY_FILE).write_text(json.dumps(dict(quality), indent=1, sort_keys=True))
        written.append(Path(QUALITY_FILE))
        files = {path.as_posix(): sha256_file(staging / path) for path in sorted(written)}
        version = _free_version(out_dir, f"{created:%Y%m%dT%H%M%SZ}-{_content_hash(files)[:8]}")
        manifest = {
            **manifest_fields,
            "schema_version": SCHEMA_VERSION,
            "version": version,
            "created_at": created.isoformat(),
            "quality": dict(quality),
            "files": files,
        }
        (staging / MANIFEST_FILE).write_text(json.dumps(manifest, indent=1, sort_keys=True))
        _fsync_tree(staging)
        load_bundle(staging)
    except (OSError, BundleError, ValueError, TypeError) as exc:
        shutil.rmtree(staging, ignore_errors=True)
        raise ExportError(f"could not write the bundle under {out_dir}: {exc}") from exc
    return staging


def publish(staging: Path, *, keep: int = 5) -> Published:
    """Rename a staged bundle to its version, verify it there, then move `current`.

    Keeps the `keep` newest versions (never the current one) and removes stale staging
    directories left by killed runs.
    """
    out_dir = staging.parent
    try:
        version = json.loads((staging / MANIFEST_FILE).read_text())["version"]
        final = out_dir / version
        if final.exists():
            raise ExportError(f"{final} already exists; refusing to overwrite a published bundle")
        os.rename(staging, final)
        bundle = load_bundle(final)
        write_current(out_dir, version)
    except (OSError, BundleError, KeyError, ValueError) as exc:
        raise ExportError(f"could not publish {staging.name}: {exc}") from exc
    prune(out_dir, keep=keep)
    return Published(version=version, path=final, bundle=bundle)


def prune(out_dir: Path, *, keep: int) -> list[str]:
    """Remove all but the `keep` newest versions and stale staging dirs; returns what went."""
    try:
        current = read_current(out_dir)
    except BundleError:
        current = None
    versions = sorted(
        p.name for p in out_dir.iterdir() if p.is_dir() and (p / MANIFEST_FILE).is_file()
    )
    doomed = [v for v in versions[: max(len(versions) - keep, 0)] if v != current]
    now = time.time()
    doomed += [
        p.name
        for p in out_dir.glob(f"{STAGING_PREFIX}*")
        if now - p.stat().st_mtime > STALE_STAGING_SECONDS
    ]
    for name in doomed:
        shutil.rmtree(out_dir / name, ignore_errors=True)
    return doomed


def _free_version(out_dir: Path, version: str) -> str:
    """`version`, or `version-2`, `-3`, ... when a run in the same second with the same
    content already published it (retraining identical data twice)."""
    candidate, n = version, 1
    while (out_dir / candidate).exists():
        n += 1
        candidate = f"{version}-{n}"
    return candidate


def _content_hash(files: Mapping[str, str]) -> str:
    digest = hashlib.sha256()
    for relative, sha in sorted(files.items()):
        digest.update(f"{relative}\0{sha}\n".encode())
    return digest.hexdigest()


def _fsync_tree(root: Path) -> None:
    """fsync every file and directory below `root` (`fsync_path` works on files too)."""
    for directory, _, file_names in os.walk(root):
        for name in file_names:
            fsync_path(Path(directory) / name)
        fsync_path(Path(directory))
