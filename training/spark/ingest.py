"""Spark ingestion and validation: `load_sources_spark`, equal to `training.data.load`.

Given the same files, `load_sources_spark` keeps the same events (as a multiset of rows),
writes the same `QualityReport` and `SourceFile`s, and builds the same catalog as the
polars engine's `load_sources`. Reason names, constants, regexes, time formats, the
mapping-config parser, the window rule (`holdout_window`), the catalog-file reader and
override, and the report classes are imported from the polars modules. The row rules that
must run inside Spark are re-expressed once each below; every such function names the
polars function it mirrors.

Reading goes through Spark's filesystem layer, so paths may be URIs (file://, s3a://,
gs://; a path without scheme means Spark's default filesystem). A file is parquet when its
first 4 bytes, read through the Hadoop FileSystem API, are `PAR1` (as polars decides);
anything else is read as CSV with a header and every column as text (`.gz` is decompressed
by suffix). Known differences, all on malformed input only: CSV lines with a wrong number
of fields are padded or cut by Spark where polars may refuse the file, fields with quoted
line breaks are not supported, and a malformed timestamp the two parsers judge differently
(a leap second, a 5-digit year) is rejected under "unparsable timestamp" by one engine and
under "timestamp out of range" by the other.

`events` has `EVENT_SCHEMA`'s columns plus `_seq` (long): ordering by (`timestamp`,
`_seq`) gives the polars engine's order (time, then file index, then row in the file).
`_seq` = file index * 2**51 + Spark's `monotonically_increasing_id` of the row as read,
which increases with the row's position in its file (splits of one file are read in
offset order); so at most 4,096 files and 2**18 read partitions per file. `events` is
persisted (memory and disk); call `events.unpersist()` when done with it.

The session time zone must be UTC (`training.spark.session` sets it): naive source times
are read as UTC and `hour`/`weekday` are derived in the session time zone.
`SourceFile.sha256` is computed for local paths and file:// URIs only; for other schemes
it is "" (hashing would read every object a second time through the driver).

Spark-only limits, each a named `DataFormatError`: adapters `online-retail`,
`online-retail-ii` and `csv=<mapping.toml>` only (all names are resolved before any file
is read); a mapping's `timestamp_format` may use the strptime directives in `_STRPTIME`
(numeric dates and times) or epoch_s / epoch_ms; parquet times stored as nanoseconds
(polars' default for `Datetime("ns")`) are refused by Spark 4.3's reader, while INT96 and
micro/millisecond times are read.
"""

from __future__ import annotations

import re
import tempfile
from collections.abc import Callable, Iterable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime
from functools import partial, reduce
from pathlib import Path
from typing import Any, Final
from urllib.parse import urlparse

import polars as pl
from pyspark import StorageLevel
from pyspark.errors import PySparkException
from pyspark.sql import Column, DataFrame, SparkSession, Window
from pyspark.sql import functions as F  # noqa: N812 (the usual PySpark spelling)
from pyspark.sql import types as T  # noqa: N812

from training.data.adapters import MAPPED
from training.data.adapters.base import (
    _NULL_TEXTS,
    DUPLICATE,
    DUPLICATE_LINE,
    FUTURE_MARGIN,
    OUT_OF_RANGE,
    TIME_RANGE_START,
    UNSUPPORTED_EVENT,
    require_columns,
)
from training.data.adapters.mapped import (
    CATEGORY,
    EPOCH_FORMATS,
    ISO_FORMATS,
    ColumnMapping,
    load_mapping,
)
from training.data.adapters.online_retail import (
    FREE_PURCHASE,
    NON_PRODUCT,
    NON_PRODUCT_CODES,
    TIME_FORMATS,
    detect_columns,
)
from training.data.catalog import override_catalog, read_catalog_file
from training.data.load import CROSS_FILE_DUPLICATE, SourceFile, file_sha256, source_records
from training.data.quality import (
    ANONYMOUS,
    ERASED_USER,
    OUTSIDE_WINDOW,
    RETURNS,
    FileQuality,
    QualityReport,
)
from training.data.schema import (
    AVAILABLE,
    CATALOG_SCHEMA,
    CATEGORY_LEVELS,
    CHANNEL,
    COUNTRY,
    DEVICE,
    EVENT,
    EVENT_SCHEMA,
    HOUR,
    ITEM,
    NAME,
    ORDER,
    PRICE,
    QTY,
    SESSION,
    TS,
    USER,
    WEEKDAY,
)
from training.data.split import holdout_window
from training.errors import DataFormatError, EmptyDataError
from training.spark.frames import SEQ, epoch_micros, from_micros, to_polars
from training.spark.hadoop import filesystem, hadoop_path, local_path
from training.spark.session import SparkEngineError

