"""Hostile documents and bodies: each is refused with a coded error before any resolver runs.

"Resolvers never run" is checked by spying on the selectors the root fields call (the real
selector still runs when it is called), not by timing.
"""

from __future__ import annotations

import base64
import json

import pytest
from graphql import get_introspection_query

from billing.models import BillingReport
from graphql_schema.limits import LIST_SIZE_ESTIMATE, QUERY_TOO_COMPLEX
from graphql_schema.schema import MAX_ALIASES, MAX_DEPTH, MAX_SELECTIONS, MAX_TOKENS
from tests.graphql_schema.conftest import billed_report
from tests.graphql_schema.helpers import GRAPHQL_URL, data_of, error_codes, gql

pytestmark = pytest.mark.django_db

REPORT_TREE = (
    "reports(first: 100) { edges { node { id orders(first: 100) { edges { node { charges { amount } } } } } } }"
)
COST_BOMB = "{ " + " ".join(f"r{index}: {REPORT_TREE}" for index in range(MAX_ALIASES)) + " }"
# One alias: 100 reports, 100 x 100 report orders, 10 estimated charges each.
ONE_TREE_COST = 100 + 100 * (100 + 100 * LIST_SIZE_ESTIMATE)


@pytest.fixture
def calls(monkeypatch):
    """Names of the root selectors that ran during the test (each still does its real work)."""
    import graphql_schema.queries as queries

    seen: list[str] = []
    for name in ("report_list", "order_list", "customers_visible_to", "report_get"):
        original = getattr(queries, name)

        def spy(*args, _original=original, _name=name, **kwargs):
            seen.append(_name)
            return _original(*args, **kwargs)

        monkeypatch.setattr(queries, name, spy)
    return seen


@pytest.fixture
def signed_in(client, staff):
    client.force_login(staff)
    return client


def post_body(client, body: str):
    return client.post(GRAPHQL_URL, data=body, content_type="application/json")


# --- cost ---------------------------------------------------------------------------------------


def test_the_cost_bomb_is_refused_with_its_cost_and_the_limit(signed_in, calls, settings):
    body = gql(signed_in, COST_BOMB)

    assert body["data"] is None
    [error] = body["errors"]
    cost = MAX_ALIASES * ONE_TREE_COST
    assert error["extensions"] == {"code": QUERY_TOO_COMPLEX, "cost": cost, "limit": settings.GRAPHQL_MAX_COST}
    assert str(cost) in error["message"]
    assert str(settings.GRAPHQL_MAX_COST) in error["message"]
    assert calls == []


def test_the_cost_counts_variables_fragments_and_inline_fragments(signed_in, calls, settings):
    settings.GRAPHQL_MAX_COST = 1000
    document = """
    query($n: Int) { ...Page }
    fragment Page on Query { reports(first: $n) { edges { node { ... on BillingReport { ...Lines } } } } }
    fragment Lines on BillingReport { orders(first: 10) { edges { node { charges { amount } } } } }
    """

    refused = gql(signed_in, document, {"n": 10})
    allowed = gql(signed_in, document, {"n": 1})

    # 10 reports, 10 orders each, 10 estimated charges per order.
    assert refused["errors"][0]["extensions"] == {"code": QUERY_TOO_COMPLEX, "cost": 1110, "limit": 1000}
    assert data_of(allowed) == {"reports": {"edges": []}}
    assert calls == ["report_list"]  # only the allowed document ran


def test_a_connection_without_first_counts_as_a_full_page(signed_in, calls, settings):
    settings.GRAPHQL_MAX_COST = 99

    body = gql(signed_in, "{ customers { edges { node { id } } } }")

    assert body["errors"][0]["extensions"] == {"code": QUERY_TOO_COMPLEX, "cost": 100, "limit": 99}
    assert calls == []


def test_the_limit_is_a_setting_and_zero_turns_it_off(signed_in, settings):
    settings.GRAPHQL_MAX_COST = 0

    body = gql(signed_in, COST_BOMB)

    assert QUERY_TOO_COMPLEX not in error_codes(body)
    assert "errors" not in body


def test_realistic_dashboard_documents_stay_under_the_default_limit(signed_in, customer_a):
    report = billed_report(customer_a)
    document = """
    query($id: UUID!) { report(id: $id) { id customer { companyName } serviceTotals { serviceName amount }
      orders(first: 100) { totalCount edges { node { transactionId charges { serviceName amount } } } } }
      reports(first: 100) { edges { node { id totals { totalAmount } period { startDate endDate } } } } }
    """

    data = data_of(gql(signed_in, document, {"id": str(report.pk)}))

    assert data["report"]["orders"]["totalCount"] == 3


# --- validation bomb, depth, aliases, tokens ----------------------------------------------------


def test_the_validation_bomb_is_refused_before_validation(signed_in, calls):
    body = gql(signed_in, "{ " + "me { username } " * 400 + "}")

    assert body["data"] is None
    assert error_codes(body) == ["GRAPHQL_PARSE_FAILED"]  # 1,602 tokens
    assert calls == []


def test_a_validation_bomb_within_the_token_limit_is_refused_by_its_selections(signed_in, calls):
    body = gql(signed_in, "{ " + "me { username } " * 200 + "}")

    assert body["data"] is None
    [error] = body["errors"]
    assert error["extensions"] == {"code": QUERY_TOO_COMPLEX, "selections": 400, "limit": MAX_SELECTIONS}
    assert calls == []


def test_selections_in_fragments_count_as_written(signed_in, calls):
    fields = " ".join(["username"] * MAX_SELECTIONS)

    body = gql(signed_in, f"{{ me {{ ...F }} }} fragment F on User {{ {fields} }}")

    assert body["errors"][0]["extensions"]["code"] == QUERY_TOO_COMPLEX
    assert body["errors"][0]["extensions"]["selections"] == MAX_SELECTIONS + 2
    assert calls == []


