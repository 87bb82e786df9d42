"""The audit trail across every interface: one row per action with who, what, which report, which
format, where from and which request; and no row at all when the action failed.

Generation writes `generated` (or `regenerated` plus `superseded` for the report it replaces) in
its own transaction; a download (REST download, GraphQL exportReport, the generate_report
command) writes `downloaded` with the format. REST and GraphQL record the
request's X-Request-ID; a background job records the interface and request id of the request
that queued it; management commands act without a user.
"""

from __future__ import annotations

import datetime as dt
import io
import json
import uuid
from decimal import Decimal

import pytest
from django.core.management import CommandError, call_command
from django.db import transaction
from django.test import Client

from billing.errors import ValidationFailed
from billing.models import (
    AuditAction,
    AuditEvent,
    BillingReport,
    ChargeType,
    Customer,
    Interface,
    JobStatus,
    ReportStatus,
)
from billing.services.reports import report_generate
from billing.services.tokens import api_token_create
from tests.factories import (
    CustomerFactory,
    CustomerServiceFactory,
    MembershipFactory,
    ServiceFactory,
    UserFactory,
    order_with_lines,
    staff_user,
    submit_job,
)
from tests.graphql_schema.helpers import data_of, gql

pytestmark = pytest.mark.django_db

JAN_1, JAN_31 = dt.date(2025, 1, 1), dt.date(2025, 1, 31)
GENERATE_URL = "/api/v2/reports/generate/"
GENERATE_BODY = {"start_date": "2025-01-01", "end_date": "2025-01-31"}

GENERATE_MUTATION = """
mutation Generate($input: GenerateReportInput!) {
  generateReport(input: $input) {
    __typename
    ... on BillingReport { id }
    ... on ReportJob { id status report { id } }
    ... on Error { code }
  }
}
"""

EXPORT_MUTATION = """
mutation Export($id: UUID!, $format: OutputFormat!) {
  exportReport(input: {reportId: $id, format: $format}) {
    __typename
    ... on ReportExport { filename }
    ... on Error { code }
  }
}
"""


def billable_customer(name: str = "Acme Outdoor") -> Customer:
    """A customer charged 1.50 per order, with three January orders."""
    customer = CustomerFactory(company_name=name)
    service = ServiceFactory(name="Order fee", charge_type=ChargeType.PER_ORDER)
    CustomerServiceFactory(customer=customer, service=service, unit_price=Decimal("1.5000"))
    for index in range(3):
        order_with_lines(
            customer=customer,
            transaction_id=f"{customer.pk}-TX{index}",
            close_date=dt.datetime(2025, 1, 10 + index, 12, tzinfo=dt.UTC),
            lines={"SKU1": 1 + index},
        )
    return customer


def trail() -> list[tuple]:
    """Every audit row, oldest first: (action, report id, actor, interface, format, request id)."""
    return [
        (event.action, event.report_id, event.actor, event.interface, event.format, event.request_id)
        for event in AuditEvent.objects.select_related("actor").order_by("id")
    ]


@pytest.fixture
def customer() -> Customer:
    return billable_customer()


@pytest.fixture
def staff():
    return staff_user(username="staff")


@pytest.fixture
def rest(staff) -> Client:
    """A REST client authenticated by the staff user's bearer token."""
    return Client(headers={"Authorization": f"Bearer {api_token_create(user=staff, name='audit')[1]}"})


def rest_generate(client: Client, customer_id: int, request_id: str | None = None, **fields):
    headers = {"X-Request-ID": request_id} if request_id else {}
    return client.post(
        GENERATE_URL,
        json.dumps({"customer_id": customer_id, **GENERATE_BODY, **fields}),
        content_type="application/json",
        headers=headers,
    )


def graphql_generate(client: Client, customer_id: int, request_id: str, **fields):
    variables = {"input": {"customerId": customer_id, "startDate": "2025-01-01", "endDate": "2025-01-31", **fields}}
    return gql(client, GENERATE_MUTATION, variables, headers={"X-Request-ID": request_id})["data"]["generateReport"]


def download(client: Client, report_id, query: str = "", request_id: str | None = None):
    headers = {"X-Request-ID": request_id} if request_id else {}
    response = client.get(f"/api/v2/reports/{report_id}/download/{query}", headers=headers)
    if response.streaming:
        b"".join(response.streaming_content)  # the whole body is produced, as a real client would read it
    return response


# --- generation through each interface ---------------------------------------------------------


def test_rest_generation_records_who_what_and_the_request(rest, staff, customer):
    response = rest_generate(rest, customer.pk, request_id="rest-gen-1", output_format="csv")

    assert response.status_code == 201, response.content
    report = BillingReport.objects.get()
    assert trail() == [(AuditAction.GENERATED, report.pk, staff, Interface.REST, "csv", "rest-gen-1")]


