"""load_sources: concatenation, cross-file duplicates, the window, and real Online Retail."""

from __future__ import annotations

import hashlib
from datetime import UTC, datetime
from pathlib import Path

import polars as pl
import pytest

from training.data.load import CROSS_FILE_DUPLICATE, load_sources
from training.data.schema import CATALOG_SCHEMA, EVENT_SCHEMA
from training.errors import DataFormatError, EmptyDataError


def split_fixture(fixtures_dir: Path, tmp_path: Path) -> tuple[Path, Path]:
    """Two overlapping exports of the tiny Online Retail file: rows 1-5 and rows 3-12."""
    header, *rows = (fixtures_dir / "online_retail_tiny.csv").read_text().splitlines()
    first, second = tmp_path / "first.csv", tmp_path / "second.csv"
    first.write_text("\n".join([header, *rows[:5]]) + "\n")
    second.write_text("\n".join([header, *rows[2:]]) + "\n")
    return first, second


def test_overlapping_files_count_each_event_once(fixtures_dir: Path, tmp_path: Path) -> None:
    first, second = split_fixture(fixtures_dir, tmp_path)
    whole = load_sources([(fixtures_dir / "online_retail_tiny.csv", "online-retail")])
    both = load_sources([(first, "online-retail"), (second, "online-retail")])
    assert both.events.equals(whole.events)
    later = both.quality.files[1]
    assert later.rejected[CROSS_FILE_DUPLICATE] == 2  # C536379 and 536366
    assert later.rejected["non-product stock code"] == 2  # POST is no duplicate: never kept
    assert later.info == {"returns": 1, "anonymous": 1}  # recounted without the duplicates
    assert both.quality.balanced
    assert [s.rows_used for s in both.sources] == [3, 2]


def test_loaded_data_shape(fixtures_dir: Path) -> None:
    path = fixtures_dir / "online_retail_tiny.csv"
    loaded = load_sources([(path, "online-retail")])
    assert loaded.events.schema == EVENT_SCHEMA
    assert loaded.events["timestamp"].is_sorted()
    assert loaded.catalog.schema == CATALOG_SCHEMA
    assert sorted(loaded.catalog["item_id"]) == sorted(loaded.events["item_id"].unique())
    (source,) = loaded.sources
    assert source.sha256 == hashlib.sha256(path.read_bytes()).hexdigest()
    assert (source.adapter, source.rows_read, source.rows_kept) == ("online-retail", 12, 5)
    assert loaded.window_start is None


def test_window_keeps_the_last_days_and_counts_the_rest(fixtures_dir: Path) -> None:
    path = fixtures_dir / "online_retail_tiny.csv"
    loaded = load_sources([(path, "online-retail")], window_days=1)
    assert loaded.window_start == datetime(2010, 12, 4, 10, 0, tzinfo=UTC)
    assert loaded.events["order_id"].to_list() == ["536368"]
    quality = loaded.quality.files[0]
    assert quality.info["outside window"] == 4
    assert quality.rows_kept == 5 and quality.balanced  # the window is not a defect
    assert loaded.sources[0].rows_used == 1


def test_nothing_to_load_is_an_error(tmp_path: Path, fixtures_dir: Path) -> None:
    with pytest.raises(EmptyDataError):
        load_sources([])
    (tmp_path / "posts.csv").write_text(
        "InvoiceNo,StockCode,Description,Quantity,InvoiceDate,UnitPrice,CustomerID,Country\n"
        "1,POST,POSTAGE,1,2010-12-01 08:34:00,18.00,12583,France\n"
    )
    with pytest.raises(EmptyDataError, match="non-product stock code"):
        load_sources([(tmp_path / "posts.csv", "online-retail")])
    with pytest.raises(DataFormatError, match="unknown source format"):
        load_sources([(fixtures_dir / "groceries_tiny.csv", "grocery")])


def test_mixed_sources_concatenate(fixtures_dir: Path) -> None:
    loaded = load_sources(
        [
            (fixtures_dir / "groceries_tiny.csv", "groceries"),
            (fixtures_dir / "rees46_tiny.csv", "rees46"),
        ]
    )
    assert loaded.events.height == 7 + 5
    assert loaded.quality.rows_read == 10 + 8
    assert loaded.quality.balanced


@pytest.mark.realdata
def test_both_online_retail_years(shared_data: Path) -> None:
    folder = shared_data / "online_retail"
    loaded = load_sources(
        [
            (folder / "online_retail_II_2009-2010.parquet", "online-retail-ii"),
            (folder / "online_retail.parquet", "online-retail"),
        ]
    )
    quality = loaded.quality
    assert quality.rows_read == 525_461 + 541_909
    for file in quality.files:
        assert file.rows_read == file.rows_kept + sum(file.rejected.values())
    assert quality.rows_kept == loaded.events.height
    assert quality.files[1].rejected["exact duplicate line"] == 5_268  # per the data README
    assert quality.files[1].rejected[CROSS_FILE_DUPLICATE] > 0
    # The later file's lines up to the end of the earlier one are all in the earlier one.
    first_end = pl.read_parquet(folder / "online_retail_II_2009-2010.parquet")["InvoiceDate"].max()
    assert first_end == "2010-12-09 20:01:00"
    end = datetime(2010, 12, 9, 20, 1, tzinfo=UTC)
    early = loaded.events.filter(pl.col("timestamp") <= end)
    assert early.height == loaded.sources[0].rows_used
