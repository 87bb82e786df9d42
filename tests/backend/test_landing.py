"""The landing page at / (the admin's "View site"): what this is, where to go, who is signed in."""

from __future__ import annotations

import html
import re

import pytest
from django.contrib import admin

from billing.management.demo import DEMO_USERS
from tests.factories import UserFactory

pytestmark = pytest.mark.django_db


def links(content: str) -> set[str]:
    return set(re.findall(r'href="([^"]+)"', content))


def test_anonymous_visitor_sees_what_this_is_and_the_links(client, settings):
    settings.GRAPHIQL_ENABLED = settings.SWAGGER_UI_ENABLED = True

    response = client.get("/")

    assert response.status_code == 200
    content = response.content.decode()
    assert "LedgerLink Billing" in content and "billing backend" in content
    assert {"/graphql/", "/api/v2/docs/", "/api/v2/schema/", "/admin/", "/healthz", "/readyz"} <= links(content)
    assert "Not signed in" in content and "/accounts/login/?next=/" in links(content)
    assert "Demo users" not in content  # DEBUG is off


def test_turned_off_tools_are_named_without_a_link(client, settings):
    settings.GRAPHIQL_ENABLED = settings.SWAGGER_UI_ENABLED = False

    content = client.get("/").content.decode()

    assert "/graphql/" not in links(content) and "/api/v2/docs/" not in links(content)
    assert content.count("turned off on this server") == 2


def test_signed_in_user_is_named_and_can_sign_out_by_post(client):
    client.force_login(UserFactory(username="alice", is_staff=True))

    content = client.get("/").content.decode()

    assert "Signed in as <strong>alice</strong> (staff)" in content
    assert re.search(
        r'<form method="post" action="/accounts/logout/"><input type="hidden" name="csrfmiddlewaretoken"', content
    )
    assert "Not signed in" not in content


def test_demo_users_are_listed_under_debug_only(client, settings):
    settings.DEBUG = True

    content = html.unescape(client.get("/").content.decode())

    assert "Demo users" in content
    for name, role in DEMO_USERS:
        assert f"<td><code>{name}</code></td><td><code>{name}</code></td><td>{role}</td>" in content


def test_the_admins_view_site_link_lands_here(client):
    client.force_login(UserFactory(username="root", is_staff=True, is_superuser=True))

    page = client.get("/admin/").content.decode()

    assert admin.site.site_url == "/" and 'href="/"' in page
    assert client.get(admin.site.site_url).status_code == 200


def test_only_get(client):
    assert client.post("/").status_code == 405
