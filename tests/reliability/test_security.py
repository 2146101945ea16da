"""Security and privacy: admin auth, production settings, erasure and retention, no raw
user ids in logs, metrics or error messages, CORS, bundle paths, no pickle."""

from __future__ import annotations

import ast
import io
import json
import logging
import os
import shutil
import sqlite3
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import numpy as np
import pytest
from fastapi.testclient import TestClient

from recsvc.api.app import create_app
from recsvc.artifacts import load_bundle, sha256_file, write_current
from recsvc.artifacts.manifest import MANIFEST_FILE
from recsvc.config import EXAMPLE_TOKEN, Settings
from recsvc.errors import ConfigError, UnsafePathError
from recsvc.events import Event, EventStore, open_store
from recsvc.logs import JsonFormatter
from tests.reliability.support import AUTH, HASH_KEY, TOKEN, make_settings

REPO = Path(__file__).resolve().parents[2]
SECRET_USER = "shopper-SECRET-8841"
SECRET_SESSION = "session-SECRET-5512"
ADMIN_CALLS = [("post", "/v1/admin/reload"), ("delete", "/v1/users/u1")]


# --- admin authentication ---------------------------------------------------------------


@pytest.mark.parametrize(("method", "url"), ADMIN_CALLS)
@pytest.mark.parametrize(
    "authorization",
    [
        None,
        "",
        "Bearer",
        "Bearer ",
        "Bearer wrong",
        f"Bearer {TOKEN[:-1]}",  # a prefix of the token
        f"Bearer {TOKEN}x",
        f"Bearer {TOKEN.upper()}",
        f"Basic {TOKEN}",
        TOKEN,
        b"Bearer \xc3\xa9t\xc3\xa9",  # non-ASCII bytes must not crash the comparison
    ],
)
def test_admin_endpoints_refuse_missing_or_wrong_tokens(
    client: TestClient, method: str, url: str, authorization: str | bytes | None
) -> None:
    headers = {} if authorization is None else {"Authorization": authorization}
    response = client.request(method, url, headers=headers)  # type: ignore[arg-type]
    assert response.status_code == 401, response.text
    assert response.headers["www-authenticate"] == "Bearer"
    assert TOKEN not in response.text


@pytest.mark.parametrize(("method", "url"), ADMIN_CALLS)
def test_admin_endpoints_accept_the_token(client: TestClient, method: str, url: str) -> None:
    assert client.request(method, url, headers=AUTH).status_code == 200


def test_admin_endpoints_are_disabled_without_a_configured_token(models_dir: Path) -> None:
    settings = make_settings(models_dir, dev_mode=True, admin_token=None)
    with TestClient(create_app(settings)) as client:
        for method, url in ADMIN_CALLS:
            for headers in ({}, AUTH):
                response = client.request(method, url, headers=headers)
                assert response.status_code == 403
                assert "RECSVC_ADMIN_TOKEN" in response.json()["detail"]


# --- production settings ----------------------------------------------------------------


@pytest.fixture
def clean_env(monkeypatch: pytest.MonkeyPatch) -> pytest.MonkeyPatch:
    """No RECSVC_* variable from the caller's environment."""
    for name in list(os.environ):
        if name.startswith("RECSVC_"):
            monkeypatch.delenv(name)
    return monkeypatch


@pytest.mark.parametrize("token", [None, "", EXAMPLE_TOKEN])
def test_settings_refuse_a_missing_or_example_token(
    clean_env: pytest.MonkeyPatch, token: str | None
) -> None:
    clean_env.setenv("RECSVC_USER_HASH_KEY", HASH_KEY)
    if token is not None:
        clean_env.setenv("RECSVC_ADMIN_TOKEN", token)
    with pytest.raises(ConfigError, match="RECSVC_ADMIN_TOKEN"):
        Settings(_env_file=None)
    clean_env.setenv("RECSVC_DEV_MODE", "true")
    assert Settings(_env_file=None).dev_mode


def test_settings_refuse_the_default_hash_key(clean_env: pytest.MonkeyPatch) -> None:
    clean_env.setenv("RECSVC_ADMIN_TOKEN", TOKEN)
    with pytest.raises(ConfigError, match="RECSVC_USER_HASH_KEY"):
        Settings(_env_file=None)


