"""Reading and verifying a bundle, and the `current` pointer of a models directory.

`load_bundle` is the single gate every bundle passes, in training (verify before publish)
and in serving (verify before swap): schema version, paths inside the bundle, sha256 of
every file, and every array of the contract present with the right dtype kind and rank.
"""

from __future__ import annotations

import json
import os
import re
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
from numpy.typing import NDArray
from pydantic import ValidationError

from recsvc.artifacts.contract import PARTS, SCHEMA_VERSION, PartSpec
from recsvc.artifacts.manifest import MANIFEST_FILE, Manifest, sha256_file
from recsvc.errors import (
    BundleNotFoundError,
    ChecksumError,
    ContractError,
    MissingFileError,
    SchemaVersionError,
    UnsafePathError,
)

CURRENT_FILE = "current"
_VERSION_RE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]{0,127}$")


@dataclass(frozen=True)
class LoadedPart:
    """Arrays and metadata of one verified part."""

    name: str
    arrays: Mapping[str, NDArray[Any]]
    meta: Mapping[str, Any]

    def __getitem__(self, array_name: str) -> NDArray[Any]:
        return self.arrays[array_name]


@dataclass(frozen=True)
class Bundle:
    """A verified, immutable bundle. `parts[name]` for every part in the contract, except
    the optional parts the manifest lists in `parts_not_trained` (see `get`)."""

    path: Path
    manifest: Manifest
    parts: Mapping[str, LoadedPart]

    @property
    def version(self) -> str:
        return self.manifest.version

    def __getitem__(self, part_name: str) -> LoadedPart:
        return self.parts[part_name]

    def get(self, part_name: str) -> LoadedPart | None:
        """The part, or None for an optional part this bundle was trained without."""
        return self.parts.get(part_name)


def load_bundle(path: Path) -> Bundle:
    """Load and verify the bundle in `path`; raises a `BundleError` subclass naming the fault."""
    path = path.resolve()
    manifest = _read_manifest(path)
    _verify_files(path, manifest)
    _check_untrained(manifest)
    parts = {
        name: _load_part(path, spec, manifest)
        for name, spec in PARTS.items()
        if name not in manifest.parts_not_trained
    }
    _check_lengths(parts)
    return Bundle(path=path, manifest=manifest, parts=parts)


def _read_manifest(path: Path) -> Manifest:
    manifest_path = path / MANIFEST_FILE
    if not path.is_dir():
        raise BundleNotFoundError(f"no bundle directory at {path}")
    if not manifest_path.is_file():
        raise MissingFileError(f"{manifest_path} is missing: not a published bundle")
    try:
        raw = json.loads(manifest_path.read_text())
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise ContractError(f"{manifest_path} is not readable JSON: {exc}") from exc
    version = raw.get("schema_version") if isinstance(raw, dict) else None
    if version != SCHEMA_VERSION:
        raise SchemaVersionError(
            f"{manifest_path}: schema_version {version!r}, this recsvc reads {SCHEMA_VERSION}; "
            "retrain with this version of recsvc"
        )
    try:
        return Manifest.model_validate(raw)
    except ValidationError as exc:
        raise ContractError(f"{manifest_path} does not match the manifest schema: {exc}") from exc


def resolve_inside(root: Path, relative: str) -> Path:
    """`root/relative`, refusing absolute paths and anything that escapes `root`."""
    candidate = (root / relative).resolve()
    if Path(relative).is_absolute() or not candidate.is_relative_to(root):
        raise UnsafePathError(f"manifest path {relative!r} resolves outside {root}")
    return candidate


def _verify_files(root: Path, manifest: Manifest) -> None:
    for relative, expected in manifest.files.items():
        file_path = resolve_inside(root, relative)
        if not file_path.is_file():
            raise MissingFileError(f"{relative} is listed in the manifest but missing in {root}")
        actual = sha256_file(file_path)
        if actual != expected:
            raise ChecksumError(
                f"{relative}: sha256 {actual[:12]}… differs from the manifest's {expected[:12]}…"
            )


