"""`next_purchase`: what a user (or an anonymous session) is likely to buy next."""

from __future__ import annotations

from recsvc.recommend.chain import run_chain
from recsvc.recommend.config import DEFAULT_CONFIG, MixConfig, RankingConfig, Step
from recsvc.recommend.index import ServingIndex
from recsvc.recommend.query import Recommendation, UserQuery
from recsvc.recommend.repurchase import merge_history, never_again
from recsvc.recommend.resolve import make_request, resolve_recent, resolve_user


def choose_chain(index: ServingIndex, mix: MixConfig, user: int | None) -> tuple[Step, ...]:
    """The cold-start chain for unknown users, else the chain of the user's lifecycle
    label (`mix.default` for labels without one)."""
    if user is None:
        return mix.cold_start
    return mix.segments.get(index.users.lifecycle_label(user), mix.default)


def next_purchase(
    index: ServingIndex, query: UserQuery, config: RankingConfig = DEFAULT_CONFIG
) -> Recommendation:
    """The chain chosen by `choose_chain` from `config.mix`, topped up by `config.fallback`.

    Sources: "buy_again_due" and "buy_again" / "win_back" (the user's history, see
    `recsvc.recommend.repurchase`), "cross_sell" (hybrid and ALS scores of items the user
    has not bought), "session_related" (neighbours of recent activity), and for unknown
    users "cold_start_hybrid" (context features) and popularity in the country, hour band
    and segment. History the user would not buy again, and items bought in recent activity
    unless already due again at `query.now`, are never returned.
    """
    user = resolve_user(index, query.user_id)
    recent = resolve_recent(index, query.recent)
    history = merge_history(index, user, recent)
    request = make_request(
        index,
        config,
        k=query.k,
        context=query.context,
        filters=query.filters,
        demote=query.demote,
        blocked=never_again(index, config.repurchase, history, query.now),
        recent=recent,
        user=user,
        history=history,
        now=query.now,
    )
    return run_chain(index, request, choose_chain(index, config.mix, user), config.fallback)