def test_too_deep_and_too_many_aliases_are_validation_failures(signed_in, calls):
    aliases = "{ " + " ".join(f"a{index}: me {{ username }}" for index in range(MAX_ALIASES + 1)) + " }"
    nested = (
        '{ billingRun(id: "00000000-0000-0000-0000-000000000000") { jobs { edges { node { report {'
        " orders { edges { node { charges { serviceName } } } } } } } } } }"
    )

    answers = [gql(signed_in, document) for document in (aliases, nested)]

    assert [error_codes(body) for body in answers] == [["GRAPHQL_VALIDATION_FAILED"]] * 2
    assert answers[1]["errors"][0]["message"].endswith(f"exceeds maximum operation depth of {MAX_DEPTH}")
    assert calls == []


def test_too_many_tokens_is_a_parse_failure(signed_in, calls):
    body = gql(signed_in, "{ me { " + "username " * MAX_TOKENS + "} }")

    assert error_codes(body) == ["GRAPHQL_PARSE_FAILED"]
    assert calls == []


def test_syntax_and_unknown_fields_have_codes(signed_in, calls):
    assert error_codes(gql(signed_in, "{ me { username }")) == ["GRAPHQL_PARSE_FAILED"]
    assert error_codes(gql(signed_in, "{ me { password } }")) == ["GRAPHQL_VALIDATION_FAILED"]
    assert calls == []


def test_introspection_stays_within_the_limits_for_staff(signed_in):
    body = gql(signed_in, get_introspection_query(descriptions=True, input_value_deprecation=True))

    assert "errors" not in body


# --- variables of the wrong type ------------------------------------------------------------------


@pytest.mark.parametrize(
    ("document", "variables"),
    [
        ("query($n: Int) { reports(first: $n) { totalCount } }", {"n": "ten"}),
        ("query($n: Int) { reports(first: $n) { totalCount } }", {"n": 2**40}),
        ("query($id: UUID!) { report(id: $id) { id } }", {"id": "not-a-uuid"}),
        ("query($id: UUID!) { report(id: $id) { id } }", {}),
        ("query($f: OrderFilter) { orders(filter: $f) { totalCount } }", {"f": {"closeDateTo": "31/12/2025"}}),
        ("query($f: OrderFilter) { orders(filter: $f) { totalCount } }", {"f": {"closeDateTo": 20251231}}),
        ("query($f: OrderFilter) { orders(filter: $f) { totalCount } }", {"f": "x"}),
        ("query($f: ReportFilter) { reports(filter: $f) { totalCount } }", {"f": {"createdAfter": "yesterday"}}),
    ],
)
def test_variables_of_the_wrong_type_are_validation_failures(signed_in, calls, document, variables):
    body = gql(signed_in, document, variables)

    assert body["data"] is None
    assert error_codes(body) == ["GRAPHQL_VALIDATION_FAILED"]
    assert "Internal server error." not in json.dumps(body)
    assert calls == []


# --- cursors ----------------------------------------------------------------------------------------


def offset_cursor(position: str) -> str:
    return base64.b64encode(f"arrayconnection:{position}".encode()).decode()


@pytest.mark.parametrize(
    "cursor",
    [
        "x" * 100_000,
        offset_cursor("9" * 30),
        offset_cursor("9" * 5000),
        offset_cursor(str(2**63 - 1)),
        offset_cursor(str(2**31)),
        offset_cursor("abc"),
        base64.b64encode(b"other:1").decode(),
        "////",
    ],
)
def test_bad_cursors_are_validation_errors(signed_in, customer_a, cursor):
    billed_report(customer_a)

    answers = [
        gql(signed_in, "query($c: String) { reports(first: 2, after: $c) { totalCount } }", {"c": cursor}),
        gql(signed_in, "query($c: String) { orders(last: 2, before: $c) { totalCount } }", {"c": cursor}),
    ]

    for body in answers:
        assert error_codes(body) == ["VALIDATION_ERROR"], body
        assert body["errors"][0]["message"].startswith(("Invalid cursor", "Argument"))


def test_bad_report_order_cursors_are_validation_errors(signed_in, customer_a):
    report = billed_report(customer_a)
    document = "query($id: UUID!, $c: String) { report(id: $id) { orders(first: 2, after: $c) { totalCount } } }"

    for cursor in ("x" * 100_000, "e30=", "WzEsMiwzXQ==", "bnVsbA==", "////", offset_cursor("9" * 30)):
        body = gql(signed_in, document, {"id": str(report.pk), "c": cursor})
        assert error_codes(body) == ["VALIDATION_ERROR"], body


# --- odd bodies -------------------------------------------------------------------------------------


@pytest.mark.parametrize("body", ["null", "5", '"x"', "true", "[]", "[1]", "{}", '{"query": 5}', "{", ""])
def test_odd_bodies_are_bad_requests(signed_in, calls, body):
    response = post_body(signed_in, body)

    assert response.status_code == 400
    payload = response.json()
    assert [error["extensions"]["code"] for error in payload["errors"]] == ["BAD_REQUEST"]
    assert payload["errors"][0]["message"]
    assert calls == []


def test_mutations_over_get_stay_refused_with_a_coded_body(signed_in, customer_a):
    response = signed_in.get(GRAPHQL_URL, {"query": "mutation { __typename }"})

    assert response.status_code == 400
    assert response.json()["errors"][0]["extensions"]["code"] == "BAD_REQUEST"
    assert BillingReport.objects.count() == 0
