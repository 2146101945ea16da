"""Domain errors of recsvc, one hierarchy, no HTTP in it.

RecsvcError
├── BundleError                 a model bundle cannot be used
│   ├── BundleNotFoundError     no bundle at the path / no `current` pointer
│   ├── SchemaVersionError      the manifest's schema version is not one this code reads
│   ├── ChecksumError           a file's sha256 differs from the manifest
│   ├── MissingFileError        the manifest or the contract names a file that is absent
│   ├── ContractError           an array has the wrong dtype/shape, or a part is malformed
│   └── UnsafePathError         a manifest path escapes the bundle directory
├── InvalidQueryError           a recommendation query is invalid (k out of range, bad id ...)
├── EventStoreError             the event store cannot take or give events
│   └── EventStoreUnavailableError   the store is read-only, locked or gone
└── ConfigError                 settings or a config file are invalid

The API maps these to HTTP statuses in one place (`recsvc.api.errors`).
"""

from __future__ import annotations


class RecsvcError(Exception):
    """Base of every error recsvc raises on purpose."""


class BundleError(RecsvcError):
    """A model bundle cannot be used."""


class BundleNotFoundError(BundleError):
    """No bundle where one was expected."""


class SchemaVersionError(BundleError):
    """The bundle was written with a schema version this code does not read."""


class ChecksumError(BundleError):
    """A bundle file does not match the sha256 recorded in the manifest."""


class MissingFileError(BundleError):
    """A file the manifest or the artifact contract requires is absent."""


class ContractError(BundleError):
    """A part of the bundle does not have the arrays, dtypes or shapes the contract requires."""


class UnsafePathError(BundleError):
    """A path in the manifest would resolve outside the bundle directory."""


class InvalidQueryError(RecsvcError):
    """A recommendation query is invalid; the message says which field and why."""


class EventStoreError(RecsvcError):
    """The event store failed to store or read events."""


class EventStoreUnavailableError(EventStoreError):
    """The event store is read-only, locked or missing; retry later."""


class ConfigError(RecsvcError):
    """Settings or a configuration file are invalid; the message names the key."""
