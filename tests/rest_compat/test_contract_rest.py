"""Contract of each /api/v2/reports/* endpoint.

Every documented field with its type and format, the envelope and the status codes.
"""

from __future__ import annotations

import datetime as dt
import re
import uuid
from decimal import ROUND_HALF_UP, Decimal

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from billing.models import AuditAction, AuditEvent, BillingReport, ChargeType, Interface, ReportJob, ReportStatus
from billing.services.reports import report_generate
from rest_compat import serializers as s
from tests.factories import (
    CustomerFactory,
    CustomerServiceFactory,
    RuleFactory,
    RuleGroupFactory,
    ServiceFactory,
)
from tests.rest_compat.conftest import JANUARY, billed_report, body, make_orders

pytestmark = pytest.mark.django_db

REPORT_FIELDS = {
    "id",
    "customer",
    "customer_name",
    "start_date",
    "end_date",
    "total_amount",
    "generated_at",
    "output_format",
    "created_at",
    "created_by",
    # additive: the lifecycle of the report
    "status",
    "invoice_number",
    "is_partial",
}
ORDER_FIELDS = {
    "order_id",
    "transaction_date",
    "status",
    "ship_to_name",
    "ship_to_address",
    "total_items",
    "line_items",
    "services",
    "total_amount",
}
# The contract's five fields, and `explanation`, an addition (docs/explanations.md).
SERVICE_FIELDS = {"service_id", "service_name", "amount", "quantity", "cost_type", "explanation"}
SERVICE_TOTAL_FIELDS = {"name", "amount", "order_count"}
SUMMARY_FIELDS = {
    "customer_id",
    "customer_name",
    "reports_count",
    "total_billed",
    "first_billing_date",
    "last_billing_date",
    "average_bill_amount",
}
JOB_FIELDS = {
    "id",
    "status",
    "customer",
    "customer_name",
    "start_date",
    "end_date",
    "output_format",
    "processed_orders",
    "total_orders",
    "progress_percent",
    "report_id",
    "error",
    "created_at",
    "started_at",
    "finished_at",
    "requested_by",
}
DATE = re.compile(r"^\d{4}-\d{2}-\d{2}$")
MONEY_KEYS = ("total_amount", "amount", "total_billed", "average_bill_amount")
MONEY_LITERAL = re.compile(r'"(' + "|".join(MONEY_KEYS) + r')":(-?[0-9.eE+]+)')


def assert_uuid(value) -> None:
    assert isinstance(value, str)
    assert str(uuid.UUID(value)) == value


def assert_date(value) -> None:
    assert isinstance(value, str) and DATE.match(value), value
    dt.date.fromisoformat(value)


def assert_timestamp(value) -> None:
    assert isinstance(value, str)
    moment = dt.datetime.fromisoformat(value)
    assert moment.tzinfo is not None, value
    assert value.endswith("Z")


def assert_money(value) -> None:
    assert isinstance(value, int | float) and not isinstance(value, bool), value


def assert_money_literals(text: str) -> int:
    """Every money value in the raw JSON text is a number literal with exactly two decimals."""
    found = MONEY_LITERAL.findall(text)
    for key, literal in found:
        assert re.fullmatch(r"-?\d+\.\d{2}", literal), f"{key}: {literal}"
    return len(found)


def assert_report(item: dict, report: BillingReport, *, created_by: str = "system") -> None:
    assert set(item) == REPORT_FIELDS
    assert_uuid(item["id"])
    assert item["id"] == str(report.id)
    assert item["customer"] == report.customer_id and isinstance(item["customer"], int)
    assert item["customer_name"] == report.customer.company_name
    assert_date(item["start_date"])
    assert_date(item["end_date"])
    assert item["start_date"] == report.start_date.isoformat()
    assert item["end_date"] == report.end_date.isoformat()
    assert_money(item["total_amount"])
    assert Decimal(str(item["total_amount"])) == report.total_amount
    assert_timestamp(item["generated_at"])
    assert_timestamp(item["created_at"])
    assert dt.datetime.fromisoformat(item["created_at"]) == report.created_at
    assert item["output_format"] in {"csv", "json", "pdf"}
    assert item["created_by"] == created_by


# The detail's additions to the spec's report fields (additive: the spec's fields stay as they are).
DETAIL_FIELDS = {"orders", "service_totals", "not_closed_orders", "other_charges", "unbilled_activity"}


