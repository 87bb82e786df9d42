"""GraphiQL in a real browser: a signed-in user runs a `reports` query and sees the result, and the
page's Content-Security-Policy blocks nothing it needs.

Needs Debian's `chromium` package (/usr/bin/chromium), driven with Playwright.
"""

from __future__ import annotations

import re

import pytest
from django.conf import settings as django_settings
from django.test import Client

from tests.browser import CHROMIUM, CHROMIUM_ARGS
from tests.graphql_schema.conftest import billed_report

QUERY = "{ reports(first: 5) { totalCount edges { node { id totals { totalAmount } } } } }"

pytestmark = [
    pytest.mark.browser,
    pytest.mark.skipif(not CHROMIUM.exists(), reason="needs Debian's chromium package at /usr/bin/chromium"),
]


@pytest.fixture
def browser_settings(settings, live_server):
    settings.GRAPHIQL_ENABLED = True
    # The live server speaks plain HTTP: let the browser keep the session and CSRF cookies.
    settings.SESSION_COOKIE_SECURE = False
    settings.CSRF_COOKIE_SECURE = False
    settings.ALLOWED_HOSTS = ["127.0.0.1", "localhost"]
    return settings


def test_graphiql_runs_a_reports_query_for_a_signed_in_user(transactional_db, live_server, browser_settings, staff):
    from playwright.sync_api import expect, sync_playwright

    from tests.factories import CustomerFactory

    report = billed_report(CustomerFactory(company_name="Acme Outdoor"), orders=3)
    login = Client()
    login.force_login(staff)
    session_cookie = login.cookies[django_settings.SESSION_COOKIE_NAME].value

    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS)
        try:
            context = browser.new_context()
            context.add_cookies(
                [{"name": django_settings.SESSION_COOKIE_NAME, "value": session_cookie, "url": live_server.url}]
            )
            page = context.new_page()
            console: list[str] = []
            page.on("console", lambda message: console.append(message.text))
            response = page.goto(f"{live_server.url}/graphql/")
            assert response is not None and "content-security-policy" in response.headers

            editor = page.locator(".graphiql-query-editor .CodeMirror").first
            expect(editor).to_be_visible(timeout=20_000)
            editor.click()
            page.keyboard.press("Control+A")
            page.keyboard.press("Delete")
            page.keyboard.type(QUERY)
            page.locator(".graphiql-execute-button").click()

            result = page.locator(".graphiql-response")
            expect(result).to_contain_text(str(report.pk), timeout=20_000)
            expect(result).to_contain_text(f'"totalAmount": "{report.total_amount:.2f}"')
            expect(result).to_contain_text('"totalCount": 1')
            assert not re.search(r'"errors"', result.inner_text())
            # The page works under its Content-Security-Policy: the browser refused nothing.
            assert not [text for text in console if "Content Security Policy" in text], console
        finally:
            browser.close()
