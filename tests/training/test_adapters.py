"""Source adapters: hand-made fixtures with known answers, format errors, real-data counts."""

from __future__ import annotations

import csv
import gzip
import re
from collections import Counter
from datetime import UTC, datetime
from pathlib import Path

import polars as pl
import pytest

from training.data.adapters import ADAPTERS, SourceFrame, get_adapter
from training.data.adapters.groceries import GROCERIES_TIME
from training.data.quality import FileQuality, QualityReport
from training.data.schema import EVENT_SCHEMA
from training.errors import DataFormatError


def read(path: Path, name: str) -> tuple[SourceFrame, FileQuality]:
    report = QualityReport()
    frame = get_adapter(name, path)(path, report)
    (quality,) = report.files
    assert frame.events.schema == EVENT_SCHEMA
    assert quality.balanced and quality.rows_kept == frame.events.height
    return frame, quality


def by_order(events: pl.DataFrame) -> dict[str, dict[str, object]]:
    return {row["order_id"]: row for row in events.iter_rows(named=True)}


# --- Online Retail ------------------------------------------------------------------------


def test_online_retail_maps_lines_and_counts_every_rejection(fixtures_dir: Path) -> None:
    frame, quality = read(fixtures_dir / "online_retail_tiny.csv", "online-retail")
    assert quality.rows_read == 12
    assert quality.rejected == {
        "exact duplicate line": 1,
        "non-product stock code": 2,  # POST, gift_0001_10
        "non-positive price on a purchase": 1,
        "missing item_id": 1,
        "unparsable timestamp": 1,
        "unparsable quantity": 1,
    }
    assert quality.info == {"returns": 2, "anonymous": 2}
    rows = by_order(frame.events)
    assert set(rows) == {"536365", "C536379", "536366", "536368", "536372"}
    assert rows["536365"]["user_id"] == "17850"  # float id without ".0"
    assert rows["536365"]["event_type"] == "purchase"
    assert (rows["536365"]["hour"], rows["536365"]["weekday"]) == (8, 3)  # Wed 1 Dec 2010
    assert rows["C536379"]["event_type"] == "return"
    assert rows["C536379"]["quantity"] == -2.0
    assert rows["536368"]["event_type"] == "return"  # quantity <= 0 without "C"
    assert rows["536366"]["user_id"] is None  # anonymous, kept for baskets
    assert rows["536372"]["item_id"] == "85123A"  # upper-cased stock code
    assert rows["536372"]["timestamp"] == datetime(2010, 12, 3, 10, 0, tzinfo=UTC)
    assert rows["536365"]["country"] == "United Kingdom"


def test_online_retail_names_come_from_priced_lines_only(fixtures_dir: Path) -> None:
    frame, _ = read(fixtures_dir / "online_retail_tiny.csv", "online-retail")
    names = dict(frame.items.select("item_id", "name").unique().iter_rows())
    assert "22960" not in names  # its only line says "damaged" at price 0
    assert names["22633"] == "HAND WARMER UNION JACK"


def test_online_retail_ii_spelling_in_parquet_and_gzipped_csv(tmp_path: Path) -> None:
    lines = pl.DataFrame(
        {
            "Invoice": ["489434", "C489449"],
            "StockCode": ["85048", "22087"],
            "Description": ["15CM CHRISTMAS GLASS BALL", "PAPER BUNTING WHITE LACE"],
            "Quantity": [12, 12],  # a cancellation with a positive quantity
            "InvoiceDate": ["2009-12-01 07:45:00", "2009-12-01 10:33:00"],
            "Price": [6.95, 2.95],
            "Customer ID": [13085, None],
            "Country": ["United Kingdom", "Australia"],
        }
    )
    lines.write_parquet(tmp_path / "ii.parquet")
    (tmp_path / "ii.csv.gz").write_bytes(gzip.compress(lines.write_csv().encode()))
    from_parquet, _ = read(tmp_path / "ii.parquet", "online-retail-ii")
    from_csv, _ = read(tmp_path / "ii.csv.gz", "online-retail")
    assert from_parquet.events.equals(from_csv.events)
    rows = by_order(from_parquet.events)
    assert rows["489434"]["user_id"] == "13085"
    assert rows["C489449"]["event_type"] == "return"
    assert rows["C489449"]["quantity"] == -12.0


