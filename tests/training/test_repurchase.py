"""Repurchase intervals and repeat rates per item and per level-1 category."""

from __future__ import annotations

import numpy as np
import pytest
from numpy.typing import NDArray

from tests.training.fixtures_models import Ev, assert_matches_contract, retail_slice, tiny_data
from training.data.dataset import TrainingData
from training.errors import ModelFitError
from training.models import repurchase
from training.models.repurchase import RepurchaseConfig


def _buys(user: str, item: str, *days: float) -> list[Ev]:
    return [Ev(user, item, day) for day in days]


def _by_item(data: TrainingData, array: NDArray[np.float64]) -> dict[str, float]:
    return dict(zip(data.item_ids.tolist(), array.tolist(), strict=True))


@pytest.fixture(scope="module")
def shop() -> TrainingData:
    """a: u1 on days 0, 10, 20 and u2 on 0, 30 → intervals 10, 10, 30.
    b: u1 once; u2 twice half a day apart (below the 1-day gap) → no interval.
    c: never bought.
    """
    events = [
        *_buys("u1", "a", 0, 10, 20),
        *_buys("u2", "a", 0, 30),
        *_buys("u1", "b", 5),
        *_buys("u2", "b", 5, 5.5),
    ]
    return tiny_data(events, extra_items=["c"])


def test_item_interval_is_the_pooled_median(shop: TrainingData) -> None:
    part = repurchase.fit(shop, RepurchaseConfig(min_repeats=2))
    assert_matches_contract(part)
    intervals = _by_item(shop, part.arrays["item_interval_days"])
    assert intervals["a"] == pytest.approx(10.0)
    assert np.isnan(intervals["b"]) and np.isnan(intervals["c"])
    assert part.meta["n_intervals"] == 3
    assert part.meta["n_items_with_interval"] == 1
    assert part.meta["global_median_interval_days"] == pytest.approx(10.0)


def test_min_repeats_hides_thin_items(shop: TrainingData) -> None:
    part = repurchase.fit(shop, RepurchaseConfig(min_repeats=4))
    assert np.isnan(part.arrays["item_interval_days"]).all()
    assert part.meta["median_item_interval_days"] is None


def test_repeat_rate_is_share_of_buyers_with_two_orders(shop: TrainingData) -> None:
    rates = _by_item(shop, repurchase.fit(shop, RepurchaseConfig()).arrays["item_repeat_rate"])
    assert rates["a"] == 1.0 and rates["b"] == 0.5 and np.isnan(rates["c"])


def test_fully_returned_basket_is_not_a_repeat() -> None:
    events = [*_buys("u", "a", 0, 10, 20), Ev("u", "a", 21, event="return")]
    part = repurchase.fit(tiny_data(events), RepurchaseConfig(min_repeats=1))
    assert part.arrays["item_interval_days"].tolist() == [10.0]
    assert part.meta["n_intervals"] == 1


def test_category_interval_pools_its_items() -> None:
    events = [
        *_buys("u1", "milk", 0, 7, 14),  # 7, 7
        *_buys("u2", "bread", 0, 3),  # 3
        *_buys("u1", "ball", 0, 100),  # 100, but toys have a single interval
    ]
    categories = {"milk": ("food", "dairy"), "bread": ("food",), "ball": ("toys",)}
    data = tiny_data(events, categories=categories)
    part = repurchase.fit(data, RepurchaseConfig(min_repeats=2))
    assert part.arrays["category_groups"].tolist() == ["food"]
    assert part.arrays["category_interval_days"].tolist() == [7.0]
    one = repurchase.fit(data, RepurchaseConfig(min_repeats=1))
    assert one.arrays["category_groups"].tolist() == ["food", "toys"]
    assert one.arrays["category_interval_days"].tolist() == [7.0, 100.0]


def test_invalid_config_is_refused() -> None:
    with pytest.raises(ModelFitError, match="min_repeats"):
        RepurchaseConfig(min_repeats=0)


@pytest.mark.realdata
def test_repurchase_on_online_retail_slice() -> None:
    data = retail_slice()
    part = repurchase.fit(data, RepurchaseConfig())
    assert_matches_contract(part)
    intervals = part.arrays["item_interval_days"]
    rates = part.arrays["item_repeat_rate"]
    assert len(intervals) == len(rates) == data.n_items
    assert len(part.arrays["category_groups"]) == 0  # Online Retail has no categories
    known = intervals[np.isfinite(intervals)]
    assert len(known) > 50 and known.min() >= 1.0 and known.max() <= 374
    # a gift wholesaler's customers restock every few weeks to months
    assert 14 < part.meta["global_median_interval_days"] < 120
    bought = rates[np.isfinite(rates)]
    assert ((bought >= 0) & (bought <= 1)).all() and 0.05 < bought.mean() < 0.5
    assert part.meta["due_factor"] == RepurchaseConfig().due_factor
