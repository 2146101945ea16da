"""Spark ingestion equals the polars engine: events, quality report, sources, catalog.

Every comparison loads the same files with `load_sources` (polars) and
`load_sources_spark`; the events must be equal row for row once the Spark frame is
ordered by (timestamp, `_seq`), which also proves `_seq` reproduces the polars tiebreak.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from datetime import datetime, timedelta
from pathlib import Path

import polars as pl
import pyarrow.parquet as pq
import pytest
from pyspark.sql import SparkSession
from pyspark.sql import types as T  # noqa: N812

from training.data.load import CROSS_FILE_DUPLICATE, LoadedData, load_sources
from training.data.schema import EVENT, EVENT_SCHEMA, HOUR, TS, WEEKDAY
from training.errors import DataFormatError
from training.spark.ingest import SEQ, SPARK_TYPES, SparkLoaded, load_sources_spark
from training.spark.session import SparkEngineError

pytestmark = [pytest.mark.spark]

HEADER = "InvoiceNo,StockCode,Description,Quantity,InvoiceDate,UnitPrice,CustomerID,Country"
EDGE_ROWS = [
    "536380, 22423 ,REGENCY CAKESTAND,2,12/9/2010 9:00,12.75,17850.0,United Kingdom",
    "536381,22423,OLD,1,1985-01-01 10:00:00,12.75,13047,United Kingdom",
    "536382,22424,FUTURE,1,2999-01-01 10:00:00,1.0,13047,United Kingdom",
    "536383,22425,NAN PRICE,1,2010-12-09 10:00:00,nan,13047,United Kingdom",
    "536384,22426,NEGATIVE,-3,2010-12-09 10:05:00,2.10,13047,United Kingdom",
    "C536385,22427,CANCELLED,3,2010-12-09 10:06:00,2.10,,United Kingdom",
    "536386,22428,,2,2010-12-09 10:07,1.50,12583,France",
    "536387,22429,FREE,1,2010-12-09 10:08:00,0,12583,France",
    "536388,ADJUST2,ADJUSTMENT,1,2010-12-09 10:09:00,5,12583,France",
    "536389,22430,NO QUANTITY,,2010-12-09 10:10:00,5,12583,France",
    "536390,22431,JAVA FLOAT,1e1,2010-12-09 10:11:00,1.5d,12583,France",
    "536391,22432,TIE A,1,2010-12-09 10:11:00,2.0,12583,France",
    "536391,22432,TIE B,1,2010-12-09 10:11:00,2.5,12583,France",
]
"""Whitespace, the UCI time format, out-of-range times, NaN and Java-only number texts,
returns both ways, a free purchase, a non-product code, and a same-time tie on one item."""


def load_both(
    spark: SparkSession, sources: list[tuple[Path | str, str]], **options: object
) -> tuple[SparkLoaded, LoadedData]:
    catalog = options.pop("catalog_path", None)
    on_spark = load_sources_spark(
        spark,
        [(str(path), name) for path, name in sources],
        catalog_path=None if catalog is None else str(catalog),
        **options,  # type: ignore[arg-type]
    )
    on_polars = load_sources(
        [(_local(path), name) for path, name in sources],
        catalog_path=None if catalog is None else Path(str(catalog)),
        **options,  # type: ignore[arg-type]
    )
    return on_spark, on_polars


def _local(path: Path | str) -> Path:
    return Path(str(path).removeprefix("file://"))


def assert_same(on_spark: SparkLoaded, on_polars: LoadedData) -> None:
    """Equal events (in order), quality report, sources, catalog and window."""
    assert on_spark.events.columns == [*EVENT_SCHEMA, SEQ]
    types = {field.name: field.dataType for field in on_spark.events.schema.fields}
    assert types == {**SPARK_TYPES, SEQ: T.LongType()}
    events = pl.from_arrow(on_spark.events.toArrow())
    assert isinstance(events, pl.DataFrame)
    ordered = events.sort(TS, SEQ).drop(SEQ)
    expected = on_polars.events.with_columns(
        pl.col(EVENT).cast(pl.String), pl.col(HOUR, WEEKDAY).cast(pl.Int32)
    )
    assert ordered.equals(expected)
    assert on_spark.quality.to_dict() == on_polars.quality.to_dict()
    assert on_spark.sources == on_polars.sources
    assert on_spark.catalog.equals(on_polars.catalog)
    assert on_spark.window_start == on_polars.window_start


@pytest.fixture
def small_splits() -> Iterator[None]:
    """Read files in many small partitions, so `_seq` must order rows across splits."""
    spark = SparkSession.getActiveSession()
    assert spark is not None
    keys = ("spark.sql.files.maxPartitionBytes", "spark.sql.files.openCostInBytes")
    before = {key: spark.conf.get(key) for key in keys}
    for key in keys:
        spark.conf.set(key, "65536")
    yield
    for key, value in before.items():
        if value is None:
            spark.conf.unset(key)
        else:
            spark.conf.set(key, value)


# --- hand-made files ----------------------------------------------------------------------


def test_overlap_window_erasure_catalog_and_edge_rows(
    spark: SparkSession, fixtures_dir: Path, tmp_path: Path
) -> None:
    header, *rows = (fixtures_dir / "online_retail_tiny.csv").read_text().splitlines()
    first, second, edges = tmp_path / "first.csv", tmp_path / "second.csv", tmp_path / "e.csv"
    first.write_text("\n".join([header, *rows[:5]]) + "\n")
    second.write_text("\n".join([header, *rows[2:]]) + "\n")
    edges.write_text("\n".join([HEADER, *EDGE_ROWS]) + "\n")
    sources: list[tuple[Path | str, str]] = [
        (first, "online-retail"),
        (second, "online-retail-ii"),
        (edges, "online-retail"),
    ]
    on_spark, on_polars = load_both(
        spark,
        sources,
        window_days=5,
        erased_users=frozenset({"13047"}),
        catalog_path=fixtures_dir / "catalog_tiny.csv",
    )
    assert_same(on_spark, on_polars)
    files = on_polars.quality.files
    assert files[1].rejected[CROSS_FILE_DUPLICATE] == 2
    assert files[2].rejected["timestamp out of range"] == 2
    assert files[0].info["outside window"] == 3
    assert files[2].info["erased user (privacy request)"] == 1
    assert on_polars.catalog.filter(pl.col("item_id") == "A1").is_empty()  # not in events
    tie = on_polars.catalog.filter(pl.col("item_id") == "22432").row(0, named=True)
    assert (tie["name"], tie["unit_price"]) == ("TIE B", 2.5)  # the later row of the tie


def test_file_uri_and_mapped_csv(spark: SparkSession, fixtures_dir: Path) -> None:
    """A file:// URI reads through Spark's filesystem layer; the sha256 is still kept."""
    path = fixtures_dir / "shop_events.csv"
    spec = f"csv={fixtures_dir / 'shop_events.toml'}"
    on_spark = load_sources_spark(spark, [(path.as_uri(), spec)])
    expected = load_sources([(path, spec)])
    (source,) = on_spark.sources
    assert source.path == path.as_uri() and source.sha256 == expected.sources[0].sha256
    as_given = on_spark.quality.to_dict()
    as_given["files"][0]["path"] = str(path)
    assert as_given == expected.quality.to_dict()
    assert on_spark.catalog.equals(expected.catalog)  # categories from the mapped path
    assert on_spark.catalog["category_3"].to_list() == ["mugs", "mugs"]