_FILE: Final = "_file"
_MID: Final = "_mid"
_REASON: Final = "_reason"
_REPEAT: Final = "_repeat"
_USED: Final = "_used"
_TS_SCHEMA: Final = {TS: pl.Datetime("us", "UTC")}
_FILE_SHIFT: Final = 51
_MAX_FILES: Final = 1 << (63 - _FILE_SHIFT)
_PARTITION_BITS: Final = 33  # monotonically_increasing_id = partition << 33 | row in partition
_UTC_NAMES: Final = ("UTC", "Etc/UTC", "GMT", "Z", "+00:00")

SPARK_TYPES: Final[dict[str, T.DataType]] = {
    USER: T.StringType(),
    ITEM: T.StringType(),
    EVENT: T.StringType(),
    TS: T.TimestampType(),
    QTY: T.DoubleType(),
    PRICE: T.DoubleType(),
    ORDER: T.StringType(),
    SESSION: T.StringType(),
    COUNTRY: T.StringType(),
    DEVICE: T.StringType(),
    CHANNEL: T.StringType(),
    HOUR: T.IntegerType(),
    WEEKDAY: T.IntegerType(),
}
"""Spark type of each `EVENT_SCHEMA` column (event_type as text, hour/weekday as int)."""
assert list(SPARK_TYPES) == list(EVENT_SCHEMA)

_ATTRIBUTES: Final = (NAME, *CATEGORY_LEVELS)
_PARSE_TARGETS: Final = (TS, QTY, PRICE)


@dataclass(frozen=True)
class SparkLoaded:
    """What `load_sources_spark` returns; mirrors `training.data.load.LoadedData`.

    `events`: `EVENT_SCHEMA` columns (Spark types in `SPARK_TYPES`) plus `_seq`, unordered
    and persisted. `catalog`: `CATALOG_SCHEMA`, sorted by item id, on the driver.
    """

    events: DataFrame
    catalog: pl.DataFrame
    quality: QualityReport
    sources: tuple[SourceFile, ...]
    window_start: datetime | None


def load_sources_spark(
    spark: SparkSession,
    sources: list[tuple[str, str]],
    *,
    window_days: int | None = None,
    catalog_path: str | None = None,
    erased_users: frozenset[str] = frozenset(),
) -> SparkLoaded:
    """Read every (path or URI, adapter name) source with the rules of `load_sources`.

    Adapter names are resolved for all sources before any file is read. Raises
    `DataFormatError` (unsupported adapter, unreadable or malformed file), `EmptyDataError`
    (no source, or no event survives) and `SparkEngineError` (session not in UTC).
    """
    if not sources:
        raise EmptyDataError("no source files given")
    _require_utc(spark)
    if len(sources) > _MAX_FILES:
        raise SparkEngineError(f"at most {_MAX_FILES} source files per load, not {len(sources)}")
    adapters = [_spark_adapter(name, path) for path, name in sources]
    report = QualityReport()
    validated, latest = [], []
    for index, ((path, _), adapter) in enumerate(zip(sources, adapters, strict=True)):
        frame, file_latest = _validate(spark, adapter(spark, path), index, path, report)
        validated.append(frame)
        latest.extend([file_latest] if file_latest is not None else [])
    if not latest:
        names = [path for path, _ in sources]
        raise EmptyDataError(f"no usable event in {names}; rejected: {report.rejected}")
    window_start = None
    if window_days is not None:
        moment = from_micros(max(latest))
        window_start = holdout_window(pl.DataFrame({TS: [moment]}, schema=_TS_SCHEMA), window_days)
    kept = reduce(DataFrame.unionByName, (v.filter(F.col(_REASON).isNull()) for v in validated))
    kept = kept.select(_FILE, SEQ, *EVENT_SCHEMA, *_ATTRIBUTES)
    marked, rows_used = _mark_use(kept, window_start, erased_users, report)
    catalog = _catalog(spark, marked, catalog_path)
    events = marked.filter(_USED).select(*EVENT_SCHEMA, SEQ).persist(StorageLevel.MEMORY_AND_DISK)
    events.count()  # fill the cache before the frames it is computed from are dropped
    for frame in [*validated, marked]:
        frame.unpersist()
    read = source_records(sources, report, rows_used, _sha256)
    return SparkLoaded(events, catalog, report, read, window_start)


