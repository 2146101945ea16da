"""The bundle gate: every kind of broken bundle is refused with a named error."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
from bundle_builder import build_tiny_bundle

from recsvc.artifacts import load_bundle, read_current, write_current
from recsvc.artifacts.manifest import MANIFEST_FILE, sha256_file
from recsvc.errors import (
    BundleNotFoundError,
    ChecksumError,
    ContractError,
    MissingFileError,
    SchemaVersionError,
    UnsafePathError,
)


@pytest.fixture
def bundle_dir(tmp_path: Path) -> Path:
    return build_tiny_bundle(tmp_path / "v1")


def _edit_manifest(path: Path, **changes: object) -> None:
    manifest = json.loads((path / MANIFEST_FILE).read_text())
    manifest.update(changes)
    (path / MANIFEST_FILE).write_text(json.dumps(manifest))


def test_valid_bundle_loads_read_only_arrays(bundle_dir: Path) -> None:
    bundle = load_bundle(bundle_dir)
    assert bundle.version == "tiny-1"
    ids = bundle["catalog"]["item_ids"]
    assert ids.dtype.kind == "U" and not ids.flags.writeable


def test_corrupted_file_is_refused(bundle_dir: Path) -> None:
    target = bundle_dir / "als" / "item_factors.npy"
    data = bytearray(target.read_bytes())
    data[-1] ^= 0xFF
    target.write_bytes(bytes(data))
    with pytest.raises(ChecksumError, match=r"als/item_factors\.npy"):
        load_bundle(bundle_dir)


def test_missing_file_is_refused(bundle_dir: Path) -> None:
    (bundle_dir / "rules" / "lift.npy").unlink()
    with pytest.raises(MissingFileError, match=r"rules/lift\.npy"):
        load_bundle(bundle_dir)


def test_array_missing_from_manifest_breaks_the_contract(bundle_dir: Path) -> None:
    manifest = json.loads((bundle_dir / MANIFEST_FILE).read_text())
    del manifest["files"]["rules/lift.npy"]
    (bundle_dir / MANIFEST_FILE).write_text(json.dumps(manifest))
    with pytest.raises(MissingFileError, match="lift"):
        load_bundle(bundle_dir)


@pytest.mark.parametrize("version", [0, 2, "1", None])
def test_unknown_schema_version_is_refused(bundle_dir: Path, version: object) -> None:
    _edit_manifest(bundle_dir, schema_version=version)
    with pytest.raises(SchemaVersionError):
        load_bundle(bundle_dir)


def test_manifest_whose_checksums_lie_is_refused(bundle_dir: Path) -> None:
    manifest = json.loads((bundle_dir / MANIFEST_FILE).read_text())
    manifest["files"]["catalog/names.npy"] = "0" * 64
    (bundle_dir / MANIFEST_FILE).write_text(json.dumps(manifest))
    with pytest.raises(ChecksumError):
        load_bundle(bundle_dir)


@pytest.mark.parametrize("evil", ["../outside.npy", "/etc/passwd", "als/../../x.npy"])
def test_paths_escaping_the_bundle_are_refused(bundle_dir: Path, evil: str) -> None:
    outside = bundle_dir.parent / "outside.npy"
    np.save(outside, np.zeros(1))
    manifest = json.loads((bundle_dir / MANIFEST_FILE).read_text())
    manifest["files"][evil] = sha256_file(outside)
    (bundle_dir / MANIFEST_FILE).write_text(json.dumps(manifest))
    with pytest.raises(UnsafePathError):
        load_bundle(bundle_dir)


def test_wrong_dtype_is_a_contract_error(bundle_dir: Path) -> None:
    target = bundle_dir / "catalog" / "prices.npy"
    np.save(target, np.array(["x"] * len(np.load(target))), allow_pickle=False)
    _edit_manifest(
        bundle_dir,
        files={
            **json.loads((bundle_dir / MANIFEST_FILE).read_text())["files"],
            "catalog/prices.npy": sha256_file(target),
        },
    )
    with pytest.raises(ContractError, match="prices"):
        load_bundle(bundle_dir)


def test_pickled_object_array_is_never_unpickled(bundle_dir: Path) -> None:
    target = bundle_dir / "catalog" / "names.npy"
    np.save(target, np.array([{"a": 1}] * 3, dtype=object), allow_pickle=True)
    manifest = json.loads((bundle_dir / MANIFEST_FILE).read_text())
    manifest["files"]["catalog/names.npy"] = sha256_file(target)
    (bundle_dir / MANIFEST_FILE).write_text(json.dumps(manifest))
    with pytest.raises(ContractError, match="not a loadable numpy array"):
        load_bundle(bundle_dir)


def test_not_a_bundle(tmp_path: Path) -> None:
    with pytest.raises(BundleNotFoundError):
        load_bundle(tmp_path / "nothing")
    (tmp_path / "empty").mkdir()
    with pytest.raises(MissingFileError):
        load_bundle(tmp_path / "empty")


def test_current_pointer_round_trip_and_refusals(tmp_path: Path) -> None:
    with pytest.raises(BundleNotFoundError, match="recsvc train"):
        read_current(tmp_path)
    write_current(tmp_path, "v1")
    assert read_current(tmp_path) == "v1"
    (tmp_path / "current").write_text("../../etc\n")
    with pytest.raises(UnsafePathError):
        read_current(tmp_path)
    with pytest.raises(UnsafePathError):
        write_current(tmp_path, ".staging-x")


def _drop_part(path: Path, part: str) -> None:
    manifest = json.loads((path / MANIFEST_FILE).read_text())
    manifest["files"] = {
        name: sha for name, sha in manifest["files"].items() if not name.startswith(f"{part}/")
    }
    (path / MANIFEST_FILE).write_text(json.dumps(manifest))
    for file in (path / part).iterdir():
        file.unlink()
    (path / part).rmdir()


def test_optional_parts_may_be_absent_only_when_declared(bundle_dir: Path) -> None:
    """A Spark-trained bundle has no item-kNN and no hybrid part and says why."""
    for part in ("itemknn", "hybrid"):
        _drop_part(bundle_dir, part)
    with pytest.raises(MissingFileError, match="lacks"):
        load_bundle(bundle_dir)  # absent but undeclared: broken
    _edit_manifest(bundle_dir, parts_not_trained={"itemknn": "no", "hybrid": "no"})
    bundle = load_bundle(bundle_dir)
    assert bundle.get("hybrid") is None and bundle.get("itemknn") is None
    assert bundle.get("als") is not None


def test_required_parts_cannot_be_declared_untrained(bundle_dir: Path) -> None:
    _drop_part(bundle_dir, "rules")
    _edit_manifest(bundle_dir, parts_not_trained={"rules": "skipped"})
    with pytest.raises(ContractError, match="only optional parts"):
        load_bundle(bundle_dir)
