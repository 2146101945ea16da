"""A part of a bundle as a model's `fit` returns it, and how it is written to disk."""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
from numpy.typing import NDArray

from recsvc.errors import ContractError


@dataclass(frozen=True)
class Part:
    """Named arrays plus JSON metadata (parameters, labels, metrics) of one model family.

    Arrays must be plain numeric, bool or unicode numpy arrays: object arrays would need
    pickle and are refused when written.
    """

    name: str
    arrays: Mapping[str, NDArray[Any]]
    meta: Mapping[str, Any] = field(default_factory=dict)


def write_part(root: Path, part: Part) -> list[Path]:
    """Write `part` under `root/<part.name>/`; returns the paths written, relative to root."""
    directory = root / part.name
    directory.mkdir(parents=True, exist_ok=False)
    written: list[Path] = []
    for array_name, array in sorted(part.arrays.items()):
        if array.dtype.kind == "O":
            raise ContractError(
                f"part {part.name!r}: array {array_name!r} has dtype object; "
                "store strings as numpy unicode (astype(str)) so it loads without pickle"
            )
        path = directory / f"{array_name}.npy"
        np.save(path, np.ascontiguousarray(array), allow_pickle=False)
        written.append(path.relative_to(root))
    meta_path = directory / "meta.json"
    meta_path.write_text(json.dumps(dict(part.meta), sort_keys=True, indent=1, default=str))
    written.append(meta_path.relative_to(root))
    return written