# --- adapters -------------------------------------------------------------------------


@dataclass(frozen=True)
class _Canonical:
    """An adapter's output before validation: per source row `_mid` (read order),
    `_duplicate`, the canonical columns it knows, `_src_<t>` (the raw value) for each
    parsed target t, and its rules `(reason, condition)` in order (first failing wins)."""

    frame: DataFrame
    rules: list[tuple[str, Column]]
    parsed: dict[str, str]  # canonical target -> source column, in rule order
    source: str


_SparkAdapter = Callable[[SparkSession, str], _Canonical]


def _spark_adapter(name: str, path: str) -> _SparkAdapter:
    """Mirrors `training.data.adapters.get_adapter` for the formats Spark supports."""
    base, has_config, config = name.partition("=")
    if base == MAPPED and has_config:
        mapping = load_mapping(Path(config))
        fmt = mapping.timestamp_format
        if fmt is not None and fmt not in EPOCH_FORMATS:
            try:
                _spark_pattern(fmt)
            except ValueError as error:
                raise DataFormatError(config, str(error), column="timestamp_format") from None
        return partial(_mapped, mapping=mapping)
    try:
        return SPARK_ADAPTERS[name]
    except KeyError:
        supported = [*SPARK_ADAPTERS, f"{MAPPED}=<mapping.toml>"]
        raise DataFormatError(
            path, f"format {name!r} is not supported by the spark engine; supported: {supported}"
        ) from None


def _online_retail(spark: SparkSession, path: str, *, source: str) -> _Canonical:
    """Mirrors `training.data.adapters.online_retail.read_online_retail`."""
    raw = _read_table(spark, path)
    with _naming(path) as placeholder:
        columns = detect_columns(_empty_like(raw), placeholder)
    types = {field.name: field.dataType for field in raw.schema.fields}
    invoice = _as_id(columns[ORDER])
    quantity = _as_float(columns[QTY], types[columns[QTY]])
    price = _as_float(columns[PRICE], types[columns[PRICE]])
    is_return = invoice.startswith("C") | (quantity <= 0)
    canonical = [
        _as_number_id(columns[USER], types[columns[USER]]).alias(USER),
        F.upper(_as_id(columns[ITEM])).alias(ITEM),
        F.when(is_return, F.lit("return")).otherwise(F.lit("purchase")).alias(EVENT),
        _as_timestamp(columns[TS], TIME_FORMATS, types[columns[TS]]).alias(TS),
        F.when(is_return & (quantity > 0), -quantity).otherwise(quantity).alias(QTY),
        price.alias(PRICE),
        invoice.alias(ORDER),
        _as_text(columns[COUNTRY]).alias(COUNTRY),
        F.when(price > 0, _as_text(columns[NAME])).alias(NAME),
    ]
    parsed = {target: columns[target] for target in _PARSE_TARGETS}
    rules = [
        *_missing_rules((ITEM, ORDER, TS, QTY, PRICE)),
        (NON_PRODUCT, F.col(ITEM).rlike(NON_PRODUCT_CODES)),
        (FREE_PURCHASE, (F.col(EVENT) == "purchase") & (F.col(PRICE) <= 0)),
    ]
    return _canonical(raw, canonical, parsed, rules, source)


SPARK_ADAPTERS: Final[dict[str, _SparkAdapter]] = {
    "online-retail": partial(_online_retail, source="online-retail"),
    "online-retail-ii": partial(_online_retail, source="online-retail-ii"),
}
"""Adapter name -> Spark adapter; besides these, `csv=<mapping.toml>`."""