def test_the_service_refuses_to_start_with_the_example_token(tmp_path: Path) -> None:
    env = {k: v for k, v in os.environ.items() if not k.startswith("RECSVC_")}
    env |= {"RECSVC_ADMIN_TOKEN": EXAMPLE_TOKEN, "RECSVC_USER_HASH_KEY": HASH_KEY}
    env["PYTHONPATH"] = str(REPO)
    done = subprocess.run(
        [sys.executable, "-c", "import recsvc.main"],
        cwd=tmp_path,
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert done.returncode != 0
    assert "RECSVC_ADMIN_TOKEN must be set" in done.stderr


# --- erasure and retention --------------------------------------------------------------


def _event(event_id: str, **fields: object) -> dict[str, object]:
    return {
        "event_id": event_id,
        "type": "click",
        "item_id": "i01",
        "timestamp": datetime.now(UTC).isoformat(),
        **fields,
    }


@pytest.fixture
def store() -> Iterator[EventStore]:
    events = open_store("memory://")
    yield events
    events.close()


def _all_rows(rows: Callable[[datetime, datetime], Iterator[dict[str, object]]]) -> list[str]:
    """Every row of an `iter_events`/`iter_impressions`, as JSON text."""
    since, until = datetime(1970, 1, 1, tzinfo=UTC), datetime(2200, 1, 1, tzinfo=UTC)
    return [json.dumps(row, default=str) for row in rows(since, until)]


def test_user_deletion_erases_events_impressions_and_records_it(
    models_dir: Path, store: EventStore
) -> None:
    user, session, other = "erase-me", "erase-session", "keep-me"
    with TestClient(create_app(make_settings(models_dir), store=store)) as client:
        client.get("/v1/users/erase-me/recommendations")
        client.get("/v1/items/i00/related", params={"session_id": session})
        client.get("/v1/users/keep-me/recommendations")
        batch = [
            _event("e1", user_id=user, session_id=session),
            _event("e2", session_id=session),  # anonymous, in the user's session
            _event("e3", user_id=user),
            _event("e4", user_id=other),
        ]
        assert client.post("/v1/events", json={"events": batch}).json()["accepted"] == 4
        assert client.delete(f"/v1/users/{user}").status_code == 401  # and nothing erased
        erased = client.delete(f"/v1/users/{user}", headers=AUTH)
        assert erased.status_code == 200
        assert erased.json() == {"events": 3, "impressions": 2}
        again = client.delete(f"/v1/users/{user}", headers=AUTH)
        assert again.json() == {"events": 0, "impressions": 0}
    events = _all_rows(store.iter_events)
    impressions = _all_rows(store.iter_impressions)
    assert not [row for row in events + impressions if user in row or session in row]
    assert len(events) == 1 and other in events[0]
    assert len(impressions) == 1 and other in impressions[0]
    assert set(store.deleted_users()) == {user}


def test_retention_purges_old_events_at_start(models_dir: Path, store: EventStore) -> None:
    now = datetime.now(UTC)
    store.add_events(
        [
            Event.model_validate(_event("old", user_id="u1", timestamp=now - timedelta(days=31))),
            Event.model_validate(_event("new", user_id="u1", timestamp=now - timedelta(days=29))),
        ]
    )
    with TestClient(create_app(make_settings(models_dir, retention_days=30), store=store)):
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline:
            kept = [row["event_id"] for row in store.iter_events(now - timedelta(days=400), now)]
            if kept == ["new"]:
                break
            time.sleep(0.05)
    assert kept == ["new"]


# --- no raw user ids in logs, metrics or error messages ---------------------------------


@pytest.fixture
def json_logs() -> Iterator[io.StringIO]:
    """Everything the `recsvc` loggers emit, formatted as the service formats it."""
    stream = io.StringIO()
    handler = logging.StreamHandler(stream)
    handler.setFormatter(JsonFormatter())
    logger = logging.getLogger("recsvc")
    logger.addHandler(handler)
    yield stream
    logger.removeHandler(handler)


def _requests_carrying_secrets(client: TestClient) -> list[str]:
    """Requests with the secret ids on every endpoint, valid and invalid; the bodies."""
    ids = {"user_id": SECRET_USER, "session_id": SECRET_SESSION}
    answers = [
        client.get(
            f"/v1/users/{SECRET_USER}/recommendations", params={"session_id": SECRET_SESSION}
        ),
        client.get(f"/v1/users/{SECRET_USER}/recommendations", params={"k": 0}),
        client.get("/v1/items/i00/related", params=ids),
        client.get("/v1/items/i00/related", params={**ids, "device": "toaster"}),
        client.post("/v1/cart/recommendations", json={"items": ["i04"], **ids}),
        client.post("/v1/cart/recommendations", json={"items": [], **ids}),
        client.post("/v1/events", json={"events": [_event("s1", **ids)]}),
        client.post("/v1/events", json={"events": [{"event_id": "s2", **ids}]}),
        client.post("/v1/events", json={"events": [_event("s3", **ids, amount=1.0)]}),
        client.delete(f"/v1/users/{SECRET_USER}"),
        client.delete(f"/v1/users/{SECRET_USER}", headers=AUTH),
    ]
    return [answer.text for answer in answers]


def test_no_raw_user_id_in_logs_metrics_or_errors(
    models_dir: Path, tmp_path: Path, json_logs: io.StringIO
) -> None:
    database = tmp_path / "events.db"
    store = open_store(f"sqlite:///{database}", busy_timeout=0.1)
    settings = make_settings(models_dir, log_level="DEBUG")
    with TestClient(create_app(settings, store=store)) as client:
        bodies = _requests_carrying_secrets(client)
        lock = sqlite3.connect(database, isolation_level=None)
        lock.execute("BEGIN IMMEDIATE")  # the failure paths log too: store locked
        try:
            bodies += _requests_carrying_secrets(client)
        finally:
            lock.execute("ROLLBACK")
            lock.close()
        metrics = client.get("/metrics").text
    store.close()
    logs = json_logs.getvalue()
    assert "request failed" in logs and "/v1/users/{user_id}" in logs  # 503s were logged
    for text in (logs, metrics, *bodies):
        assert SECRET_USER not in text and SECRET_SESSION not in text


# --- CORS -------------------------------------------------------------------------------

SHOP = "https://shop.example"
PREFLIGHT = {
    "Access-Control-Request-Method": "POST",
    "Access-Control-Request-Headers": "content-type",
}


def test_cors_allows_only_configured_origins(models_dir: Path) -> None:
    settings = make_settings(models_dir, cors_origins=[SHOP])
    with TestClient(create_app(settings)) as client:
        allowed = client.options("/v1/cart/recommendations", headers={"Origin": SHOP, **PREFLIGHT})
        assert allowed.status_code == 200
        assert allowed.headers["access-control-allow-origin"] == SHOP
        for origin in ("https://evil.example", "https://shop.example.evil.example", "null"):
            refused = client.options(
                "/v1/cart/recommendations", headers={"Origin": origin, **PREFLIGHT}
            )
            assert refused.status_code == 400
            assert "access-control-allow-origin" not in refused.headers
            simple = client.get("/v1/items/i00/related", headers={"Origin": origin})
            assert "access-control-allow-origin" not in simple.headers
        assert (
            client.get("/health", headers={"Origin": SHOP}).headers["access-control-allow-origin"]
            == SHOP
        )


def test_no_cors_without_configured_origins(client: TestClient) -> None:
    simple = client.get("/v1/items/i00/related", headers={"Origin": SHOP})
    assert "access-control-allow-origin" not in simple.headers
    preflight = client.options("/v1/cart/recommendations", headers={"Origin": SHOP, **PREFLIGHT})
    assert "access-control-allow-origin" not in preflight.headers


# --- bundle paths and pickle ------------------------------------------------------------


def _rewrite_manifest(bundle: Path, files: dict[str, str]) -> None:
    manifest = json.loads((bundle / MANIFEST_FILE).read_text())
    manifest["files"] = files
    (bundle / MANIFEST_FILE).write_text(json.dumps(manifest))


def _escape_through_manifest(bundle: Path) -> None:
    outside = bundle.parent / "outside.npy"
    np.save(outside, np.arange(3))
    files = json.loads((bundle / MANIFEST_FILE).read_text())["files"]
    _rewrite_manifest(bundle, {**files, "../outside.npy": sha256_file(outside)})


def _absolute_path_in_manifest(bundle: Path) -> None:
    files = json.loads((bundle / MANIFEST_FILE).read_text())["files"]
    target = bundle / "catalog" / "item_ids.npy"
    _rewrite_manifest(bundle, {**files, str(target): sha256_file(target)})


def _symlink_out_of_the_bundle(bundle: Path) -> None:
    inside = bundle / "catalog" / "item_ids.npy"
    outside = bundle.parent / "item_ids_elsewhere.npy"
    outside.write_bytes(inside.read_bytes())  # same bytes: the checksum would pass
    inside.unlink()
    inside.symlink_to(outside)


@pytest.mark.parametrize(
    "escape", [_escape_through_manifest, _absolute_path_in_manifest, _symlink_out_of_the_bundle]
)
def test_bundle_paths_stay_inside_the_bundle(
    client: TestClient, models_dir: Path, escape: Callable[[Path], None]
) -> None:
    bundle = _copy_bundle(models_dir / "tiny-1", models_dir / "tiny-2")
    escape(bundle)
    with pytest.raises(UnsafePathError):
        load_bundle(bundle)
    write_current(models_dir, "tiny-2")
    result = client.post("/v1/admin/reload", headers=AUTH).json()
    assert result["outcome"] == "refused" and "outside" in result["detail"]
    assert client.get("/v1/items/i00/related").json()["model_version"] == "tiny-1"


def _copy_bundle(source: Path, target: Path) -> Path:
    shutil.copytree(source, target)
    return target


@pytest.mark.parametrize("pointer", ["../tiny-1", "/etc", ".staging-x", "tiny-1/../.."])
def test_current_pointer_cannot_leave_the_models_dir(
    client: TestClient, models_dir: Path, pointer: str
) -> None:
    (models_dir / "current").write_text(pointer + "\n")
    result = client.post("/v1/admin/reload", headers=AUTH).json()
    assert result["outcome"] == "refused" and "not a bundle version" in result["detail"]


class _Trap:
    """Unpickling this creates the file `path`: proof that a pickle was executed."""

    def __init__(self, path: Path) -> None:
        self.path = path

    def __reduce__(self) -> tuple[Callable[..., object], tuple[str, str]]:
        return (open, (str(self.path), "w"))


def test_a_pickled_array_is_refused_never_unpickled(
    client: TestClient, models_dir: Path, tmp_path: Path
) -> None:
    marker = tmp_path / "unpickled"
    bundle = _copy_bundle(models_dir / "tiny-1", models_dir / "tiny-2")
    names = bundle / "catalog" / "names.npy"
    trap = np.empty(1, dtype=object)
    trap[0] = _Trap(marker)
    np.save(names, trap, allow_pickle=True)
    files = json.loads((bundle / MANIFEST_FILE).read_text())["files"]
    _rewrite_manifest(bundle, {**files, "catalog/names.npy": sha256_file(names)})
    write_current(models_dir, "tiny-2")
    result = client.post("/v1/admin/reload", headers=AUTH).json()
    assert result["outcome"] == "refused" and "names" in result["detail"]
    assert not marker.exists()


UNSAFE_MODULES = {
    "pickle",
    "cPickle",
    "_pickle",
    "dill",
    "cloudpickle",
    "joblib",
    "shelve",
    "marshal",
}


def _python_files() -> list[Path]:
    return sorted(
        path for package in ("recsvc", "training") for path in (REPO / package).rglob("*.py")
    )


@pytest.mark.parametrize("path", _python_files(), ids=lambda p: str(p.relative_to(REPO)))
def test_no_pickle_anywhere_in_the_code(path: Path) -> None:
    """No module imports a pickle-based loader; every np.load says allow_pickle=False."""
    tree = ast.parse(path.read_text(), filename=str(path))
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            assert not {alias.name.split(".")[0] for alias in node.names} & UNSAFE_MODULES
        elif isinstance(node, ast.ImportFrom):
            assert (node.module or "").split(".")[0] not in UNSAFE_MODULES
        elif isinstance(node, ast.Call) and ast.unparse(node.func) in ("np.load", "numpy.load"):
            flags = {kw.arg: kw.value for kw in node.keywords}
            flag = flags.get("allow_pickle")
            assert isinstance(flag, ast.Constant) and flag.value is False, ast.unparse(node)
        elif isinstance(node, ast.keyword) and node.arg == "allow_pickle":
            assert isinstance(node.value, ast.Constant) and node.value.value is False
