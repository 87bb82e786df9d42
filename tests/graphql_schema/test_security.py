"""CSRF, document limits, error masking, GET for queries only, and the GraphiQL page."""

from __future__ import annotations

import json

import pytest
from django.contrib.staticfiles import finders
from django.test import Client
from graphql import get_introspection_query

from billing.models import BillingReport
from billing.services.tokens import api_token_create
from graphql_schema.schema import MAX_ALIASES, MAX_DEPTH, MAX_TOKENS
from tests.graphql_schema.conftest import make_orders, rate_card
from tests.graphql_schema.helpers import GRAPHQL_URL, data_of, error_codes, gql

pytestmark = pytest.mark.django_db

GENERATE = """
mutation { generateReport(input: {customerId: %d, startDate: "2025-01-01", endDate: "2025-01-31"}) {
  __typename ... on BillingReport { id } } }
"""


def post(client, query: str, **extra):
    return client.post(GRAPHQL_URL, data=json.dumps({"query": query}), content_type="application/json", **extra)


@pytest.fixture
def billable_a(customer_a):
    rate_card(customer_a)
    make_orders(customer_a, 2)
    return customer_a


# --- CSRF ---------------------------------------------------------------------------------------


def test_session_cookie_mutation_without_csrf_token_is_refused(staff, billable_a):
    browser = Client(enforce_csrf_checks=True)
    browser.force_login(staff)

    response = post(browser, GENERATE % billable_a.pk)

    assert response.status_code == 403
    assert BillingReport.objects.count() == 0


def test_session_cookie_mutation_with_the_csrf_token_works(staff, billable_a, settings):
    settings.GRAPHIQL_ENABLED = True
    browser = Client(enforce_csrf_checks=True)
    browser.force_login(staff)
    page = browser.get(GRAPHQL_URL, HTTP_ACCEPT="text/html")  # GraphiQL hands out the csrftoken cookie
    token = page.cookies["csrftoken"].value

    response = post(browser, GENERATE % billable_a.pk, HTTP_X_CSRFTOKEN=token)

    assert response.status_code == 200
    assert response.json()["data"]["generateReport"]["__typename"] == "BillingReport"
    assert BillingReport.objects.count() == 1


def test_session_cookie_queries_over_post_need_the_token_too(staff, billable_a):
    browser = Client(enforce_csrf_checks=True)
    browser.force_login(staff)

    assert post(browser, "{ me { username } }").status_code == 403
    response = browser.get(GRAPHQL_URL, {"query": "{ me { username } }"})
    assert response.status_code == 200
    assert response.json() == {"data": {"me": {"username": "staff"}}}


def test_bearer_token_mutation_needs_no_csrf_token(staff, billable_a):
    _, raw = api_token_create(user=staff, name="dashboard")
    machine = Client(enforce_csrf_checks=True)

    response = post(machine, GENERATE % billable_a.pk, HTTP_AUTHORIZATION=f"Bearer {raw}")

    assert response.status_code == 200
    assert response.json()["data"]["generateReport"]["__typename"] == "BillingReport"
    assert BillingReport.objects.get().created_by == staff


# --- GET ------------------------------------------------------------------------------------------


def test_get_runs_queries_but_never_mutations(client, staff, billable_a):
    client.force_login(staff)

    query = client.get(GRAPHQL_URL, {"query": "{ customers { totalCount } }"})
    mutation = client.get(GRAPHQL_URL, {"query": GENERATE % billable_a.pk})

    assert query.json() == {"data": {"customers": {"totalCount": 1}}}
    assert mutation.status_code == 400
    assert b"mutations are not allowed when using GET" in mutation.content
    assert BillingReport.objects.count() == 0


def test_other_methods_are_refused(client, staff):
    client.force_login(staff)

    assert client.put(GRAPHQL_URL, data="{}", content_type="application/json").status_code == 405


def test_non_json_post_is_refused(client, staff):
    client.force_login(staff)

    response = client.post(GRAPHQL_URL, data="query={ me { username } }", content_type="text/plain")

    assert response.status_code == 400


# --- document limits ------------------------------------------------------------------------------

DEEP = """
query Deep { billingRun(id: "00000000-0000-0000-0000-000000000000") {
  jobs { edges { node { report { orders { edges { node { charges { serviceName } } } } } } } } } }
"""
REALISTIC = """
query Realistic { billingRun(id: "00000000-0000-0000-0000-000000000000") {
  jobs { edges { node { report { customer { companyName } } } } } } }
"""


def test_documents_deeper_than_the_limit_are_rejected_with_a_clear_error(client, staff):
    client.force_login(staff)

    body = gql(client, DEEP)

    assert body["data"] is None
    assert [error["message"] for error in body["errors"]] == [f"'Deep' exceeds maximum operation depth of {MAX_DEPTH}"]
    assert gql(client, REALISTIC) == {"data": {"billingRun": None}}


