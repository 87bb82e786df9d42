"""Statuses are stored and shown as given; one setting decides which are billable; no close date, never billable."""

import io
import json
from decimal import Decimal

import pytest
from django.core.management import call_command
from django.test import Client

from billing.exporters import report_export_unchecked
from billing.models import ChargeType, Interface
from billing.selectors.orders import billable_orders
from billing.services.orders import orders_upsert
from billing.services.reports import report_generate
from tests.factories import (
    JANUARY,
    CustomerFactory,
    CustomerServiceFactory,
    RuleFactory,
    RuleGroupFactory,
    ServiceFactory,
    staff_user,
)
from tests.graphql_schema.helpers import data_of, gql

pytestmark = pytest.mark.django_db

JAN_15 = "2025-01-15 10:00:00+00"
STATUSES = ["draft", "Delivered", "SHIPPED", "Cancelled", " canceled ", "void", ""]


def import_orders(customer, rows):
    result = orders_upsert(
        rows=[{"customer_id": customer.pk, "close_date": JAN_15, "sku_quantity": '{"A": 1}', **row} for row in rows]
    )
    assert result.errors == []


def billable(customer):
    return sorted(
        billable_orders(customer_id=customer.pk, start_date=JANUARY[0], end_date=JANUARY[1]).values_list(
            "transaction_id", flat=True
        )
    )


@pytest.fixture
def customer():
    customer = CustomerFactory()
    import_orders(
        customer, [{"transaction_id": f"S{index}", "status": status} for index, status in enumerate(STATUSES)]
    )
    return customer


def test_by_default_only_cancelled_and_its_spellings_are_never_billable(customer):
    assert billable(customer) == ["S0", "S1", "S2", "S5", "S6"]


def test_the_never_billable_setting_is_compared_trimmed_and_case_insensitively(settings, customer):
    settings.BILLING_NEVER_BILLABLE_STATUSES = ["Cancelled", "canceled", " VOID", "draft"]

    assert billable(customer) == ["S1", "S2", "S6"]


def test_only_billable_statuses_can_be_set_as_well(settings, customer):
    settings.BILLING_BILLABLE_STATUSES = ["delivered", "shipped", "cancelled"]

    assert billable(customer) == ["S1", "S2"]  # cancelled stays never billable


def test_statuses_are_shown_as_given_in_graphql(customer):
    client = Client()
    client.force_login(staff_user())

    body = gql(client, "{ orders(first: 20) { edges { node { transactionId status } } } }")

    shown = {edge["node"]["transactionId"]: edge["node"]["status"] for edge in data_of(body)["orders"]["edges"]}
    assert shown == {f"S{index}": status.strip() for index, status in enumerate(STATUSES)}


# --- a report: billed, unbilled and not-closed orders --------------------------------------


@pytest.fixture
def report():
    customer = CustomerFactory(company_name="Ledger Co")
    fee = CustomerServiceFactory(
        customer=customer, service=ServiceFactory(name="Fee", charge_type=ChargeType.PER_ORDER), unit_price="2"
    )
    rows = [
        {"transaction_id": "BILLED", "status": "delivered"},
        {"transaction_id": "UNBILLED", "status": "draft", "ship_to_country": "US"},
        {"transaction_id": "OPEN-1", "status": "shipped", "close_date": "", "reference_number": "PO-9"},
        {"transaction_id": "OPEN-2", "status": "Draft", "close_date": ""},
        {"transaction_id": "OPEN-CANCELLED", "status": "cancelled", "close_date": ""},
    ]
    import_orders(customer, [{"ship_to_country": "CA", **row} for row in rows])
    RuleFactory(rule_group=RuleGroupFactory(customer_service=fee), field="ship_to_country", operator="eq", value="CA")
    return report_generate(actor=None, customer_id=customer.pk, start_date=JANUARY[0], end_date=JANUARY[1])


NOT_CLOSED = [
    {"order_id": "OPEN-1", "reference_number": "PO-9", "status": "shipped"},
    {"order_id": "OPEN-2", "reference_number": "", "status": "Draft"},
]


def test_orders_without_a_close_date_are_never_billed_and_listed_apart_as_not_closed(report):
    assert (report.order_count, report.unbilled_order_count, report.not_closed_order_count) == (1, 1, 2)
    assert report.total_amount == Decimal("2.00")

    client = Client()
    client.force_login(staff_user())
    data = json.loads(client.get(f"/api/v2/reports/{report.pk}/").content)["data"]
    assert [(o["order_id"], o["status"]) for o in data["orders"]] == [("BILLED", "delivered")]  # as given
    assert data["not_closed_orders"] == NOT_CLOSED

    exported = json.loads(
        b"".join(report_export_unchecked(report=report, fmt="json", actor=None, interface=Interface.COMMAND).chunks)
    )
    assert exported["not_closed_orders"] == NOT_CLOSED
    assert exported["orders"][0]["status"] == "delivered"

    body = gql(
        client,
        "query($id: UUID!) { report(id: $id) { totals { notClosedOrderCount unbilledOrderCount } "
        "notClosedOrders { transactionId status referenceNumber } "
        "unbilledOrders(first: 5) { edges { node { transactionId status } } } } }",
        {"id": str(report.pk)},
    )
    graph = data_of(body)["report"]
    assert graph["totals"] == {"notClosedOrderCount": 2, "unbilledOrderCount": 1}
    assert graph["notClosedOrders"] == [
        {"transactionId": "OPEN-1", "status": "shipped", "referenceNumber": "PO-9"},
        {"transactionId": "OPEN-2", "status": "Draft", "referenceNumber": ""},
    ]
    assert [edge["node"] for edge in graph["unbilledOrders"]["edges"]] == [
        {"transactionId": "UNBILLED", "status": "draft"}
    ]


def test_the_csv_export_lists_only_billed_orders_with_their_close_date(report):
    out, err = io.StringIO(), io.StringIO()
    call_command(
        "generate_report",
        "--customer",
        report.customer_id,
        "--start",
        "2025-01-01",
        "--end",
        "2025-01-31",
        "--format",
        "csv",
        "--no-progress",
        stdout=out,
        stderr=err,
    )
    text = out.getvalue()
    assert "BILLED,2025-01-15" in text
    assert "OPEN-1" not in text and "UNBILLED" not in text
