"""/dashboard/ in a real browser (Playwright + Debian's Chromium) on a live server.

The page renders its charts from the GraphQL API with demo-like data, sends no request off the
machine, logs no console error (its strict CSP included) and has no serious axe violation.
"""

from __future__ import annotations

import re
from pathlib import Path
from urllib.parse import urlsplit

import pytest
from django.conf import settings as django_settings
from django.test import Client

from tests.dashboard.conftest import demo_billing
from tests.factories import MembershipFactory, UserFactory
from tests.graphql_schema.test_graphiql_browser import (  # browser_settings: a fixture for the live server
    CHROMIUM,
    CHROMIUM_ARGS,
    browser_settings,  # noqa: F401
)

AXE = Path(__file__).parent / "vendor" / "axe-core" / "axe.min.js"
RANGE = "start=2025-01-01&end=2025-03-31"

pytestmark = [
    pytest.mark.browser,
    pytest.mark.usefixtures("browser_settings"),
    pytest.mark.skipif(not CHROMIUM.exists(), reason="needs Debian's chromium package at /usr/bin/chromium"),
]


def open_dashboard(live_server, user, query: str):
    """Load the dashboard as `user`; returns (page text, console errors, off-machine requests, axe
    violations, bar counts per chart, GraphQL POSTs)."""
    from playwright.sync_api import sync_playwright

    login = Client()
    login.force_login(user)
    session_cookie = login.cookies[django_settings.SESSION_COOKIE_NAME].value
    server = urlsplit(live_server.url)
    errors: list[str] = []
    foreign: list[str] = []
    graphql_posts: list[str] = []

    def route(route, request):
        if urlsplit(request.url).netloc != server.netloc:
            foreign.append(request.url)
            return route.abort()
        if urlsplit(request.url).path == "/graphql/":
            graphql_posts.append(request.method)
        return route.continue_()

    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS)
        try:
            context = browser.new_context()
            context.add_cookies(
                [{"name": django_settings.SESSION_COOKIE_NAME, "value": session_cookie, "url": live_server.url}]
            )
            context.route("**/*", route)
            page = context.new_page()
            page.on("console", lambda message: errors.append(message.text) if message.type == "error" else None)
            page.on("pageerror", lambda error: errors.append(str(error)))
            page.goto(f"{live_server.url}/dashboard/?{query}")
            page.wait_for_selector("body[data-loaded]", timeout=20_000)
            # Evaluated through the DevTools protocol, so the page's CSP does not apply to axe.
            page.evaluate(AXE.read_text(encoding="utf-8") + "\n;0")
            results = page.evaluate("axe.run(document, { resultTypes: ['violations'] })")
            bars = page.evaluate(
                "Object.fromEntries([...document.querySelectorAll('.charts')].map("
                "c => [c.id, c.querySelectorAll('svg rect').length]))"
            )
            text = page.inner_text("body")
            state = page.get_attribute("body", "data-loaded")
        finally:
            browser.close()
    serious = [v for v in results["violations"] if v["impact"] in ("serious", "critical")]
    return {
        "text": text,
        "state": state,
        "errors": errors,
        "foreign": foreign,
        "serious": serious,
        "bars": bars,
        "graphql": graphql_posts,
    }


@pytest.mark.django_db(transaction=True, databases="__all__")  # the job writes progress on its own connection
def test_dashboard_renders_charts_from_the_api(live_server, staff):
    demo_billing()

    seen = open_dashboard(live_server, staff, RANGE)

    assert seen["state"] == "true", seen["text"]
    assert seen["errors"] == []
    assert seen["foreign"] == []
    assert seen["serious"] == [], [(v["id"], v["help"]) for v in seen["serious"]]
    assert seen["graphql"] == ["POST"]
    # Billed per month: one chart per currency (USD, CAD), three months each.
    assert seen["bars"]["billed-chart"] == 2 * 3
    # Per service: three services in CAD, four in USD.
    assert seen["bars"]["services-chart"] == 3 + 4
    # Billed and unbilled orders: two bars per month.
    assert seen["bars"]["orders-chart"] == 2 * 3
    assert ", 5 unbilled" in seen["text"]  # Delta's orders no line applied to: 3 in January, 2 in February
    for name in ("Acme Outdoor", "Bravo Goods", "Maple Supply", "Delta Home", "Order fee", "Cross-border fee"):
        assert name in seen["text"]
    assert "CAD" in seen["text"] and "USD" in seen["text"]
    # The latest jobs (the demo's job may still be queued when a broker or another connection runs it).
    assert re.search(r"Maple Supply\t2025-03-01 to 2025-03-31\t(queued|running|succeeded)\t", seen["text"])


@pytest.mark.django_db(transaction=True, databases="__all__")
def test_a_merchant_sees_only_its_customer(live_server):
    data = demo_billing()
    merchant = UserFactory(username="maple-user")
    MembershipFactory(user=merchant, customer=data["customers"]["maple"])

    seen = open_dashboard(live_server, merchant, RANGE)

    assert seen["state"] == "true", seen["text"]
    assert seen["errors"] == [] and seen["foreign"] == [] and seen["serious"] == []
    assert "Maple Supply" in seen["text"]
    for other in ("Acme Outdoor", "Bravo Goods", "Delta Home"):
        assert other not in seen["text"]
    assert "USD" not in seen["text"]
    assert seen["bars"]["billed-chart"] == 3  # CAD only
