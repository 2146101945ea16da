"""Admin routes (bearer token): bundle reload and user erasure."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Path

from recsvc.api.deps import Admin, State
from recsvc.api.schemas import Id, ReloadResponse, UserDeletion, error_responses
from recsvc.events.writer import FLUSH_TIMEOUT_SECONDS

router = APIRouter(
    prefix="/v1",
    tags=["admin"],
    dependencies=[Admin],
    responses=error_responses(401, 403, 422, 503),
)


@router.post("/admin/reload", summary="Load the bundle `current` names, if it changed")
def reload_bundle(state: State) -> ReloadResponse:
    """A broken bundle is refused and the live one keeps serving (outcome `refused`)."""
    result = state.holder.reload()
    return ReloadResponse(
        outcome=result.outcome, model_version=result.version, detail=result.detail
    )


@router.delete("/users/{user_id}", summary="Erase a shopper's events and impressions")
def delete_user(state: State, user_id: Annotated[Id, Path()]) -> UserDeletion:
    """Removes the user's stored events and impressions and records the erasure, so the
    next training run excludes the user."""
    state.writer.flush(timeout=FLUSH_TIMEOUT_SECONDS)
    removed = state.store.delete_user(user_id)
    return UserDeletion(events=removed.events, impressions=removed.impressions)