def _check_untrained(manifest: Manifest) -> None:
    for name in manifest.parts_not_trained:
        spec = PARTS.get(name)
        if spec is None or spec.required:
            raise ContractError(
                f"manifest lists {name!r} in parts_not_trained, but only optional parts may "
                f"be left out: {sorted(n for n, s in PARTS.items() if not s.required)}"
            )


def _load_part(root: Path, spec: PartSpec, manifest: Manifest) -> LoadedPart:
    arrays: dict[str, NDArray[Any]] = {}
    for relative in manifest.files:
        head, _, file_name = relative.partition("/")
        if head == spec.name and file_name.endswith(".npy") and "/" not in file_name:
            arrays[file_name[:-4]] = _load_array(root / relative)
    for array_name, (kind, ndim) in spec.arrays.items():
        if array_name not in arrays:
            raise MissingFileError(f"part {spec.name!r} lacks array {array_name!r}")
        array = arrays[array_name]
        if array.dtype.kind != kind or array.ndim != ndim:
            raise ContractError(
                f"{spec.name}/{array_name}: dtype kind {array.dtype.kind!r} rank {array.ndim}, "
                f"the contract requires kind {kind!r} rank {ndim}"
            )
    meta_rel = f"{spec.name}/meta.json"
    if meta_rel not in manifest.files:
        raise MissingFileError(f"part {spec.name!r} lacks meta.json")
    meta = json.loads((root / meta_rel).read_text())
    return LoadedPart(name=spec.name, arrays=arrays, meta=meta)


def _load_array(path: Path) -> NDArray[Any]:
    try:
        array: NDArray[Any] = np.load(path, allow_pickle=False)
    except (ValueError, OSError, EOFError) as exc:
        raise ContractError(f"{path.name}: not a loadable numpy array ({exc})") from exc
    array.setflags(write=False)
    return array


def _check_lengths(parts: Mapping[str, LoadedPart]) -> None:
    n_items = len(parts["catalog"]["item_ids"])
    n_users = len(parts["users"]["user_ids"])
    per_item = {
        "catalog": ("names", "categories", "prices", "available"),
        "als": ("item_factors", "neighbors"),
        "itemknn": ("neighbors",),
        "hybrid": ("item_embeddings", "item_biases"),
        "repurchase": ("item_interval_days", "item_repeat_rate"),
    }
    per_user = {
        "als": ("user_factors",),
        "hybrid": ("user_embeddings", "user_biases"),
        "segments": ("recency_days", "frequency", "lifecycle", "value_tier", "cluster"),
        "users": ("countries",),
    }
    for expected, table, what in ((n_items, per_item, "items"), (n_users, per_user, "users")):
        for part_name, names in table.items():
            if part_name not in parts:
                continue
            for array_name in names:
                length = len(parts[part_name][array_name])
                if length != expected:
                    raise ContractError(
                        f"{part_name}/{array_name} has {length} rows for {expected} {what}"
                    )
    if len(parts["users"]["history_indptr"]) != n_users + 1:
        raise ContractError("users/history_indptr must have n_users + 1 entries")


def read_current(models_dir: Path) -> str:
    """The version named by `models_dir/current` (a one-line file)."""
    pointer = models_dir / CURRENT_FILE
    try:
        version = pointer.read_text().strip()
    except FileNotFoundError as exc:
        raise BundleNotFoundError(
            f"{pointer} does not exist: train a bundle first (recsvc train --out {models_dir})"
        ) from exc
    if not _VERSION_RE.match(version):
        raise UnsafePathError(f"{pointer} names {version!r}, which is not a bundle version")
    return version


def write_current(models_dir: Path, version: str) -> None:
    """Point `models_dir/current` at `version` atomically (write temp, fsync, rename)."""
    if not _VERSION_RE.match(version):
        raise UnsafePathError(f"{version!r} is not a valid bundle version")
    tmp = models_dir / f".{CURRENT_FILE}.{os.getpid()}.tmp"
    with tmp.open("w") as handle:
        handle.write(version + "\n")
        handle.flush()
        os.fsync(handle.fileno())
    os.replace(tmp, models_dir / CURRENT_FILE)
    fsync_path(models_dir)


def fsync_path(path: Path) -> None:
    """fsync a directory (or file) so a rename or write inside it survives a crash."""
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)
