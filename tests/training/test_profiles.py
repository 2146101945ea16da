"""Catalog and users parts, and the kept-purchase table they rest on."""

from __future__ import annotations

import dataclasses

import numpy as np
import polars as pl
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from tests.training.fixtures_models import (
    Ev,
    assert_matches_contract,
    at,
    retail_slice,
    tiny_data,
)
from training.data.dataset import TrainingData
from training.data.schema import AVAILABLE, NAME, PRICE, QTY
from training.models.profiles import VALUE, fit_catalog, fit_users, kept_purchases


def _item(data: TrainingData, item_id: str) -> int:
    return int(np.flatnonzero(data.item_ids == item_id)[0])


def _user(data: TrainingData, user_id: str) -> int:
    return int(np.flatnonzero(data.user_ids == user_id)[0])


def test_catalog_fills_missing_names_categories_and_prices() -> None:
    data = tiny_data(
        [Ev("u", "a", 0), Ev("u", "b", 0)],
        categories={"a": ("food", "fruit")},
        extra_items=["c"],
    )
    catalog = data.catalog.with_columns(
        pl.when(pl.col("item_id") == "b").then(None).otherwise(pl.col(NAME)).alias(NAME),
        pl.when(pl.col("item_id") == "c").then(None).otherwise(pl.col(PRICE)).alias(PRICE),
        pl.when(pl.col("item_id") == "c").then(None).otherwise(pl.col(AVAILABLE)).alias(AVAILABLE),
    )
    part = fit_catalog(dataclasses.replace(data, catalog=catalog))

    assert_matches_contract(part)
    assert part.arrays["item_ids"].tolist() == ["a", "b", "c"]
    assert part.arrays["names"].tolist() == ["name of a", "", "name of c"]
    assert part.arrays["categories"].tolist() == [
        ["food", "fruit", "", ""],
        ["", "", "", ""],
        ["", "", "", ""],
    ]
    prices = part.arrays["prices"]
    assert prices[:2].tolist() == [1.0, 1.0] and np.isnan(prices[2])
    assert part.arrays["available"].tolist() == [True, True, True]


def test_users_main_country_is_most_frequent_then_alphabetical() -> None:
    data = tiny_data(
        [
            Ev("u1", "a", 0, country="FR"),
            Ev("u1", "a", 1, country="DE"),
            Ev("u1", "a", 2, country="FR"),
            Ev("u2", "a", 0, country="NL"),
            Ev("u2", "a", 1, country="BE"),
            Ev("u3", "a", 0, country=None),
        ]
    )
    assert fit_users(data).arrays["countries"].tolist() == ["FR", "BE", ""]


def test_history_counts_kept_orders_and_last_purchase_time() -> None:
    data = tiny_data(
        [
            Ev("u", "a", 0),
            Ev("u", "a", 7),
            Ev("u", "b", 1),
            Ev("u", "b", 2, event="return"),  # b fully returned: not in the history
            Ev("u", "c", 0, qty=2),
            Ev("u", "c", 5, qty=1),
            Ev("u", "c", 6, event="return", qty=1),  # cancels the latest basket (day 5)
            Ev("u", "d", 0, event="return", qty=3),  # bought before the data: ignored
            Ev("u", "d", 3),
            Ev("r", "a", 1, event="return"),  # only a return: empty history
        ]
    )
    part = fit_users(data)
    arrays = part.arrays
    assert_matches_contract(part)
    u, r = _user(data, "u"), _user(data, "r")
    row = slice(arrays["history_indptr"][u], arrays["history_indptr"][u + 1])
    expected = {"a": (2, 7), "c": (1, 0), "d": (1, 3)}
    assert arrays["history_items"][row].tolist() == [_item(data, i) for i in sorted(expected)]
    assert arrays["history_orders"][row].tolist() == [expected[i][0] for i in sorted(expected)]
    assert arrays["history_last_ts"][row].tolist() == [
        int(at(expected[i][1], 10).timestamp()) for i in sorted(expected)
    ]
    assert arrays["history_indptr"][r] == arrays["history_indptr"][r + 1]
    assert len(arrays["history_indptr"]) == data.n_users + 1


def test_kept_value_is_scaled_by_the_kept_share_of_the_basket() -> None:
    data = tiny_data(
        [Ev("u", "a", 0, qty=4, price=2.5), Ev("u", "a", 1, event="return", qty=1, price=2.5)]
    )
    kept = kept_purchases(data)
    assert kept[QTY].to_list() == [3.0]
    assert kept[VALUE].to_list() == [7.5]


def test_lines_of_one_basket_collapse_to_one_row() -> None:
    data = tiny_data([Ev("u", "a", 0, qty=1, order="o1"), Ev("u", "a", 0, qty=2, order="o1")])
    kept = kept_purchases(data)
    assert kept.height == 1 and kept[QTY].item() == 3.0


@settings(max_examples=60, deadline=None)
@given(st.lists(st.tuples(st.booleans(), st.integers(1, 5)), min_size=1, max_size=12))
def test_kept_quantity_matches_a_running_stock_level(moves: list[tuple[bool, int]]) -> None:
    """Σ kept = final level of a counter that purchases raise and returns lower (≥ 0)."""
    events = [
        Ev("u", "a", day, event="return" if is_return else "purchase", qty=qty)
        for day, (is_return, qty) in enumerate(moves)
    ]
    level = 0
    for is_return, qty in moves:
        level = max(0, level - qty) if is_return else level + qty
    kept = kept_purchases(tiny_data(events))
    assert kept[QTY].sum() == level
    assert (kept[QTY] > 0).all()


@pytest.mark.realdata
def test_users_on_online_retail_slice() -> None:
    data = retail_slice()
    part = fit_users(data)
    arrays = part.arrays
    assert_matches_contract(part)
    indptr = arrays["history_indptr"]
    assert indptr[0] == 0 and indptr[-1] == len(arrays["history_items"])
    assert np.all(np.diff(indptr) >= 0)
    for u in range(data.n_users):
        assert np.all(np.diff(arrays["history_items"][indptr[u] : indptr[u + 1]]) > 0)
    assert arrays["history_orders"].min() >= 1
    assert (arrays["countries"] != "").all()
    # almost every customer kept something; a typical one bought dozens of items
    assert part.meta["n_users_with_history"] >= 0.95 * data.n_users
    assert 10 <= np.median(np.diff(indptr)) <= 200
    seconds = data.events["timestamp"].dt.epoch("s")
    ts = arrays["history_last_ts"]
    assert seconds.min() <= ts.min() and ts.max() <= seconds.max()