# --- errors -------------------------------------------------------------------------------


def test_unsupported_adapter_is_named(spark: SparkSession, fixtures_dir: Path) -> None:
    path = str(fixtures_dir / "groceries_tiny.csv")
    with pytest.raises(DataFormatError) as caught:
        load_sources_spark(spark, [(path, "groceries")])
    message = str(caught.value)
    assert message.startswith(path)
    assert "format 'groceries' is not supported by the spark engine; supported: [" in message
    assert "'online-retail-ii'" in message and "csv=<mapping.toml>" in message


def test_format_errors_equal_polars(spark: SparkSession, tmp_path: Path) -> None:
    never = tmp_path / "never.csv"
    never.write_text(
        f"{HEADER}\n"
        "1,A,x,1,2010-12-01 08:00:00,oops,1,UK\n"
        "2,B,y,1,2010-12-01 08:00:00,,1,UK\n"
        "3,C,z,1,2010-12-01 08:00:00,free,1,UK\n"
    )
    missing = tmp_path / "missing.csv"
    missing.write_text(HEADER.replace("Quantity", "Qty") + "\n1,A,x,1,2010-12-01,1,1,UK\n")
    expected = {
        never: "row 1, column 'UnitPrice': no value parses as unit_price (first value 'oops')",
        missing: "column 'Quantity': required column is missing",
    }
    for path, message in expected.items():
        with pytest.raises(DataFormatError) as on_spark:
            load_sources_spark(spark, [(str(path), "online-retail")])
        with pytest.raises(DataFormatError) as on_polars:
            load_sources([(path, "online-retail")])
        assert str(on_spark.value) == str(on_polars.value)
        assert message in str(on_spark.value)
    with pytest.raises(DataFormatError, match="cannot read the file"):
        load_sources_spark(spark, [(str(tmp_path / "absent.csv"), "online-retail")])