def test_response_serializers_document_exactly_the_legacy_fields():
    assert set(s.ReportSerializer().fields) == REPORT_FIELDS
    assert set(s.ReportDetailSerializer().fields) == REPORT_FIELDS | DETAIL_FIELDS
    assert set(s.ReportOrderSerializer().fields) == ORDER_FIELDS
    assert set(s.ServiceChargeSerializer().fields) == SERVICE_FIELDS
    assert set(s.ServiceTotalSerializer().fields) == SERVICE_TOTAL_FIELDS
    assert set(s.CustomerSummarySerializer().fields) == SUMMARY_FIELDS
    assert set(s.ReportJobSerializer().fields) == JOB_FIELDS
    assert set(s.GenerateReportRequestSerializer().fields) == {
        "customer_id",
        "start_date",
        "end_date",
        "output_format",
        "customer_service_ids",
        "only_unbilled",
        "async",
    }


# --- GET /api/v2/reports/ ------------------------------------------------------------------


def test_list_returns_every_visible_report_in_the_envelope(api, report_a, report_b):
    response = api.get("/api/v2/reports/")

    assert response.status_code == 200
    assert response["Content-Type"] == "application/json"
    payload = body(response)
    assert set(payload) == {"success", "data"}
    assert payload["success"] is True
    assert isinstance(payload["data"], list)
    by_id = {item["id"]: item for item in payload["data"]}
    assert set(by_id) == {str(report_a.id), str(report_b.id)}
    assert_report(by_id[str(report_a.id)], report_a)
    assert_report(by_id[str(report_b.id)], report_b)
    assert response["X-Total-Count"] == "2"
    assert assert_money_literals(response.content.decode()) == 2


def test_list_writes_money_with_two_decimals(api, customer_a):
    report = billed_report(customer_a, orders=1)
    BillingReport.objects.filter(pk=report.pk).update(total_amount=Decimal("1500.00"))

    text = api.get("/api/v2/reports/").content.decode()

    assert '"total_amount":1500.00' in text


def test_list_filters_orders_and_pages(api, customer_a, customer_b, staff):
    billed_report(customer_a, orders=2)
    february = report_generate(
        actor=None, customer_id=customer_a.pk, start_date=dt.date(2025, 2, 1), end_date=dt.date(2025, 2, 28)
    )
    other = billed_report(customer_b, orders=1, prefix="B ")

    only_a = body(api.get("/api/v2/reports/", {"customer_id": customer_a.pk}))["data"]
    assert {item["customer"] for item in only_a} == {customer_a.pk} and len(only_a) == 2

    from_february = body(api.get("/api/v2/reports/", {"start_date": "2025-02-01"}))["data"]
    assert [item["id"] for item in from_february] == [str(february.id)]

    until_january = body(api.get("/api/v2/reports/", {"end_date": "2025-01-31"}))["data"]
    assert str(february.id) not in {item["id"] for item in until_january} and len(until_january) == 2

    by_name = body(api.get("/api/v2/reports/", {"order_by": "-customer_name"}))["data"]
    assert by_name[0]["id"] == str(other.id)

    page = api.get("/api/v2/reports/", {"order_by": "start_date", "limit": 1, "offset": 2})
    assert page["X-Total-Count"] == "3"
    assert [item["id"] for item in body(page)["data"]] == [str(february.id)]

    assert body(api.get("/api/v2/reports/", {"created_after": "2099-01-01"}))["data"] == []


def test_list_shows_the_requesting_username(api, customer_a, staff):
    billed_report(customer_a, orders=1)
    report = report_generate(
        actor=staff, customer_id=customer_a.pk, start_date=JANUARY[0], end_date=JANUARY[1], interface=Interface.REST
    )

    items = {item["id"]: item for item in body(api.get("/api/v2/reports/"))["data"]}

    assert items[str(report.id)]["created_by"] == "staff"


def test_list_is_scoped_to_the_members_customer(client, member_a, report_a, report_b):
    client.force_login(member_a)

    data = body(client.get("/api/v2/reports/"))["data"]

    assert [item["id"] for item in data] == [str(report_a.id)]


# --- GET /api/v2/reports/{id}/ -------------------------------------------------------------


