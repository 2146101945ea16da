"""The training configuration: one frozen dataclass per model family, read from TOML.

A config file has one table per section, e.g.::

    [rules]
    min_support = 0.005
    [als]
    factors = 64

Sections and keys not listed here are refused with a `ConfigError`-style message naming
them, so a typo never silently falls back to a default.
"""

from __future__ import annotations

import dataclasses
import tomllib
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from training.errors import TrainingError
from training.models.als import AlsConfig
from training.models.hybrid import HybridConfig
from training.models.itemknn import ItemKnnConfig
from training.models.popularity import PopularityConfig
from training.models.repurchase import RepurchaseConfig
from training.models.rules import RulesConfig
from training.models.segments import SegmentsConfig


class ConfigFileError(TrainingError):
    """A training config file is unreadable or names an unknown section or key."""


@dataclass(frozen=True)
class ExportConfig:
    """How many published versions to keep besides `current`."""

    keep: int = 5


@dataclass(frozen=True)
class TrainingConfig:
    """Every parameter of a training run; `to_dict()` goes into the manifest."""

    rules: RulesConfig = field(default_factory=RulesConfig)
    als: AlsConfig = field(default_factory=AlsConfig)
    itemknn: ItemKnnConfig = field(default_factory=ItemKnnConfig)
    hybrid: HybridConfig = field(default_factory=HybridConfig)
    popularity: PopularityConfig = field(default_factory=PopularityConfig)
    segments: SegmentsConfig = field(default_factory=SegmentsConfig)
    repurchase: RepurchaseConfig = field(default_factory=RepurchaseConfig)
    export: ExportConfig = field(default_factory=ExportConfig)

    def to_dict(self) -> dict[str, Any]:
        return dataclasses.asdict(self)


def load_config(path: Path | None) -> TrainingConfig:
    """Read a TOML config; `None` gives the defaults."""
    if path is None:
        return TrainingConfig()
    try:
        raw = tomllib.loads(path.read_text())
    except (OSError, tomllib.TOMLDecodeError) as exc:
        raise ConfigFileError(f"{path}: {exc}") from exc
    return config_from_dict(raw, source=str(path))


def config_from_dict(raw: dict[str, Any], *, source: str = "config") -> TrainingConfig:
    """Build a `TrainingConfig` from nested tables, refusing unknown sections and keys."""
    sections = {f.name: f for f in dataclasses.fields(TrainingConfig)}
    unknown = sorted(set(raw) - set(sections))
    if unknown:
        raise ConfigFileError(f"{source}: unknown section(s) {unknown}; known: {sorted(sections)}")
    defaults = TrainingConfig()
    built = {
        name: _section(getattr(defaults, name), table, f"{source} [{name}]")
        for name, table in raw.items()
    }
    return dataclasses.replace(defaults, **built)


def _section(default: Any, table: Any, where: str) -> Any:
    if not isinstance(table, dict):
        raise ConfigFileError(f"{where}: expected a table of keys")
    known = {f.name for f in dataclasses.fields(default) if f.init}
    unknown = sorted(set(table) - known)
    if unknown:
        raise ConfigFileError(f"{where}: unknown key(s) {unknown}; known: {sorted(known)}")
    values = {
        key: _value(getattr(default, key), value, f"{where}.{key}") for key, value in table.items()
    }
    try:
        return dataclasses.replace(default, **values)
    except (TypeError, ValueError) as exc:
        raise ConfigFileError(f"{where}: {exc}") from exc


def _value(default: Any, value: Any, where: str) -> Any:
    """Check `value` against the default's type; nested dataclasses recurse."""
    if dataclasses.is_dataclass(default) and not isinstance(default, type):
        return _section(default, value, where)
    if isinstance(default, float) and isinstance(value, int) and not isinstance(value, bool):
        return float(value)
    if isinstance(default, tuple) and isinstance(value, list):
        return tuple(value)  # TOML and JSON have lists only
    if default is not None and not isinstance(value, type(default)):
        raise ConfigFileError(
            f"{where}: expected {type(default).__name__}, got {type(value).__name__} {value!r}"
        )
    return value
