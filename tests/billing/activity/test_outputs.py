"""Other charges in every output: REST detail, GraphQL, CSV, JSON and PDF (real HTTP, bytes parsed back)."""

from __future__ import annotations

import csv
import datetime as dt
import io
import json
from decimal import Decimal

import pytest
from pypdf import PdfReader

from billing.models import ChargeType, RateCardAdjustment
from tests.billing.activity.helpers import customer_return, extra_work, receipt, storage_line, storage_month, utc
from tests.billing.generation.helpers import generate, rate_line
from tests.factories import order_with_lines
from tests.graphql_schema.helpers import data_of, gql

pytestmark = pytest.mark.django_db

GRAPHQL = """
query($id: UUID!) { report(id: $id) {
  totals { totalAmount }
  serviceTotals { serviceId serviceName amount }
  otherCharges { source reference date serviceId serviceName chargeType quantity unit unitPrice amount explanation }
  unbilledActivity { receipts returns extraWork snapshotDays }
} }
"""


@pytest.fixture
def activity_report(customer_a):
    """Orders, a month of storage, a receipt, a return, extra work, a surcharge and a discount."""
    customer = customer_a
    rate_line(customer, "Order fee", price="1.5000")
    storage = storage_line(customer, storage_basis="peak", storage_period="month")
    rate_line(customer, "Receiving", ChargeType.RECEIVING_RECEIPT, price="25.0000")
    rate_line(customer, "Returns", ChargeType.RETURN_UNIT, price="0.7500")
    labour = rate_line(customer, "Labour", ChargeType.EXTRA_WORK, price="35.0000")
    for day in range(1, 11):
        order_with_lines(customer=customer, lines={"A1": 1}, close_date=utc(2025, 1, day, 9))
    storage_month(customer, pallets="3")
    receipt(customer, "=R-1", utc(2025, 1, 5, 12), pallets=3)  # a formula-like reference, neutralised in CSV
    customer_return(customer, "RMA-1", utc(2025, 1, 8, 12), units=4)
    customer_return(customer, "RMA-2", utc(2025, 1, 9, 12), units=0)  # no units: nothing to charge
    extra_work(customer, labour, "EW-1", dt.date(2025, 1, 20), quantity="2")
    fuel = RateCardAdjustment.objects.create(
        customer=customer, kind="surcharge", percent=Decimal("10"), description="Fuel"
    )
    fuel.services.add(storage)
    RateCardAdjustment.objects.create(customer=customer, kind="discount", amount=Decimal("5.00"), description="Loyalty")
    report = generate(customer)
    report.refresh_from_db()
    return report


# 10 orders x 1.50 = 15.00; storage peak 3 pallets x 10.00 = 30.00; receipt 25.00; return 4 x 0.75 = 3.00;
# labour 2 x 35.00 = 70.00; fuel 10% of storage = 3.00; loyalty -5.00
EXPECTED_TOTAL = Decimal("141.00")


def test_the_whole_bill_is_the_report_total(activity_report):
    assert activity_report.total_amount == EXPECTED_TOTAL
    assert activity_report.unbilled_activity["returns"] == 1


def test_rest_detail_lists_other_charges_and_graphql_agrees(client, staff, activity_report):
    client.force_login(staff)
    response = client.get(f"/api/v2/reports/{activity_report.id}/")
    assert response.status_code == 200
    rest = json.loads(response.content, parse_float=Decimal)["data"]
    assert rest["total_amount"] == EXPECTED_TOTAL
    charges = rest["other_charges"]
    assert [(c["source"], c["reference"], c["amount"]) for c in charges] == [
        ("extra_work", "EW-1", Decimal("70.00")),
        ("storage", "2025-01", Decimal("30.00")),
        ("receiving", "=R-1", Decimal("25.00")),
        ("returns", "RMA-1", Decimal("3.00")),
        ("adjustment", "Fuel", Decimal("3.00")),
        ("adjustment", "Loyalty", Decimal("-5.00")),
    ]
    orders = sum(order["total_amount"] for order in rest["orders"])
    assert orders + sum(c["amount"] for c in charges) == rest["total_amount"]
    assert rest["unbilled_activity"] == {"receipts": 0, "returns": 1, "extra_work": 0, "snapshot_days": 0}
    storage = charges[1]
    assert storage["unit"] == "pallet-month" and storage["quantity"] == Decimal("3")
    assert "peak" in storage["explanation"]["text"]
    # service totals include the other charges; the storage surcharge counts with its service
    totals = {t["name"]: t["amount"] for t in rest["service_totals"].values()}
    assert totals["Pallet storage"] == Decimal("33.00")
    assert totals["Labour"] == Decimal("70.00")

    graph = data_of(gql(client, GRAPHQL, {"id": str(activity_report.id)}))["report"]
    assert Decimal(graph["totals"]["totalAmount"]) == rest["total_amount"]
    assert [(c["source"], c["reference"], Decimal(c["amount"]), c["explanation"]) for c in graph["otherCharges"]] == [
        (c["source"], c["reference"], c["amount"], c["explanation"]["text"]) for c in charges
    ]
    assert {t["serviceName"]: Decimal(t["amount"]) for t in graph["serviceTotals"]} == totals
    assert graph["unbilledActivity"] == {"receipts": 0, "returns": 1, "extraWork": 0, "snapshotDays": 0}


def download(client, report, fmt):
    response = client.get(f"/api/v2/reports/{report.id}/download/", {"format": fmt})
    assert response.status_code == 200
    return b"".join(response.streaming_content)


def test_csv_json_and_pdf_have_their_own_section(client, staff, activity_report):
    client.force_login(staff)
    rows = list(csv.DictReader(io.StringIO(download(client, activity_report, "csv").decode("utf-8"), newline="")))
    other = [row for row in rows if row["row_type"] == "other_charge"]
    assert len(other) == 6
    assert other[2]["transaction_id"] == "'=R-1"
    assert other[5]["amount"] == "-5.00"
    amounts = sum(Decimal(row["amount"]) for row in rows if row["row_type"] in ("line", "other_charge"))
    assert amounts == EXPECTED_TOTAL
    assert Decimal(next(row for row in rows if row["row_type"] == "total")["total_amount"]) == EXPECTED_TOTAL

    exported = json.loads(download(client, activity_report, "json"), parse_float=Decimal)
    detail = json.loads(client.get(f"/api/v2/reports/{activity_report.id}/").content, parse_float=Decimal)["data"]
    assert exported["other_charges"] == detail["other_charges"]
    assert exported["unbilled_activity"] == detail["unbilled_activity"]

    reader = PdfReader(io.BytesIO(download(client, activity_report, "pdf")))
    text = "".join(page.extract_text() for page in reader.pages)
    assert "Other charges" in text
    assert "Minimum" not in text and "Surcharge" in text and "Discount" in text
    assert "-5.00" in text and "141.00" in text