def test_detail_has_every_order_with_its_services_and_the_service_totals(api, report_a):
    response = api.get(f"/api/v2/reports/{report_a.id}/")

    assert response.status_code == 200
    payload = body(response)
    assert payload["success"] is True
    data = payload["data"]
    assert set(data) == REPORT_FIELDS | DETAIL_FIELDS
    assert_report({k: v for k, v in data.items() if k in REPORT_FIELDS}, report_a)
    assert [order["order_id"] for order in data["orders"]] == [f"{report_a.customer_id}-TX{i:05d}" for i in range(3)]
    for order in data["orders"]:
        assert set(order) == ORDER_FIELDS
        assert order["transaction_date"] == "2025-01-15"
        assert order["status"] == "completed"  # as stored
        assert order["ship_to_name"] == "John Smith"
        assert order["ship_to_address"] == "123 Test St"
        assert isinstance(order["total_items"], int) and isinstance(order["line_items"], int)
        assert order["line_items"] == 2
        assert_money(order["total_amount"])
        assert [service["service_name"] for service in order["services"]] == sorted(
            service["service_name"] for service in order["services"]
        )
        for service in order["services"]:
            assert set(service) == SERVICE_FIELDS
            assert isinstance(service["service_id"], int)
            assert_money(service["amount"])
            assert service["cost_type"] in {"per_order", "per_unit", "per_sku", "per_weight_lb"}
        quantities = {service["cost_type"]: service["quantity"] for service in order["services"]}
        assert quantities["per_order"] == 1 and type(quantities["per_order"]) is int
        assert type(quantities["per_unit"]) is int
        assert quantities["per_weight_lb"] == 2.5
        assert Decimal(str(order["total_amount"])) == sum(Decimal(str(x["amount"])) for x in order["services"])
    assert sum(Decimal(str(order["total_amount"])) for order in data["orders"]) == report_a.total_amount

    totals = data["service_totals"]
    assert set(totals) == {str(service["service_id"]) for service in data["orders"][0]["services"]}
    for service_id, total in totals.items():
        assert set(total) == SERVICE_TOTAL_FIELDS
        charged = [x for order in data["orders"] for x in order["services"] if str(x["service_id"]) == service_id]
        assert total["name"] == charged[0]["service_name"]
        assert Decimal(str(total["amount"])) == sum(Decimal(str(x["amount"])) for x in charged)
        assert total["order_count"] == len(charged) == 3

    text = response.content.decode()
    assert assert_money_literals(text) == 1 + 3 + 3 * 4 + 4
    assert '"quantity":2.5,' in text and '"quantity":1,' in text


def test_detail_dates_are_in_the_billing_time_zone(api, customer_a, settings):
    settings.BILLING_TIME_ZONE = "America/New_York"
    billed_report(customer_a, orders=0)
    make_orders(customer_a, 1, day=16)  # 2025-01-16 12:00 UTC
    late = make_orders(customer_a, 1, day=17, prefix="LATE")[0]  # 2025-01-17 12:00 UTC ...
    late.close_date = dt.datetime(2025, 1, 17, 3, 30, tzinfo=dt.UTC)  # ... moved to 22:30 on the 16th in New York
    late.save()
    report = report_generate(actor=None, customer_id=customer_a.pk, start_date=JANUARY[0], end_date=JANUARY[1])

    orders = body(api.get(f"/api/v2/reports/{report.id}/"))["data"]["orders"]

    assert {order["order_id"]: order["transaction_date"] for order in orders} == {
        f"{customer_a.pk}-TX00000": "2025-01-16",
        "LATE-TX00000": "2025-01-16",
    }


def test_detail_query_count_does_not_grow_with_orders(api, customer_a, customer_b):
    small = billed_report(customer_a, orders=2)
    large = billed_report(customer_b, orders=40, prefix="B ")
    api.get("/api/v2/reports/")  # the token's first use records last_used_at once

    with CaptureQueriesContext(connection) as small_queries:
        assert api.get(f"/api/v2/reports/{small.id}/").status_code == 200
    with CaptureQueriesContext(connection) as large_queries:
        assert api.get(f"/api/v2/reports/{large.id}/").status_code == 200
    with CaptureQueriesContext(connection) as paged_queries:
        assert api.get(f"/api/v2/reports/{large.id}/", {"orders_limit": 10}).status_code == 200

    assert len(small_queries) == len(large_queries)
    assert len(paged_queries) <= len(large_queries)


def test_detail_orders_can_be_paged(api, customer_a):
    report = billed_report(customer_a, orders=5)
    everything = body(api.get(f"/api/v2/reports/{report.id}/"))["data"]

    response = api.get(f"/api/v2/reports/{report.id}/", {"orders_limit": 2, "orders_offset": 1})

    page = body(response)["data"]
    assert response["X-Total-Count"] == "5"
    assert page["orders"] == everything["orders"][1:3]
    assert page["service_totals"] == everything["service_totals"]
    assert page["total_amount"] == everything["total_amount"]
    tail = body(api.get(f"/api/v2/reports/{report.id}/", {"orders_offset": 4}))["data"]["orders"]
    assert tail == everything["orders"][4:]


