"""`POST /v1/events`: storefront feedback, stored durably before it is acknowledged."""

from __future__ import annotations

from fastapi import APIRouter

from recsvc.api.deps import State
from recsvc.api.schemas import EventsRequest, EventsResponse, error_responses
from recsvc.events.writer import FLUSH_TIMEOUT_SECONDS

router = APIRouter(prefix="/v1", tags=["events"], responses=error_responses(400, 413, 422, 503))


@router.post("/events", summary="Report impressions, clicks, bids and purchases")
def post_events(state: State, body: EventsRequest) -> EventsResponse:
    """Idempotent by `event_id`: a retried batch is not counted twice. A 200 means every
    accepted event is committed to disk."""
    # an impression is written before feedback that cites it
    cited = {event.recommendation_id for event in body.events if event.recommendation_id}
    state.writer.flush_for(cited, timeout=FLUSH_TIMEOUT_SECONDS)
    result = state.writer.store_events(body.events, timeout=FLUSH_TIMEOUT_SECONDS)
    for event in body.events:
        state.metrics.events.labels(event.type, "received").inc()
    state.metrics.events.labels("all", "duplicate").inc(result.duplicates)
    return EventsResponse(
        accepted=result.accepted,
        duplicates=result.duplicates,
        unattributed=result.unattributed,
    )
