"""Swagger UI in Chromium with no network beyond the server: the operations list appears."""

from __future__ import annotations

from urllib.parse import urlsplit

from tests.browser import BROWSER_MARKS, chromium_page

pytestmark = BROWSER_MARKS


def test_swagger_ui_renders_offline_from_the_apps_own_assets(transactional_db, live_server, browser_settings, staff):
    from playwright.sync_api import expect

    browser_settings.SWAGGER_UI_ENABLED = True
    server = urlsplit(live_server.url).netloc
    requested: list[str] = []
    elsewhere: list[str] = []

    with chromium_page(live_server, user=staff) as page:

        def route(handle):
            url = handle.request.url
            requested.append(url)
            if urlsplit(url).netloc == server or url.startswith("data:"):
                handle.continue_()
            else:  # the machine is offline: anything else would fail
                elsewhere.append(url)
                handle.abort()

        page.route("**/*", route)
        page.goto(f"{live_server.url}/api/v2/docs/")

        operations = page.locator(".opblock-summary-path")
        expect(operations.first).to_be_visible(timeout=20_000)
        paths = operations.all_inner_texts()

    assert elsewhere == []
    assert any("/static/drf_spectacular_sidecar/swagger-ui-dist/" in url for url in requested)
    assert any(path.replace("\u200b", "") == "/api/v2/reports/" for path in paths), paths