def _mapped(spark: SparkSession, path: str, *, mapping: ColumnMapping) -> _Canonical:
    """Mirrors `training.data.adapters.mapped.read_mapped` (source name "csv")."""
    raw = _read_table(spark, path, separator=mapping.separator)
    with _naming(path) as placeholder:
        require_columns(_empty_like(raw), placeholder, mapping.columns.values())
    types = {field.name: field.dataType for field in raw.schema.fields}
    canonical: dict[str, Column] = {QTY: F.lit(1.0)}
    for name, value in mapping.constants.items():
        canonical[name] = F.lit(value)
    for name, source in mapping.columns.items():
        if name == TS:
            canonical[TS] = _mapped_timestamp(source, mapping.timestamp_format, types[source])
        elif name == CATEGORY:
            canonical.update(zip(CATEGORY_LEVELS, _category_levels(_as_text(source)), strict=True))
        elif name == EVENT:
            types_map = F.create_map(*(F.lit(x) for kv in mapping.event_types.items() for x in kv))
            canonical[EVENT] = F.try_element_at(types_map, _as_text(source))
        elif name in (QTY, PRICE):
            canonical[name] = _as_float(source, types[source])
        elif name in (USER, ITEM, ORDER, SESSION):
            canonical[name] = _as_id(source)
        else:
            canonical[name] = _as_text(source)
    parsed = {c: s for c, s in mapping.columns.items() if c in _PARSE_TARGETS}
    rules = [*_missing_rules((ITEM, TS)), (UNSUPPORTED_EVENT, F.col(EVENT).isNull())]
    columns = [column.alias(name) for name, column in canonical.items()]
    return _canonical(raw, columns, parsed, rules, "csv")


def _mapped_timestamp(source: str, fmt: str | None, dtype: T.DataType) -> Column:
    """Mirrors `training.data.adapters.mapped._timestamp`."""
    if fmt in EPOCH_FORMATS:
        return _from_epoch(source, EPOCH_FORMATS[fmt])
    return _as_timestamp(source, ISO_FORMATS if fmt is None else (fmt,), dtype)


def _canonical(
    raw: DataFrame,
    columns: list[Column],
    parsed: dict[str, str],
    rules: list[tuple[str, Column]],
    source: str,
) -> _Canonical:
    """Mirrors `base.mark_rows` + the adapters' first select: read order, exact duplicate
    lines (every repeat of an earlier identical row), canonical columns and raw values."""
    marked = raw.withColumn(_MID, F.monotonically_increasing_id())
    first = Window.partitionBy(*_hashed(_src(c) for c in raw.columns)).orderBy(_MID)
    marked = marked.withColumn(DUPLICATE, F.row_number().over(first) > 1)
    originals = [_src(s).alias(f"_src_{t}") for t, s in parsed.items()]
    frame = marked.select(_MID, DUPLICATE, *columns, *originals)
    unparsable = [(f"unparsable {t}", _unparsable(t)) for t in parsed]
    return _Canonical(
        frame, [(DUPLICATE_LINE, F.col(DUPLICATE)), *unparsable, *rules], parsed, source
    )


def _hashed(columns: Iterable[Column]) -> list[Column]:
    """Window keys "all of `columns`", led by their 64-bit hash: rows still group by exact
    values (nulls equal), but the sort compares one long before any string."""
    keys = list(columns)
    return [F.xxhash64(*keys), *keys]


def _unparsable(target: str) -> Column:
    """Mirrors the condition of `base.parse_rules`: present in the source, null parsed."""
    return F.col(f"_src_{target}").isNotNull() & F.col(target).isNull()


def _missing_rules(columns: Sequence[str]) -> list[tuple[str, Column]]:
    """Mirrors `base.missing_rules`."""
    return [(f"missing {c}", F.col(c).isNull()) for c in columns]


# --- validation -----------------------------------------------------------------------


