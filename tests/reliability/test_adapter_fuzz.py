"""Bad input at ingestion: every adapter, the mapping config, the catalog file and the loader
under random and adversarial files (hypothesis).

The contract checked: a file is either read, with every source record counted once as kept
or rejected (`rows_read == kept + rejected`, `rows_read` = the records in the file) and only
plausible events kept, or refused with a `DataFormatError` naming the file (and the column
or row where one is at fault). Nothing else may escape, and junk added to a file never
changes what its valid rows give ("no silently changed result").

`RECSVC_ADAPTER_EXAMPLES` sets the examples per property (default 40; the full run: 300).
"""

from __future__ import annotations

import csv
import gzip
import io
import os
import tempfile
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path

import polars as pl
import pytest
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st

from training.data.adapters import SourceFrame, get_adapter
from training.data.adapters.base import TIME_RANGE_START
from training.data.adapters.mapped import load_mapping
from training.data.catalog import read_catalog_file
from training.data.load import load_sources
from training.data.quality import FileQuality, QualityReport
from training.data.schema import EVENT_SCHEMA, ITEM, PRICE, QTY, TS
from training.errors import DataFormatError, EmptyDataError

EXAMPLES = int(os.environ.get("RECSVC_ADAPTER_EXAMPLES", "40"))
FUZZ = settings(
    max_examples=EXAMPLES,
    deadline=None,
    database=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
)
FIXTURES = Path(__file__).resolve().parents[1] / "fixtures"
MAPPING = FIXTURES / "shop_events.toml"

# --- cell values: each column has valid values and adversarial ones --------------------

TEXT = st.text(st.characters(exclude_categories=["Cs"]), max_size=12)
JUNK = st.sampled_from(
    ["", " ", "nan", "NaN", "None", "null", "-", "\t", "é", "🛒", "0x1F", "1,5", "x" * 5000]
)
NUMBER = st.one_of(
    st.sampled_from(["-2", "0", " 3 ", "1e400", "-1e400", "inf", "-inf", "9" * 400]),
    st.integers(min_value=-(10**30), max_value=10**30).map(str),
    st.floats(allow_nan=True, allow_infinity=True).map(repr),
    JUNK,
)
ID = st.from_regex(r"[A-Za-z0-9]{1,8}", fullmatch=True)
ODD_ID = st.one_of(st.sampled_from(["17850.0", "1e30", "C536379", " a b "]), TEXT, JUNK)
QUANTITY = st.integers(1, 50).map(str)
PRICE_TEXT = st.floats(0.01, 1000).map(lambda v: f"{v:.2f}")
PLAUSIBLE = st.datetimes(datetime(1995, 1, 1), datetime(2025, 12, 31))
IMPLAUSIBLE = st.sampled_from(
    [
        datetime(1, 1, 1),
        datetime(1969, 12, 31, 23, 59),
        datetime(1970, 1, 1),
        datetime(9999, 12, 31),
    ]
)


def times(formats: tuple[str, ...], moments: st.SearchStrategy[datetime]) -> st.SearchStrategy[str]:
    return st.builds(lambda m, f: m.strftime(f), moments, st.sampled_from(formats))


def bad_times(formats: tuple[str, ...]) -> st.SearchStrategy[str]:
    """Out-of-range dates, impossible dates, junk."""
    odd = st.sampled_from(["2010-02-30 10:00:00", "99999-01-01 00:00:00", "12/31/1899 25:00"])
    return st.one_of(times(formats, IMPLAUSIBLE), odd, JUNK)


def epoch_ms(moments: st.SearchStrategy[datetime]) -> st.SearchStrategy[str]:
    return moments.map(lambda m: str(int(m.replace(tzinfo=UTC).timestamp() * 1000)))


BAD_EPOCH = st.one_of(
    epoch_ms(IMPLAUSIBLE),
    st.sampled_from(["99999999999999999999", "-62135596800001", "1.4e12", str(2**63)]),
    NUMBER,
)


@dataclass(frozen=True)
class Column:
    valid: st.SearchStrategy[str]
    bad: st.SearchStrategy[str]


def column(valid: st.SearchStrategy[str], bad: st.SearchStrategy[str] = ODD_ID) -> Column:
    return Column(valid, bad)


# --- formats ----------------------------------------------------------------------------


@dataclass(frozen=True)
class Format:
    """An adapter name and how to write a file it reads."""

    adapter: str
    columns: dict[str, Column]
    separator: str = ","


