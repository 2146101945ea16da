"""Item filters as boolean masks over the catalog (length n_items).

- `category`: the item has that value at any of its 4 category levels, or that dotted
  path of levels ("Home.Candles"); exact, case-sensitive match;
- `in_stock_only`: `catalog/available`;
- price band: price_min ≤ price ≤ price_max, inclusive, compared in the catalog's stored
  dtype; unknown (NaN) prices fail a band;
- `exclude`: those item ids (unknown ids are ignored: they cannot be recommended anyway).
"""

from __future__ import annotations

from collections.abc import Iterable

import numpy as np

from recsvc.recommend.candidates import BoolArray, IntArray
from recsvc.recommend.index import ServingIndex
from recsvc.recommend.query import Filters


def known_items(index: ServingIndex, ids: Iterable[str]) -> IntArray:
    """Indices of the ids the bundle knows, distinct, in first-occurrence order."""
    position = index.catalog.position
    found = dict.fromkeys(position[i] for i in ids if i in position)
    return np.fromiter(found, dtype=np.int64, count=len(found))


def id_mask(index: ServingIndex, ids: Iterable[str]) -> BoolArray:
    """True at the known items among `ids`."""
    mask = np.zeros(index.n_items, dtype=np.bool_)
    mask[known_items(index, ids)] = True
    return mask


def category_mask(index: ServingIndex, category: str) -> BoolArray:
    """True at the items having `category` at any level (all False for unknown ones)."""
    mask = np.zeros(index.n_items, dtype=np.bool_)
    members = index.catalog.category_members.get(category)
    if members is not None:
        mask[members] = True
    return mask


def allowed_mask(index: ServingIndex, filters: Filters) -> BoolArray:
    """Items passing every filter (module docstring); a fresh, writable array."""
    catalog = index.catalog
    allowed = np.ones(index.n_items, dtype=np.bool_)
    if filters.in_stock_only:
        allowed &= catalog.available
    if filters.category:
        allowed &= category_mask(index, filters.category)
    as_stored = catalog.prices.dtype.type  # 1.65 must match a float32 1.65 in the bundle
    with np.errstate(over="ignore"):  # a bound past float32's range is ±inf: the same band
        if filters.price_min is not None:
            allowed &= catalog.prices >= as_stored(filters.price_min)
        if filters.price_max is not None:
            allowed &= catalog.prices <= as_stored(filters.price_max)
    allowed[known_items(index, filters.exclude)] = False
    return allowed