def test_detail_lists_the_billed_orders_only(api, customer_a):
    fee = CustomerServiceFactory(
        customer=customer_a, service=ServiceFactory(name="Canada fee", charge_type=ChargeType.PER_ORDER)
    )
    RuleFactory(rule_group=RuleGroupFactory(customer_service=fee), field="ship_to_country", operator="eq", value="CA")
    make_orders(customer_a, 1, prefix="US")
    canadian = make_orders(customer_a, 1, prefix="CA")[0]
    canadian.ship_to_country = "CA"
    canadian.save()
    report = report_generate(actor=None, customer_id=customer_a.pk, start_date=JANUARY[0], end_date=JANUARY[1])

    response = api.get(f"/api/v2/reports/{report.id}/", {"orders_limit": 10})

    orders = body(response)["data"]["orders"]
    assert [(order["order_id"], len(order["services"]), order["total_amount"]) for order in orders] == [
        ("CA-TX00000", 1, 1.5)
    ]
    assert response["X-Total-Count"] == "1"
    assert body(api.get(f"/api/v2/reports/{report.id}/"))["data"]["orders"] == orders


# --- POST /api/v2/reports/generate/ -------------------------------------------------------


def test_generate_answers_201_with_the_new_report(api, customer_a, staff):
    billed_report(customer_a, orders=3)
    previous = BillingReport.objects.get()

    response = api.post(
        "/api/v2/reports/generate/",
        {"customer_id": customer_a.pk, "start_date": "2025-01-01", "end_date": "2025-01-31", "output_format": "pdf"},
        content_type="application/json",
        headers={"X-Request-ID": "req-123.abc"},
    )

    assert response.status_code == 201
    payload = body(response)
    assert payload["success"] is True
    report = BillingReport.objects.get(pk=payload["data"]["id"])
    assert_report(payload["data"], report, created_by="staff")
    assert payload["data"]["output_format"] == "pdf"
    assert report.total_amount == previous.total_amount
    previous.refresh_from_db()
    assert previous.status == ReportStatus.SUPERSEDED
    event = AuditEvent.objects.filter(report=report, action__in=[AuditAction.GENERATED, AuditAction.REGENERATED]).get()
    assert (event.interface, event.request_id, event.actor) == (Interface.REST, "req-123.abc", staff)
    assert response["X-Request-ID"] == "req-123.abc"


def test_generate_defaults_to_json_output(api, customer_a):
    billed_report(customer_a, orders=1)

    response = api.post(
        "/api/v2/reports/generate/",
        {"customer_id": customer_a.pk, "start_date": "2025-01-01", "end_date": "2025-01-31"},
        content_type="application/json",
    )

    assert response.status_code == 201
    assert body(response)["data"]["output_format"] == "json"


def test_generate_with_an_idempotency_key_replays_the_first_report(api, customer_a):
    billed_report(customer_a, orders=1)
    request = {"customer_id": customer_a.pk, "start_date": "2025-01-01", "end_date": "2025-01-31"}

    first = api.post(
        "/api/v2/reports/generate/", request, content_type="application/json", headers={"Idempotency-Key": "k-1"}
    )
    again = api.post(
        "/api/v2/reports/generate/", request, content_type="application/json", headers={"Idempotency-Key": "k-1"}
    )

    assert first.status_code == again.status_code == 201
    assert body(first)["data"] == body(again)["data"]
    assert "Idempotent-Replayed" not in first
    assert again["Idempotent-Replayed"] == "true"
    assert BillingReport.objects.filter(status=ReportStatus.CURRENT).count() == 1


def test_an_async_replay_with_the_same_key_says_it_is_a_replay(api, customer_a):
    billed_report(customer_a, orders=1)
    request = {"customer_id": customer_a.pk, "start_date": "2025-01-01", "end_date": "2025-01-31", "async": True}

    def send():
        return api.post(
            "/api/v2/reports/generate/", request, content_type="application/json", headers={"Idempotency-Key": "a-1"}
        )

    first, again = send(), send()

    assert first.status_code == again.status_code == 202
    assert body(first)["data"]["id"] == body(again)["data"]["id"]
    assert "Idempotent-Replayed" not in first
    assert again["Idempotent-Replayed"] == "true"
    assert ReportJob.objects.count() == 1


