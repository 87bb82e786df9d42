"""Introspection by setting (anonymous users refused in production), and the tools' Content-Security-Policy."""

from __future__ import annotations

import base64
import hashlib
import re

import pytest
from django.test import Client

from backend.csp import HEADER
from billing.services.tokens import api_token_create
from tests.graphql_schema.helpers import GRAPHQL_URL, error_codes

pytestmark = pytest.mark.django_db

INTROSPECTION = "{ __schema { queryType { name } } }"


def introspect(client: Client, **extra) -> dict:
    response = client.get(GRAPHQL_URL, {"query": INTROSPECTION}, **extra)
    return response.json()


def test_production_default_refuses_anonymous_introspection(client, staff, settings):
    assert settings.GRAPHQL_INTROSPECTION == "authenticated"  # DEBUG is off in the tests

    anonymous = introspect(client)
    _, raw = api_token_create(user=staff, name="ci")
    token = introspect(Client(), HTTP_AUTHORIZATION=f"Bearer {raw}")
    client.force_login(staff)
    session = introspect(client)

    assert anonymous["data"] is None
    assert set(error_codes(anonymous)) == {"GRAPHQL_VALIDATION_FAILED"}
    assert "introspection has been disabled" in anonymous["errors"][0]["message"]
    assert token == session == {"data": {"__schema": {"queryType": {"name": "Query"}}}}


def test_typename_stays_available_to_anonymous_users(client):
    assert client.get(GRAPHQL_URL, {"query": "{ __typename }"}).json() == {"data": {"__typename": "Query"}}


def test_all_lets_anonymous_users_introspect(client, settings):
    settings.GRAPHQL_INTROSPECTION = "all"

    assert introspect(client) == {"data": {"__schema": {"queryType": {"name": "Query"}}}}


def test_off_refuses_everyone(client, staff, settings):
    settings.GRAPHQL_INTROSPECTION = "off"
    client.force_login(staff)

    assert set(error_codes(introspect(client))) == {"GRAPHQL_VALIDATION_FAILED"}
    type_query = client.get(GRAPHQL_URL, {"query": '{ __type(name: "Query") { name } }'}).json()
    assert set(error_codes(type_query)) == {"GRAPHQL_VALIDATION_FAILED"}


# --- Content-Security-Policy ------------------------------------------------------------------------


def directives(response) -> dict[str, list[str]]:
    return {name: values for name, *values in (part.split() for part in response[HEADER].split("; "))}


def inline_script_hashes(html: bytes) -> set[str]:
    bodies = re.findall(rb"<script\b(?![^>]*\bsrc=)[^>]*>(.*?)</script>", html, re.DOTALL)
    return {f"'sha256-{base64.b64encode(hashlib.sha256(body).digest()).decode()}'" for body in bodies if body.strip()}


def test_graphiql_is_served_with_a_policy_allowing_only_its_own_scripts(client, staff, settings):
    settings.GRAPHIQL_ENABLED = True
    client.force_login(staff)

    page = client.get(GRAPHQL_URL, HTTP_ACCEPT="text/html")

    policy = directives(page)
    assert policy["default-src"] == ["'self'"]
    assert policy["script-src"][0] == "'self'"
    assert set(policy["script-src"][1:]) == inline_script_hashes(page.content) != set()
    assert "'unsafe-inline'" not in policy["script-src"] and "'unsafe-eval'" not in policy["script-src"]
    assert policy["connect-src"] == ["'self'"]
    assert policy["frame-ancestors"] == ["'none'"]
    assert policy["object-src"] == ["'none'"]


def test_swagger_ui_is_served_with_a_policy(client, staff, settings):
    settings.SWAGGER_UI_ENABLED = True
    client.force_login(staff)

    page = client.get("/api/v2/docs/")

    assert page.status_code == 200
    policy = directives(page)
    assert "'self'" in policy["script-src"]
    assert inline_script_hashes(page.content) <= set(policy["script-src"])
    assert policy["connect-src"] == ["'self'"]
    assert policy["frame-ancestors"] == ["'none'"]
    for url in re.findall(rb'<script src="([^"]+)"', page.content):  # its assets' origin is allowed
        origin = re.match(rb"https?://[^/]+", url)
        assert origin is None or origin.group().decode() in policy["script-src"]


def test_json_answers_carry_no_policy(client, staff):
    client.force_login(staff)

    assert HEADER not in client.get(GRAPHQL_URL, {"query": "{ me { username } }"})
