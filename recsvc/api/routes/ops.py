"""Operational routes: liveness, readiness, Prometheus metrics."""

from __future__ import annotations

from fastapi import APIRouter, Response
from fastapi.responses import JSONResponse
from prometheus_client import CONTENT_TYPE_LATEST

from recsvc.api.deps import State
from recsvc.api.schemas import Health, Ready
from recsvc.errors import BundleNotFoundError

router = APIRouter(tags=["operations"])


@router.get("/health", summary="The process is alive")
async def health() -> Health:
    return Health()


@router.get(
    "/ready",
    summary="A bundle is loaded",
    response_model=Ready,
    responses={503: {"description": "No bundle is loaded."}},
)
async def ready(state: State) -> Ready | JSONResponse:
    try:
        live = state.holder.current
    except BundleNotFoundError as exc:
        return JSONResponse({"status": "not ready", "detail": str(exc)}, status_code=503)
    return Ready(
        status="ready",
        model_version=live.version,
        bundle_age_seconds=round(live.age_seconds(), 1),
        last_refusal=state.holder.last_refusal,
    )


@router.get("/metrics", summary="Prometheus metrics", response_class=Response)
async def metrics(state: State) -> Response:
    return Response(state.metrics.render(), media_type=CONTENT_TYPE_LATEST)
