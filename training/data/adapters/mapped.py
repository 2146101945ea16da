"""Any CSV or parquet event file, mapped to the canonical schema by a TOML config.

```toml
timestamp_format = "%Y-%m-%d %H:%M:%S"  # strptime format, or "epoch_s" / "epoch_ms"
separator = ","                          # CSV only

[columns]          # canonical column = source column
item_id = "sku"
timestamp = "time"
user_id = "customer"
event_type = "action"
name = "title"     # item attribute for the catalog
category = "path"  # item attribute: a path with ">" or "." separators

[constants]        # canonical column = value for every row
channel = "web"

[event_types]      # source value = canonical event type
buy = "purchase"
```

`item_id` and `timestamp` must come from columns; `event_type` from a column or a constant.
Without `[event_types]` the source values must be canonical names already. Unmapped
columns are null, except `quantity`, which is 1. The default timestamp format is ISO
("2024-01-31 12:00:00", "T" also accepted), read as UTC.

One source row = one event. Rejections, first matching reason wins: exact duplicate line;
unparsable timestamp, quantity or price; missing item or timestamp; unsupported event type.
"""

from __future__ import annotations

import tomllib
from collections.abc import Callable
from dataclasses import dataclass, field
from functools import partial
from pathlib import Path
from typing import Any, Final, Literal

import polars as pl

from training.data.adapters.base import (
    DUPLICATE,
    DUPLICATE_RULE,
    ROW,
    UNSUPPORTED_EVENT,
    Adapter,
    Rule,
    SourceFrame,
    as_float,
    as_id,
    as_text,
    as_timestamp,
    category_levels,
    finish,
    from_epoch,
    mark_rows,
    missing_rules,
    parse_rules,
    read_table,
    require_columns,
)
from training.data.quality import QualityReport
from training.data.schema import (
    CHANNEL,
    COUNTRY,
    DEVICE,
    EVENT,
    EVENT_TYPES,
    ITEM,
    NAME,
    ORDER,
    PRICE,
    QTY,
    SESSION,
    TS,
    USER,
)
from training.errors import DataFormatError

CATEGORY: Final = "category"
ISO_FORMATS: Final = ("%Y-%m-%d %H:%M:%S", "%Y-%m-%dT%H:%M:%S", "%Y-%m-%d %H:%M", "%Y-%m-%d")
EPOCH_FORMATS: Final[dict[str, Literal["s", "ms"]]] = {"epoch_s": "s", "epoch_ms": "ms"}
CANONICAL_EVENTS: Final = {event: event for event in EVENT_TYPES}

_PARSERS: Final[dict[str, Callable[[str], pl.Expr]]] = {
    USER: as_id,
    ITEM: as_id,
    ORDER: as_id,
    SESSION: as_id,
    EVENT: as_text,
    QTY: as_float,
    PRICE: as_float,
    COUNTRY: as_text,
    DEVICE: as_text,
    CHANNEL: as_text,
    NAME: as_text,
}
"""Canonical column -> how its source column is read (timestamp and category aside)."""
_NUMERIC: Final = (QTY, PRICE)
_NOT_CONSTANT: Final = (ITEM, TS, NAME, CATEGORY)


@dataclass(frozen=True)
class ColumnMapping:
    """A validated mapping config (see the module docstring)."""

    columns: dict[str, str]
    constants: dict[str, str | float] = field(default_factory=dict)
    event_types: dict[str, str] = field(default_factory=lambda: dict(CANONICAL_EVENTS))
    timestamp_format: str | None = None
    separator: str = ","


def load_mapping(config: Path) -> ColumnMapping:
    """Read and validate a mapping config; `DataFormatError` names the file and the key."""
    try:
        data = tomllib.loads(config.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, tomllib.TOMLDecodeError) as error:
        raise DataFormatError(str(config), f"cannot read the mapping config: {error}") from error
    known = {"columns", "constants", "event_types", "timestamp_format", "separator"}
    unknown = sorted(data.keys() - known)
    if unknown:
        message = f"unknown key (known: {sorted(known)})"
        raise DataFormatError(str(config), message, column=unknown[0])
    mapping = ColumnMapping(
        columns=_table(data, "columns", (str,), config),
        constants=_table(data, "constants", (str, int, float), config),
        event_types=_table(data, "event_types", (str,), config) or dict(CANONICAL_EVENTS),
        timestamp_format=_option(data, "timestamp_format", config),
        separator=_option(data, "separator", config) or ",",
    )
    _validate(mapping, config)
    return mapping


