"""The HTTP API over the tiny bundle: endpoints, fallbacks, 4xx, events, arms, reload."""

from __future__ import annotations

import shutil
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest
from bundle_builder import build_tiny_bundle
from fastapi.testclient import TestClient

from recsvc.api.app import create_app
from recsvc.artifacts import write_current
from recsvc.config import Settings
from recsvc.experiments import Arm

TOKEN = "test-admin-token-0123456789"


def make_settings(models_dir: Path, **overrides: object) -> Settings:
    values: dict[str, object] = {
        "models_dir": models_dir,
        "dev_mode": True,
        "admin_token": TOKEN,
        "reload_poll_seconds": 0,
        "event_store_url": "memory://",
        **overrides,
    }
    return Settings(**values)  # type: ignore[arg-type]


@pytest.fixture
def client(models_dir: Path) -> Iterator[TestClient]:
    with TestClient(create_app(make_settings(models_dir))) as test_client:
        yield test_client


def test_related_items_explains_every_slot(client: TestClient) -> None:
    response = client.get("/v1/items/i00/related", params={"k": 3, "country": "France"})
    assert response.status_code == 200
    body = response.json()
    assert body["model_version"] == "tiny-1"
    assert len(body["recommendation_id"]) == 32
    assert body["arm"] in {"model", "popular"}
    items = body["items"]
    assert [item["rank"] for item in items] == list(range(1, len(items) + 1))
    assert all(item["item_id"] != "i00" and item["reason"] and item["strategy"] for item in items)
    assert response.headers["x-request-id"]


def test_model_arm_answers_with_the_rule_partner_first(models_dir: Path) -> None:
    settings = make_settings(models_dir, arms=[Arm("model", 1.0, strategy="blend")])
    with TestClient(create_app(settings)) as client:
        first = client.get("/v1/items/i00/related", params={"k": 3}).json()["items"][0]
    assert first["item_id"] == "i01"
    assert "412 orders" in first["reason"]
    assert first["name"] == "RED HANGING HEART T-LIGHT HOLDER"


def test_unknown_item_and_user_fall_back_by_name(client: TestClient) -> None:
    related = client.get("/v1/items/NOPE/related", params={"k": 4}).json()["items"]
    assert related and {item["strategy"] for item in related} <= {"popular", "popular_in_category"}
    user = client.get("/v1/users/stranger/recommendations", params={"k": 4}).json()["items"]
    assert user and all(item["strategy"] for item in user)


def test_cart_never_returns_cart_items(client: TestClient) -> None:
    body = {"items": ["i04", "i05"], "k": 5, "context": {"page_type": "cart"}}
    response = client.post("/v1/cart/recommendations", json=body)
    assert response.status_code == 200
    ids = [item["item_id"] for item in response.json()["items"]]
    assert ids and not {"i04", "i05"} & set(ids)


@pytest.mark.parametrize(
    ("method", "url", "kwargs", "status", "needle"),
    [
        ("get", "/v1/items/i00/related", {"params": {"k": 0}}, 422, "k"),
        ("get", "/v1/items/i00/related", {"params": {"k": 101}}, 422, "k"),
        ("get", "/v1/items/i00/related", {"params": {"device": "toaster"}}, 422, "device"),
        ("get", "/v1/items/" + "x" * 200 + "/related", {}, 422, "item_id"),
        ("post", "/v1/cart/recommendations", {"json": {"items": []}}, 422, "items"),
        (
            "post",
            "/v1/cart/recommendations",
            {"content": b"{not json", "headers": {"content-type": "application/json"}},
            422,
            "JSON",
        ),
        ("post", "/v1/events", {"json": {"events": [{"type": "click"}]}}, 422, "event_id"),
    ],
)
def test_invalid_input_gets_a_4xx_that_says_what_is_wrong(
    client: TestClient, method: str, url: str, kwargs: dict[str, object], status: int, needle: str
) -> None:
    response = getattr(client, method)(url, **kwargs)
    assert response.status_code == status
    assert needle.lower() in response.json()["detail"].lower()


def test_oversized_body_is_413(client: TestClient) -> None:
    response = client.post(
        "/v1/events", content=b"x" * (300 * 1024), headers={"content-type": "application/json"}
    )
    assert response.status_code == 413
    assert "limit" in response.json()["detail"]


def _event(event_id: str, rec: str | None, kind: str = "click") -> dict[str, object]:
    return {
        "event_id": event_id,
        "type": kind,
        "user_id": "u1",
        "item_id": "i01",
        "timestamp": "2026-11-23T12:00:00Z",
        "recommendation_id": rec,
    }


def test_events_are_idempotent_and_attributed(client: TestClient) -> None:
    rec = client.get("/v1/items/i00/related", params={"user_id": "u1"}).json()
    batch = {"events": [_event("e1", rec["recommendation_id"]), _event("e2", "unknown-rec")]}
    first = client.post("/v1/events", json=batch).json()
    assert first == {"accepted": 2, "duplicates": 0, "unattributed": 1}
    again = client.post("/v1/events", json=batch).json()
    assert again == {"accepted": 0, "duplicates": 2, "unattributed": 0}


