"""Domain errors -> HTTP statuses, in one place. Messages never carry raw user ids."""

from __future__ import annotations

import logging

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse

from recsvc.errors import (
    BundleError,
    EventStoreUnavailableError,
    InvalidQueryError,
    RecsvcError,
)

log = logging.getLogger(__name__)

STATUS: dict[type[RecsvcError], int] = {
    InvalidQueryError: 422,
    EventStoreUnavailableError: 503,
    BundleError: 503,
}


def status_for(exc: RecsvcError) -> int:
    """The HTTP status of a domain error: its nearest mapped base class, else 500."""
    for cls in type(exc).__mro__:
        if cls in STATUS:
            return STATUS[cls]
    return 500


def install_error_handlers(app: FastAPI) -> None:
    @app.exception_handler(RecsvcError)
    async def domain_error(request: Request, exc: RecsvcError) -> JSONResponse:
        status = status_for(exc)
        if status >= 500:
            route = request.scope.get("route")  # the template: a raw path may hold a user id
            log.error(
                "request failed",
                extra={"error": type(exc).__name__, "endpoint": getattr(route, "path", None)},
            )
        return JSONResponse({"detail": str(exc), "error": type(exc).__name__}, status_code=status)

    @app.exception_handler(RequestValidationError)
    async def validation_error(request: Request, exc: RequestValidationError) -> JSONResponse:
        problems = [
            f"{'.'.join(str(part) for part in error['loc'])}: {error['msg']}"
            for error in exc.errors()
        ]
        return JSONResponse({"detail": "; ".join(problems), "errors": problems}, status_code=422)
