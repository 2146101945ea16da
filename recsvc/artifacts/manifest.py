"""The bundle manifest: what was trained, from what, with which parameters, and file checksums."""

from __future__ import annotations

import hashlib
from pathlib import Path
from typing import Any

from pydantic import BaseModel, ConfigDict, Field

MANIFEST_FILE = "manifest.json"
QUALITY_FILE = "quality.json"


class SourceFile(BaseModel):
    """One input file of the training run."""

    path: str
    adapter: str
    sha256: str
    rows_read: int
    rows_kept: int
    rows_used: int


class Manifest(BaseModel):
    """`manifest.json` of a bundle. `files` maps every file but the manifest to its sha256."""

    model_config = ConfigDict(extra="allow")

    schema_version: int
    version: str
    created_at: str
    data_window: dict[str, str | None] = Field(default_factory=dict)
    sources: list[SourceFile] = Field(default_factory=list)
    row_counts: dict[str, int] = Field(default_factory=dict)
    quality: dict[str, Any] = Field(default_factory=dict)
    params: dict[str, Any] = Field(default_factory=dict)
    metrics: dict[str, Any] = Field(default_factory=dict)
    engine: str = "polars"
    parts_not_trained: dict[str, str] = Field(default_factory=dict)  # part -> why
    files: dict[str, str]


def sha256_file(path: Path, chunk: int = 1 << 20) -> str:
    """Hex sha256 of a file, read in chunks."""
    digest = hashlib.sha256()
    with path.open("rb") as handle:
        while block := handle.read(chunk):
            digest.update(block)
    return digest.hexdigest()
