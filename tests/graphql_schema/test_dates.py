"""Extreme and malformed dates in GraphQL: typed errors whose messages are the REST facade's."""

from __future__ import annotations

import json

import pytest

from billing.models import BillingRun, ReportJob
from billing.periods import DATE_OUT_OF_RANGE, INVALID_DATE, PERIOD_TOO_LONG
from billing.services.tokens import api_token_create
from tests.graphql_schema.helpers import data_of, error_codes, gql
from tests.rest_compat.conftest import written_counts

pytestmark = pytest.mark.django_db

GENERATE = """
mutation($start: Date!, $end: Date!, $async: Boolean! = false, $customer: Int!) {
  generateReport(input: {customerId: $customer, startDate: $start, endDate: $end, async: $async}) {
    __typename ... on ValidationError { code fields { field messages } } } }
"""
BILLING_RUN = """
mutation($start: Date!, $end: Date!) { startBillingRun(input: {startDate: $start, endDate: $end}) {
  __typename ... on ValidationError { code fields { field messages } } } }
"""


@pytest.fixture
def signed_in(client, staff):
    client.force_login(staff)
    return client


@pytest.mark.parametrize("is_async", [False, True])
@pytest.mark.parametrize(
    ("start", "end", "fields"),
    [
        ("2025-01-01", "9999-12-31", [{"field": "endDate", "messages": [DATE_OUT_OF_RANGE]}]),
        (
            "1900-01-01",
            "1900-01-31",
            [
                {"field": "startDate", "messages": [DATE_OUT_OF_RANGE]},
                {"field": "endDate", "messages": [DATE_OUT_OF_RANGE]},
            ],
        ),
        ("2024-01-01", "2025-12-31", [{"field": "endDate", "messages": [PERIOD_TOO_LONG]}]),
    ],
)
def test_generate_report_refuses_bad_periods_with_a_typed_error(signed_in, customer_a, is_async, start, end, fields):
    before = written_counts()

    result = data_of(
        gql(signed_in, GENERATE, {"start": start, "end": end, "async": is_async, "customer": customer_a.pk})
    )

    assert result["generateReport"] == {"__typename": "ValidationError", "code": "VALIDATION_ERROR", "fields": fields}
    assert written_counts() == before


def test_start_billing_run_refuses_up_front(signed_in, customer_a):
    result = data_of(gql(signed_in, BILLING_RUN, {"start": "2025-01-01", "end": "9999-12-31"}))

    assert result["startBillingRun"] == {
        "__typename": "ValidationError",
        "code": "VALIDATION_ERROR",
        "fields": [{"field": "endDate", "messages": [DATE_OUT_OF_RANGE]}],
    }
    assert BillingRun.objects.count() == 0
    assert ReportJob.objects.count() == 0


@pytest.mark.parametrize(
    ("document", "variables", "field"),
    [
        (
            "query($f: OrderFilter) { orders(filter: $f) { totalCount } }",
            {"f": {"closeDateTo": "9999-12-31"}},
            "closeDateTo",
        ),
        (
            "query($f: OrderFilter) { orders(filter: $f) { totalCount } }",
            {"f": {"closeDateFrom": "0001-01-01"}},
            "closeDateFrom",
        ),
        ("query($f: ReportFilter) { reports(filter: $f) { totalCount } }", {"f": {"endDate": "9999-12-31"}}, "endDate"),
        (
            "query($f: ReportFilter) { reports(filter: $f) { totalCount } }",
            {"f": {"createdBefore": "9999-12-31T10:00:00Z"}},
            "createdBefore",
        ),
    ],
)
def test_list_filters_refuse_dates_out_of_range(client, member_a, document, variables, field):
    client.force_login(member_a)  # a merchant's user reaches these lists too

    body = gql(client, document, variables)

    assert error_codes(body) == ["VALIDATION_ERROR"]
    assert body["errors"][0]["extensions"]["fields"] == [{"field": field, "messages": [DATE_OUT_OF_RANGE]}]


def test_a_malformed_date_reads_as_in_rest(signed_in, customer_a, staff):
    _, raw = api_token_create(user=staff, name="rest")
    rest = signed_in.post(
        "/api/v2/reports/generate/",
        data=json.dumps({"customer_id": customer_a.pk, "start_date": "2025-02-30", "end_date": "2025-03-01"}),
        content_type="application/json",
        HTTP_AUTHORIZATION=f"Bearer {raw}",
    )
    graphql = gql(signed_in, GENERATE, {"start": "2025-02-30", "end": "2025-03-01", "customer": customer_a.pk})
    literal = gql(
        signed_in,
        'query { orders(filter: {closeDateTo: "2025-02-30"}) { totalCount } }',
    )

    assert rest.json()["error"]["details"] == {"start_date": [INVALID_DATE]}
    assert error_codes(graphql) == ["GRAPHQL_VALIDATION_FAILED"]
    assert INVALID_DATE in graphql["errors"][0]["message"]
    assert error_codes(literal) == ["GRAPHQL_VALIDATION_FAILED"]
    assert INVALID_DATE in literal["errors"][0]["message"]
    assert "Internal server error." not in json.dumps([graphql, literal])
