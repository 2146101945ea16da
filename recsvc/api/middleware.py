"""One pure-ASGI middleware: request id, body-size limit (413), latency and status metrics.

Pure ASGI rather than `BaseHTTPMiddleware`, which costs a task and a stream per request.
"""

from __future__ import annotations

import json
import time
from typing import Any

from starlette.exceptions import HTTPException
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from recsvc.ids import new_id
from recsvc.logs import REQUEST_ID
from recsvc.metrics import Metrics

REQUEST_ID_HEADER = b"x-request-id"


class BodyTooLargeError(HTTPException):
    """The request body exceeded the configured limit while streaming (no Content-Length).

    An `HTTPException` (413) because FastAPI turns any other error raised while it reads the
    body into "400 There was an error parsing the body"; this one it re-raises as is.
    """

    def __init__(self, limit: int) -> None:
        super().__init__(413, f"request body exceeds the limit of {limit} bytes")


class ServiceMiddleware:
    """Wraps the app: tags each request, limits bodies, records metrics."""

    def __init__(self, app: ASGIApp, *, metrics: Metrics, max_body_bytes: int) -> None:
        self.app = app
        self.metrics = metrics
        self.max_body_bytes = max_body_bytes

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        request_id = _request_id(scope)
        scope.setdefault("state", {})["request_id"] = request_id
        REQUEST_ID.set(request_id)
        start = time.perf_counter()
        status = 500
        declared = _content_length(scope)
        if declared is not None and declared > self.max_body_bytes:
            await self._too_large(send, request_id)
            self._record(scope, 413, start)
            return
        received = 0

        async def limited_receive() -> Message:
            nonlocal received
            message = await receive()
            if message["type"] == "http.request":
                received += len(message.get("body", b""))
                if received > self.max_body_bytes:
                    raise BodyTooLargeError(self.max_body_bytes)
            return message

        async def tagged_send(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = message["status"]
                message["headers"] = [
                    *message.get("headers", []),
                    (REQUEST_ID_HEADER, request_id.encode()),
                ]
            await send(message)

        try:
            await self.app(scope, limited_receive, tagged_send)
        except BodyTooLargeError:
            status = 413
            await self._too_large(send, request_id)
        finally:
            self._record(scope, status, start)

    def _record(self, scope: Scope, status: int, start: float) -> None:
        route: Any = scope.get("route")
        endpoint = getattr(route, "path", "unmatched")
        metrics = self.metrics
        metrics.child(metrics.latency, endpoint).observe(time.perf_counter() - start)
        metrics.child(metrics.requests, endpoint, str(status)).inc()

    async def _too_large(self, send: Send, request_id: str) -> None:
        body = json.dumps({"detail": BodyTooLargeError(self.max_body_bytes).detail}).encode()
        await send(
            {
                "type": "http.response.start",
                "status": 413,
                "headers": [
                    (b"content-type", b"application/json"),
                    (b"content-length", str(len(body)).encode()),
                    (REQUEST_ID_HEADER, request_id.encode()),
                ],
            }
        )
        await send({"type": "http.response.body", "body": body})


def _request_id(scope: Scope) -> str:
    for name, value in scope.get("headers", []):
        if name == REQUEST_ID_HEADER and 0 < len(value) <= 64:
            return str(value.decode("latin-1"))
    return new_id()


def _content_length(scope: Scope) -> int | None:
    for name, value in scope.get("headers", []):
        if name == b"content-length":
            try:
                return int(value)
            except ValueError:
                return None
    return None
