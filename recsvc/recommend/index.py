"""`ServingIndex`: everything a request needs, precomputed once per bundle.

Build it with `build_index(bundle)` when a bundle is loaded (next to the hot swap), never
per request. It holds id → index dicts, rules indexed by antecedent, unit-normalised
embeddings, category members, popularity rankings by group, user histories and
repurchase intervals, so that a request costs O(candidates) plus at most a few
matrix-vector products over n_items × d.

Index arrays are int64 (item / user index space of the bundle), scores float64, factor
matrices keep their stored float dtype. Build checks every index array's range and raises
`ContractError` naming the array.
"""

from __future__ import annotations

from collections.abc import Callable, Hashable, Mapping
from dataclasses import dataclass, field
from typing import Any, TypeVar

import numpy as np
from numpy.typing import NDArray

from recsvc.artifacts import Bundle, LoadedPart
from recsvc.artifacts.contract import POPULARITY_GROUPS
from recsvc.errors import ContractError
from recsvc.recommend.candidates import FloatArray, IntArray, check_range
from recsvc.recommend.context import HOUR_BANDS
from recsvc.recommend.neighbors import LazyNeighbors, Neighbors
from recsvc.recommend.rules import RuleIndex, build_rule_index

Ranked = tuple[IntArray, FloatArray]  # items best first, their scores


@dataclass(frozen=True)
class CatalogIndex:
    """Per item: id, name, 4 category levels, price (NaN unknown), availability."""

    item_ids: NDArray[np.str_]
    names: NDArray[np.str_]
    categories: NDArray[np.str_]
    prices: NDArray[np.floating[Any]]  # stored dtype, so bounds compare as the bundle rounds
    available: NDArray[np.bool_]
    position: Mapping[str, int]
    category_members: Mapping[str, IntArray]  # value at any level, or dotted path → items
    ids: tuple[str, ...]  # item_ids as Python strings (cheap per-slot lookups)
    labels: tuple[str, ...]  # name, or the id when the name is unknown, for reasons

    def label(self, item: int) -> str:
        return self.labels[item]


@dataclass(frozen=True)
class UserIndex:
    """Per user: id, country, lifecycle code; purchase history as CSR (items ascending)."""

    user_ids: NDArray[np.str_]
    position: Mapping[str, int]
    countries: NDArray[np.str_]
    indptr: IntArray
    items: IntArray
    orders: IntArray
    last_ts: IntArray
    lifecycle: IntArray
    lifecycle_labels: tuple[str, ...]

    def history(self, user: int) -> tuple[IntArray, IntArray, IntArray]:
        """(items, orders, last purchase unix seconds) of one user."""
        start, stop = self.indptr[user], self.indptr[user + 1]
        return self.items[start:stop], self.orders[start:stop], self.last_ts[start:stop]

    def lifecycle_label(self, user: int) -> str:
        code = int(self.lifecycle[user])
        return self.lifecycle_labels[code] if 0 <= code < len(self.lifecycle_labels) else ""


@dataclass(frozen=True)
class Embeddings:
    """A factor model: user × item scores are `user @ item.T + item_bias`."""

    user: NDArray[np.floating[Any]]  # [n_users, d]
    item: NDArray[np.floating[Any]]  # [n_items, d]
    item_bias: NDArray[np.floating[Any]]  # [n_items]
    item_unit: NDArray[np.floating[Any]]  # item rows scaled to unit norm (0 rows stay 0)


@dataclass(frozen=True)
class UserFeatures:
    """Hybrid cold start: a new user's vector is the sum of its features' rows."""

    position: Mapping[str, int]
    embeddings: NDArray[np.floating[Any]]  # [n_features, d]
    biases: NDArray[np.floating[Any]]


K = TypeVar("K", bound=Hashable)


def _kept(memo: dict[K, FloatArray], key: K, compute: Callable[[], FloatArray]) -> FloatArray:
    """`memo[key]`, computed (and made read-only) on first use: per-item priors that a
    ranking config asks for with the same few parameters on every request."""
    found = memo.get(key)
    if found is None:
        found = compute()
        found.flags.writeable = False
        memo[key] = found
    return found


@dataclass(frozen=True)
class PopularityIndex:
    """Global and trending rankings, and rankings per group key (`POPULARITY_GROUPS`).

    `share[i]` = (global score of i + 1) / (best global score + 1), in (0, 1]: a smoothed
    popularity prior per item (items outside the global ranking score 0), see `blend`.
    """

    global_: Ranked
    trending: Ranked
    groups: Mapping[str, Mapping[str, Ranked]]
    window_days: int | None
    share: FloatArray
    _priors: dict[float, FloatArray] = field(default_factory=dict, compare=False, repr=False)

    def prior(self, beta: float) -> FloatArray:
        """`share ** beta`, read-only, computed once per exponent (a ranking config has one)."""
        return _kept(self._priors, beta, lambda: self.share**beta)


