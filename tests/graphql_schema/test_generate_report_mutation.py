"""generateReport: success, each kind of bad input (nothing written), permissions, async and idempotency."""

from __future__ import annotations

import pytest

from billing.models import AuditEvent, BillingReport, ReportJob
from tests.factories import CustomerFactory
from tests.graphql_schema.conftest import make_orders, rate_card
from tests.graphql_schema.helpers import GRAPHQL_URL, data_of, gql

pytestmark = pytest.mark.django_db

GENERATE = """
mutation Generate($input: GenerateReportInput!) {
  generateReport(input: $input) {
    __typename
    ... on BillingReport {
      id status outputFormat createdBy customer { companyName } period { startDate endDate }
      totals { totalAmount orderCount lineCount }
      serviceTotals { serviceName amount orderCount }
    }
    ... on ReportJob { id jobStatus: status customer { companyName } period { startDate endDate } report { id } }
    ... on Error { code message }
    ... on ValidationError { fields { field messages } }
  }
}
"""


@pytest.fixture
def billable_a(customer_a):
    rate_card(customer_a)
    make_orders(customer_a, 3)
    return customer_a


def generate(client, **overrides):
    payload = {"customerId": None, "startDate": "2025-01-01", "endDate": "2025-01-31", **overrides}
    return gql(client, GENERATE, {"input": payload})


def result(body) -> dict:
    return data_of(body)["generateReport"]


def test_generates_a_report(client, staff, billable_a):
    client.force_login(staff)

    report = result(generate(client, customerId=billable_a.pk, outputFormat="CSV"))

    assert report["__typename"] == "BillingReport"
    assert report["status"] == "DRAFT"
    assert report["outputFormat"] == "CSV"
    assert report["createdBy"] == "staff"
    assert report["customer"] == {"companyName": "Acme Outdoor"}
    assert report["period"] == {"startDate": "2025-01-01", "endDate": "2025-01-31"}
    # per order 3 x 1.50; units (1+2)+(2+2)+(3+2) = 12 x 0.25; SKUs 3 x 2 x 0.10
    assert report["totals"] == {"totalAmount": "8.10", "orderCount": 3, "lineCount": 9}
    assert [item["serviceName"] for item in report["serviceTotals"]] == ["Order fee", "Per SKU", "Pick per unit"]
    stored = BillingReport.objects.get()
    assert str(stored.pk) == report["id"]
    assert stored.created_by == staff
    assert AuditEvent.objects.get(report=stored).interface == "graphql"


def test_regenerating_supersedes_the_previous_report(client, staff, billable_a):
    client.force_login(staff)
    first = result(generate(client, customerId=billable_a.pk))

    second = result(generate(client, customerId=billable_a.pk))

    assert second["id"] != first["id"]
    assert BillingReport.objects.get(pk=first["id"]).status == "superseded"


def test_a_subset_of_the_rate_card(client, staff, billable_a):
    client.force_login(staff)
    order_fee = billable_a.rate_card.get(service__name="Order fee")

    report = result(generate(client, customerId=billable_a.pk, customerServiceIds=[order_fee.pk]))

    assert report["totals"]["totalAmount"] == "4.50"
    assert [item["serviceName"] for item in report["serviceTotals"]] == ["Order fee"]


@pytest.mark.parametrize(
    ("overrides", "fields"),
    [
        ({"startDate": "2025-02-01", "endDate": "2025-01-31"}, {"endDate"}),
        ({"customerId": 987654}, {"customerId"}),
        ({"customerServiceIds": [987654]}, {"customerServiceIds"}),
        ({"customerId": 987654, "startDate": "2025-03-01", "endDate": "2025-01-01"}, {"customerId", "endDate"}),
    ],
)
def test_invalid_input_gives_per_field_messages_and_writes_nothing(client, staff, billable_a, overrides, fields):
    client.force_login(staff)
    overrides = {"customerId": billable_a.pk, **overrides}

    error = result(generate(client, **overrides))

    assert error["__typename"] == "ValidationError"
    assert error["code"] == "VALIDATION_ERROR"
    assert {item["field"] for item in error["fields"]} == fields
    assert all(item["messages"] for item in error["fields"])
    assert BillingReport.objects.count() == 0
    assert AuditEvent.objects.count() == 0


def test_inactive_customer_is_a_validation_error(client, staff):
    dormant = CustomerFactory(is_active=False)
    client.force_login(staff)

    error = result(generate(client, customerId=dormant.pk))

    assert error["fields"] == [{"field": "customerId", "messages": [f"Customer {dormant.pk} is inactive."]}]


@pytest.mark.parametrize(
    "overrides",
    [
        {"outputFormat": "XLSX"},
        {"startDate": "2025-02-30"},
        {"endDate": "31/01/2025"},
        {"customerId": "one"},
        {"startDate": None},
    ],
)
def test_ill_typed_input_is_refused_by_the_schema_and_writes_nothing(client, staff, billable_a, overrides):
    client.force_login(staff)

    body = generate(client, **{"customerId": billable_a.pk, **overrides})

    assert body["data"] is None
    [field] = overrides
    assert body["errors"][0]["message"].startswith(f"Variable '$input' has invalid value at .{field}: ")
    assert BillingReport.objects.count() == 0