def test_rest_generation_without_a_request_id_records_the_generated_one(rest, staff, customer):
    response = rest_generate(rest, customer.pk)

    assert response.status_code == 201
    event = AuditEvent.objects.get()
    assert event.request_id == response["X-Request-ID"] and len(event.request_id) == 32


def test_graphql_generation(client, staff, customer):
    client.force_login(staff)

    result = graphql_generate(client, customer.pk, "gql-gen-1", outputFormat="PDF")

    assert result["__typename"] == "BillingReport"
    assert trail() == [(AuditAction.GENERATED, uuid.UUID(result["id"]), staff, Interface.GRAPHQL, "pdf", "gql-gen-1")]


def test_command_generation_records_the_generation_and_the_download(customer):
    stdout, stderr = io.StringIO(), io.StringIO()

    call_command(
        "generate_report",
        "--customer",
        str(customer.pk),
        "--start",
        "2025-01-01",
        "--end",
        "2025-01-31",
        "--format",
        "json",
        "--no-progress",
        stdout=stdout,
        stderr=stderr,
    )

    report = BillingReport.objects.get()
    assert json.loads(stdout.getvalue())["id"] == str(report.pk)
    assert trail() == [
        (AuditAction.GENERATED, report.pk, None, Interface.COMMAND, "json", ""),
        (AuditAction.DOWNLOADED, report.pk, None, Interface.COMMAND, "json", ""),
    ]


def test_background_job_records_the_requester_and_the_request_that_queued_it(
    django_capture_on_commit_callbacks, staff, customer
):
    with django_capture_on_commit_callbacks(execute=True):
        job = submit_job(
            actor=staff,
            customer_id=customer.pk,
            start_date=JAN_1,
            end_date=JAN_31,
            output_format="csv",
            interface=Interface.GRAPHQL,
            request_id="job-req-1",
        )
        assert AuditEvent.objects.count() == 0  # nothing is generated before the request commits

    job.refresh_from_db()
    assert job.status == JobStatus.SUCCEEDED
    assert trail() == [(AuditAction.GENERATED, job.report_id, staff, Interface.GRAPHQL, "csv", "job-req-1")]


def test_rest_async_generation_is_audited_when_the_worker_runs(
    django_capture_on_commit_callbacks, rest, staff, customer
):
    with django_capture_on_commit_callbacks(execute=True):
        response = rest_generate(rest, customer.pk, request_id="rest-async-1", **{"async": True})
    assert response.status_code == 202, response.content

    report = BillingReport.objects.get()
    assert trail() == [(AuditAction.GENERATED, report.pk, staff, Interface.REST, "json", "rest-async-1")]


def test_graphql_async_generation_is_audited_when_the_worker_runs(
    django_capture_on_commit_callbacks, client, staff, customer
):
    client.force_login(staff)
    with django_capture_on_commit_callbacks(execute=True):
        result = graphql_generate(client, customer.pk, "gql-async-1", **{"async": True})
    assert result["__typename"] == "ReportJob"

    report = BillingReport.objects.get()
    assert trail() == [(AuditAction.GENERATED, report.pk, staff, Interface.GRAPHQL, "json", "gql-async-1")]


def test_billing_run_command_records_its_jobs_as_command_without_a_user(django_capture_on_commit_callbacks, customer):
    with django_capture_on_commit_callbacks(execute=True):
        call_command(
            "billing_run", "--start", "2025-01-01", "--end", "2025-01-31", stdout=io.StringIO(), stderr=io.StringIO()
        )

    report = BillingReport.objects.get()
    assert trail() == [(AuditAction.GENERATED, report.pk, None, Interface.COMMAND, "json", "")]


# --- regeneration ---------------------------------------------------------------------------


def test_rest_regeneration_records_regenerated_and_superseded(rest, staff, customer):
    first = rest_generate(rest, customer.pk, request_id="gen-1")
    second = rest_generate(rest, customer.pk, request_id="gen-2", output_format="pdf")
    assert (first.status_code, second.status_code) == (201, 201)

    old = BillingReport.objects.get(status=ReportStatus.SUPERSEDED)
    new = BillingReport.objects.get(status=ReportStatus.DRAFT)
    assert trail() == [
        (AuditAction.GENERATED, old.pk, staff, Interface.REST, "json", "gen-1"),
        (AuditAction.REGENERATED, new.pk, staff, Interface.REST, "pdf", "gen-2"),
        (AuditAction.SUPERSEDED, old.pk, staff, Interface.REST, "pdf", "gen-2"),
    ]