@dataclass(frozen=True)
class RepurchaseIndex:
    """Per item: repurchase interval in days (own, else level-1 category; NaN) and the
    share of its buyers who bought it again (NaN unknown)."""

    interval_days: FloatArray
    repeat_rate: FloatArray
    due_factor: float  # the training run's, from meta (1.0 when absent)
    _priors: dict[tuple[float, float], FloatArray] = field(
        default_factory=dict, compare=False, repr=False
    )

    def rate_prior(self, exponent: float, floor: float) -> FloatArray:
        """`(repeat rate + floor) ** exponent` per item (an unknown or negative rate counts
        as 0), read-only, computed once per (exponent, floor)."""

        def compute() -> FloatArray:
            rate = np.maximum(np.nan_to_num(self.repeat_rate, nan=0.0), 0.0)
            prior: FloatArray = (rate + floor) ** exponent
            return prior

        return _kept(self._priors, (exponent, floor), compute)


@dataclass(frozen=True)
class ServingIndex:
    """Immutable request-ready view of one bundle."""

    version: str
    catalog: CatalogIndex
    users: UserIndex
    rules: RuleIndex
    itemknn: Neighbors  # no columns when the bundle has no item-kNN part
    als_neighbors: Neighbors
    als: Embeddings
    hybrid: Embeddings | None  # None when the bundle has no hybrid part
    hybrid_neighbors: LazyNeighbors | None
    user_features: UserFeatures
    popularity: PopularityIndex
    repurchase: RepurchaseIndex
    _memo: dict[Hashable, dict[Any, Any]] = field(default_factory=dict, compare=False, repr=False)

    @property
    def n_items(self) -> int:
        return len(self.catalog.item_ids)

    def memo(self, key: Hashable) -> dict[Any, Any]:
        """A dict kept with this index (and dropped with it at a swap) for what is derived
        from it lazily, e.g. blended seed rows per weights (`recsvc.recommend.blend`)."""
        return self._memo.setdefault(key, {})


def build_index(bundle: Bundle, *, hybrid_neighbors: int = 50) -> ServingIndex:
    """Precompute the serving index of a verified bundle (once per load). Hybrid item
    neighbours (`hybrid_neighbors` per item) are computed lazily, see `LazyNeighbors`.
    Optional parts the bundle was trained without (`parts_not_trained`) give sources
    that find nothing."""
    catalog = _catalog(bundle["catalog"])
    n_items = len(catalog.item_ids)
    hybrid = bundle.get("hybrid")
    hybrid_model = None
    user_features = UserFeatures(position={}, embeddings=np.zeros((0, 0)), biases=np.zeros(0))
    if hybrid is not None:
        hybrid_model = _embeddings(
            hybrid["user_embeddings"], hybrid["item_embeddings"], hybrid["item_biases"]
        )
        user_features = UserFeatures(
            position=_positions(hybrid["user_feature_names"]),
            embeddings=hybrid["user_feature_embeddings"],
            biases=hybrid["user_feature_biases"],
        )
    itemknn = bundle.get("itemknn")
    return ServingIndex(
        version=bundle.version,
        catalog=catalog,
        users=_users(bundle["users"], bundle["segments"], n_items),
        rules=build_rule_index(bundle["rules"], n_items),
        itemknn=(
            _neighbors(itemknn, "itemknn", n_items)
            if itemknn is not None
            else Neighbors(np.zeros((n_items, 0), np.int64), np.zeros((n_items, 0)))
        ),
        als_neighbors=_neighbors(bundle["als"], "als", n_items),
        als=_embeddings(
            bundle["als"]["user_factors"], bundle["als"]["item_factors"], np.zeros(n_items)
        ),
        hybrid=hybrid_model,
        hybrid_neighbors=(
            LazyNeighbors(hybrid_model.item_unit, hybrid_neighbors) if hybrid_model else None
        ),
        user_features=user_features,
        popularity=_popularity(bundle["popularity"], n_items),
        repurchase=_repurchase(bundle["repurchase"], catalog.categories[:, 0]),
    )


def _positions(ids: NDArray[np.str_]) -> dict[str, int]:
    return {str(value): position for position, value in enumerate(ids.tolist())}


def _labels(meta: Mapping[str, Any], key: str) -> tuple[str, ...]:
    return tuple(str(label) for label in meta.get(key, ()))


def _category_keys(path: list[str]) -> list[str]:
    """Every level's value, and the dotted prefixes of 2+ complete levels ("Home.Candles")."""
    levels = path[: path.index("")] if "" in path else path
    prefixes = [".".join(levels[:depth]) for depth in range(2, len(levels) + 1)]
    return [value for value in dict.fromkeys(path + prefixes) if value]


def _catalog(part: LoadedPart) -> CatalogIndex:
    categories = part["categories"]
    members: dict[str, list[int]] = {}
    for item, path in enumerate(categories.tolist()):
        for key in _category_keys(path):
            members.setdefault(key, []).append(item)
    ids = tuple(str(item_id) for item_id in part["item_ids"].tolist())
    return CatalogIndex(
        ids=ids,
        labels=tuple(str(name) or ids[i] for i, name in enumerate(part["names"].tolist())),
        item_ids=part["item_ids"],
        names=part["names"],
        categories=categories,
        prices=part["prices"],
        available=part["available"],
        position=_positions(part["item_ids"]),
        category_members={key: np.array(items, dtype=np.int64) for key, items in members.items()},
    )