def _validate(
    spark: SparkSession, canonical: _Canonical, index: int, path: str, report: QualityReport
) -> tuple[DataFrame, int | None]:
    """Mirrors `base.parse_rules` (the all-unparsable check) and `base.finish`: applies the
    rules plus "timestamp out of range", records the file's `FileQuality` and returns
    the file's rows (with `_reason`, null when kept) as a persisted frame (the caller
    unpersists it) and the latest kept event time (µs since 1970, None without one)."""
    latest = datetime.now(UTC) + FUTURE_MARGIN
    micros = F.unix_micros(F.col(TS))
    in_range = micros.between(F.lit(epoch_micros(TIME_RANGE_START)), F.lit(epoch_micros(latest)))
    rules = [*canonical.rules, (OUT_OF_RANGE, F.col(TS).isNotNull() & ~in_range)]
    reason = F.coalesce(*(F.when(cond, F.lit(name)) for name, cond in rules))
    frame = _with_event_columns(canonical.frame.withColumn(_REASON, reason))
    seq = F.lit(index).cast("long") * (1 << _FILE_SHIFT) + F.col(_MID)
    flags = [
        expr.alias(f"_{kind}_{t}")
        for t in canonical.parsed
        for kind, expr in (("has", F.col(f"_src_{t}").isNotNull()), ("bad", _unparsable(t)))
    ]
    validated = frame.select(
        F.lit(index).alias(_FILE),
        seq.alias(SEQ),
        _MID,
        _REASON,
        *EVENT_SCHEMA,
        *_ATTRIBUTES,
        *flags,
    ).persist(StorageLevel.MEMORY_AND_DISK)
    counts = _file_counts(validated, canonical.parsed, path)
    _raise_if_nothing_parses(canonical, counts, path)
    kept = counts.get(None, {})
    quality = FileQuality(
        path=path,
        source=canonical.source,
        rows_read=sum(row["rows"] for row in counts.values()),
        rows_kept=kept.get("rows", 0),
        rejected={str(r): row["rows"] for r, row in counts.items() if r is not None},
    )
    quality.info.update({RETURNS: kept.get(RETURNS, 0), ANONYMOUS: kept.get(ANONYMOUS, 0)})
    report.add(quality)
    return validated, kept.get("latest")


def _info_counts() -> dict[str, Column]:
    """Mirrors `base.INFO_COUNTS` (returns and anonymous rows among kept events)."""
    return {
        RETURNS: F.count_if(F.col(EVENT) == "return"),
        ANONYMOUS: F.count_if(F.col(USER).isNull()),
    }


def _file_counts(
    validated: DataFrame, parsed: dict[str, str], path: str
) -> dict[str | None, dict[str, Any]]:
    """Per `_reason`: rows, info counts, and per parsed target rows present / unparsable.
    This is the file's first Spark job: read errors surface here as `DataFormatError`."""
    sums = [
        F.count_if(F.col(f"_{kind}_{t}")).alias(f"{kind}_{t}")
        for t in parsed
        for kind in ("has", "bad")
    ]
    info = [column.alias(name) for name, column in _info_counts().items()]
    aggregated = validated.groupBy(_REASON).agg(
        F.count("*").alias("rows"),
        F.max(_MID).alias("max_mid"),
        F.max(F.unix_micros(F.col(TS))).alias("latest"),
        *info,
        *sums,
    )
    try:
        rows = aggregated.collect()
    except PySparkException as error:
        reason = str(error).strip().splitlines()[0]
        raise DataFormatError(path, f"not a parseable CSV or parquet file: {reason}") from error
    counts = {row[_REASON]: {k: v for k, v in row.asDict().items() if k != _REASON} for row in rows}
    if any(c["max_mid"] >> _FILE_SHIFT for c in counts.values()):
        limit = 1 << (_FILE_SHIFT - _PARTITION_BITS)
        raise SparkEngineError(f"{path}: more than {limit} read partitions; raise the split size")
    return counts


def _raise_if_nothing_parses(
    canonical: _Canonical, counts: dict[str | None, dict[str, Any]], path: str
) -> None:
    """Mirrors the error of `base.parse_rules`: a column with values of which none parses
    means the file is not in the declared format (names the column, first row and value)."""
    for target, source in canonical.parsed.items():
        present = sum(c[f"has_{target}"] for c in counts.values())
        bad = sum(c[f"bad_{target}"] for c in counts.values())
        if present and bad == present:
            frame = canonical.frame
            bad_rows = frame.filter(_unparsable(target)).orderBy(_MID)
            first = bad_rows.select(_MID, f"_src_{target}").first()
            assert first is not None  # bad == present > 0
            mid, value = first
            row = frame.filter(F.col(_MID) < mid).count() + 1
            raise DataFormatError(
                path,
                f"no value parses as {target} (first value {value!r})",
                row=row,
                column=source,
            )


