"""The hot path answers valid recommendation requests without FastAPI's router, with the
same bodies as the routed app; anything else reaches FastAPI with its body intact."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from fastapi import FastAPI
from fastapi.routing import APIRoute
from fastapi.testclient import TestClient
from httpx import Response
from test_answer_cache import ONE_ARM
from test_api import make_settings

from recsvc.api.app import create_app
from recsvc.api.hot_path import HotPath
from recsvc.api.schemas import RecommendationResponse

RELATED = "/v1/items/i00/related"
CART = "/v1/cart/recommendations"
USER = "/v1/users/u1/recommendations"


class RouteCalls:
    """Counts requests that went through FastAPI's routing to an `APIRoute`."""

    def __init__(self, monkeypatch: pytest.MonkeyPatch) -> None:
        self.count = 0
        handle = APIRoute.handle

        async def counted(route: APIRoute, *args: Any) -> None:
            self.count += 1
            await handle(route, *args)

        monkeypatch.setattr(APIRoute, "handle", counted)


def _app(models_dir: Path, *, hot: bool) -> FastAPI:
    app = create_app(make_settings(models_dir, arms=ONE_ARM))
    if not hot:  # the middleware stack is built on the first request
        app.user_middleware = [m for m in app.user_middleware if m.cls is not HotPath]  # type: ignore[comparison-overlap]
    return app


@pytest.fixture
def clients(models_dir: Path) -> Iterator[tuple[TestClient, TestClient]]:
    with (
        TestClient(_app(models_dir, hot=True)) as hot,
        TestClient(_app(models_dir, hot=False)) as routed,
    ):
        yield hot, routed


def _send_to_both(
    clients: tuple[TestClient, TestClient],
    monkeypatch: pytest.MonkeyPatch,
    method: str,
    path: str,
    options: dict[str, Any],
) -> tuple[Response, int, Response]:
    """(the app's answer, how many times it went through the router, the answer of the
    app without the hot path, which must have gone through it once)."""
    hot, routed = clients
    calls = RouteCalls(monkeypatch)
    fast = hot.request(method, path, **options)
    routed_calls = calls.count
    slow = routed.request(method, path, **options)
    assert calls.count == routed_calls + 1
    return fast, routed_calls, slow


REQUESTS: list[tuple[str, str, dict[str, Any]]] = [
    ("GET", RELATED, {"params": {"k": 4, "country": "United Kingdom", "hour": 9}}),
    ("GET", RELATED, {"params": {"k": 3, "exclude": ["i01", "i02"], "in_stock": "true"}}),
    ("GET", "/v1/items/unknown-item/related", {"params": {"category": "Home"}}),
    ("POST", CART, {"json": {"items": ["i00", "i01"], "k": 5, "context": {"device": "mobile"}}}),
    ("GET", USER, {"params": {"k": 5, "hour": 12}}),
    ("GET", "/v1/users/nobody/recommendations", {"params": {"hour": 12}}),
]


@pytest.mark.parametrize(("method", "path", "options"), REQUESTS)
def test_valid_requests_skip_the_router_and_match_the_routed_answer(
    clients: tuple[TestClient, TestClient],
    monkeypatch: pytest.MonkeyPatch,
    method: str,
    path: str,
    options: dict[str, Any],
) -> None:
    fast, routed_calls, slow = _send_to_both(clients, monkeypatch, method, path, options)
    assert routed_calls == 0 and fast.status_code == 200 and slow.status_code == 200
    fast_body, slow_body = fast.json(), slow.json()
    assert fast_body["recommendation_id"] != slow_body["recommendation_id"]
    del fast_body["recommendation_id"], slow_body["recommendation_id"]
    assert fast_body == slow_body and fast_body["items"]
    # the body is exactly the documented schema, field for field
    parsed = RecommendationResponse.model_validate_json(fast.content)
    assert parsed.model_dump(exclude={"recommendation_id"}) == fast_body
    assert fast.headers["content-type"] == "application/json"
    assert "x-request-id" in fast.headers


INVALID: list[tuple[str, str, dict[str, Any]]] = [
    ("GET", RELATED, {"params": {"k": 0}}),
    ("GET", RELATED, {"params": {"price_min": 5, "price_max": 1}}),  # refused by the query
    ("GET", RELATED, {"params": {"device": "toaster"}}),
    ("POST", CART, {"json": {"items": [], "k": 5}}),
    ("POST", CART, {"json": {"items": ["i00"], "context": {"hour": True}}}),  # JSON: no int
    ("POST", CART, {"content": b"{not json", "headers": {"content-type": "application/json"}}),
    ("POST", CART, {"content": b'{"items": ["i00"]}', "headers": {"content-type": "text/plain"}}),
]


@pytest.mark.parametrize(("method", "path", "options"), INVALID)
def test_invalid_requests_get_fastapis_own_answer(
    clients: tuple[TestClient, TestClient],
    monkeypatch: pytest.MonkeyPatch,
    method: str,
    path: str,
    options: dict[str, Any],
) -> None:
    fast, routed_calls, slow = _send_to_both(clients, monkeypatch, method, path, options)
    assert routed_calls == 1  # handed over to the app, body replayed
    assert 400 <= fast.status_code < 500
    assert (fast.status_code, fast.json()) == (slow.status_code, slow.json())


def test_other_routes_and_methods_pass_through(
    clients: tuple[TestClient, TestClient], monkeypatch: pytest.MonkeyPatch
) -> None:
    hot, _ = clients
    calls = RouteCalls(monkeypatch)
    assert hot.get("/health").status_code == 200
    assert hot.post(RELATED).status_code == 405
    assert calls.count == 2  # both went through the router (which answers the 405)
