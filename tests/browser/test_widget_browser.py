"""The storefront widget and the demo store in Chromium, against the real service.

Known answers come from the tiny bundle's tables (tests/recsvc/bundle_builder.py): item i00
has its strongest rule to i01 (412 orders, lift 5.3); the item-kNN neighbours of the cart
{i00, i01} outside the cart are i02 and i03.

Pages of the `shop` fixture (a third-party site on another loopback port) load the widget
cross-origin from the service, as a real shop would.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Any
from urllib.parse import parse_qs, urlparse

import pytest

from tests.recsvc.bundle_builder import TINY_GLOBAL, TINY_ITEMS, TINY_USERS

if TYPE_CHECKING:
    from playwright.sync_api import Browser, Page, Request, Route

    from tests.browser.conftest import PageLog, Service, Shop

NAMES = {item_id: name for item_id, name, *_ in TINY_ITEMS}
PRICES = {item_id: price for item_id, _, _, price, _ in TINY_ITEMS}
READY = "[data-recsvc-state=ready]"


def card_ids(page: Page, container: str) -> list[str]:
    ids = page.locator(f"{container} .recsvc-card").evaluate_all(
        "cards => cards.map(card => card.dataset.itemId)"
    )
    return [str(item_id) for item_id in ids]


def recommendation_id(page: Page, container: str) -> str:
    value = page.locator(f"{container} .recsvc-widget").get_attribute("data-recommendation-id")
    assert value
    return value


def of_session(page: Page, kind: str) -> Callable[[dict[str, Any]], bool]:
    """Matches stored events of `kind` sent from this page's anonymous visitor."""
    session = page.evaluate("window.recsvc.anonymousId()")
    return lambda event: event["type"] == kind and event["session_id"] == session


def shop_page(
    page: Page,
    shop: Shop,
    service: Service,
    widget: str,
    *,
    script_attributes: str = "",
    before: str = "",
) -> None:
    """Open a page of the shop holding the `widget` container below `before`; the widget
    script comes from the service, with `script_attributes` on its tag."""
    src = f"{service.url}/static/recsvc-widget.js"
    shop.open(
        page,
        "<!doctype html><html><head><title>Shop</title><link rel='icon' href='data:,'></head>"
        f"<body><h1 id='host'>Host shop content</h1>{before}{widget}"
        f'<script src="{src}" {script_attributes} defer></script></body></html>',
    )


def test_demo_catalog_lists_the_bundle_by_popularity(service: Service, demo: str) -> None:
    everything = service.get_json("/demo/api/catalog?limit=100")
    assert everything["model_version"] == "tiny-1"
    assert [item["item_id"] for item in everything["items"]] == [
        TINY_ITEMS[index][0] for index in TINY_GLOBAL
    ]
    mugs = service.get_json("/demo/api/catalog?q=mug&limit=1")
    assert (mugs["total"], mugs["items"][0]["name"]) == (2, "TEA MUG")  # TEA before COFFEE
    [plant_pot] = service.get_json("/demo/api/catalog?q=i10")["items"]
    assert (plant_pot["price"], plant_pot["category"]) == (None, ["Garden", "Pots"])
    users = service.get_json("/demo/api/users?limit=2")["users"]
    assert [user["user_id"] for user in users] == ["u1", "u2"]  # the longest histories
    assert users[0]["items_bought"] == len(TINY_USERS[0][3])


def test_product_page_shows_related_items_from_the_service(
    page: Page, demo: str, screenshots: Path
) -> None:
    page.goto(f"{demo}product.html?item=i00")
    page.locator(f"#related{READY}").wait_for()

    ids = card_ids(page, "#related")
    names = page.locator("#related .recsvc-name").all_inner_texts()
    assert 0 < len(ids) <= 6
    assert "i00" not in ids
    assert names == [NAMES[item_id] for item_id in ids]
    assert ids[0] == "i01"
    assert "bought together" in page.locator("#related .recsvc-reason").first.inner_text()
    assert page.locator("#product-name").inner_text() == NAMES["i00"]
    assert page.locator("#related .recsvc-placeholder").count() == len(ids)  # no image_url
    page.screenshot(path=screenshots / "product.png", full_page=True)


def test_click_is_beaconed_with_its_recommendation_id(
    page: Page, service: Service, demo: str
) -> None:
    sent: list[tuple[str, str | None, dict[str, Any]]] = []

    def record(route: Route) -> None:
        request = route.request
        body = json.loads(request.post_data or "{}")
        sent.append((request.resource_type, request.headers.get("content-type"), body))
        route.continue_()

    page.route("**/v1/events", record)
    page.goto(f"{demo}product.html?item=i00")
    page.locator(f"#related{READY}").wait_for()
    shown = recommendation_id(page, "#related")
    first = card_ids(page, "#related")[0]
    is_click = of_session(page, "click")

    page.locator("#related .recsvc-link").first.click()
    page.wait_for_url(f"**/demo/product.html?item={first}")
    [stored] = service.wait_for_events(is_click)

    [(kind, content_type, click)] = [
        (kind, content_type, event)
        for kind, content_type, body in sent
        for event in body["events"]
        if event["type"] == "click"
    ]
    assert (kind, content_type) == ("ping", "application/json")  # navigator.sendBeacon
    assert (click["recommendation_id"], click["item_id"], click["position"]) == (shown, first, 1)
    assert stored["event_id"] == click["event_id"]
    assert stored["attributed"] is True  # the service logged the impression it names


