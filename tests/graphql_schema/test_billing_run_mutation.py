"""startBillingRun and billingRun: a month-end run, its job counts and total billed."""

from __future__ import annotations

import uuid

import pytest

from billing.models import BillingRun, ReportJob
from tests.factories import CustomerFactory
from tests.graphql_schema.conftest import make_orders, rate_card
from tests.graphql_schema.helpers import data_of, gql

pytestmark = pytest.mark.django_db

START = """
mutation Start($input: StartBillingRunInput!) {
  startBillingRun(input: $input) {
    __typename
    ... on BillingRun { id period { startDate endDate } customerIds requestedBy summary { totalJobs queued } }
    ... on Error { code message }
    ... on ValidationError { fields { field messages } }
  }
}
"""

RUN = """
query Run($id: UUID!) {
  billingRun(id: $id) {
    id createdAt requestedBy customerIds period { startDate endDate }
    summary {
      totalJobs queued running succeeded failed superseded processedOrders totalOrders totalBilled finished
      billedByCurrency { currency amount }
    }
    jobs(first: 10) {
      totalCount
      edges { node { status customer { companyName } report { totals { totalAmount } } } }
    }
  }
}
"""


def start(client, **overrides) -> dict:
    payload = {"startDate": "2025-01-01", "endDate": "2025-01-31", **overrides}
    return data_of(gql(client, START, {"input": payload}))["startBillingRun"]


@pytest.fixture
def two_billable_customers(customer_a, customer_b):
    for customer, count in ((customer_a, 3), (customer_b, 2)):
        rate_card(customer)
        make_orders(customer, count)
    return customer_a, customer_b


def test_a_run_bills_every_customer_and_reports_counts_and_total(
    client, staff, two_billable_customers, django_capture_on_commit_callbacks
):
    client.force_login(staff)

    with django_capture_on_commit_callbacks(execute=True):
        run = start(client)

    assert run["__typename"] == "BillingRun"
    assert run["requestedBy"] == "staff"
    assert run["customerIds"] == []
    assert run["summary"] == {"totalJobs": 2, "queued": 2}
    data = data_of(gql(client, RUN, {"id": run["id"]}))["billingRun"]
    # A: 3 orders = 8.10 (see the generateReport tests); B: 2 orders = 1.50 x 2 + 0.25 x 7 + 0.10 x 4 = 5.15
    assert data["summary"] == {
        "totalJobs": 2,
        "queued": 0,
        "running": 0,
        "succeeded": 2,
        "failed": 0,
        "superseded": 0,
        "processedOrders": 5,
        "totalOrders": 5,
        "totalBilled": "13.25",
        "finished": True,
        "billedByCurrency": [{"currency": "USD", "amount": "13.25"}],
    }
    assert data["jobs"]["totalCount"] == 2
    assert [edge["node"]["customer"]["companyName"] for edge in data["jobs"]["edges"]] == [
        "Acme Outdoor",
        "Bravo Goods",
    ]
    assert {edge["node"]["report"]["totals"]["totalAmount"] for edge in data["jobs"]["edges"]} == {"8.10", "5.15"}


def test_a_run_for_chosen_customers(client, staff, two_billable_customers, django_capture_on_commit_callbacks):
    customer_a, _ = two_billable_customers
    client.force_login(staff)

    with django_capture_on_commit_callbacks(execute=True):
        run = start(client, customerIds=[customer_a.pk])

    assert run["customerIds"] == [customer_a.pk]
    assert data_of(gql(client, RUN, {"id": run["id"]}))["billingRun"]["summary"]["totalJobs"] == 1


@pytest.mark.parametrize(
    ("overrides", "field"),
    [({"startDate": "2025-02-01"}, "endDate"), ({"customerIds": [987654]}, "customerIds")],
)
def test_invalid_run_writes_nothing(client, staff, two_billable_customers, overrides, field):
    client.force_login(staff)

    error = start(client, **overrides)

    assert error["__typename"] == "ValidationError"
    assert field in [item["field"] for item in error["fields"]]
    assert BillingRun.objects.count() == 0
    assert ReportJob.objects.count() == 0


def test_run_needs_the_generate_permission(client, staff_no_generate, two_billable_customers):
    client.force_login(staff_no_generate)

    assert start(client)["__typename"] == "PermissionDeniedError"
    client.logout()
    assert start(client)["__typename"] == "AuthenticationRequiredError"
    assert BillingRun.objects.count() == 0


def test_customer_user_cannot_run_for_another_customer(client, member_a, customer_b):
    CustomerFactory(company_name="Other")
    client.force_login(member_a)

    error = start(client, customerIds=[customer_b.pk])

    assert error["code"] == "PERMISSION_DENIED"
    assert BillingRun.objects.count() == 0


def test_billing_run_visibility(client, staff, member_a, two_billable_customers, django_capture_on_commit_callbacks):
    client.force_login(staff)
    with django_capture_on_commit_callbacks(execute=True):
        run = start(client)

    client.force_login(member_a)  # the run has a job for customer B too
    assert gql(client, RUN, {"id": run["id"]}) == {"data": {"billingRun": None}}
    client.force_login(staff)
    assert gql(client, RUN, {"id": str(uuid.uuid4())}) == {"data": {"billingRun": None}}
