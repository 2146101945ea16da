"""`HotPath`: answers the recommendation routes without Starlette's router and exception
layers.

Every request through FastAPI walks its error middleware, exception middleware, exit-stack
middleware, the router's regex over every route, and the route's request/response wrapper
before the endpoint runs; on a cached answer that walk costs more than the answer. The hot
path matches only the `FastRoute`s it is given, and when one of them answers a request in
one validation call (`FastRoute.answer`) sends that response itself. Everything else
(another route, an invalid request, an exception) goes through the app unchanged, with the
request body replayed, so every 4xx answer, error handler and the OpenAPI document stay
FastAPI's own.

It sits inside the service middleware (request id, body limit, metrics) and CORS, so
those apply to both ways alike.
"""

from __future__ import annotations

from collections.abc import Sequence

from starlette.requests import Request
from starlette.routing import BaseRoute, Match
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from recsvc.api.fast_route import FastRoute


class HotPath:
    """Pure-ASGI dispatch of the `FastRoute`s among `routes` (read when the first request
    arrives, so routes included after the middleware was added count too)."""

    def __init__(self, app: ASGIApp, *, routes: Sequence[BaseRoute]) -> None:
        self.app = app
        self._routes = routes
        self._hot: tuple[FastRoute, ...] | None = None

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        route = self._match(scope)
        if route is None:
            await self.app(scope, receive, send)
            return
        body = await _read_body(receive) if scope["method"] == "POST" else None
        replayed = receive if body is None else _replay(body, receive)
        try:
            response = await route.answer(Request(scope, replayed))
        except Exception:  # FastAPI's handlers turn it into the right answer (or a 500)
            response = None
        if response is None:
            await self.app(scope, receive if body is None else _replay(body, receive), send)
            return
        await response(scope, receive, send)

    def _match(self, scope: Scope) -> FastRoute | None:
        if self._hot is None:
            self._hot = tuple(
                route
                for route in self._routes
                if isinstance(route, FastRoute) and route.plan is not None
            )
        for route in self._hot:
            match, child = route.matches(scope)
            if match is Match.FULL:
                scope.update(child)
                return route
        return None


async def _read_body(receive: Receive) -> bytes:
    chunks: list[bytes] = []
    while True:
        message = await receive()
        if message["type"] != "http.request":  # disconnected: the app sees an empty body
            break
        chunks.append(message.get("body", b""))
        if not message.get("more_body", False):
            break
    return b"".join(chunks)


def _replay(body: bytes, receive: Receive) -> Receive:
    """A `receive` that gives `body` once, then whatever `receive` gives (a disconnect)."""
    pending = True

    async def replayed() -> Message:
        nonlocal pending
        if pending:
            pending = False
            return {"type": "http.request", "body": body, "more_body": False}
        return await receive()

    return replayed
