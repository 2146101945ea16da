"""Demo storefront: the static pages of `recsvc/static/demo/` under `/demo/`, and two small
JSON lists from the live bundle so that the pages show real products and shoppers.

Include this router only in demo mode (`RECSVC_DEMO=true`): `/demo/api/users` lists raw
shopper ids of the bundle. It is left out of the OpenAPI schema (not part of the public
contract). The pages load the widget from `/static/recsvc-widget.js`.
"""

from __future__ import annotations

import math
from pathlib import Path
from typing import Annotated

import numpy as np
from fastapi import APIRouter, HTTPException, Query
from fastapi.responses import FileResponse, RedirectResponse
from numpy.typing import NDArray
from pydantic import BaseModel

from recsvc.api.deps import State
from recsvc.recommend import ServingIndex

DEMO_DIR = Path(__file__).resolve().parents[2] / "static" / "demo"
FILES = frozenset({"index.html", "product.html", "cart.html", "demo.css", "demo.js"})

router = APIRouter(prefix="/demo", tags=["demo"], include_in_schema=False)


class CatalogItem(BaseModel):
    item_id: str
    name: str
    price: float | None
    category: list[str]
    available: bool


class Catalog(BaseModel):
    model_version: str
    total: int  # items matching the query, before `limit`
    items: list[CatalogItem]


class DemoUser(BaseModel):
    user_id: str
    country: str
    items_bought: int


class DemoUsers(BaseModel):
    users: list[DemoUser]


def popularity_order(index: ServingIndex) -> NDArray[np.int64]:
    """Every item index once: globally popular items first (their ranking order), then the
    rest in catalog order."""
    ranked = index.popularity.global_[0].astype(np.int64)
    rest = np.setdiff1d(np.arange(index.n_items, dtype=np.int64), ranked, assume_unique=False)
    return np.concatenate([ranked, rest])


def search(index: ServingIndex, q: str) -> NDArray[np.int64]:
    """Item indices matching `q`, best first: the item whose id is exactly `q`, then items
    whose id or name contains `q` (case-insensitive) in popularity order. Empty `q`: every
    item in popularity order."""
    order = popularity_order(index)
    needle = q.strip().lower()
    if not needle:
        return order
    catalog = index.catalog
    ids = np.char.lower(catalog.item_ids[order])
    names = np.char.lower(catalog.names[order])
    contains = (np.char.find(ids, needle) >= 0) | (np.char.find(names, needle) >= 0)
    exact = catalog.position.get(q.strip())
    matches = order[contains & (order != (-1 if exact is None else exact))]
    return matches if exact is None else np.concatenate([[exact], matches]).astype(np.int64)


def catalog_item(index: ServingIndex, item: int) -> CatalogItem:
    catalog = index.catalog
    price = float(catalog.prices[item])
    return CatalogItem(
        item_id=catalog.ids[item],
        name=str(catalog.names[item]) or catalog.ids[item],
        price=round(price, 6) if math.isfinite(price) else None,  # float32 noise off
        category=[str(level) for level in catalog.categories[item] if level],
        available=bool(catalog.available[item]),
    )


@router.get("/")
def index_page() -> FileResponse:
    return FileResponse(DEMO_DIR / "index.html")


@router.get("")
def no_slash() -> RedirectResponse:
    """`/demo` → `/demo/`, so the pages' relative links resolve under /demo/."""
    return RedirectResponse("/demo/", status_code=308)


@router.get("/api/catalog")
def demo_catalog(
    state: State,
    limit: Annotated[int, Query(ge=1, le=100)] = 24,
    q: Annotated[str, Query(max_length=100)] = "",
) -> Catalog:
    """Products of the live bundle matching `q` (see `search`), at most `limit`."""
    live = state.holder.current
    found = search(live.index, q)
    return Catalog(
        model_version=live.version,
        total=len(found),
        items=[catalog_item(live.index, int(item)) for item in found[:limit]],
    )


@router.get("/api/users")
def demo_users(state: State, limit: Annotated[int, Query(ge=1, le=50)] = 8) -> DemoUsers:
    """Shoppers with the longest purchase histories (ties by bundle order): good examples
    for "recommended for you"."""
    users = state.holder.current.index.users
    lengths = np.diff(users.indptr)
    top = np.argsort(-lengths, kind="stable")[:limit]
    return DemoUsers(
        users=[
            DemoUser(
                user_id=str(users.user_ids[user]),
                country=str(users.countries[user]),
                items_bought=int(lengths[user]),
            )
            for user in top.tolist()
            if lengths[user] > 0
        ]
    )


@router.get("/{name}")
def demo_file(name: str) -> FileResponse:
    """One of the demo's own files; anything else is 404 (no path is taken from the URL)."""
    if name not in FILES:
        raise HTTPException(404, f"no demo page {name!r}")
    return FileResponse(DEMO_DIR / name)