def test_regeneration_by_another_interface_and_user(client, customer, staff):
    first = report_generate(actor=None, customer_id=customer.pk, start_date=JAN_1, end_date=JAN_31)
    other = staff_user(username="second-staff")
    client.force_login(other)

    result = graphql_generate(client, customer.pk, "gql-regen")

    assert trail() == [
        (AuditAction.GENERATED, first.pk, None, Interface.COMMAND, "json", ""),
        (AuditAction.REGENERATED, uuid.UUID(result["id"]), other, Interface.GRAPHQL, "json", "gql-regen"),
        (AuditAction.SUPERSEDED, first.pk, other, Interface.GRAPHQL, "json", "gql-regen"),
    ]


# --- downloads ------------------------------------------------------------------------------


@pytest.mark.parametrize(("query", "fmt"), [("?format=csv", "csv"), ("?format=json", "json"), ("?format=pdf", "pdf")])
def test_rest_download_records_the_format(rest, staff, customer, query, fmt):
    report = report_generate(actor=None, customer_id=customer.pk, start_date=JAN_1, end_date=JAN_31)

    response = download(rest, report.pk, query, request_id=f"dl-{fmt}")

    assert response.status_code == 200
    assert trail()[1:] == [(AuditAction.DOWNLOADED, report.pk, staff, Interface.REST, fmt, f"dl-{fmt}")]


def test_rest_download_defaults_to_csv_and_a_superseded_report_can_still_be_downloaded(rest, staff, customer):
    old = report_generate(actor=None, customer_id=customer.pk, start_date=JAN_1, end_date=JAN_31)
    report_generate(actor=None, customer_id=customer.pk, start_date=JAN_1, end_date=JAN_31)

    response = download(rest, old.pk, request_id="dl-old")

    assert response.status_code == 200
    assert trail()[-1] == (AuditAction.DOWNLOADED, old.pk, staff, Interface.REST, "csv", "dl-old")


def test_every_download_is_a_row(rest, staff, customer):
    report = report_generate(actor=None, customer_id=customer.pk, start_date=JAN_1, end_date=JAN_31)

    for _ in range(3):
        assert download(rest, report.pk, "?format=json").status_code == 200

    assert AuditEvent.objects.filter(report=report, action=AuditAction.DOWNLOADED, actor=staff).count() == 3


def graphql_export(client: Client, report_id, fmt: str, request_id: str = "gql-dl"):
    variables = {"id": str(report_id), "format": fmt}
    return gql(client, EXPORT_MUTATION, variables, headers={"X-Request-ID": request_id})["data"]["exportReport"]


@pytest.mark.parametrize("fmt", ["CSV", "JSON", "PDF"])
def test_graphql_export_records_a_download(client, staff, customer, fmt):
    report = report_generate(actor=None, customer_id=customer.pk, start_date=JAN_1, end_date=JAN_31)
    client.force_login(staff)

    result = graphql_export(client, report.pk, fmt, request_id=f"gql-dl-{fmt}")

    assert result["__typename"] == "ReportExport"
    assert trail()[1:] == [(AuditAction.DOWNLOADED, report.pk, staff, Interface.GRAPHQL, fmt.lower(), f"gql-dl-{fmt}")]


# --- failures leave no trace ----------------------------------------------------------------


@pytest.mark.parametrize(
    ("fields", "status"),
    [
        ({"start_date": "2025-02-01", "end_date": "2025-01-01"}, 400),  # start after end
        ({"output_format": "xls"}, 400),
        ({"start_date": "not-a-date"}, 400),
    ],
)
def test_rest_generation_with_invalid_input_writes_no_row(rest, customer, fields, status):
    response = rest_generate(rest, customer.pk, request_id="bad", **fields)

    assert response.status_code == status
    assert AuditEvent.objects.count() == 0 and BillingReport.objects.count() == 0


def test_rest_generation_for_an_unknown_or_inactive_customer_writes_no_row(rest, customer):
    inactive = CustomerFactory(is_active=False)

    assert rest_generate(rest, 999_999).status_code == 400
    assert rest_generate(rest, inactive.pk).status_code == 400
    assert AuditEvent.objects.count() == 0


def test_rest_generation_without_permission_writes_no_row(customer):
    viewer = staff_user(username="viewer", generate=False)
    outsider = UserFactory(username="outsider", permissions=["generate_report"])
    MembershipFactory(user=outsider, customer=CustomerFactory())

    for user in (viewer, outsider):
        client = Client(headers={"Authorization": f"Bearer {api_token_create(user=user)[1]}"})
        assert rest_generate(client, customer.pk).status_code == 403
    assert rest_generate(Client(), customer.pk).status_code == 401
    assert AuditEvent.objects.count() == 0 and BillingReport.objects.count() == 0