RETAIL_TIMES = ("%Y-%m-%d %H:%M:%S", "%Y-%m-%d %H:%M", "%m/%d/%Y %H:%M")
RETAIL = {
    "StockCode": column(st.from_regex(r"[0-9]{5}[A-Z]?", fullmatch=True)),  # not "POST" ...
    "Description": column(TEXT, JUNK),
    "Quantity": column(QUANTITY, NUMBER),
    "InvoiceDate": column(times(RETAIL_TIMES, PLAUSIBLE), bad_times(RETAIL_TIMES)),
    "Country": column(TEXT, JUNK),
}
REES_TIMES = ("%Y-%m-%d %H:%M:%S UTC", "%Y-%m-%d %H:%M:%S")
FORMATS = {
    "online-retail": Format(
        "online-retail",
        {
            "InvoiceNo": column(ID),
            **RETAIL,
            "UnitPrice": column(PRICE_TEXT, NUMBER),
            "CustomerID": column(st.integers(10000, 99999).map(lambda n: f"{n}.0"), NUMBER),
        },
    ),
    "online-retail-ii": Format(
        "online-retail-ii",
        {
            "Invoice": column(ID),
            **RETAIL,
            "Price": column(PRICE_TEXT, NUMBER),
            "Customer ID": column(st.integers(10000, 99999).map(str), NUMBER),
        },
    ),
    "rees46": Format(
        "rees46",
        {
            "event_time": column(times(REES_TIMES, PLAUSIBLE), bad_times(REES_TIMES)),
            "event_type": column(
                st.sampled_from(["view", "cart", "purchase"]),
                st.one_of(st.just("remove_from_cart"), JUNK),
            ),
            "product_id": column(ID),
            "category_id": column(ID),
            "category_code": column(
                st.sampled_from(["a.b.c", "a>b", "electronics.audio"]),
                st.sampled_from(["a..b", ".", "", ">>"]),
            ),
            "brand": column(TEXT, JUNK),
            "price": column(PRICE_TEXT, NUMBER),
            "user_id": column(ID),
            "user_session": column(ID),
        },
    ),
    "retailrocket": Format(
        "retailrocket",
        {
            "timestamp": column(epoch_ms(PLAUSIBLE), BAD_EPOCH),
            "visitorid": column(ID),
            "event": column(st.sampled_from(["view", "addtocart", "transaction"]), JUNK),
            "itemid": column(ID),
            "transactionid": column(ID, st.just("")),
        },
    ),
    "mapped": Format(
        f"csv={MAPPING}",
        {
            "when": column(
                times(("%Y-%m-%d %H:%M:%S",), PLAUSIBLE), bad_times(("%Y-%m-%d %H:%M:%S",))
            ),
            "who": column(ID),
            "sku": column(ID),
            "what": column(st.sampled_from(["buy", "look"]), st.one_of(st.just("wish"), JUNK)),
            "n": column(QUANTITY, NUMBER),
            "cost": column(PRICE_TEXT, NUMBER),
            "title": column(TEXT, JUNK),
            "path": column(TEXT, JUNK),
            "store": column(TEXT, JUNK),
        },
        separator=";",
    ),
}
# Parquet columns may come with types the adapter does not expect.
WRONG_TYPES: dict[str, Callable[[str], pl.Expr]] = {
    "int": lambda c: pl.col(c).cast(pl.Int64, strict=False),
    "float": lambda c: pl.col(c).cast(pl.Float64, strict=False),
    "bool": lambda c: pl.col(c).str.len_chars() > 3,
    "datetime": lambda c: pl.col(c).str.strptime(
        pl.Datetime("us"), "%Y-%m-%d %H:%M:%S", strict=False
    ),
    "null": lambda c: pl.lit(None).alias(c),
}


@dataclass(frozen=True)
class Table:
    """Rows to write (header = the format's columns minus `dropped`), and how to write them."""

    fmt: Format
    rows: list[list[str]]
    dropped: str | None = None
    container: str = "csv"  # "csv", "csv.gz" or "parquet"
    retyped: tuple[tuple[str, str], ...] = ()  # (column, key of WRONG_TYPES) for parquet

    @property
    def header(self) -> list[str]:
        return [c for c in self.fmt.columns if c != self.dropped]


def rows(
    fmt: Format, *, min_size: int = 0, valid: bool = False
) -> st.SearchStrategy[list[list[str]]]:
    """Rows of `fmt`: valid cells only, or each cell valid or adversarial."""
    cells = [c.valid if valid else st.one_of(c.valid, c.bad) for c in fmt.columns.values()]
    return st.lists(st.tuples(*cells).map(list), min_size=min_size, max_size=25)