def test_error_for_a_column_where_nothing_parses(spark: SparkSession, tmp_path: Path) -> None:
    path = tmp_path / "dates.csv"
    path.write_text(f"{HEADER}\n1,A,x,1,soon,1.0,1,UK\n1,A,x,1,soon,1.0,1,UK\n2,B,y,1,,2,1,UK\n")
    with pytest.raises(DataFormatError) as caught:
        load_sources_spark(spark, [(str(path), "online-retail")])
    assert (caught.value.row, caught.value.column) == (1, "InvoiceDate")
    assert re.search(r"no value parses as timestamp \(first value 'soon'\)", str(caught.value))


def test_spark_only_limits(spark: SparkSession, fixtures_dir: Path, tmp_path: Path) -> None:
    config = tmp_path / "twelve_hours.toml"
    config.write_text(
        'timestamp_format = "%d.%m.%Y %I:%M %p"\n'
        '[columns]\nitem_id = "sku"\ntimestamp = "when"\n[constants]\nevent_type = "view"\n'
    )
    events = tmp_path / "events.csv"
    events.write_text("sku,when\nA,01.02.2024 10:00 AM\n")
    with pytest.raises(DataFormatError, match="'%I' is not supported by the spark engine"):
        load_sources_spark(spark, [(str(events), f"csv={config}")])
    zone = spark.conf.get("spark.sql.session.timeZone")
    spark.conf.set("spark.sql.session.timeZone", "Europe/Berlin")
    try:
        with pytest.raises(SparkEngineError, match="needs 'UTC'"):
            load_sources_spark(
                spark, [(str(fixtures_dir / "online_retail_tiny.csv"), "online-retail")]
            )
    finally:
        spark.conf.set("spark.sql.session.timeZone", zone or "UTC")


# --- real data ----------------------------------------------------------------------------


@pytest.mark.realdata
@pytest.mark.usefixtures("small_splits")
def test_online_retail_slices(spark: SparkSession, shared_data: Path, tmp_path: Path) -> None:
    """The last rows of 2009-2010 and the first of 2010-2011 overlap in December 2010
    (cross-file duplicates); the third file, later rows of 2010-2011, is a gzipped CSV in
    the UCI text format ("12/10/2010 9:05", customer "17850.0")."""
    folder = shared_data / "online_retail"
    older = pl.read_parquet(folder / "online_retail_II_2009-2010.parquet").tail(12_000)
    newer = pl.read_parquet(folder / "online_retail.parquet")
    older.write_parquet(tmp_path / "older.parquet", row_group_size=2_000)
    newer.head(15_000).write_parquet(tmp_path / "newer.parquet", row_group_size=2_000)
    after_older = newer.filter(pl.col("InvoiceDate") >= "2010-12-10").head(4_000)
    uci = after_older.with_columns(
        pl.col("InvoiceDate").str.to_datetime().dt.strftime("%-m/%-d/%Y %-H:%M"),
        pl.col("CustomerID").cast(pl.String),  # "17850.0"
    )
    uci.write_csv(tmp_path / "uci.csv.gz", compression="gzip")
    assert spark.read.parquet(str(tmp_path / "newer.parquet")).rdd.getNumPartitions() > 1
    sources: list[tuple[Path | str, str]] = [
        (tmp_path / "older.parquet", "online-retail-ii"),
        (tmp_path / "newer.parquet", "online-retail"),
        (tmp_path / "uci.csv.gz", "online-retail"),
    ]
    on_spark, on_polars = load_both(spark, sources, window_days=30)
    assert_same(on_spark, on_polars)
    assert on_polars.quality.files[1].rejected[CROSS_FILE_DUPLICATE] > 1_000
    uci_quality = on_polars.quality.files[2]
    assert uci_quality.rows_read == 4_000 and uci_quality.rows_kept > 3_000


@pytest.mark.realdata
def test_complete_journey_through_its_mapping(
    spark: SparkSession, shared_data: Path, tmp_path: Path
) -> None:
    """Two slices: INT96 times as in the source file (an instant to Spark), and naive
    microseconds (timestamp_ntz to Spark). Spark 4.3 cannot read nanosecond parquet times."""
    transactions = pl.read_parquet(shared_data / "complete_journey" / "transactions.parquet")
    int96, micros = tmp_path / "int96.parquet", tmp_path / "micros.parquet"
    pq.write_table(transactions.head(4_000).to_arrow(), int96, use_deprecated_int96_timestamps=True)
    later = transactions.slice(4_000, 4_000)
    later.with_columns(pl.col("transaction_timestamp").dt.cast_time_unit("us")).write_parquet(
        micros
    )
    config = Path(__file__).resolve().parents[3] / "configs" / "complete_journey.toml"
    spec = f"csv={config}"
    on_spark, on_polars = load_both(spark, [(int96, spec), (micros, spec)], window_days=60)
    assert_same(on_spark, on_polars)
    latest = on_polars.events["timestamp"].max()
    assert isinstance(latest, datetime)
    assert on_spark.window_start == latest - timedelta(days=60)
