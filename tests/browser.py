"""Headless Chromium for browser tests: Debian's `chromium` (/usr/bin/chromium) driven by Playwright.

pytestmark = BROWSER_MARKS

def test_x(transactional_db, live_server, browser_settings, staff):  # browser_settings: tests/conftest.py
    with chromium_page(live_server, user=staff) as page:
        page.goto(f"{live_server.url}/...")
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import pytest
from django.conf import settings as django_settings
from django.test import Client

CHROMIUM = Path("/usr/bin/chromium")
CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]
BROWSER_MARKS = [
    pytest.mark.browser,
    pytest.mark.skipif(not CHROMIUM.exists(), reason="needs Debian's chromium package at /usr/bin/chromium"),
]


@contextmanager
def chromium_page(live_server: Any, *, user: Any = None, **context_options: Any) -> Iterator[Any]:
    """A Playwright page in a fresh Chromium, signed in as `user` (a session cookie) when given."""
    from playwright.sync_api import sync_playwright

    cookies = []
    if user is not None:  # before Playwright starts its event loop: the ORM refuses to run inside one
        login = Client()
        login.force_login(user)
        name = django_settings.SESSION_COOKIE_NAME
        cookies.append({"name": name, "value": login.cookies[name].value, "url": live_server.url})
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS)
        try:
            context = browser.new_context(**context_options)
            context.add_cookies(cookies)
            yield context.new_page()
        finally:
            browser.close()
