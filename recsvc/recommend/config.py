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
    recent activity, the i-th most recent by `recent * recent_decay**i`.
    """

    rules: float = 1.0
    itemknn: float = 0.8
    als: float = 0.6
    hybrid: float = 0.5
    recent: float = 0.3
    recent_decay: float = 0.7
    max_recent_seeds: int = 5
    max_seeds: int = 25


# "Frequently bought together" uses purchase co-occurrence evidence only.
CART_WEIGHTS = BlendWeights(als=0.0, hybrid=0.0)


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
    `buy_again` ranks by orders × 0.5 ** (days since last purchase / half life).
    """

    due_factor: float | None = None  # None: the bundle's (repurchase meta), else 1.0
    min_repeat_rate: float = 0.1
    recency_half_life_days: float = 90.0


@dataclass(frozen=True)
class Step:
    """One chain step: a source by registry name, allowed at most ceil(share × k) slots
    in the first pass (later passes lift the cap)."""

    source: str
    share: float = 1.0

    def __post_init__(self) -> None:
        if not 0 < self.share <= 1:
            raise ConfigError(f"step {self.source!r}: share must be in (0, 1], got {self.share}")


NEW_CHAIN = (
    Step("session_related", 0.3),
    Step("popular_in_country", 0.3),
    Step("cross_sell", 0.3),
    Step("popular_at_hour", 0.1),
)
# Online Retail shoppers reorder the same items a lot, so due and habitual items lead.
ACTIVE_CHAIN = (
    Step("buy_again_due", 0.3),
    Step("buy_again", 0.3),
    Step("session_related", 0.1),
    Step("cross_sell", 0.3),
)
WIN_BACK_CHAIN = (
    Step("buy_again_due", 0.2),
    Step("win_back", 0.4),
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
    related_chain: tuple[Step, ...] = (Step("related_blend"),)
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
