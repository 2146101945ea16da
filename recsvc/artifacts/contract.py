"""The artifact contract: which parts a bundle holds and which arrays each part carries.

A bundle (schema version `SCHEMA_VERSION`) is a directory::

    <version>/
      manifest.json            see `recsvc.artifacts.manifest.Manifest`
      quality.json             the data-quality report of the run
      <part>/meta.json         parameters, labels and metrics of the part
      <part>/<array>.npy       numpy arrays, loadable with allow_pickle=False

Index spaces: `item index` = row of `catalog/item_ids`; `user index` = row of
`users/user_ids`. Every array below that is "per item" has length n_items in that order,
"per user" has length n_users. Missing values: -1 for indices, NaN for floats, "" for strings.
Grouped rankings (popularity per country, ...) use CSR form: `<key>_groups` (str, G),
`<key>_indptr` (int64, G+1), `<key>_items` (int32), `<key>_scores` (float32), each group's
items sorted by descending score.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Final

SCHEMA_VERSION: Final = 1

# dtype kinds as numpy reports them: "U" str, "i" signed int, "f" float, "b" bool.
ArraySpec = tuple[str, int]  # (dtype kind, ndim)


@dataclass(frozen=True)
class PartSpec:
    """Required arrays of one part; a part may carry more arrays than these.

    A part with `required=False` may be absent from a bundle, but only when the manifest's
    `parts_not_trained` names it with the reason (e.g. the Spark engine has no LightFM);
    a part that is neither present nor declared is a broken bundle."""

    name: str
    arrays: dict[str, ArraySpec]
    required: bool = True


def _grouped(key: str) -> dict[str, ArraySpec]:
    return {
        f"{key}_groups": ("U", 1),
        f"{key}_indptr": ("i", 1),
        f"{key}_items": ("i", 1),
        f"{key}_scores": ("f", 1),
    }


POPULARITY_GROUPS: Final = ("category", "segment", "country", "hour_band")

PARTS: Final[dict[str, PartSpec]] = {
    spec.name: spec
    for spec in (
        PartSpec(
            "catalog",
            {
                "item_ids": ("U", 1),  # per item: external id
                "names": ("U", 1),  # per item: name / description, "" if unknown
                "categories": ("U", 2),  # [n_items, 4]: category path levels 1..4, "" if none
                "prices": ("f", 1),  # per item: last unit price, NaN if unknown
                "available": ("b", 1),  # per item: in stock
            },
        ),
        PartSpec(
            "users",
            {
                "user_ids": ("U", 1),  # per user: external id
                "countries": ("U", 1),  # per user: most frequent country, "" if unknown
                # purchase history, CSR over users, items sorted by index within a user:
                "history_indptr": ("i", 1),  # [n_users + 1]
                "history_items": ("i", 1),  # item index
                "history_orders": ("i", 1),  # number of distinct orders with the item
                "history_last_ts": ("i", 1),  # unix seconds of the last purchase
            },
        ),
        PartSpec(
            "rules",
            {
                # one rule per row; antecedent item indices sorted ascending, padded with -1
                "antecedents": ("i", 2),  # [n_rules, max_len - 1]
                "consequents": ("i", 1),  # item index
                "counts": ("i", 1),  # baskets containing antecedent ∪ consequent
                "support": ("f", 1),
                "confidence": ("f", 1),
                "lift": ("f", 1),
                "leverage": ("f", 1),
                "conviction": ("f", 1),  # inf where confidence == 1
            },
        ),
        PartSpec(
            "als",
            {
                "user_factors": ("f", 2),  # [n_users, f]
                "item_factors": ("f", 2),  # [n_items, f]
                "neighbors": ("i", 2),  # [n_items, N] item indices by cosine, -1 padded
                "neighbor_scores": ("f", 2),  # [n_items, N]
            },
        ),
        PartSpec(
            "itemknn",
            {
                "neighbors": ("i", 2),  # [n_items, N] item indices, -1 padded
                "neighbor_scores": ("f", 2),  # [n_items, N]
            },
            required=False,
        ),
        PartSpec(
            "hybrid",
            {
                # known users/items: full LightFM representations (features summed)
                "user_embeddings": ("f", 2),  # [n_users, d]
                "user_biases": ("f", 1),
                "item_embeddings": ("f", 2),  # [n_items, d]
                "item_biases": ("f", 1),
                # cold start: a new user's representation is the sum over its features
                "user_feature_names": ("U", 1),  # e.g. "country=United Kingdom"
                "user_feature_embeddings": ("f", 2),  # [n_user_features, d]
                "user_feature_biases": ("f", 1),
            },
            required=False,
        ),
        PartSpec(
            "popularity",
            {
                "global_items": ("i", 1),
                "global_scores": ("f", 1),
                "trending_items": ("i", 1),
                "trending_scores": ("f", 1),
                **{k: v for key in POPULARITY_GROUPS for k, v in _grouped(key).items()},
            },
        ),
        PartSpec(
            "segments",
            {
                # per user
                "recency_days": ("f", 1),
                "frequency": ("i", 1),  # distinct orders
                "monetary": ("f", 1),  # net spend
                "rfm_scores": ("i", 2),  # [n_users, 3]: R, F, M quintile scores 1..5
                "lifecycle": ("i", 1),  # code into meta["lifecycle_labels"]
                "value_tier": ("i", 1),  # code into meta["value_labels"]
                "cluster": ("i", 1),  # K-Means cluster id
            },
        ),
        PartSpec(
            "repurchase",
            {
                "item_interval_days": ("f", 1),  # per item: median days between repeats, NaN
                "item_repeat_rate": ("f", 1),  # per item: share of buyers who bought again
                "category_groups": ("U", 1),  # level-1 categories with a cycle
                "category_interval_days": ("f", 1),
            },
        ),
    )
}
