"""Catalog: latest names, one-path categories, last purchase price, catalog-file overrides."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

import polars as pl
import pytest

from training.data.adapters import ATTRIBUTE_SCHEMA, get_adapter
from training.data.catalog import build_catalog
from training.data.quality import QualityReport
from training.data.schema import CATALOG_SCHEMA, CATEGORY_LEVELS, EVENT_SCHEMA
from training.errors import DataFormatError


def day(n: int) -> datetime:
    return datetime(2024, 1, n, tzinfo=UTC)


def events(*rows: tuple[str, str, int, float | None]) -> pl.DataFrame:
    """(item, event type, day, unit price) rows; other columns null."""
    data = [
        {"item_id": item, "event_type": kind, "timestamp": day(d), "unit_price": price}
        for item, kind, d, price in rows
    ]
    return pl.DataFrame(data, schema=EVENT_SCHEMA)


def attributes(*rows: tuple[str, int, str | None, list[str | None]]) -> pl.DataFrame:
    """(item, day, name, category levels) rows."""
    data = [
        {"item_id": i, "timestamp": day(d), "name": n, **dict(zip(CATEGORY_LEVELS, c, strict=True))}
        for i, d, n, c in rows
    ]
    return pl.DataFrame(data, schema=ATTRIBUTE_SCHEMA)


def as_rows(catalog: pl.DataFrame) -> dict[str, dict[str, object]]:
    return {row["item_id"]: row for row in catalog.iter_rows(named=True)}


def test_latest_values_per_item() -> None:
    log = events(
        ("b", "purchase", 1, 2.0),
        ("b", "purchase", 3, 2.5),
        ("b", "purchase", 4, 0.0),  # not a positive price
        ("b", "return", 5, 9.0),  # not a purchase
        ("a", "view", 2, 7.0),  # never bought
    )
    attrs = attributes(
        ("b", 1, "OLD NAME", [None] * 4),
        ("b", 2, "NEW NAME", ["x", "y", None, None]),
        ("b", 3, None, ["p", None, None, None]),  # a newer, shorter path wins whole
        ("z", 9, "NOT IN EVENTS", [None] * 4),
    )
    catalog = build_catalog(log, attributes=attrs)
    assert catalog.schema == CATALOG_SCHEMA
    assert catalog["item_id"].to_list() == ["a", "b"]
    rows = as_rows(catalog)
    assert rows["b"]["name"] == "NEW NAME"
    assert [rows["b"][f"category_{i}"] for i in range(1, 5)] == ["p", None, None, None]
    assert rows["b"]["unit_price"] == 2.5
    assert rows["a"]["unit_price"] is None and rows["a"]["name"] is None
    assert catalog["available"].to_list() == [True, True]


def test_online_retail_has_names_but_no_invented_categories(fixtures_dir: Path) -> None:
    path = fixtures_dir / "online_retail_tiny.csv"
    frame = get_adapter("online-retail", path)(path, QualityReport())
    rows = as_rows(build_catalog(frame.events, attributes=frame.items))
    assert rows["85123A"]["name"] == "WHITE HANGING HEART T-LIGHT HOLDER"  # latest line
    assert rows["85123A"]["unit_price"] == 2.95
    assert all(row["category_1"] is None for row in rows.values())


def test_catalog_file_overrides_what_events_show(fixtures_dir: Path) -> None:
    path = fixtures_dir / "shop_events.csv"
    frame = get_adapter(f"csv={fixtures_dir / 'shop_events.toml'}", path)(path, QualityReport())
    catalog = build_catalog(
        frame.events, attributes=frame.items, catalog_path=fixtures_dir / "catalog_tiny.csv"
    )
    rows = as_rows(catalog)
    assert set(rows) == {"A1", "A2"}  # A9 is listed but never seen
    a1 = rows["A1"]
    assert (a1["name"], a1["unit_price"], a1["available"]) == ("Red mug XL", 10.0, False)
    assert [a1[f"category_{i}"] for i in range(1, 5)] == ["home", "kitchen", "mugs", "large"]
    a2 = rows["A2"]
    assert (a2["name"], a2["unit_price"], a2["available"]) == ("Blue mug", None, True)


@pytest.mark.parametrize(
    ("text", "row", "column"),
    [
        ("item_id,price\nA1,1.0\nA1,2.0\n", 2, "item_id"),
        ("item_id,price\nA1,cheap\n", 1, "price"),
        ("item_id,available\nA1,maybe\n", 1, "available"),
        ("name\nmug\n", None, "item_id"),
    ],
)
def test_catalog_file_defects_are_errors(
    tmp_path: Path, text: str, row: int | None, column: str
) -> None:
    path = tmp_path / "catalog.csv"
    path.write_text(text)
    with pytest.raises(DataFormatError) as caught:
        build_catalog(events(("A1", "view", 1, None)), catalog_path=path)
    assert (caught.value.row, caught.value.column) == (row, column)
    assert str(path) in str(caught.value)