def test_generate_async_answers_202_with_the_job_and_the_job_can_be_polled(
    api, customer_a, django_capture_on_commit_callbacks
):
    billed_report(customer_a, orders=3)

    with django_capture_on_commit_callbacks(execute=True):  # the job is dispatched when the request commits
        response = api.post(
            "/api/v2/reports/generate/",
            {"customer_id": customer_a.pk, "start_date": "2025-01-01", "end_date": "2025-01-31", "async": True},
            content_type="application/json",
        )

    assert response.status_code == 202
    job = body(response)["data"]
    assert set(job) == JOB_FIELDS
    assert_uuid(job["id"])
    assert job["customer"] == customer_a.pk and job["customer_name"] == "Acme Outdoor"
    assert (job["start_date"], job["end_date"], job["output_format"]) == ("2025-01-01", "2025-01-31", "json")
    assert job["requested_by"] == "staff"
    assert_timestamp(job["created_at"])
    assert job["status"] in {"queued", "running", "succeeded"}

    polled = api.get(f"/api/v2/reports/jobs/{job['id']}/")
    assert polled.status_code == 200
    current = body(polled)["data"]
    assert set(current) == JOB_FIELDS and current["id"] == job["id"]
    assert current["status"] == "succeeded"  # no broker: the job ran in-process at commit
    assert current["progress_percent"] == 100
    assert current["processed_orders"] == current["total_orders"] == 3
    assert_uuid(current["report_id"])
    assert_timestamp(current["started_at"])
    assert_timestamp(current["finished_at"])
    assert current["error"] == ""
    assert body(api.get(f"/api/v2/reports/{current['report_id']}/"))["data"]["customer"] == customer_a.pk

    progress = api.get(
        "/api/v2/reports/progress/",
        {"customer_id": customer_a.pk, "start_date": "2025-01-01", "end_date": "2025-01-31"},
    )
    assert progress.status_code == 200
    assert body(progress)["data"] == current


# --- GET /api/v2/reports/{id}/download/ ----------------------------------------------------


@pytest.mark.parametrize(
    ("query", "extension", "content_type"),
    [
        ({}, "csv", "text/csv; charset=utf-8"),
        ({"format": "csv"}, "csv", "text/csv; charset=utf-8"),
        ({"format": "json"}, "json", "application/json"),
        ({"format": "pdf"}, "pdf", "application/pdf"),
    ],
)
def test_download_is_an_attachment_of_the_right_type(api, report_a, query, extension, content_type):
    response = api.get(f"/api/v2/reports/{report_a.id}/download/", query)

    assert response.status_code == 200
    assert response["Content-Type"] == content_type
    assert response["Content-Disposition"] == f'attachment; filename="billing-report-{report_a.id}.{extension}"'
    content = b"".join(response.streaming_content)
    assert content
    if extension == "pdf":
        assert content.startswith(b"%PDF-")


# --- GET /api/v2/reports/customer-summary/ -------------------------------------------------


def test_customer_summary_counts_current_reports_only(api, customer_a, customer_b):
    billed_report(customer_a, orders=2)
    january = report_generate(actor=None, customer_id=customer_a.pk, start_date=JANUARY[0], end_date=JANUARY[1])
    february = report_generate(
        actor=None, customer_id=customer_a.pk, start_date=dt.date(2025, 2, 1), end_date=dt.date(2025, 2, 28)
    )
    BillingReport.objects.filter(pk=february.pk).update(total_amount=Decimal("1500.00"))
    b_report = billed_report(customer_b, orders=1, prefix="B ")
    CustomerFactory(company_name="No Reports Ltd")

    response = api.get("/api/v2/reports/customer-summary/")

    assert response.status_code == 200
    data = body(response)["data"]
    assert [item["customer_name"] for item in data] == ["Acme Outdoor", "Bravo Goods"]
    acme = data[0]
    assert set(acme) == SUMMARY_FIELDS
    assert acme["customer_id"] == customer_a.pk
    assert acme["reports_count"] == 2
    expected_total = january.total_amount + Decimal("1500.00")
    assert Decimal(str(acme["total_billed"])) == expected_total
    average = (expected_total / 2).quantize(Decimal("0.01"), rounding=ROUND_HALF_UP)
    assert Decimal(str(acme["average_bill_amount"])) == average
    assert (acme["first_billing_date"], acme["last_billing_date"]) == ("2025-01-01", "2025-02-28")
    assert Decimal(str(data[1]["total_billed"])) == b_report.total_amount
    assert assert_money_literals(response.content.decode()) == 4


def test_customer_summary_for_one_customer_lists_it_even_without_reports(api, customer_a):
    response = api.get("/api/v2/reports/customer-summary/", {"customer_id": customer_a.pk})

    assert body(response)["data"] == [
        {
            "customer_id": customer_a.pk,
            "customer_name": "Acme Outdoor",
            "reports_count": 0,
            "total_billed": 0,
            "first_billing_date": None,
            "last_billing_date": None,
            "average_bill_amount": 0,
        }
    ]
    assert '"total_billed":0.00' in response.content.decode()