def test_cart_completion_excludes_the_cart_and_orders_are_reported(
    page: Page, service: Service, demo: str, screenshots: Path
) -> None:
    page.goto(f"{demo}product.html?item=i00")
    page.locator("#add-to-cart").click()
    page.locator(f"#related{READY}").wait_for()
    clicked_from = recommendation_id(page, "#related")
    page.locator("#related .recsvc-link[data-item-id=i01]").click()
    page.wait_for_url("**/demo/product.html?item=i01")
    page.locator("#add-to-cart").click()
    assert page.locator("#cart-count").inner_text() == "2"

    page.goto(f"{demo}cart.html")
    page.locator(f"#complete{READY}").wait_for()
    suggested = card_ids(page, "#complete")
    assert not {"i00", "i01"} & set(suggested)
    assert {"i02", "i03"} <= set(suggested)
    page.screenshot(path=screenshots / "cart.png", full_page=True)

    is_purchase = of_session(page, "purchase")
    page.locator("#place-order").click()
    assert "Thank you" in page.locator("#order-placed").inner_text()
    purchases = {e["item_id"]: e for e in service.wait_for_events(is_purchase, count=2)}
    assert purchases["i00"]["amount"] == pytest.approx(PRICES["i00"], rel=1e-6)
    assert purchases["i00"]["recommendation_id"] is None
    assert purchases["i01"]["recommendation_id"] == clicked_from  # remembered from the click
    bids = {e["item_id"]: e for e in service.wait_for_events(of_session(page, "bid"), count=2)}
    assert bids["i01"]["recommendation_id"] == clicked_from


def test_home_page_recommends_for_the_chosen_shopper(
    page: Page, demo: str, screenshots: Path
) -> None:
    page.goto(demo)
    page.locator(f"#for-you{READY}").wait_for()
    # the product grid is a separate request: wait for it rather than racing it
    page.wait_for_function(
        "n => document.querySelectorAll('#products .product-card').length === n",
        arg=len(TINY_ITEMS),
    )

    def for_u1(request: Request) -> bool:
        return "/v1/users/u1/recommendations" in request.url

    with page.expect_request(for_u1) as sent:
        page.locator("#shopper").select_option(label="shopper u1 (United Kingdom)")
    assert parse_qs(urlparse(sent.value.url).query)["country"] == ["United Kingdom"]
    page.locator(f"#for-you{READY}").wait_for()
    assert page.locator("#for-you .recsvc-card").count() > 0
    page.screenshot(path=screenshots / "home.png", full_page=True)


def _hang(route: Route) -> None:
    """Never answer: the widget's timeout must end the request."""


def _fail(route: Route) -> None:
    route.fulfill(status=500, content_type="application/json", body='{"detail": "boom"}')


def _malformed(route: Route) -> None:
    route.fulfill(status=200, content_type="application/json", body='{"items": "none"}')


@pytest.mark.parametrize(
    ("handler", "expected"),
    [
        (None, "Failed to fetch"),  # nothing listens on the port
        (_hang, "timed out"),
        (_fail, "HTTP 500"),
        (_malformed, "no items list"),
    ],
    ids=["closed-port", "timeout", "http-500", "malformed"],
)
def test_a_failing_service_leaves_the_host_page_intact(
    page: Page,
    page_log: PageLog,
    service: Service,
    shop: Shop,
    handler: Callable[[Route], None] | None,
    expected: str,
    closed_port: int,
) -> None:
    endpoint = f"http://127.0.0.1:{closed_port}"
    if handler is not None:
        endpoint = "http://api.test"
        page.route(f"{endpoint}/**", handler)
    shop_page(
        page,
        shop,
        service,
        '<div id="w" data-recsvc-placement="related" data-recsvc-item="i00"></div>',
        script_attributes=f'data-recsvc-endpoint="{endpoint}" data-recsvc-timeout="300"',
    )
    page.locator("#w[data-recsvc-state=error]").wait_for(state="attached")  # empty: no box

    assert page.locator("#host").inner_text() == "Host shop content"
    assert page.locator("#w").inner_html() == ""
    assert page_log.errors == []
    [warning] = page_log.warnings()
    assert expected in warning
    assert page.evaluate("typeof window.recsvc.reportBid") == "function"
    page.evaluate("window.recsvc.reportBid('i00')")  # the API keeps working
    assert page_log.errors == []


