"""Source adapters: each turns one file of a known format into canonical events.

An adapter is `(path, report) -> SourceFrame`: it returns events with exactly
`EVENT_SCHEMA` plus the item attributes the rows carry, and records one `FileQuality` in the
report. Adapters are chosen by name through `ADAPTERS`; the generic mapped CSV/parquet
adapter takes its config in the name: `csv=<mapping.toml>`.
"""

from __future__ import annotations

from functools import partial
from pathlib import Path
from typing import Final

from training.data.adapters.base import ATTRIBUTE_SCHEMA, Adapter, SourceFrame
from training.data.adapters.groceries import read_groceries
from training.data.adapters.mapped import mapped_adapter
from training.data.adapters.online_retail import read_online_retail
from training.data.adapters.rees46 import read_rees46
from training.data.adapters.retailrocket import read_retailrocket
from training.errors import DataFormatError

ADAPTERS: Final[dict[str, Adapter]] = {
    "online-retail": read_online_retail,
    "online-retail-ii": partial(read_online_retail, source="online-retail-ii"),
    "groceries": read_groceries,
    "rees46": read_rees46,
    "retailrocket": read_retailrocket,
}
"""Adapter name -> adapter, for the formats that need no configuration."""

MAPPED: Final = "csv"
"""Name of the generic adapter; written `csv=<mapping.toml>`."""


def get_adapter(name: str, path: Path) -> Adapter:
    """The adapter called `name` for `path`; `DataFormatError` naming `path` if unknown."""
    base, has_config, config = name.partition("=")
    if base == MAPPED and has_config:
        return mapped_adapter(Path(config))
    try:
        return ADAPTERS[name]
    except KeyError:
        known = [*ADAPTERS, f"{MAPPED}=<mapping.toml>"]
        raise DataFormatError(
            str(path), f"unknown source format {name!r}; known: {known}"
        ) from None


__all__ = ["ADAPTERS", "ATTRIBUTE_SCHEMA", "MAPPED", "Adapter", "SourceFrame", "get_adapter"]