def _with_event_columns(frame: DataFrame) -> DataFrame:
    """Mirrors `base._canonical_events` and `base._attributes`: every `EVENT_SCHEMA` column
    with its Spark type (null where the adapter has none), hour and weekday from the UTC
    timestamp (weekday 1 = Monday ... 7 = Sunday), and the item attribute columns."""
    present = set(frame.columns)
    derived = {HOUR: F.hour(TS), WEEKDAY: F.weekday(TS) + 1}
    columns = {
        name: (
            derived[name] if name in derived else F.col(name) if name in present else F.lit(None)
        )
        for name in EVENT_SCHEMA
    }
    attributes = {name: F.col(name) if name in present else F.lit(None) for name in _ATTRIBUTES}
    return frame.select(
        _MID,
        _REASON,
        *(f"_src_{t}" for t in _PARSE_TARGETS if f"_src_{t}" in present),
        *(column.cast(SPARK_TYPES[name]).alias(name) for name, column in columns.items()),
        *(column.cast("string").alias(name) for name, column in attributes.items()),
    )


# --- across files (mirrors training.data.load) ----------------------------------------


def _mark_use(
    kept: DataFrame,
    window_start: datetime | None,
    erased: frozenset[str],
    report: QualityReport,
) -> tuple[DataFrame, dict[int, int]]:
    """Mirrors `load._drop_cross_file_duplicates` (with `load._recount_info`), then
    `load._apply_window` and `load._drop_erased`: records their counts per file and returns
    the kept rows, persisted, with `_used` (True on the events the load returns) and the
    number of events each file gives.

    An event repeated from an earlier file has the time of its first copy, so the window's
    cutoff computed from all kept rows equals the polars one computed after the check.
    """
    repeat = F.lit(False)
    if len(report.files) > 1:
        same_event = Window.partitionBy(*_hashed(F.col(c) for c in EVENT_SCHEMA))
        repeat = F.col(_FILE) > F.min(_FILE).over(same_event)
    inside = F.lit(True)
    if window_start is not None:
        inside = F.unix_micros(F.col(TS)) >= F.lit(epoch_micros(window_start))
    gone = F.lit(False)
    if erased:
        gone = F.coalesce(F.col(USER).isin(sorted(erased)), F.lit(False))
    flags = {_REPEAT: repeat, "_inside": inside, "_gone": gone}
    marked = kept.withColumns(flags).withColumn(
        _USED, ~F.col(_REPEAT) & F.col("_inside") & ~F.col("_gone")
    )
    marked = marked.persist(StorageLevel.MEMORY_AND_DISK)
    info = [column.alias(name) for name, column in _info_counts().items()]
    stats = marked.groupBy(_FILE, *flags).agg(F.count("*").alias("rows"), *info).collect()
    by_file: dict[int, list[dict[str, int]]] = {}
    for row in stats:
        by_file.setdefault(row[_FILE], []).append(row.asDict())
    used: dict[int, int] = {}
    for index, groups in sorted(by_file.items()):
        quality = report.files[index]
        first_copies = [g for g in groups if not g[_REPEAT]]
        quality.reject(CROSS_FILE_DUPLICATE, sum(g["rows"] for g in groups if g[_REPEAT]))
        if len(first_copies) < len(groups) and first_copies:
            quality.info.update({k: sum(g[k] for g in first_copies) for k in (RETURNS, ANONYMOUS)})
        quality.note(OUTSIDE_WINDOW, sum(g["rows"] for g in first_copies if not g["_inside"]))
        quality.note(
            ERASED_USER, sum(g["rows"] for g in first_copies if g["_inside"] and g["_gone"])
        )
        rows = sum(g["rows"] for g in first_copies if g["_inside"] and not g["_gone"])
        if rows:
            used[index] = rows
    return marked, used


# --- catalog (mirrors training.data.catalog.build_catalog) -----------------------------