def test_staff_without_generate_permission_is_denied(client, staff_no_generate, billable_a):
    client.force_login(staff_no_generate)

    error = result(generate(client, customerId=billable_a.pk))

    assert error == {
        "__typename": "PermissionDeniedError",
        "code": "PERMISSION_DENIED",
        "message": "You do not have permission to perform this action.",
    }
    assert BillingReport.objects.count() == 0


def test_customer_user_may_generate_for_its_customer_only(client, member_a, billable_a, customer_b):
    rate_card(customer_b)
    make_orders(customer_b, 1)
    client.force_login(member_a)

    own = result(generate(client, customerId=billable_a.pk))
    other = result(generate(client, customerId=customer_b.pk))

    assert own["__typename"] == "BillingReport"
    assert other == {
        "__typename": "PermissionDeniedError",
        "code": "PERMISSION_DENIED",
        "message": "You may not generate billing reports for this customer.",
    }
    assert list(BillingReport.objects.values_list("customer_id", flat=True)) == [billable_a.pk]


def test_anonymous_gets_authentication_required(client, billable_a):
    error = result(generate(client, customerId=billable_a.pk))

    assert error == {
        "__typename": "AuthenticationRequiredError",
        "code": "AUTHENTICATION_REQUIRED",
        "message": "Authentication required.",
    }
    assert BillingReport.objects.count() == 0


def test_mutations_are_refused_over_get(client, staff, billable_a):
    client.force_login(staff)
    document = (
        "mutation { generateReport(input: "
        f'{{customerId: {billable_a.pk}, startDate: "2025-01-01", endDate: "2025-01-31"}}) {{ __typename }} }}'
    )

    response = client.get(GRAPHQL_URL, {"query": document})

    assert response.status_code == 400
    assert BillingReport.objects.count() == 0


# --- async jobs and idempotency -----------------------------------------------------------------

JOB = """
query Job($id: UUID!) {
  reportJob(id: $id) {
    id status processedOrders totalOrders attempts error createdAt startedAt finishedAt billingRunId
    outputFormat period { startDate endDate } customer { companyName }
    report { id totals { totalAmount } }
  }
}
"""


def test_async_generation_returns_the_job_then_the_report(
    client, staff, billable_a, django_capture_on_commit_callbacks
):
    client.force_login(staff)

    with django_capture_on_commit_callbacks(execute=True):
        job = result(generate(client, customerId=billable_a.pk, **{"async": True}))

    assert job["__typename"] == "ReportJob"
    assert job["jobStatus"] == "QUEUED"
    assert job["report"] is None
    polled = data_of(gql(client, JOB, {"id": job["id"]}))["reportJob"]
    report = BillingReport.objects.get()
    assert polled["status"] == "SUCCEEDED"
    assert polled["processedOrders"] == polled["totalOrders"] == 3
    assert polled["error"] is None
    assert polled["billingRunId"] is None
    assert polled["report"] == {"id": str(report.pk), "totals": {"totalAmount": "8.10"}}
    assert polled["finishedAt"] is not None


def test_async_generation_validates_before_queueing(client, staff, billable_a):
    client.force_login(staff)

    error = result(generate(client, customerId=billable_a.pk, endDate="2024-12-31", **{"async": True}))

    assert error["__typename"] == "ValidationError"
    assert ReportJob.objects.count() == 0


def test_report_job_of_another_customer_is_null(
    client, member_a, staff, customer_b, django_capture_on_commit_callbacks
):
    rate_card(customer_b)
    client.force_login(staff)
    with django_capture_on_commit_callbacks(execute=True):
        job = result(generate(client, customerId=customer_b.pk, **{"async": True}))
    client.force_login(member_a)

    assert gql(client, JOB, {"id": job["id"]}) == {"data": {"reportJob": None}}


def test_idempotency_key_replays_the_first_report(client, staff, billable_a):
    client.force_login(staff)

    first = result(generate(client, customerId=billable_a.pk, idempotencyKey="month-end-2025-01"))
    again = result(generate(client, customerId=billable_a.pk, idempotencyKey="month-end-2025-01"))

    assert again["id"] == first["id"]
    assert BillingReport.objects.count() == 1


def test_idempotency_key_with_other_parameters_is_a_conflict(client, staff, billable_a):
    client.force_login(staff)
    result(generate(client, customerId=billable_a.pk, idempotencyKey="k-1"))

    conflict = result(generate(client, customerId=billable_a.pk, idempotencyKey="k-1", endDate="2025-01-30"))

    assert conflict == {
        "__typename": "IdempotencyConflictError",
        "code": "IDEMPOTENCY_CONFLICT",
        "message": "Idempotency key 'k-1' was used with different parameters.",
    }
    assert BillingReport.objects.count() == 1


def test_async_with_idempotency_key_returns_the_same_job(client, staff, billable_a):
    client.force_login(staff)

    first = result(generate(client, customerId=billable_a.pk, idempotencyKey="job-1", **{"async": True}))
    again = result(generate(client, customerId=billable_a.pk, idempotencyKey="job-1", **{"async": True}))

    assert first["__typename"] == again["__typename"] == "ReportJob"
    assert again["id"] == first["id"]
    assert ReportJob.objects.count() == 1


def test_invalid_idempotency_key_is_a_field_error(client, staff, billable_a):
    client.force_login(staff)

    error = result(generate(client, customerId=billable_a.pk, idempotencyKey="x" * 300))

    assert error["__typename"] == "ValidationError"
    assert [item["field"] for item in error["fields"]] == ["idempotencyKey"]
    assert BillingReport.objects.count() == 0