def _users(part: LoadedPart, segments: LoadedPart, n_items: int) -> UserIndex:
    indptr = np.asarray(part["history_indptr"], dtype=np.int64)
    n_history = len(part["history_items"])
    if indptr[0] != 0 or indptr[-1] != n_history or np.any(np.diff(indptr) < 0):
        raise ContractError("users/history_indptr is not a CSR pointer over history_items")
    return UserIndex(
        user_ids=part["user_ids"],
        position=_positions(part["user_ids"]),
        countries=part["countries"],
        indptr=indptr,
        items=check_range(part["history_items"], n_items, "users/history_items"),
        orders=np.asarray(part["history_orders"], dtype=np.int64),
        last_ts=np.asarray(part["history_last_ts"], dtype=np.int64),
        lifecycle=np.asarray(segments["lifecycle"], dtype=np.int64),
        lifecycle_labels=_labels(segments.meta, "lifecycle_labels"),
    )


def _neighbors(part: LoadedPart, name: str, n_items: int) -> Neighbors:
    items = check_range(part["neighbors"], n_items, f"{name}/neighbors", padded=True)
    scores = np.asarray(part["neighbor_scores"], dtype=np.float64)
    if scores.shape != items.shape:
        raise ContractError(f"{name}/neighbor_scores must have the shape of {name}/neighbors")
    return Neighbors(items=items, scores=np.where(items >= 0, scores, 0.0))


def _embeddings(user: NDArray[Any], item: NDArray[Any], item_bias: NDArray[Any]) -> Embeddings:
    if user.shape[1] != item.shape[1]:
        raise ContractError(f"user and item factors differ in width: {user.shape} {item.shape}")
    norms = np.linalg.norm(item, axis=1, keepdims=True)
    unit = np.divide(item, norms, out=np.zeros_like(item), where=norms > 0)
    return Embeddings(user=user, item=item, item_bias=item_bias.astype(item.dtype), item_unit=unit)


def _ranked(items: NDArray[Any], scores: NDArray[Any], n_items: int, what: str) -> Ranked:
    return check_range(items, n_items, what), np.asarray(scores, dtype=np.float64)


def _check_hour_bands(meta: Mapping[str, Any]) -> None:
    recorded = meta.get("hour_bands")
    expected = {label: [first, last] for label, first, last in HOUR_BANDS}
    if recorded is not None and recorded != expected:
        raise ContractError(
            f"popularity meta hour_bands {recorded} differ from the service's {expected}; "
            "train with recsvc.recommend.context.HOUR_BANDS"
        )


def _popularity(part: LoadedPart, n_items: int) -> PopularityIndex:
    _check_hour_bands(part.meta)
    groups: dict[str, dict[str, Ranked]] = {}
    for key in POPULARITY_GROUPS:
        items, scores = _ranked(part[f"{key}_items"], part[f"{key}_scores"], n_items, key)
        indptr = np.asarray(part[f"{key}_indptr"], dtype=np.int64)
        names = part[f"{key}_groups"].tolist()
        if len(indptr) != len(names) + 1 or indptr[-1] != len(items):
            raise ContractError(f"popularity/{key}_indptr does not match its groups and items")
        groups[key] = {
            str(name): (items[indptr[g] : indptr[g + 1]], scores[indptr[g] : indptr[g + 1]])
            for g, name in enumerate(names)
        }
    window = part.meta.get("window_days")
    global_ = _ranked(part["global_items"], part["global_scores"], n_items, "global")
    return PopularityIndex(
        global_=global_,
        trending=_ranked(part["trending_items"], part["trending_scores"], n_items, "trending"),
        groups=groups,
        window_days=int(window) if isinstance(window, int | float) else None,
        share=_share(global_, n_items),
    )


def _share(ranked: Ranked, n_items: int) -> FloatArray:
    """The smoothed popularity prior of `PopularityIndex.share`."""
    scores = np.zeros(n_items)
    items, values = ranked
    scores[items] = np.maximum(values, 0.0)
    share: FloatArray = (scores + 1.0) / (scores.max(initial=0.0) + 1.0)
    return share


def _repurchase(part: LoadedPart, level1: NDArray[np.str_]) -> RepurchaseIndex:
    own = np.asarray(part["item_interval_days"], dtype=np.float64)
    by_category = dict(
        zip(part["category_groups"].tolist(), part["category_interval_days"].tolist(), strict=True)
    )
    inherited = np.array([by_category.get(c, np.nan) for c in level1.tolist()], dtype=np.float64)
    return RepurchaseIndex(
        interval_days=np.where(np.isfinite(own), own, inherited),
        repeat_rate=np.asarray(part["item_repeat_rate"], dtype=np.float64),
        due_factor=float(part.meta.get("due_factor", 1.0)),
    )
