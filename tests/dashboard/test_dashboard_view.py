"""The /dashboard/ page shell: signed-in users only, a strict CSP, no inline script, own assets."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from django.contrib.staticfiles import finders

pytestmark = pytest.mark.django_db


def test_anonymous_visitors_are_sent_to_the_login_page(client):
    response = client.get("/dashboard/")

    assert response.status_code == 302
    assert response["Location"] == "/accounts/login/?next=/dashboard/"


def test_the_page_is_a_shell_with_a_strict_policy(client, member_a):
    client.force_login(member_a)

    response = client.get("/dashboard/")

    assert response.status_code == 200
    policy = response["Content-Security-Policy"]
    assert "script-src 'self'" in policy and "default-src 'none'" in policy and "connect-src 'self'" in policy
    assert "unsafe-inline" not in policy
    html = response.content.decode()
    scripts = re.findall(r"<script([^>]*)>(.*?)</script>", html, flags=re.S)
    assert scripts and all('src="/static/dashboard/' in attributes and not body.strip() for attributes, body in scripts)
    assert " style=" not in html
    assert 'name="csrf-token"' in html
    assert "Acme Outdoor" not in html  # data comes from the API, not the page
    for asset in re.findall(r'(?:src|href)="/static/([^"]+)"', html):
        assert finders.find(asset), asset


def test_assets_reference_nothing_outside_the_app():
    for name in ("dashboard.js", "charts.js", "dashboard.css"):
        text = Path(finders.find(f"dashboard/{name}")).read_text(encoding="utf-8")
        assert not re.search(r"https?://(?!www\.w3\.org/2000/svg)", text), name
