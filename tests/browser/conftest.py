"""Fixtures of the browser tests: the real service in a subprocess, and Debian's Chromium
(`/usr/bin/chromium`, installed by scripts/install-browser.sh) driven by Playwright. No
browser is ever downloaded: Playwright launches that binary through `executable_path`.

The service is `recsvc serve` (run as `python -m training serve`) on a free loopback port,
serving the tiny bundle of tests/recsvc/bundle_builder.py in demo mode, with a single
experiment arm (the model, so that answers are the known ones), CORS open to the `shop`
(a third-party site on another loopback port, serving pages the tests write) and a SQLite
event store that the tests read back. The shop is a real server rather than Playwright
routing because Chromium treats routed documents as public and refuses their requests to
loopback addresses.
"""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
import threading
import time
import urllib.error
import urllib.request
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pytest

from recsvc.artifacts import write_current
from recsvc.events import open_store
from tests.recsvc.bundle_builder import build_tiny_bundle

if TYPE_CHECKING:
    from playwright.sync_api import Browser, ConsoleMessage, Error, Page

REPO = Path(__file__).resolve().parents[2]
CHROMIUM = Path("/usr/bin/chromium")
CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",  # root in a container has no user namespace for the sandbox
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]
SCREENSHOTS = REPO / "reports" / "screenshots"
START_TIMEOUT_S = 30.0


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    """Every test under tests/browser is a browser test; skip them all, saying why, when
    Chromium or Playwright is missing (scripts/install-browser.sh installs both)."""
    here = Path(__file__).parent
    reason = _missing_browser()
    for item in items:
        if here in item.path.parents:
            item.add_marker(pytest.mark.browser)
            if reason:
                item.add_marker(pytest.mark.skip(reason=reason))


def _missing_browser() -> str | None:
    if not CHROMIUM.exists():
        return f"{CHROMIUM} is missing: run scripts/install-browser.sh"
    try:
        import playwright.sync_api  # noqa: F401
    except ImportError:
        return "the playwright package is missing: run scripts/install-browser.sh"
    return None


@dataclass(frozen=True)
class Service:
    """The running service: its base URL and a reader of its event store."""

    url: str
    store_url: str

    def get_json(self, path: str) -> Any:
        with urllib.request.urlopen(self.url + path, timeout=5) as response:
            return json.load(response)

    def events(self) -> list[dict[str, Any]]:
        """Every stored feedback event (fields of `Event` plus `attributed`)."""
        store = open_store(self.store_url)
        try:
            now = datetime.now(UTC)
            return list(store.iter_events(now - timedelta(days=1), now + timedelta(days=1)))
        finally:
            store.close()

    def wait_for_events(
        self, match: Callable[[dict[str, Any]], bool], count: int = 1, timeout: float = 5.0
    ) -> list[dict[str, Any]]:
        """The stored events that satisfy `match`, once there are at least `count` (beacons
        arrive asynchronously); fails after `timeout` seconds."""
        deadline = time.monotonic() + timeout
        while True:
            found = [event for event in self.events() if match(event)]
            if len(found) >= count or time.monotonic() > deadline:
                assert len(found) >= count, f"expected {count} matching events, found {found}"
                return found
            time.sleep(0.1)


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _service_env(store_url: str, shop_origin: str) -> dict[str, str]:
    env = {key: value for key, value in os.environ.items() if not key.startswith("RECSVC_")}
    env.update(
        RECSVC_DEV_MODE="true",
        RECSVC_DEMO="true",
        RECSVC_EVENT_STORE_URL=store_url,
        RECSVC_RELOAD_POLL_SECONDS="0",
        RECSVC_ARMS=json.dumps([{"name": "model", "weight": 1.0, "strategy": "blend"}]),
        RECSVC_CORS_ORIGINS=json.dumps([shop_origin]),
        RECSVC_LOG_LEVEL="WARNING",
    )
    return env


def _wait_ready(process: subprocess.Popen[bytes], url: str, log: Path) -> None:
    deadline = time.monotonic() + START_TIMEOUT_S
    while time.monotonic() < deadline:
        if process.poll() is not None:
            pytest.fail(f"the service exited with {process.returncode}:\n{log.read_text()}")
        try:
            with urllib.request.urlopen(url + "/ready", timeout=1) as response:
                if response.status == 200:
                    return
        except (urllib.error.URLError, ConnectionError, TimeoutError):
            pass
        time.sleep(0.2)
    pytest.fail(f"the service was not ready within {START_TIMEOUT_S} s:\n{log.read_text()}")