def test_nan_numbers_are_unparsable_not_purchases(tmp_path: Path) -> None:
    lines = pl.DataFrame(
        {
            "Invoice": ["1", "2"],
            "StockCode": ["85048", "85049"],
            "Description": ["A", "B"],
            "Quantity": [1.0, float("nan")],
            "InvoiceDate": ["2009-12-01 07:45:00"] * 2,
            "Price": [float("nan"), 1.0],
            "Customer ID": [1.0, 2.0],
            "Country": ["United Kingdom"] * 2,
        }
    )
    lines.write_parquet(tmp_path / "nan.parquet")
    frame, quality = read(tmp_path / "nan.parquet", "online-retail-ii")
    assert frame.events.is_empty()
    assert quality.rejected == {"unparsable quantity": 1, "unparsable unit_price": 1}


# --- other formats ------------------------------------------------------------------------


def test_groceries_one_order_per_line_with_fixed_time(fixtures_dir: Path) -> None:
    frame, quality = read(fixtures_dir / "groceries_tiny.csv", "groceries")
    assert quality.rejected == {"empty line": 1, "missing item_id": 1, "item repeated in basket": 1}
    baskets = frame.events.group_by("order_id").agg(pl.col("item_id").sort())
    assert dict(baskets.iter_rows()) == {
        "g1": ["citrus fruit", "margarine"],
        "g2": ["whole milk"],
        "g4": ["coffee", "yogurt"],
        "g5": ["butter", "whole milk"],
    }
    assert frame.events["timestamp"].unique().to_list() == [GROCERIES_TIME]
    assert frame.events["user_id"].null_count() == frame.events.height
    assert set(frame.events["quantity"]) == {1.0}


def test_rees46_event_mapping_sessions_and_categories(fixtures_dir: Path) -> None:
    frame, quality = read(fixtures_dir / "rees46_tiny.csv", "rees46")
    assert quality.rejected == {
        "exact duplicate line": 1,
        "unsupported event type": 1,  # remove_from_cart
        "unparsable timestamp": 1,
    }
    assert frame.events["event_type"].to_list() == ["view", "bid", "purchase", "view", "view"]
    assert frame.events["order_id"].null_count() == 5
    assert frame.events["session_id"].to_list() == ["s1", "s1", "s1", "s2", "s3"]
    levels = frame.items.filter(pl.col("item_id") == "3900821").row(0, named=True)
    assert [levels[f"category_{i}"] for i in range(1, 5)] == [
        "appliances",
        "environment",
        "water_heater",
        "tank",
    ]


def test_retailrocket_transactions_carry_their_order(fixtures_dir: Path) -> None:
    frame, quality = read(fixtures_dir / "retailrocket_tiny.csv", "retailrocket")
    assert quality.rejected == {
        "exact duplicate line": 1,
        "unparsable timestamp": 1,
        "unsupported event type": 1,
        "missing item_id": 1,
    }
    assert frame.events["event_type"].to_list() == ["view", "view", "bid", "purchase"]
    assert frame.events["order_id"].to_list() == [None, None, None, "11117"]
    first = frame.events.row(0, named=True)
    assert first["timestamp"] == datetime(2015, 6, 2, 5, 2, 12, 117000, tzinfo=UTC)


def test_mapped_csv_follows_its_config(fixtures_dir: Path) -> None:
    spec = f"csv={fixtures_dir / 'shop_events.toml'}"
    frame, quality = read(fixtures_dir / "shop_events.csv", spec)
    assert quality.rejected == {"unsupported event type": 1, "unparsable timestamp": 1}
    events = frame.events
    assert events["event_type"].to_list() == ["purchase", "view", "purchase"]
    assert events["user_id"].to_list() == ["u1", "u1", None]
    assert events["channel"].to_list() == ["web", "web", "app"]
    assert set(events["country"]) == {"DE"}  # a constant
    assert events["unit_price"].to_list() == [9.5, None, 9.0]
    assert frame.items.row(0, named=True)["category_3"] == "mugs"


# --- errors -------------------------------------------------------------------------------


def error_for(path: Path, name: str) -> DataFormatError:
    with pytest.raises(DataFormatError) as caught:
        get_adapter(name, path)(path, QualityReport())
    assert str(path) in str(caught.value)
    return caught.value


def test_missing_column_is_named(tmp_path: Path, fixtures_dir: Path) -> None:
    text = (fixtures_dir / "online_retail_tiny.csv").read_text().replace("Quantity", "Qty")
    (tmp_path / "retail.csv").write_text(text)
    error = error_for(tmp_path / "retail.csv", "online-retail")
    assert error.column == "Quantity" and "'Quantity'" in str(error)


