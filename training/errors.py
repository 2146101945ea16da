"""Named errors of the training side (the CLI turns each into a message and exit code 2).

TrainingError
├── DataFormatError    a source file is not the declared format (names file, row, column)
├── EmptyDataError     nothing usable is left to train on
├── ModelFitError      a model could not be fitted (NaN factors, no baskets, ...)
├── ExportError        the bundle could not be written or verified; `current` is untouched
└── GateRejectedError  the promotion gate refused the candidate bundle
"""

from __future__ import annotations


class TrainingError(Exception):
    """Base of every error the training pipeline raises on purpose."""


class DataFormatError(TrainingError):
    """A source file does not match its declared format."""

    def __init__(
        self, path: str, message: str, *, row: int | None = None, column: str | None = None
    ) -> None:
        where = path
        if row is not None:
            where += f", row {row}"
        if column is not None:
            where += f", column {column!r}"
        super().__init__(f"{where}: {message}")
        self.path = path
        self.row = row
        self.column = column


class EmptyDataError(TrainingError):
    """No usable events remain after validation (or in the requested window)."""


class ModelFitError(TrainingError):
    """A model failed to fit; the message says what to change."""


class ExportError(TrainingError):
    """The bundle could not be written or verified; the `current` pointer was not moved."""


class GateRejectedError(TrainingError):
    """The candidate bundle scored worse than the current one beyond the tolerance."""
