"""analytics and reportJobs over GraphQL: authentication, typed validation errors, scoping, and
a statement count that does not grow with the data."""

from __future__ import annotations

import datetime as dt

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from billing.models import Interface
from billing.services.reports import report_generate
from tests.factories import CustomerFactory, make_orders, submit_job
from tests.graphql_schema.conftest import billed_report, rate_card
from tests.graphql_schema.helpers import data_of, error_codes, gql, nodes
from tests.graphql_schema.test_docs_examples import dashboard_document

pytestmark = pytest.mark.django_db

SERIES = """
query($filter: AnalyticsFilter!, $bucket: AnalyticsBucket!, $groupBy: [AnalyticsDimension!]) {
  analytics(filter: $filter) {
    series(bucket: $bucket, groupBy: $groupBy) {
      key { currency customerId customerName serviceId serviceName }
      points { start end figures { billedAmount orderCount unbilledOrderCount lineCount } }
    }
  }
}
"""
TOP = """
query($filter: AnalyticsFilter!, $limit: Int!) {
  analytics(filter: $filter) { top(by: CUSTOMER, limit: $limit) { rank key { customerName } } }
  me { username }
}
"""
JANUARY = {"startDate": "2025-01-01", "endDate": "2025-01-31"}


def test_anonymous_requests_are_refused(client):
    body = gql(client, SERIES, {"filter": JANUARY, "bucket": "MONTH"})

    assert error_codes(body) == ["AUTHENTICATION_REQUIRED"]


@pytest.mark.parametrize(
    ("document", "variables", "field"),
    [
        (SERIES, {"filter": {"startDate": "2025-02-01", "endDate": "2025-01-01"}, "bucket": "DAY"}, "endDate"),
        (SERIES, {"filter": {"startDate": "2020-01-01", "endDate": "2025-01-01"}, "bucket": "DAY"}, "bucket"),
        (TOP, {"filter": JANUARY, "limit": 500}, "limit"),
    ],
)
def test_bad_arguments_are_typed_validation_errors(client, staff, document, variables, field):
    client.force_login(staff)

    body = gql(client, document, variables)

    assert error_codes(body) == ["VALIDATION_ERROR"]
    assert body["errors"][0]["extensions"]["fields"][0]["field"] == field
    if document is TOP:  # the rest of the document still resolves
        assert body["data"]["me"] == {"username": "staff"}


def test_series_over_graphql(client, staff, customer_a):
    report = billed_report(customer_a, orders=3)
    client.force_login(staff)

    data = data_of(gql(client, SERIES, {"filter": JANUARY, "bucket": "WEEK", "groupBy": ["CUSTOMER"]}))

    (series,) = data["analytics"]["series"]
    assert series["key"] == {
        "currency": "USD",
        "customerId": customer_a.pk,
        "customerName": "Acme Outdoor",
        "serviceId": None,
        "serviceName": None,
    }
    assert [p["start"] for p in series["points"]] == [
        "2025-01-01",
        "2025-01-06",
        "2025-01-13",
        "2025-01-20",
        "2025-01-27",
    ]
    assert series["points"][-1]["end"] == "2025-01-31"
    week_of_15th = series["points"][2]["figures"]
    assert week_of_15th == {
        "billedAmount": f"{report.total_amount:.2f}",
        "orderCount": 3,
        "unbilledOrderCount": 0,
        "lineCount": report.line_count,
    }


def test_a_merchant_sees_only_its_customer(client, member_a, customer_a, customer_b):
    billed_report(customer_a, orders=2)
    billed_report(customer_b, orders=4)
    submit_job(
        actor=None,
        customer_id=customer_b.pk,
        start_date=dt.date(2025, 2, 1),
        end_date=dt.date(2025, 2, 28),
        interface=Interface.COMMAND,
    )
    client.force_login(member_a)

    data = data_of(gql(client, SERIES, {"filter": JANUARY, "bucket": "MONTH", "groupBy": ["CUSTOMER"]}))
    assert [s["key"]["customerName"] for s in data["analytics"]["series"]] == ["Acme Outdoor"]
    other = {**JANUARY, "customerId": customer_b.pk}
    assert data_of(gql(client, SERIES, {"filter": other, "bucket": "MONTH"}))["analytics"]["series"] == []
    jobs = data_of(gql(client, "{ reportJobs(first: 10) { totalCount edges { node { id } } } }"))
    assert jobs["reportJobs"]["totalCount"] == 0


def test_report_jobs_newest_first(client, staff, customer_a, customer_b):
    rate_card(customer_a)
    rate_card(customer_b)
    submitted = [
        submit_job(
            actor=None,
            customer_id=customer.pk,
            start_date=dt.date(2025, month, 1),
            end_date=dt.date(2025, month, 28),
            interface=Interface.COMMAND,
        )
        for month, customer in ((1, customer_a), (2, customer_b), (3, customer_a))
    ]
    client.force_login(staff)

    data = data_of(gql(client, "query($c: Int) { reportJobs(first: 10, customerId: $c) { edges { node { id } } } }"))
    assert [n["id"] for n in nodes(data["reportJobs"])] == [str(job.pk) for job in reversed(submitted)]
    only_a = data_of(
        gql(
            client,
            "query($c: Int) { reportJobs(first: 10, customerId: $c) { edges { node { id } } } }",
            {"c": customer_a.pk},
        )
    )
    assert [n["id"] for n in nodes(only_a["reportJobs"])] == [str(submitted[2].pk), str(submitted[0].pk)]


def test_the_dashboard_query_has_a_constant_statement_count(client, staff, member_a, customer_a, customer_b):
    variables = {"filter": {"startDate": "2025-01-01", "endDate": "2025-12-31"}, "reportFilter": {}}

    def statements(user) -> int:
        client.force_login(user)
        gql(client, dashboard_document(), variables)  # warm per-process caches (parsed document)
        with CaptureQueriesContext(connection) as captured:
            data_of(gql(client, dashboard_document(), variables))
        return len(captured)

    rate_card(customer_a)
    rate_card(customer_b)
    make_orders(customer_a, 2)
    report_generate(
        actor=None, customer_id=customer_a.pk, start_date=dt.date(2025, 1, 1), end_date=dt.date(2025, 1, 31)
    )
    few = {"staff": statements(staff), "member": statements(member_a)}

    euro = CustomerFactory(currency="EUR")
    rate_card(euro)
    for month in range(2, 13):
        for customer in (customer_a, customer_b, euro):
            make_orders(customer, 3, month=month, day=2, prefix=f"{customer.pk}-{month}")
            start = dt.date(2025, month, 1)
            end = (start + dt.timedelta(days=32)).replace(day=1) - dt.timedelta(days=1)
            report_generate(actor=None, customer_id=customer.pk, start_date=start, end_date=end)
            submit_job(actor=None, customer_id=customer.pk, start_date=start, end_date=end, interface="command")

    assert {"staff": statements(staff), "member": statements(member_a)} == few
    assert few["staff"] <= 12, few  # session, user, permissions, one per list and count, one per analytics field
