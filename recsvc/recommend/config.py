"""Tunable parameters of the ranking functions, with defaults; one `RankingConfig` holds them.

Chains name candidate sources from `recsvc.recommend.sources.SOURCES`; an unknown name
raises `ConfigError` when the chain runs.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field

from recsvc.errors import ConfigError


@dataclass(frozen=True)
class BlendWeights:
    """Weights of the item-to-item evidence sources in a blend; 0 switches a source off.

    Each source's scores are divided by that source's best score for the seed, so every
    source contributes at most its weight per seed. `recent` scales the seeds taken from
    recent activity, the i-th most recent by `recent * recent_decay**i`. `popularity` is
    the exponent β of the candidates' popularity prior (see `recsvc.recommend.blend`).
    """

    # Tuned by offline replay (training.evaluation, Online Retail, validation split
    # 2011-07-01..09-30): neighbours by co-purchase count (β = 0.5) beat every source alone;
    # the hybrid's neighbours lowered precision at any weight tried (0.5 → −3 %).
    rules: float = 1.0
    itemknn: float = 1.0
    als: float = 0.3
    hybrid: float = 0.0
    popularity: float = 0.5
    recent: float = 0.3
    recent_decay: float = 0.7
    max_recent_seeds: int = 5
    max_seeds: int = 25


# "Frequently bought together" uses purchase co-occurrence evidence only (the weights it
# had before the related-items tuning: cart completion has no offline evaluation yet).
CART_WEIGHTS = BlendWeights(itemknn=0.8, als=0.0, hybrid=0.0, popularity=0.0)


@dataclass(frozen=True)
class CrossSellWeights:
    """Weights of the user-to-item scores (each as exp(score - best score)) in cross-sell."""

    hybrid: float = 1.0
    als: float = 1.0


@dataclass(frozen=True)
class RepurchaseConfig:
    """When a previously bought item is offered again.

    An item is due when days since the last purchase ≥ `due_factor` × its interval (the
    item's own, else its level-1 category's) and its repeat rate ≥ `min_repeat_rate`.
    A history item is repurchasable when it is due-capable as above, or the user bought
    it in ≥ 2 orders; others are never recommended back to that user.
    `buy_again` ranks by orders × 0.5 ** (days since last purchase / half life)
    × (repeat rate + 0.01) ** `repeat_rate_exponent` (a habit many buyers share)
    × exp(`preference_weight` × (ALS score − the user's best ALS score among them)).
    Both factors are 1 at 0, the plain buy-again list.
    """

    due_factor: float | None = None  # None: the bundle's (repurchase meta), else 1.0
    min_repeat_rate: float = 0.1
    recency_half_life_days: float = 90.0
    # Tuned by offline replay (validation split): +12 % bids per slot over the plain list.
    repeat_rate_exponent: float = 1.0
    preference_weight: float = 2.0


@dataclass(frozen=True)
class Step:
    """One chain step: a source by registry name, allowed at most ceil(share × k) slots
    in the first pass (later passes lift the cap)."""

    source: str
    share: float = 1.0

    def __post_init__(self) -> None:
        if not 0 < self.share <= 1:
            raise ConfigError(f"step {self.source!r}: share must be in (0, 1], got {self.share}")


# Offline replay on Online Retail (validation split): in every lifecycle segment the
# shopper's own habits (tuned `buy_again`) earn the most bids per slot (2-4x popularity);
# due items and win-back take one slot each (k = 10), other sources fill short histories.
NEW_CHAIN = (
    Step("buy_again", 1.0),
    Step("session_related", 0.3),
    Step("popular_in_country", 0.3),
    Step("cross_sell", 0.3),
    Step("popular_at_hour", 0.1),
)
# Online Retail shoppers reorder the same items a lot, so due and habitual items lead.
ACTIVE_CHAIN = (
    Step("buy_again_due", 0.1),
    Step("buy_again", 1.0),
    Step("session_related", 0.1),
    Step("cross_sell", 0.3),
)
WIN_BACK_CHAIN = (
    Step("buy_again_due", 0.1),
    Step("win_back", 0.1),
    Step("buy_again", 1.0),
    Step("popular_in_segment", 0.2),
    Step("popular_in_country", 0.2),
)
COLD_START_CHAIN = (
    Step("session_related", 0.4),
    Step("cold_start_hybrid", 0.3),
    Step("popular_in_country", 0.2),
    Step("popular_at_hour", 0.1),
)


def _segment_chains() -> dict[str, tuple[Step, ...]]:
    """Chains by the lifecycle labels of `training.models.segments`."""
    return {
        "prospect": NEW_CHAIN,
        "new": NEW_CHAIN,
        "active": ACTIVE_CHAIN,
        "cooling": ACTIVE_CHAIN,
        "at_risk": WIN_BACK_CHAIN,
        "sleeping": WIN_BACK_CHAIN,
        "lost": WIN_BACK_CHAIN,
    }


@dataclass(frozen=True)
class MixConfig:
    """Next-purchase chains: by lifecycle label (`segments` meta `lifecycle_labels`),
    `default` for labels not listed, `cold_start` for users the bundle does not know."""

    segments: Mapping[str, tuple[Step, ...]] = field(default_factory=_segment_chains)
    default: tuple[Step, ...] = ACTIVE_CHAIN
    cold_start: tuple[Step, ...] = COLD_START_CHAIN


@dataclass(frozen=True)
class RankingConfig:
    """Everything the ranking functions can be tuned with."""

    blend: BlendWeights = BlendWeights()
    cart: BlendWeights = CART_WEIGHTS
    cross_sell: CrossSellWeights = CrossSellWeights()
    repurchase: RepurchaseConfig = RepurchaseConfig()
    mix: MixConfig = field(default_factory=MixConfig)
    # Item-to-item evidence first, then the known shopper's own habits (needs a query
    # time): +60 % bids per slot over the blend alone in offline replay (validation).
    related_chain: tuple[Step, ...] = (Step("related_blend", 0.2), Step("buy_again"))
    cart_chain: tuple[Step, ...] = (Step("cart_rules"), Step("cart_evidence"))
    fallback: tuple[str, ...] = ("popular_in_category", "popular")


DEFAULT_CONFIG = RankingConfig()

# The popularity control: no personalised step, global popularity only. The service's
# "popular" arm and the offline baseline of `training.evaluation` use it alike.
POPULAR_CONFIG = RankingConfig(
    related_chain=(),
    cart_chain=(),
    mix=MixConfig(segments={}, default=(), cold_start=()),
    fallback=("popular",),
)