def test_column_where_nothing_parses_names_first_row(tmp_path: Path) -> None:
    (tmp_path / "r.csv").write_text(
        "timestamp,visitorid,event,itemid,transactionid\n"
        "2015-06-02,1,view,7,\n"
        "2015-06-03,2,view,8,\n"
    )
    error = error_for(tmp_path / "r.csv", "retailrocket")
    assert (error.row, error.column) == (1, "timestamp")
    assert re.search(r"row 1, column 'timestamp'", str(error))


def test_unparseable_file_and_unknown_format(tmp_path: Path) -> None:
    (tmp_path / "ragged.csv").write_text('a,b\n1,"2\n3,4,5,6\n')
    assert "not a parseable CSV" in str(error_for(tmp_path / "ragged.csv", "rees46"))
    (tmp_path / "bytes.bin").write_bytes(b"PAR1\x00\x01garbage")
    assert "parquet" in str(error_for(tmp_path / "bytes.bin", "rees46"))
    with pytest.raises(DataFormatError, match="unknown source format 'nope'"):
        get_adapter("nope", tmp_path / "x.csv")
    assert "missing.csv" in str(error_for(tmp_path / "missing.csv", "groceries"))


def test_mapping_config_errors_name_the_config_and_key(tmp_path: Path) -> None:
    config = tmp_path / "bad.toml"
    base = '[columns]\nitem_id = "sku"\ntimestamp = "t"\n'
    cases = {
        base + 'price = "cost"\n': "price",  # not a canonical column
        base: "event_type",  # neither a column nor a constant
        base + 'event_type = "e"\n[event_types]\nbuy = "sale"\n': "buy",
        base + 'event_type = "e"\n[constants]\nquantity = "x"\n': "quantity",
    }
    for text, key in cases.items():
        config.write_text(text)
        with pytest.raises(DataFormatError) as caught:
            get_adapter(f"csv={config}", tmp_path / "events.csv")
        assert caught.value.column == key and str(config) in str(caught.value)


def test_registry_has_every_named_format() -> None:
    assert set(ADAPTERS) == {
        "online-retail",
        "online-retail-ii",
        "groceries",
        "rees46",
        "retailrocket",
    }


# --- real data ----------------------------------------------------------------------------


@pytest.mark.realdata
def test_online_retail_csv_slice(shared_data: Path) -> None:
    frame, quality = read(
        shared_data / "online_retail" / "online_retail_first50k.csv.gz", "online-retail"
    )
    assert quality.rows_read == 49_999
    events = frame.events
    assert events.filter(pl.col("order_id").str.starts_with("C"))[
        "event_type"
    ].unique().to_list() == ["return"]
    assert (events.filter(pl.col("event_type") == "purchase")["quantity"] > 0).all()
    assert (events.filter(pl.col("event_type") == "return")["quantity"] <= 0).all()
    assert not events["user_id"].drop_nulls().str.contains(r"\.").any()
    assert events["item_id"].is_in(["POST", "M", "D", "DOT", "BANK CHARGES"]).sum() == 0


@pytest.mark.realdata
def test_groceries_counts(shared_data: Path) -> None:
    frame, quality = read(shared_data / "groceries" / "groceries.csv", "groceries")
    assert frame.events["order_id"].n_unique() == 9_835
    assert frame.events["item_id"].n_unique() == 169
    assert quality.rejected == {}


@pytest.mark.realdata
def test_rees46_event_types_match_the_raw_file(shared_data: Path) -> None:
    path = shared_data / "rees46" / "2019-Oct_head.csv"
    with path.open(newline="") as handle:
        lines = list(csv.reader(handle))[1:]
    distinct = list(dict.fromkeys(tuple(line) for line in lines))
    raw_types = Counter(line[1] for line in distinct)
    frame, quality = read(path, "rees46")
    assert quality.rejected.get("exact duplicate line", 0) == len(lines) - len(distinct)
    kept = Counter(frame.events["event_type"].cast(pl.String))
    assert kept == {
        "view": raw_types["view"],
        "bid": raw_types["cart"],
        "purchase": raw_types["purchase"],
    }
    others = sum(n for t, n in raw_types.items() if t not in ("view", "cart", "purchase"))
    assert quality.rejected.get("unsupported event type", 0) == others
