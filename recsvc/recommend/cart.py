"""`cart`: "frequently bought together" for the items of a cart."""

from __future__ import annotations

from recsvc.recommend.chain import run_chain
from recsvc.recommend.config import DEFAULT_CONFIG, RankingConfig
from recsvc.recommend.filters import known_items
from recsvc.recommend.index import ServingIndex
from recsvc.recommend.query import CartQuery, Recommendation
from recsvc.recommend.repurchase import merge_history, never_again
from recsvc.recommend.resolve import make_request, resolve_user


def cart(
    index: ServingIndex, query: CartQuery, config: RankingConfig = DEFAULT_CONFIG
) -> Recommendation:
    """Complements of a cart: `config.cart_chain` (default: "cart_rules", the consequents
    of multi-item rules contained in the cart, then "cart_evidence", single-item rules and
    item-kNN neighbours summed over the cart items), topped up by `config.fallback`.

    Never returns a cart item. Unknown cart items are ignored; with none known, only the
    fallback runs ("popular_in_category" for `context.category`, then "popular").
    """
    seeds = known_items(index, query.items)
    user = resolve_user(index, query.user_id)
    request = make_request(
        index,
        config,
        k=query.k,
        context=query.context,
        filters=query.filters,
        demote=query.demote,
        seeds=seeds,
        blocked=never_again(index, config.repurchase, merge_history(index, user, ()), None),
        user=user,
    )
    steps = config.cart_chain if seeds.size else ()
    return run_chain(index, request, steps, config.fallback)
