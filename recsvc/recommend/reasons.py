"""Human-readable reasons, one template per kind of evidence.

Item names are quoted as the catalog spells them (the id when the name is unknown).
Numbers: counts as integers, lift with one decimal, days rounded down for elapsed time
and to the nearest day for intervals.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Final

RECENT_VERBS: Final = {"view": "viewed", "bid": "added to cart", "purchase": "bought"}
SECONDS_PER_DAY: Final = 86_400
_MAX_NAMES: Final = 3


def seed_phrase(label: str, recent_event: str | None) -> str:
    """`'NAME'`, marked when the seed comes from the visitor's recent activity."""
    if recent_event is None:
        return f"'{label}'"
    return f"'{label}' ({RECENT_VERBS[recent_event]} recently)"


def joined(labels: Sequence[str]) -> str:
    """'A', 'A' and 'B', 'A', 'B' and 'C', 'A', 'B', 'C' and 2 more."""
    quoted = [f"'{label}'" for label in labels[:_MAX_NAMES]]
    rest = len(labels) - len(quoted)
    if rest:
        quoted.append(f"{rest} more")
    return quoted[0] if len(quoted) == 1 else ", ".join(quoted[:-1]) + " and " + quoted[-1]


def bought_together(antecedent: str, count: int, lift: float) -> str:
    return f"bought together with {antecedent} in {count} orders, lift {lift:.1f}"


NEIGHBOUR_TEMPLATES: Final = {
    "itemknn": "customers who bought {seed} also bought this",
    "als": "often chosen by customers who bought {seed}",
    "hybrid": "similar to {seed}",
}


def neighbour(source: str, seed: str) -> str:
    return NEIGHBOUR_TEMPLATES[source].format(seed=seed)


def window(days: int | None) -> str:
    if days is None:
        return ""
    return " this week" if days == 7 else f" in the last {days} days"


def popular_in(place: str, window_days: int | None) -> str:
    return f"popular in {place}{window(window_days)}"


def popular_at(band: str) -> str:
    return "popular at night" if band == "night" else f"popular in the {band}"


def buy_again(orders: int, days_ago: float) -> str:
    times = "1 order" if orders == 1 else f"{orders} orders"
    return f"you bought this in {times}; last bought {int(days_ago)} days ago"


def due(interval_days: float, days_ago: float) -> str:
    return (
        f"you buy this about every {round(interval_days)} days; "
        f"last bought {int(days_ago)} days ago"
    )


def win_back(repeat_rate: float) -> str:
    return f"you bought this before; {repeat_rate:.0%} of its buyers buy it again"


CROSS_SELL: Final = {
    "hybrid": "recommended for you",
    "als": "customers with tastes like yours bought this",
}


def cold_start(country: str) -> str:
    return f"recommended for shoppers in {country}" if country else "recommended for new visitors"
