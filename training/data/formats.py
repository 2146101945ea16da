"""Pairing `--data` files with `--format` names, guessing from well-known file names."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import TypeVar

from training.errors import TrainingError

# Substrings of well-known file names (lower-cased) and the format they imply; first wins.
_NAME_HINTS = (
    ("online_retail_ii", "online-retail-ii"),
    ("online_retail", "online-retail"),
    ("groceries", "groceries"),
    ("rees46", "rees46"),
    ("2019-oct", "rees46"),
    ("retailrocket", "retailrocket"),
)


class FormatGuessError(TrainingError):
    """The format of a `--data` file was neither given nor recognisable from its name."""


Source = TypeVar("Source", Path, str)


def pair_formats(
    paths: Sequence[Source], formats: Sequence[str] | None
) -> list[tuple[Source, str]]:
    """One format per path: given one each, one for all, or guessed from the file name."""
    if formats and len(formats) not in (1, len(paths)):
        raise FormatGuessError(
            f"{len(formats)} --format values for {len(paths)} --data files: give one, or one each"
        )
    if formats:
        chosen = list(formats) if len(formats) == len(paths) else [formats[0]] * len(paths)
        return list(zip(paths, chosen, strict=True))
    return [(path, guess_format(path)) for path in paths]


def guess_format(path: Path | str) -> str:
    """The format a well-known file name implies; raises `FormatGuessError` otherwise."""
    name = str(path).lower()
    for hint, fmt in _NAME_HINTS:
        if hint in name:
            return fmt
    raise FormatGuessError(f"{path}: cannot tell its format from the name; pass --format")