@pytest.fixture(scope="session")
def service(tmp_path_factory: pytest.TempPathFactory, shop: Shop) -> Iterator[Service]:
    """The real service over the tiny bundle, started once for the browser tests."""
    root = tmp_path_factory.mktemp("browser-service")
    models = root / "models"
    models.mkdir()
    build_tiny_bundle(models / "tiny-1")
    write_current(models, "tiny-1")
    store_url = f"sqlite:///{root / 'events.db'}"
    port = free_port()
    url = f"http://127.0.0.1:{port}"
    log = root / "service.log"
    command = [sys.executable, "-m", "training", "serve", "--models", str(models)]
    with log.open("wb") as output:
        process = subprocess.Popen(
            [*command, "--host", "127.0.0.1", "--port", str(port)],
            cwd=root,  # no stray .env of the working tree
            env=_service_env(store_url, shop.origin),
            stdout=output,
            stderr=subprocess.STDOUT,
        )
    try:
        _wait_ready(process, url, log)
        yield Service(url=url, store_url=store_url)
    finally:
        process.terminate()
        try:
            process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()


@pytest.fixture(scope="session")
def demo(service: Service) -> str:
    """Base URL of the demo storefront (`/demo/`), which demo mode must serve."""
    url = f"{service.url}/demo/"
    try:
        urllib.request.urlopen(url, timeout=5).close()
    except urllib.error.HTTPError as exc:
        pytest.fail(
            f"GET /demo/ answered {exc.code}: create_app must include "
            "recsvc.api.routes.demo.router when settings.demo (RECSVC_DEMO=true)"
        )
    return url


@dataclass(frozen=True)
class Shop:
    """A third-party shop site: serves the HTML pages tests give it, one path per page."""

    origin: str
    pages: dict[str, bytes]

    def open(self, page: Page, html: str) -> None:
        path = f"/{uuid.uuid4().hex}.html"
        self.pages[path] = html.encode()
        page.goto(self.origin + path)


def _shop_handler(pages: dict[str, bytes]) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            body = pages.get(self.path)
            self.send_response(200 if body is not None else 404)
            self.send_header("Content-Type", "text/html; charset=utf-8")
            self.send_header("Content-Length", str(len(body or b"")))
            self.end_headers()
            self.wfile.write(body or b"")

        def log_message(self, format: str, *args: Any) -> None:
            """Quiet: the test output is not an access log."""

    return Handler


@pytest.fixture(scope="session")
def shop() -> Iterator[Shop]:
    pages: dict[str, bytes] = {}
    server = ThreadingHTTPServer(("127.0.0.1", 0), _shop_handler(pages))
    thread = threading.Thread(target=server.serve_forever, name="shop", daemon=True)
    thread.start()
    try:
        yield Shop(origin=f"http://127.0.0.1:{server.server_address[1]}", pages=pages)
    finally:
        server.shutdown()
        server.server_close()
        thread.join(timeout=5)


@pytest.fixture
def closed_port() -> int:
    """A loopback port nothing listens on (free a moment ago)."""
    return free_port()


@pytest.fixture(scope="session")
def browser() -> Iterator[Browser]:
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        chromium = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        yield chromium
        chromium.close()


@dataclass
class PageLog:
    """What a page said: console messages ("type: text") and uncaught errors."""

    console: list[str] = field(default_factory=list)
    errors: list[str] = field(default_factory=list)

    def warnings(self, prefix: str = "recsvc: ") -> list[str]:
        return [line for line in self.console if line.startswith(f"warning: {prefix}")]


@pytest.fixture
def page_log() -> PageLog:
    return PageLog()


@pytest.fixture
def page(browser: Browser, page_log: PageLog) -> Iterator[Page]:
    """A page in a fresh context (empty localStorage), desktop-sized, whose console and
    uncaught errors are recorded in `page_log`."""
    context = browser.new_context(viewport={"width": 1100, "height": 900})
    context.set_default_timeout(10_000)
    new_page = context.new_page()

    def on_console(message: ConsoleMessage) -> None:
        page_log.console.append(f"{message.type}: {message.text}")

    def on_error(error: Error) -> None:
        page_log.errors.append(str(error))

    new_page.on("console", on_console)
    new_page.on("pageerror", on_error)
    yield new_page
    context.close()


@pytest.fixture(scope="session")
def screenshots() -> Path:
    """reports/screenshots/ (git-ignored), where the tests save pictures of the demo."""
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    return SCREENSHOTS
