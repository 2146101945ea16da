"""Recommendation routes: related items, cart completion, next purchase.

Context fields each endpoint uses: all take page_type, device, country, channel, hour and
category (the hybrid model's cold-start features and the popularity fallbacks read
country, hour and device; category narrows the unknown-item fallback); the cart endpoint
also excludes the cart's items; user_id/session_id bring in recent activity and fatigue.
"""

from __future__ import annotations

import time
from typing import Annotated

from fastapi import APIRouter, Depends, Path, Query, Response

from recsvc.api.deps import State
from recsvc.api.fast_route import FastRoute
from recsvc.api.render import respond
from recsvc.api.schemas import (
    CartRequest,
    Category,
    Channel,
    ContextBody,
    Country,
    Device,
    Id,
    PageType,
    RecommendationResponse,
    error_responses,
)
from recsvc.recommend import CartQuery, Context, Filters, RelatedQuery, UserQuery
from recsvc.service import Visitor, server_hour

# FastRoute: one pydantic call validates a request (same 4xx answers and OpenAPI document)
router = APIRouter(
    prefix="/v1",
    tags=["recommendations"],
    responses=error_responses(400, 413, 422, 503),
    route_class=FastRoute,
)

K = Annotated[int, Query(ge=1, le=100, description="How many items to return.")]
UserId = Annotated[Id | None, Query(description="Signed-in shopper.")]
SessionId = Annotated[Id | None, Query(description="Anonymous session id.")]


async def context_params(
    page_type: PageType | None = None,
    device: Device | None = None,
    country: Country | None = None,
    channel: Channel | None = None,
    hour: Annotated[int | None, Query(ge=0, le=23, description="UTC hour; default now.")] = None,
    category: Category | None = None,
) -> ContextBody:
    return ContextBody(
        page_type=page_type,
        device=device,
        country=country,
        channel=channel,
        hour=hour,
        category=category,
    )


ContextParams = Annotated[ContextBody, Depends(context_params)]


def to_context(body: ContextBody, cart: tuple[str, ...] = ()) -> Context:
    """API context -> ranking context; the hour defaults to the server's UTC hour."""
    return Context(
        page_type=body.page_type or "",
        device=body.device or "",
        country=body.country or "",
        channel=body.channel or "",
        hour=server_hour() if body.hour is None else body.hour,
        category=body.category or "",
        cart_items=cart,
    )


@router.get(
    "/items/{item_id}/related",
    summary="Customers also bought",
    response_model=RecommendationResponse,
)
async def related_items(
    state: State,
    item_id: Annotated[Id, Path(description="The item on the page.")],
    context: ContextParams,
    k: K = 10,
    user_id: UserId = None,
    session_id: SessionId = None,
    in_stock: Annotated[bool, Query(description="Only items in stock.")] = False,
    price_min: Annotated[float | None, Query(ge=0, allow_inf_nan=False)] = None,
    price_max: Annotated[float | None, Query(ge=0, allow_inf_nan=False)] = None,
    filter_category: Annotated[
        Category | None, Query(description="Only items in this category (any level).")
    ] = None,
    exclude: Annotated[list[Id] | None, Query(max_length=100)] = None,
) -> Response:
    """Items bought together with `item_id` (rules, item-kNN, ALS and hybrid evidence
    blended); an unknown item gets category or global popularity."""
    query = RelatedQuery(
        item_id=item_id,
        k=k,
        context=to_context(context),
        filters=Filters(
            category=filter_category or "",
            in_stock_only=in_stock,
            price_min=price_min,
            price_max=price_max,
            exclude=frozenset(exclude or ()),
        ),
        user_id=user_id,
    )
    return respond(state.recommender.related(query, Visitor(user_id, session_id)))


@router.post(
    "/cart/recommendations",
    summary="Frequently bought together",
    response_model=RecommendationResponse,
)
async def cart_recommendations(state: State, body: CartRequest) -> Response:
    """Items most likely to join the cart: multi-item rules first, then single-item
    evidence, then popularity; never an item already in the cart."""
    items = tuple(dict.fromkeys(body.items))
    query = CartQuery(
        items=items,
        k=body.k,
        context=to_context(body.context, items),
        user_id=body.user_id,
    )
    return respond(state.recommender.cart(query, Visitor(body.user_id, body.session_id)))


@router.get(
    "/users/{user_id}/recommendations",
    summary="Recommended for you / buy it again",
    response_model=RecommendationResponse,
)
async def user_recommendations(
    state: State,
    user_id: Annotated[Id, Path(description="The shopper (or an anonymous id).")],
    context: ContextParams,
    k: K = 10,
    session_id: SessionId = None,
) -> Response:
    """Next purchase: the mix depends on the shopper's lifecycle segment (cross-sell,
    buy-again items that are due, win-back); unknown shoppers get the cold-start path."""
    ctx = to_context(context)
    # `now` is set by the recommender from its clock setting
    query = UserQuery(
        user_id=user_id, now=int(time.time()), k=k, session_id=session_id, context=ctx
    )
    return respond(state.recommender.next_purchase(query, Visitor(user_id, session_id)))