@st.composite
def tables(draw: st.DrawFn, fmt: Format) -> Table:
    # a required column is missing from one file in four
    dropped = draw(st.one_of(*[st.none()] * 3, st.sampled_from(list(fmt.columns))))
    container = draw(st.sampled_from(["csv", "csv", "csv.gz", "parquet"]))
    retyped: tuple[tuple[str, str], ...] = ()
    if container == "parquet":
        changes = st.tuples(st.sampled_from(list(fmt.columns)), st.sampled_from(list(WRONG_TYPES)))
        retyped = tuple(draw(st.lists(changes, max_size=2)))
    return Table(fmt, draw(rows(fmt)), dropped, container, retyped)


def write(table: Table, directory: Path, name: str = "source") -> Path:
    keep = [i for i, c in enumerate(table.fmt.columns) if c != table.dropped]
    body = [[row[i] for i in keep] for row in table.rows]
    if table.container == "parquet":
        frame = pl.DataFrame(body, schema=dict.fromkeys(table.header, pl.String), orient="row")
        frame = frame.with_columns(
            WRONG_TYPES[kind](c) for c, kind in dict(table.retyped).items() if c in frame.columns
        )
        path = directory / f"{name}.parquet"
        frame.write_parquet(path)
        return path
    text = io.StringIO()
    writer = csv.writer(text, delimiter=table.fmt.separator, lineterminator="\n")
    writer.writerows([table.header, *body])
    data = text.getvalue().encode()
    path = directory / f"{name}.{table.container}"
    path.write_bytes(gzip.compress(data) if table.container == "csv.gz" else data)
    return path


@contextmanager
def scratch() -> Iterator[Path]:
    with tempfile.TemporaryDirectory() as directory:
        yield Path(directory)


def read(path: Path, adapter: str) -> tuple[SourceFrame, FileQuality]:
    report = QualityReport()
    frame = get_adapter(adapter, path)(path, report)
    (quality,) = report.files
    return frame, quality


def assert_counted(frame: SourceFrame, quality: FileQuality, records: int) -> None:
    """Every record counted once; kept events have the canonical schema and are plausible."""
    assert quality.rows_read == records
    assert quality.balanced, quality
    assert frame.events.schema == EVENT_SCHEMA
    assert frame.events.height == quality.rows_kept
    events = frame.events
    assert events[ITEM].null_count() == 0 and events[TS].null_count() == 0
    if events.height:
        assert events[TS].min() >= TIME_RANGE_START  # type: ignore[operator]
        assert events[TS].max() <= datetime.now(UTC) + timedelta(days=1)  # type: ignore[operator]
        assert events[QTY].is_finite().all()
        assert events[PRICE].drop_nulls().is_finite().all()


def assert_names_the_fault(error: DataFormatError, path: Path, table: Table) -> None:
    assert str(path) in str(error)
    if table.dropped is not None and table.dropped not in ("Description", "brand", "category_id"):
        assert error.column is not None


# --- properties -------------------------------------------------------------------------


@pytest.mark.parametrize("name", FORMATS)
def test_every_record_is_counted_or_the_file_is_refused_by_name(name: str) -> None:
    fmt = FORMATS[name]

    @FUZZ
    @given(table=tables(fmt))
    def check(table: Table) -> None:
        with scratch() as directory:
            path = write(table, directory)
            try:
                frame, quality = read(path, fmt.adapter)
            except DataFormatError as error:
                assert_names_the_fault(error, path, table)
                return
            assert_counted(frame, quality, len(table.rows))

    check()


@pytest.mark.parametrize("name", FORMATS)
def test_junk_rows_never_change_what_valid_rows_give(name: str) -> None:
    fmt = FORMATS[name]

    @FUZZ
    @given(valid=rows(fmt, min_size=1, valid=True), junk=rows(fmt, min_size=1))
    def check(valid: list[list[str]], junk: list[list[str]]) -> None:
        with scratch() as directory:
            alone, _ = read(write(Table(fmt, valid), directory, "alone"), fmt.adapter)
            assert alone.events.height >= 1
            mixed, quality = read(write(Table(fmt, valid + junk), directory, "mixed"), fmt.adapter)
            assert_counted(mixed, quality, len(valid) + len(junk))
            assert mixed.events.head(alone.events.height).equals(alone.events)

    check()