def test_limits_still_hold_when_the_document_is_served_from_the_parse_and_validation_caches(client, staff):
    client.force_login(staff)
    message = f"'Deep' exceeds maximum operation depth of {MAX_DEPTH}"

    answers = [gql(client, DEEP) for _ in range(3)]

    assert [[error["message"] for error in body["errors"]] for body in answers] == [[message]] * 3
    assert all(body["data"] is None for body in answers)
    assert [gql(client, REALISTIC) for _ in range(2)] == [{"data": {"billingRun": None}}] * 2


def test_too_many_aliases_are_rejected(client, staff):
    client.force_login(staff)
    fields = " ".join(f"a{index}: me {{ username }}" for index in range(MAX_ALIASES + 1))

    body = gql(client, f"{{ {fields} }}")

    assert body["data"] is None
    assert body["errors"][0]["message"] == f"{MAX_ALIASES + 1} aliases found. Allowed: {MAX_ALIASES}"
    allowed = " ".join(f"a{index}: me {{ username }}" for index in range(MAX_ALIASES))
    assert len(data_of(gql(client, f"{{ {allowed} }}"))) == MAX_ALIASES


def test_too_many_tokens_are_rejected(client, staff):
    client.force_login(staff)

    body = gql(client, "{ me { " + "username " * MAX_TOKENS + "} }")

    assert body["data"] is None
    message = f"Syntax Error: Document contains more than {MAX_TOKENS} tokens. Parsing aborted."
    assert body["errors"][0]["message"] == message


def test_introspection_passes_the_limits(client, staff):
    client.force_login(staff)

    body = gql(client, get_introspection_query(descriptions=True, specified_by_url=True))

    assert "errors" not in body
    assert body["data"]["__schema"]["queryType"]["name"] == "Query"


# --- errors ---------------------------------------------------------------------------------------


def test_unexpected_errors_are_masked(client, staff, monkeypatch):
    def broken(**kwargs):
        raise RuntimeError("connection to db-internal:5432 failed for user billing_rw")

    monkeypatch.setattr("graphql_schema.queries.report_list", broken)
    client.force_login(staff)

    response = post(client, "{ reports { totalCount } }")

    body = response.json()
    assert body["errors"] == [
        {
            "message": "Internal server error.",
            "locations": [{"line": 1, "column": 3}],
            "path": ["reports"],
            "extensions": {"code": "INTERNAL_ERROR"},
        }
    ]
    assert b"db-internal" not in response.content
    assert b"Traceback" not in response.content
    assert b"RuntimeError" not in response.content


def test_document_errors_stay_readable_without_internals(client, staff):
    client.force_login(staff)

    syntax = gql(client, "{ reports { totalCount }")
    unknown = gql(client, "{ reports { total } }")

    assert syntax["errors"][0]["message"].startswith("Syntax Error: Expected Name, found <EOF>.")
    assert unknown["errors"][0]["message"] == "Cannot query field 'total' on type 'BillingReportConnection'."
    for body in (syntax, unknown):
        assert "Traceback" not in json.dumps(body)


def test_domain_errors_in_queries_keep_their_code(client, staff):
    client.force_login(staff)

    body = gql(client, "{ reports(first: 1000) { totalCount } }")

    assert error_codes(body) == ["VALIDATION_ERROR"]


# --- GraphiQL ---------------------------------------------------------------------------------------


def test_graphiql_is_served_to_browsers_when_enabled(client, staff, settings):
    settings.GRAPHIQL_ENABLED = True
    client.force_login(staff)

    response = client.get(GRAPHQL_URL, HTTP_ACCEPT="text/html")

    assert response.status_code == 200
    page = response.content.decode()
    assert "GraphiQL" in page
    assert "unpkg.com" not in page  # assets are shipped with the app
    for asset in ("graphiql.min.js", "graphiql.min.css", "react.production.min.js", "react-dom.production.min.js"):
        assert f"/static/graphql_schema/graphiql/{asset}" in page
        assert finders.find(f"graphql_schema/graphiql/{asset}") is not None
    assert "csrftoken" in response.cookies


def test_graphiql_is_not_served_when_disabled(client, staff, settings):
    settings.GRAPHIQL_ENABLED = False
    client.force_login(staff)

    assert client.get(GRAPHQL_URL, HTTP_ACCEPT="text/html").status_code == 404
    query = client.get(GRAPHQL_URL, {"query": "{ me { username } }"}, HTTP_ACCEPT="text/html")
    assert query.json() == {"data": {"me": {"username": "staff"}}}