def test_graphql_generation_failures_write_no_row(client, customer):
    viewer = staff_user(username="viewer", generate=False)
    staff = staff_user(username="generator")

    client.force_login(staff)
    assert graphql_generate(client, customer.pk, "g1", startDate="2025-02-01")["code"] == "VALIDATION_ERROR"
    assert graphql_generate(client, 999_999, "g2")["code"] == "VALIDATION_ERROR"
    client.force_login(viewer)
    assert graphql_generate(client, customer.pk, "g3")["code"] == "PERMISSION_DENIED"

    assert AuditEvent.objects.count() == 0 and BillingReport.objects.count() == 0


def test_failed_regeneration_keeps_the_previous_report_current_and_writes_no_row(customer):
    first = report_generate(actor=None, customer_id=customer.pk, start_date=JAN_1, end_date=JAN_31)
    Customer.objects.filter(pk=customer.pk).update(is_active=False)

    with pytest.raises(ValidationFailed):
        report_generate(actor=None, customer_id=customer.pk, start_date=JAN_1, end_date=JAN_31)

    first.refresh_from_db()
    assert first.status == ReportStatus.DRAFT
    assert trail() == [(AuditAction.GENERATED, first.pk, None, Interface.COMMAND, "json", "")]


def test_rows_are_written_in_the_generation_transaction(customer):
    class Abort(Exception):
        pass

    with pytest.raises(Abort), transaction.atomic():
        report_generate(actor=None, customer_id=customer.pk, start_date=JAN_1, end_date=JAN_31)
        assert AuditEvent.objects.count() == 1
        raise Abort

    assert AuditEvent.objects.count() == 0 and BillingReport.objects.count() == 0


def test_command_failure_writes_no_row(customer):
    with pytest.raises(CommandError):
        call_command(
            "generate_report",
            "--customer",
            str(customer.pk),
            "--start",
            "2025-02-01",
            "--end",
            "2025-01-01",
            "--no-progress",
            stdout=io.StringIO(),
            stderr=io.StringIO(),
        )

    assert AuditEvent.objects.count() == 0


def test_a_failed_background_job_writes_no_row(django_capture_on_commit_callbacks, staff, customer):
    with django_capture_on_commit_callbacks(execute=True):
        job = submit_job(
            actor=staff, customer_id=customer.pk, start_date=JAN_1, end_date=JAN_31, interface=Interface.REST
        )
        Customer.objects.filter(pk=customer.pk).update(is_active=False)  # valid when queued, not when run

    job.refresh_from_db()
    assert job.status == JobStatus.FAILED
    assert AuditEvent.objects.count() == 0 and BillingReport.objects.count() == 0


def test_rest_download_failures_write_no_row(rest, customer):
    report = report_generate(actor=None, customer_id=customer.pk, start_date=JAN_1, end_date=JAN_31)
    hidden = report_generate(
        actor=None, customer_id=billable_customer("Bravo Goods").pk, start_date=JAN_1, end_date=JAN_31
    )
    member = UserFactory(username="member")
    MembershipFactory(user=member, customer=customer)
    member_client = Client(headers={"Authorization": f"Bearer {api_token_create(user=member)[1]}"})
    before = AuditEvent.objects.count()

    assert download(rest, report.pk, "?format=xlsx").status_code == 400  # unknown format
    assert download(rest, "00000000-0000-0000-0000-000000000000").status_code == 404  # unknown report
    assert download(rest, "not-a-uuid").status_code == 404
    assert download(member_client, hidden.pk).status_code == 404  # another customer's report
    assert download(Client(), report.pk).status_code == 401

    assert AuditEvent.objects.count() == before


def test_graphql_export_failures_write_no_row(client, customer):
    report = report_generate(actor=None, customer_id=customer.pk, start_date=JAN_1, end_date=JAN_31)
    hidden = report_generate(
        actor=None, customer_id=billable_customer("Bravo Goods").pk, start_date=JAN_1, end_date=JAN_31
    )
    member = UserFactory(username="member")
    MembershipFactory(user=member, customer=customer)
    before = AuditEvent.objects.count()

    client.force_login(member)
    assert graphql_export(client, hidden.pk, "CSV")["code"] == "NOT_FOUND"  # another customer's report
    assert graphql_export(client, uuid.uuid4(), "CSV")["code"] == "NOT_FOUND"  # unknown report
    client.logout()
    assert graphql_export(client, report.pk, "CSV")["code"] == "AUTHENTICATION_REQUIRED"

    assert AuditEvent.objects.count() == before


def test_audit_rows_are_readable_by_staff_through_graphql(client, rest, customer):
    rest_generate(rest, customer.pk, request_id="seen-1")
    auditor = UserFactory(username="auditor", permissions=["view_auditevent"])
    client.force_login(auditor)

    body = gql(client, "{ auditEvents { edges { node { action interface actor requestId } } } }")

    assert [edge["node"] for edge in data_of(body)["auditEvents"]["edges"]] == [
        {"action": "GENERATED", "interface": "REST", "actor": "staff", "requestId": "seen-1"}
    ]