def test_events_survive_a_restart_on_a_file_store(models_dir: Path, tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'events.db'}"
    settings = make_settings(models_dir, event_store_url=url)
    with TestClient(create_app(settings)) as client:
        assert (
            client.post("/v1/events", json={"events": [_event("e1", None)]}).json()["accepted"] == 1
        )
    with TestClient(create_app(settings)) as client:
        assert (
            client.post("/v1/events", json={"events": [_event("e1", None)]}).json()["duplicates"]
            == 1
        )


def test_arms_are_deterministic_per_user(client: TestClient) -> None:
    arms = {
        user: {client.get(f"/v1/users/{user}/recommendations").json()["arm"] for _ in range(3)}
        for user in ("u1", "u2", "u3", "someone", "else")
    }
    assert all(len(seen) == 1 for seen in arms.values())


def test_just_bought_items_leave_next_purchase(models_dir: Path) -> None:
    settings = make_settings(models_dir, arms=[Arm("model", 1.0, strategy="blend")])
    with TestClient(create_app(settings)) as client:
        before = [i["item_id"] for i in client.get("/v1/users/u1/recommendations").json()["items"]]
        bought = before[0]
        event = {**_event("p1", None, "purchase"), "item_id": bought, "amount": 3.0}
        client.post("/v1/events", json={"events": [event]})
        after = [i["item_id"] for i in client.get("/v1/users/u1/recommendations").json()["items"]]
    assert bought not in after


def test_admin_needs_the_token(client: TestClient) -> None:
    assert client.post("/v1/admin/reload").status_code == 401
    wrong = {"Authorization": "Bearer nope"}
    assert client.post("/v1/admin/reload", headers=wrong).status_code == 401
    ok = client.post("/v1/admin/reload", headers={"Authorization": f"Bearer {TOKEN}"})
    assert ok.json()["outcome"] == "unchanged"


def test_broken_reload_is_refused_and_old_bundle_keeps_serving(
    client: TestClient, models_dir: Path
) -> None:
    broken = build_tiny_bundle(models_dir / "tiny-2")
    (broken / "als" / "item_factors.npy").write_bytes(b"garbage")
    write_current(models_dir, "tiny-2")
    result = client.post("/v1/admin/reload", headers={"Authorization": f"Bearer {TOKEN}"}).json()
    assert result["outcome"] == "refused" and "item_factors" in result["detail"]
    assert client.get("/v1/items/i00/related").json()["model_version"] == "tiny-1"
    ready = client.get("/ready").json()
    assert ready["model_version"] == "tiny-1" and "item_factors" in ready["last_refusal"]
    assert 'recsvc_reloads_total{outcome="refused"} 1.0' in client.get("/metrics").text


def test_good_reload_swaps(client: TestClient, models_dir: Path, tiny_bundle_path: Path) -> None:
    shutil.copytree(tiny_bundle_path, models_dir / "tiny-2")
    write_current(models_dir, "tiny-2")
    headers = {"Authorization": f"Bearer {TOKEN}"}
    assert client.post("/v1/admin/reload", headers=headers).json()["outcome"] == "swapped"
    # the copied bundle keeps its manifest version; the directory name is what `current` names
    assert client.get("/ready").json()["status"] == "ready"


def test_user_deletion_erases_events(client: TestClient) -> None:
    client.post("/v1/events", json={"events": [_event("e9", None)]})
    headers = {"Authorization": f"Bearer {TOKEN}"}
    removed = client.delete("/v1/users/u1", headers=headers).json()
    assert removed["events"] == 1
    assert client.delete("/v1/users/u1", headers=headers).json()["events"] == 0


def test_health_ready_metrics(client: TestClient) -> None:
    assert client.get("/health").json() == {"status": "ok"}
    assert client.get("/ready").json()["model_version"] == "tiny-1"
    client.get("/v1/items/i00/related")
    text = client.get("/metrics").text
    assert 'recsvc_requests_total{endpoint="/v1/items/{item_id}/related",status="200"}' in text
    assert "recsvc_bundle_info" in text


def test_service_refuses_to_start_without_a_bundle(tmp_path: Path) -> None:
    app = create_app(make_settings(tmp_path))
    with pytest.raises(Exception, match="recsvc train"), TestClient(app):
        pass


def test_the_service_sets_the_gil_switch_interval(models_dir: Path) -> None:
    before = sys.getswitchinterval()
    try:
        with TestClient(create_app(make_settings(models_dir, gil_switch_interval_seconds=0.002))):
            assert sys.getswitchinterval() == pytest.approx(0.002)
    finally:
        sys.setswitchinterval(before)