def test_text_from_the_service_is_never_markup(
    page: Page, page_log: PageLog, service: Service, shop: Shop
) -> None:
    evil = '<img src=x onerror="window.pwned=true">Mug'
    answer = {
        "recommendation_id": "r-1",
        "model_version": "v",
        "arm": "model",
        "items": [
            {
                "item_id": "a",
                "rank": 1,
                "name": evil,
                "price": 1.5,
                "reason": evil,
                "image_url": "javascript:window.pwned=true",
            },
        ],
    }

    def fake(route: Route) -> None:
        route.fulfill(status=200, content_type="application/json", body=json.dumps(answer))

    page.route("http://api.test/**", fake)
    shop_page(
        page,
        shop,
        service,
        '<div id="w" data-recsvc-placement="related" data-recsvc-item="x"></div>',
        script_attributes='data-recsvc-endpoint="http://api.test"',
    )
    page.locator(f"#w{READY}").wait_for()

    assert page.locator("#w .recsvc-name").inner_text() == evil
    assert page.locator("#w .recsvc-reason").inner_text() == evil
    assert page.locator("#w img").count() == 0  # neither the markup nor the bad image URL
    assert page.evaluate("window.pwned") is None
    assert page_log.errors == []


def test_impressions_only_for_cards_in_view_and_once(
    page: Page, service: Service, shop: Shop
) -> None:
    shop_page(
        page,
        shop,
        service,
        '<div id="w" data-recsvc-placement="related" data-recsvc-item="i00" '
        'data-recsvc-k="4"></div>',
        before='<div style="height: 3000px">tall content</div>',
    )
    page.locator(f"#w{READY}").wait_for()
    shown = recommendation_id(page, "#w")
    is_impression = of_session(page, "impression")

    page.wait_for_timeout(300)  # give an (unwanted) intersection callback time to run
    page.evaluate("window.recsvc.flush()")
    assert [e for e in service.events() if is_impression(e)] == []

    page.locator("#w .recsvc-list").scroll_into_view_if_needed()
    impressions = _flush_until(page, service, is_impression, count=4)
    assert sorted(e["position"] for e in impressions) == [1, 2, 3, 4]
    assert {e["recommendation_id"] for e in impressions} == {shown}
    assert all(e["attributed"] for e in impressions)

    page.mouse.wheel(0, -3000)
    page.locator("#w .recsvc-list").scroll_into_view_if_needed()
    page.wait_for_timeout(300)
    page.evaluate("window.recsvc.flush()")
    assert len([e for e in service.events() if is_impression(e)]) == 4


def test_a_click_on_a_shop_page_reaches_the_service_cross_origin(
    page: Page, service: Service, shop: Shop
) -> None:
    shop_page(
        page,
        shop,
        service,
        '<div id="w" data-recsvc-placement="related" data-recsvc-item="i00"></div>',
    )
    page.locator(f"#w{READY}").wait_for()
    shown = recommendation_id(page, "#w")
    second = card_ids(page, "#w")[1]
    page.evaluate("document.addEventListener('recsvc:click', e => { window.clicked = e.detail })")

    button = page.locator("#w .recsvc-link").nth(1)
    assert button.evaluate("b => b.tagName") == "BUTTON"  # no data-recsvc-link: no href
    button.click()

    [stored] = service.wait_for_events(of_session(page, "click"))
    assert (stored["recommendation_id"], stored["item_id"], stored["position"]) == (
        shown,
        second,
        2,
    )
    detail = {"item_id": second, "recommendation_id": shown, "position": 2}
    assert page.evaluate("window.clicked") == detail  # the host can route on it


def _flush_until(
    page: Page, service: Service, match: Callable[[dict[str, Any]], bool], count: int
) -> list[dict[str, Any]]:
    """Flush the widget's queue until `count` matching events are stored (5 s at most)."""
    for _ in range(50):
        page.evaluate("window.recsvc.flush()")
        found = [event for event in service.events() if match(event)]
        if len(found) >= count:
            return found
        page.wait_for_timeout(100)
    pytest.fail(f"fewer than {count} matching events were stored")


def test_device_and_endpoint_default_on_a_phone(
    browser: Browser, service: Service, shop: Shop
) -> None:
    context = browser.new_context(
        viewport={"width": 390, "height": 844},
        is_mobile=True,
        has_touch=True,
        user_agent="Mozilla/5.0 (iPhone; CPU iPhone OS 17_0 like Mac OS X) Mobile/15E148",
    )
    phone = context.new_page()
    try:

        def related(request: Request) -> bool:
            return "/v1/items/i00/related" in request.url

        with phone.expect_request(related) as sent:
            shop_page(
                phone,
                shop,
                service,
                '<div data-recsvc-placement="related" data-recsvc-item="i00"></div>',
            )
        url = urlparse(sent.value.url)
        assert f"{url.scheme}://{url.netloc}" == service.url  # the script's origin
        assert parse_qs(url.query)["device"] == ["mobile"]
        phone.locator(READY).wait_for()  # cross-origin answer allowed by CORS
    finally:
        context.close()