def mapped_adapter(config: Path) -> Adapter:
    """The adapter for files described by the mapping config at `config`."""
    return partial(read_mapped, mapping=load_mapping(config))


def read_mapped(
    path: Path, report: QualityReport, *, mapping: ColumnMapping, source: str = "csv"
) -> SourceFrame:
    """Read `path` with `mapping`; see the module docstring for defaults and rejections."""
    raw = read_table(path, separator=mapping.separator)
    require_columns(raw, path, mapping.columns.values())
    raw = mark_rows(raw)
    frame = raw.select(ROW, DUPLICATE, *_canonical(mapping, raw.schema))
    parsed = {c: s for c, s in mapping.columns.items() if c in (TS, *_NUMERIC)}
    rules: list[Rule] = [
        DUPLICATE_RULE,
        *parse_rules(raw, frame, path, parsed),
        *missing_rules((ITEM, TS)),
        (UNSUPPORTED_EVENT, pl.col(EVENT).is_null()),
    ]
    return finish(frame, rules, path=path, source=source, report=report)


def _table(data: dict[str, Any], key: str, kinds: tuple[type, ...], config: Path) -> dict[str, Any]:
    table = data.get(key, {})
    if not isinstance(table, dict):
        raise DataFormatError(str(config), "must be a table", column=key)
    for name, value in table.items():
        if not isinstance(value, kinds) or isinstance(value, bool):
            raise DataFormatError(str(config), f"unsupported value {value!r}", column=name)
    return table


def _option(data: dict[str, Any], key: str, config: Path) -> str | None:
    value = data.get(key)
    if value is not None and not isinstance(value, str):
        raise DataFormatError(str(config), f"must be a string, not {value!r}", column=key)
    return value


def _validate(mapping: ColumnMapping, config: Path) -> None:
    allowed = {*_PARSERS, TS, CATEGORY}
    for name in [*mapping.columns, *mapping.constants]:
        if name not in allowed:
            raise DataFormatError(
                str(config), f"not a canonical column {sorted(allowed)}", column=name
            )
    for name in (ITEM, TS):
        if name not in mapping.columns:
            raise DataFormatError(str(config), "must be mapped to a source column", column=name)
    for name, value in mapping.constants.items():
        if name in _NOT_CONSTANT or name in mapping.columns:
            raise DataFormatError(str(config), "cannot be a constant here", column=name)
        if (name in _NUMERIC) != isinstance(value, int | float):
            raise DataFormatError(str(config), f"wrong type for {value!r}", column=name)
    if EVENT not in mapping.columns and EVENT not in mapping.constants:
        raise DataFormatError(str(config), "needs a source column or a constant", column=EVENT)
    for source, target in [*mapping.event_types.items(), (EVENT, mapping.constants.get(EVENT))]:
        if target is not None and target not in EVENT_TYPES:
            message = f"{target!r} is not one of {EVENT_TYPES}"
            raise DataFormatError(str(config), message, column=source)


def _canonical(mapping: ColumnMapping, schema: pl.Schema) -> list[pl.Expr]:
    exprs = [pl.lit(1.0).alias(QTY)]  # default; a mapped quantity replaces it below
    for name, value in mapping.constants.items():
        exprs.append(pl.lit(value).alias(name))
    for name, source in mapping.columns.items():
        if name == TS:
            exprs.append(_timestamp(source, mapping.timestamp_format, schema[source]).alias(TS))
        elif name == CATEGORY:
            exprs.extend(category_levels(as_text(source)))
        elif name == EVENT:
            types = as_text(source).replace_strict(mapping.event_types, default=None)
            exprs.append(types.alias(EVENT))
        else:
            exprs.append(_PARSERS[name](source).alias(name))
    by_name = {expr.meta.output_name(): expr for expr in exprs}
    return list(by_name.values())


def _timestamp(source: str, fmt: str | None, dtype: pl.DataType) -> pl.Expr:
    if fmt in EPOCH_FORMATS:
        return from_epoch(source, EPOCH_FORMATS[fmt])
    return as_timestamp(source, ISO_FORMATS if fmt is None else (fmt,), dtype)