def _catalog(spark: SparkSession, marked: DataFrame, catalog_path: str | None) -> pl.DataFrame:
    """Mirrors `catalog.build_catalog`: one row per item of the returned events; name and
    category path from the latest kept row carrying one (all files, before the cross-file
    check and the window, as the adapters' `items`), price from the latest returned
    purchase with a positive price; "latest" = greatest (timestamp, `_seq`). The optional
    catalog file is read on the driver by `read_catalog_file` and applied by the same
    override as polars."""
    latest = F.struct(F.col(TS), F.col(SEQ))
    bought = F.col(_USED) & (F.col(EVENT) == "purchase") & (F.col(PRICE) > 0)
    # max_by ignores rows whose ordering value is null
    levels = F.max_by(
        F.struct(*CATEGORY_LEVELS), F.when(F.col(CATEGORY_LEVELS[0]).isNotNull(), latest)
    )
    derived = (
        marked.groupBy(ITEM)
        .agg(
            F.max(_USED).alias(_USED),
            F.max_by(NAME, F.when(F.col(NAME).isNotNull(), latest)).alias(NAME),
            levels.alias("_levels"),
            F.max_by(PRICE, F.when(bought, latest)).alias(PRICE),
        )
        .filter(F.col(_USED))
        .select(
            ITEM,
            NAME,
            *(F.col(f"_levels.{c}").alias(c) for c in CATEGORY_LEVELS),
            PRICE,
            F.lit(True).alias(AVAILABLE),
        )
    )
    frame = to_polars(derived)
    if catalog_path is not None:
        with _local_copy(spark, catalog_path) as local:
            frame = override_catalog(frame, read_catalog_file(local))
    return frame.select(pl.col(c).cast(t) for c, t in CATALOG_SCHEMA.items()).sort(ITEM)


# --- column parsers (mirror training.data.adapters.base) --------------------------------

_WHITESPACE: Final = (
    "".join(chr(c) for c in (*range(0x09, 0x0E), 0x20, 0x85, 0xA0, 0x1680, *range(0x2000, 0x200B)))
    + "\u2028\u2029\u202f\u205f\u3000"
)
"""Unicode White_Space, what polars' `str.strip_chars()` (Rust `char::is_whitespace`) strips."""
_FLOAT_TEXT: Final = r"^[+-]?(\d+\.?\d*|\.\d+)([eE][+-]?\d+)?$"
_INT_TEXT: Final = r"^[+-]?\d+$"
_STRPTIME: Final[dict[str, str]] = {
    "Y": "yyyy",
    "m": "M",
    "d": "d",
    "H": "H",
    "M": "m",
    "S": "s",
    "T": "H:m:s",
    "F": "yyyy-M-d",
}
"""strptime directive -> Spark datetime pattern (numeric fields accept 1 or 2 digits, as
chrono does for well-formed values)."""


def _src(name: str) -> Column:
    """A source column by its exact name (dots and spaces are not structure)."""
    return F.col("`" + name.replace("`", "``") + "`")


def _strip(name: str) -> Column:
    return F.btrim(_src(name).cast("string"), F.lit(_WHITESPACE))


def _as_text(name: str) -> Column:
    """Mirrors `base.as_text` and `base.as_id`: stripped; "", "nan", "NaN", "None" -> null."""
    text = _strip(name)
    return F.when(~text.isin(*_NULL_TEXTS), text)


_as_id = _as_text


def _as_float(name: str, dtype: T.DataType) -> Column:
    """Mirrors `base.as_float`: a finite double; unparsable text, NaN, infinity -> null."""
    if isinstance(dtype, T.NumericType):
        number = _src(name).try_cast("double")
    else:
        text = _strip(name)
        number = F.when(text.rlike(_FLOAT_TEXT), text.try_cast("double"))
    return F.when(~F.isnan(number) & (F.abs(number) != float("inf")), number)


def _as_number_id(name: str, dtype: T.DataType) -> Column:
    """Mirrors `base.as_number_id`: 17850.0 or "17850.0" -> "17850"."""
    if isinstance(dtype, T.FloatType | T.DoubleType):
        return _src(name).try_cast("long").cast("string")
    return F.regexp_replace(_as_id(name), r"(?U)^(-?\d+)\.0+$", "$1")


def _as_timestamp(name: str, formats: Sequence[str], dtype: T.DataType) -> Column:
    """Mirrors `base.as_timestamp`: a timestamp column as is (naive read as UTC), text by
    the first matching format; unparsable -> null."""
    if isinstance(dtype, T.TimestampType):
        return _src(name)
    if isinstance(dtype, T.TimestampNTZType):
        return _src(name).cast("timestamp")  # the session time zone is UTC
    text = _strip(name)
    return F.coalesce(*(F.try_to_timestamp(text, F.lit(_spark_pattern(f))) for f in formats))


def _from_epoch(name: str, unit: str) -> Column:
    """Mirrors `base.from_epoch`: integer seconds or milliseconds since 1970 UTC."""
    text = _strip(name)
    number = F.when(text.rlike(_INT_TEXT), text.try_cast("long"))
    factor = 1_000_000 if unit == "s" else 1_000
    return F.timestamp_micros(F.try_multiply(number, F.lit(factor)))