def test_a_line_of_raw_bytes_is_refused_by_name() -> None:
    formats = st.sampled_from(list(FORMATS.values()))

    @FUZZ
    @given(
        case=formats.flatmap(lambda f: st.tuples(st.just(f), rows(f, min_size=1, valid=True))),
        garbage=st.binary(min_size=1, max_size=64),
    )
    def check(case: tuple[Format, list[list[str]]], garbage: bytes) -> None:
        fmt, valid = case
        with scratch() as directory:
            path = write(Table(fmt, valid), directory)
            with path.open("ab") as handle:
                handle.write(b"\xff\xfe" + garbage + b"\n")  # never valid UTF-8
            with pytest.raises(DataFormatError) as raised:
                read(path, fmt.adapter)
            assert str(path) in str(raised.value)

    check()


@pytest.mark.parametrize("name", FORMATS)
@pytest.mark.parametrize(
    "content",
    [b"", b"\n\n", b"\xef\xbb\xbf", b"PAR1" + b"\0" * 64, gzip.compress(b"a,b\n1,2\n")[:12]],
    ids=["empty", "blank lines", "bom only", "truncated parquet", "truncated gzip"],
)
def test_unreadable_files_are_refused_by_name(name: str, content: bytes) -> None:
    with scratch() as directory:
        path = directory / "broken.csv"
        path.write_bytes(content)
        with pytest.raises(DataFormatError) as raised:
            read(path, FORMATS[name].adapter)
        assert str(path) in str(raised.value)


def test_a_header_only_file_reads_as_nothing_and_loads_as_empty() -> None:
    for fmt in FORMATS.values():
        with scratch() as directory:
            path = write(Table(fmt, []), directory)
            frame, quality = read(path, fmt.adapter)
            assert quality.rows_read == 0 and frame.events.is_empty()
            with pytest.raises(EmptyDataError):
                load_sources([(path, fmt.adapter)])


@pytest.mark.parametrize("name", FORMATS)
@pytest.mark.parametrize("moment", [datetime(1, 1, 1), datetime(1970, 1, 1), datetime(2999, 1, 1)])
def test_out_of_range_timestamps_are_counted_rejections(name: str, moment: datetime) -> None:
    fmt = FORMATS[name]
    time_column = next(c for c in fmt.columns if c in TIME_COLUMNS)
    position = list(fmt.columns).index(time_column)

    @FUZZ
    @given(valid=rows(fmt, min_size=2, valid=True))
    def check(valid: list[list[str]]) -> None:
        valid[-1][position] = TIME_COLUMNS[time_column](moment)
        with scratch() as directory:
            frame, quality = read(write(Table(fmt, valid), directory), fmt.adapter)
        assert quality.rejected.get("timestamp out of range") == 1
        assert_counted(frame, quality, len(valid))

    check()


TIME_COLUMNS: dict[str, Callable[[datetime], str]] = {
    "InvoiceDate": lambda m: m.strftime("%Y-%m-%d %H:%M:%S").rjust(19, "0"),
    "event_time": lambda m: m.strftime("%Y-%m-%d %H:%M:%S UTC").rjust(23, "0"),
    "timestamp": lambda m: str(int(m.replace(tzinfo=UTC).timestamp() * 1000)),
    "when": lambda m: m.strftime("%Y-%m-%d %H:%M:%S").rjust(19, "0"),
}


GROCERY_ENTRY = st.one_of(
    st.sampled_from(["whole milk", " butter ", "", "yogurt", "é"]),
    TEXT.filter(lambda t: "," not in t and "\n" not in t and "\r" not in t),
)


# What the adapters strip (polars `strip_chars`): Unicode White_Space. Python's `str.strip()`
# also strips the ASCII separators \x1c-\x1f, which are not White_Space: a line holding only
# "\x1c" is one (odd) entry to the adapter, not a blank line.
WHITE_SPACE = "".join(
    c for c in map(chr, range(0x3001)) if c.isspace() and c not in "\x1c\x1d\x1e\x1f"
)


