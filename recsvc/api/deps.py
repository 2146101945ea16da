"""Named dependencies the routes declare (`Annotated` aliases over the app's state)."""

from __future__ import annotations

import hmac
from dataclasses import dataclass
from typing import Annotated

from fastapi import Depends, HTTPException, Request
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer

from recsvc.config import Settings
from recsvc.events import EventStore
from recsvc.events.writer import StoreWriter
from recsvc.live import BundleHolder
from recsvc.metrics import Metrics
from recsvc.recommend import ServingIndex
from recsvc.service import Recommender


@dataclass(frozen=True)
class ServiceState:
    """Everything a request may need; built by the lifespan, one per app."""

    settings: Settings
    holder: BundleHolder[ServingIndex]
    store: EventStore
    writer: StoreWriter
    metrics: Metrics
    recommender: Recommender


async def _state(request: Request) -> ServiceState:
    state: ServiceState = request.app.state.recsvc
    return state


State = Annotated[ServiceState, Depends(_state)]
_bearer = HTTPBearer(auto_error=False)


def _admin(
    state: State, credentials: Annotated[HTTPAuthorizationCredentials | None, Depends(_bearer)]
) -> None:
    """Require `Authorization: Bearer <RECSVC_ADMIN_TOKEN>`, compared in constant time."""
    token = state.settings.admin_token
    if token is None:
        raise HTTPException(403, "admin endpoints are disabled: RECSVC_ADMIN_TOKEN is not set")
    supplied = credentials.credentials if credentials else ""
    if not hmac.compare_digest(supplied.encode(), token.get_secret_value().encode()):
        raise HTTPException(
            401, "missing or wrong bearer token", headers={"WWW-Authenticate": "Bearer"}
        )


Admin = Depends(_admin)