def _spark_pattern(strptime: str) -> str:
    """A strptime format as a Spark datetime pattern; `ValueError` for directives outside
    `_STRPTIME`."""
    parts: list[str] = []
    for literal, directive in re.findall(r"([^%]*)(%.?)?", strptime):
        if literal:
            parts.append("'" + literal.replace("'", "''") + "'")
        if directive == "%%":
            parts.append("'%'")
        elif directive:
            if directive[1:] not in _STRPTIME:
                raise ValueError(
                    f"timestamp format directive {directive!r} is not supported by the spark "
                    f"engine; supported: {['%' + d for d in _STRPTIME]}"
                )
            parts.append(_STRPTIME[directive[1:]])
    return "".join(parts)


def _category_levels(path: Column) -> list[Column]:
    """Mirrors `base.category_levels`: split on ">" if present, else "."; stripped, empty
    levels skipped, the first 4 levels."""
    separator = F.when(path.contains(">"), F.lit(">")).otherwise(F.lit(r"\."))
    parts = F.split(path, separator)
    stripped = F.transform(parts, lambda part: F.btrim(part, F.lit(_WHITESPACE)))
    levels = F.filter(stripped, lambda part: part != "")
    return [F.get(levels, i) for i in range(len(CATEGORY_LEVELS))]


# --- files ----------------------------------------------------------------------------


def _read_table(spark: SparkSession, path: str, *, separator: str = ",") -> DataFrame:
    """Mirrors `base.read_table`: parquet by magic bytes, else CSV with every column text."""
    try:
        if _magic(spark, path) == b"PAR1":
            return spark.read.parquet(path)
        return spark.read.csv(
            path, header=True, sep=separator, quote='"', escape='"', inferSchema=False
        )
    except PySparkException as error:
        reason = str(error).strip().splitlines()[0]
        raise DataFormatError(path, f"not a parseable CSV or parquet file: {reason}") from error


def _magic(spark: SparkSession, path: str) -> bytes:
    """The first 4 bytes of `path`, read through Hadoop's FileSystem (any URI scheme)."""
    try:
        fs, hadoop_file = filesystem(spark, path)
        stream = fs.open(hadoop_file)
    except Exception as error:  # py4j wraps every JVM exception in Py4JJavaError
        message = str(error).strip().splitlines()[0]
        raise DataFormatError(path, f"cannot read the file: {message}") from error
    try:
        head = [stream.read() for _ in range(4)]
    finally:
        stream.close()
    return bytes(b for b in head if b >= 0)


def _sha256(path: str) -> str:
    """`load.file_sha256` for local files and file:// URIs; "" for other schemes."""
    local = local_path(path)
    return "" if local is None else file_sha256(local)


@contextmanager
def _local_copy(spark: SparkSession, path: str) -> Iterator[Path]:
    """A local path for `path`: itself if local, else a temporary copy through Hadoop."""
    local = local_path(path)
    if local is not None:
        yield local
        return
    with tempfile.TemporaryDirectory() as directory:
        target = Path(directory) / Path(urlparse(path).path).name
        fs, source = filesystem(spark, path)
        fs.copyToLocalFile(source, hadoop_path(spark, target.as_uri()))
        yield target


_PLACEHOLDER: Final = "<spark-source>"


@contextmanager
def _naming(path: str) -> Iterator[Path]:
    """Run a polars column check with a placeholder path; its `DataFormatError` is raised
    again naming `path` as given (a URI would not survive `Path`)."""
    try:
        yield Path(_PLACEHOLDER)
    except DataFormatError as error:
        where = _PLACEHOLDER + (f", column {error.column!r}" if error.column is not None else "")
        message = str(error)[len(where) + 2 :]
        raise DataFormatError(path, message, row=error.row, column=error.column) from None


def _empty_like(raw: DataFrame) -> pl.DataFrame:
    """An empty polars frame with `raw`'s column names, for the polars column checks."""
    return pl.DataFrame(schema=dict.fromkeys(raw.columns, pl.String))


def _require_utc(spark: SparkSession) -> None:
    zone = spark.conf.get("spark.sql.session.timeZone")
    if zone not in _UTC_NAMES:
        raise SparkEngineError(
            f"spark.sql.session.timeZone is {zone!r}; the Spark engine needs 'UTC' "
            "(training.spark.session.build_session sets it)"
        )