def test_groceries_count_every_entry() -> None:
    @FUZZ
    @example(baskets=[["CAFE\x85", "milk"], ["tea\u2028cup"], ["form\x0cfeed"], ["\x1c"]])
    @given(baskets=st.lists(st.lists(GROCERY_ENTRY, min_size=1, max_size=6), max_size=20))
    def check(baskets: list[list[str]]) -> None:
        text = "\n".join(",".join(entries) for entries in baskets)
        lines = text.removesuffix("\n").split("\n") if text else []
        with scratch() as directory:
            path = directory / "groceries.csv"
            path.write_text(text, encoding="utf-8")
            frame, quality = read(path, "groceries")
            blank = [not line.strip(WHITE_SPACE) for line in lines]
            entries = [len(line.split(",")) for line in lines]
            records = sum(1 if empty else n for n, empty in zip(entries, blank, strict=True))
            assert_counted(frame, quality, records)
            assert frame.events["order_id"].n_unique() <= blank.count(False)
            per_order = frame.events.group_by("order_id").agg(
                pl.col(ITEM).n_unique().alias("n"), pl.len()
            )
            assert (per_order["n"] == per_order["len"]).all()  # baskets are sets

    check()


def test_groceries_non_utf8_is_refused_by_name() -> None:
    with scratch() as directory:
        path = directory / "groceries.csv"
        path.write_bytes(b"milk,bread\n\xe9clair\n")
        with pytest.raises(DataFormatError, match="UTF-8") as raised:
            read(path, "groceries")
        assert str(path) in str(raised.value)


def test_loading_a_file_twice_counts_it_once() -> None:
    fmt = FORMATS["online-retail"]

    @FUZZ
    @given(valid=rows(fmt, min_size=1, valid=True), junk=rows(fmt))
    def check(valid: list[list[str]], junk: list[list[str]]) -> None:
        with scratch() as directory:
            first = write(Table(fmt, valid + junk), directory, "first")
            second = write(Table(fmt, valid + junk), directory, "second")
            once = load_sources([(first, fmt.adapter)])
            twice = load_sources([(first, fmt.adapter), (second, fmt.adapter)])
            assert twice.events.equals(once.events)
            assert twice.quality.balanced
            assert twice.quality.files[1].rows_kept == 0

    check()


CATALOG_COLUMNS = {
    "item_id": column(ID),
    "name": column(TEXT, JUNK),
    "category": column(st.sampled_from(["home>kitchen", "a.b", ""]), TEXT),
    "price": column(PRICE_TEXT, NUMBER),
    "available": column(st.sampled_from(["true", "no", "1", "0", "Y", ""]), JUNK),
}


def test_catalog_files_are_read_or_refused_naming_row_and_column() -> None:
    fmt = Format("catalog", CATALOG_COLUMNS)

    @FUZZ
    @given(table=tables(fmt))
    def check(table: Table) -> None:
        with scratch() as directory:
            path = write(table, directory)
            try:
                catalog = read_catalog_file(path)
            except DataFormatError as error:
                assert str(path) in str(error)
                assert error.column is not None
                return
            assert catalog.height == len(table.rows)
            assert catalog[ITEM].null_count() == 0 and catalog[ITEM].is_unique().all()
            assert catalog[PRICE].drop_nulls().is_finite().all()

    check()


TOML_VALUE = st.one_of(
    st.sampled_from(
        ['"sku"', '"time"', '"purchase"', '"epoch_ms"', "1", "2.5", "true", '""', "[]"]
    ),
    TEXT.map(lambda t: '"' + t.replace("\\", "\\\\").replace('"', '\\"') + '"'),
)
TOML_KEY = st.sampled_from(
    [
        "item_id",
        "timestamp",
        "event_type",
        "user_id",
        "quantity",
        "unit_price",
        "name",
        "category",
        "country",
        "bogus",
        "buy",
    ]
)


@st.composite
def mapping_configs(draw: st.DrawFn) -> str:
    lines: list[str] = []
    for key in draw(
        st.lists(st.sampled_from(["timestamp_format", "separator", "surprise"]), unique=True)
    ):
        lines.append(f"{key} = {draw(TOML_VALUE)}")
    for table in draw(
        st.lists(st.sampled_from(["columns", "constants", "event_types", "extra"]), unique=True)
    ):
        lines.append(f"[{table}]")
        for key in draw(st.lists(TOML_KEY, unique=True, max_size=5)):
            lines.append(f"{key} = {draw(TOML_VALUE)}")
    if draw(st.booleans()):
        lines.append(draw(TEXT))
    return "\n".join(lines)


def test_mapping_configs_are_read_or_refused_naming_the_key() -> None:
    @FUZZ
    @given(config=mapping_configs())
    def check(config: str) -> None:
        with scratch() as directory:
            path = directory / "mapping.toml"
            path.write_text(config, encoding="utf-8")
            try:
                mapping = load_mapping(path)
            except DataFormatError as error:
                assert str(path) in str(error)
                return
            assert {"item_id", "timestamp"} <= set(mapping.columns)

    check()
