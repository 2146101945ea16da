"""Request and response bodies of the HTTP API (the public contract; see test_openapi)."""

from __future__ import annotations

from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field, Strict, StringConstraints

from recsvc.events.models import Event

Id = Annotated[str, StringConstraints(min_length=1, max_length=128)]
PageType = Literal["home", "product", "cart", "category", "search", "checkout", "account", "other"]
Device = Literal["desktop", "mobile", "tablet", "app", "other"]
Channel = Literal["web", "app", "email", "push", "sms", "other"]
Country = Annotated[str, StringConstraints(min_length=1, max_length=64)]
Category = Annotated[str, StringConstraints(min_length=1, max_length=128)]


class ContextBody(BaseModel):
    """Where and when the request happens. Every field is optional; `hour` defaults to the
    server's current UTC hour."""

    model_config = ConfigDict(extra="forbid")

    page_type: PageType | None = None
    device: Device | None = None
    country: Country | None = None
    channel: Channel | None = None
    hour: Annotated[int, Strict(), Field(ge=0, le=23)] | None = None  # JSON true is no hour
    category: Category | None = None


class RecommendedItem(BaseModel):
    item_id: str
    rank: int
    score: float
    strategy: str = Field(description="The evidence that produced this slot, e.g. 'rules'.")
    reason: str = Field(description="Human-readable explanation for the shopper or merchandiser.")
    name: str | None = None
    price: float | None = None
    image_url: str | None = None


class RecommendationResponse(BaseModel):
    recommendation_id: str = Field(description="Send it back with click/bid/purchase events.")
    model_version: str
    experiment: str
    arm: str
    items: list[RecommendedItem]

    model_config = ConfigDict(
        json_schema_extra={
            "examples": [
                {
                    "recommendation_id": "5f0c3a9e8d1b4c3f9a7e2d1c0b9a8f7e",
                    "model_version": "20261123T120000Z-1a2b3c4d",
                    "experiment": "recs-2026-11",
                    "arm": "model",
                    "items": [
                        {
                            "item_id": "22423",
                            "rank": 1,
                            "score": 1.0,
                            "strategy": "rules",
                            "reason": "bought together with 'WHITE HANGING HEART T-LIGHT "
                            "HOLDER' in 412 orders, lift 5.3",
                            "name": "REGENCY CAKESTAND 3 TIER",
                            "price": 12.75,
                            "image_url": None,
                        }
                    ],
                }
            ]
        }
    )


class CartRequest(BaseModel):
    """A cart: the items most likely to join it are recommended, never the cart's own."""

    model_config = ConfigDict(
        extra="forbid",
        json_schema_extra={
            "examples": [{"items": ["85123A", "71053"], "user_id": "17850", "k": 5}]
        },
    )

    items: Annotated[list[Id], Field(min_length=1, max_length=100)]
    user_id: Id | None = None
    session_id: Id | None = None
    context: ContextBody = Field(default_factory=ContextBody)
    k: Annotated[int, Strict(), Field(ge=1, le=100)] = 10


class EventsRequest(BaseModel):
    model_config = ConfigDict(
        extra="forbid",
        json_schema_extra={
            "examples": [
                {
                    "events": [
                        {
                            "event_id": "e-1",
                            "type": "click",
                            "user_id": "17850",
                            "item_id": "22423",
                            "timestamp": "2026-11-23T12:00:00Z",
                            "recommendation_id": "5f0c3a9e8d1b4c3f9a7e2d1c0b9a8f7e",
                            "position": 1,
                        }
                    ]
                }
            ]
        },
    )

    events: Annotated[list[Event], Field(min_length=1, max_length=500)]


class EventsResponse(BaseModel):
    accepted: int = Field(description="New events stored.")
    duplicates: int = Field(description="Events whose event_id was already stored (ignored).")
    unattributed: int = Field(description="Accepted events naming an unknown recommendation.")


class Health(BaseModel):
    status: Literal["ok"] = "ok"


class Ready(BaseModel):
    status: Literal["ready"]
    model_version: str
    bundle_age_seconds: float
    last_refusal: str | None = Field(description="Why the last reload was refused, if it was.")


class ReloadResponse(BaseModel):
    outcome: Literal["swapped", "unchanged", "refused"]
    model_version: str
    detail: str = ""


class UserDeletion(BaseModel):
    events: int
    impressions: int


class ErrorBody(BaseModel):
    """The body of every error answer (4xx, 5xx), including the 413 of the body limit."""

    detail: str = Field(description="What is wrong and, where it helps, what to do.")
    error: str | None = Field(
        default=None, description="Domain error name, e.g. InvalidQueryError."
    )
    errors: list[str] | None = Field(
        default=None, description="Request validation: one 'location: problem' per bad field."
    )


ERROR_STATUSES: dict[int, str] = {
    400: "The body could not be read (e.g. not UTF-8).",
    401: "Missing or wrong bearer token.",
    403: "Admin endpoints are disabled: RECSVC_ADMIN_TOKEN is not set.",
    413: "The body exceeds RECSVC_MAX_BODY_BYTES.",
    422: "Invalid input; `detail` names each bad field and why.",
    503: "No bundle is loaded, or the event store is unavailable; retry later.",
}


def error_responses(*statuses: int) -> dict[int | str, dict[str, Any]]:
    """OpenAPI `responses` documenting `statuses` with the `ErrorBody` schema."""
    return {
        status: {"model": ErrorBody, "description": ERROR_STATUSES[status]} for status in statuses
    }
