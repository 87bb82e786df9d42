"""Downloads parsed back: CSV with the csv module, JSON loaded, PDF text extracted with pypdf."""

from __future__ import annotations

import csv
import io
import json
import re
from decimal import Decimal

import pytest
from pypdf import PdfReader

from billing.models import AuditAction, AuditEvent, ChargeType, Interface, ReportServiceTotal
from billing.services.reports import report_generate
from tests.factories import CustomerFactory, CustomerServiceFactory, ServiceFactory, order_with_lines
from tests.rest_compat.conftest import JANUARY, billed_report, body

pytestmark = pytest.mark.django_db


def download(client, report, fmt: str | None = None) -> bytes:
    response = client.get(f"/api/v2/reports/{report.id}/download/", {"format": fmt} if fmt else {})
    assert response.status_code == 200
    return b"".join(response.streaming_content)


def csv_rows(content: bytes) -> list[dict[str, str]]:
    return list(csv.DictReader(io.StringIO(content.decode("utf-8"), newline="")))


def test_csv_has_one_row_per_line_and_totals_equal_to_the_reports(api, customer_a):
    report = billed_report(customer_a, orders=5)

    rows = csv_rows(download(api, report))

    lines = [row for row in rows if row["row_type"] == "line"]
    totals = [row for row in rows if row["row_type"] == "service_total"]
    grand = [row for row in rows if row["row_type"] == "total"]
    assert [row["row_type"] for row in rows] == ["line"] * len(lines) + ["service_total"] * len(totals) + ["total"]
    assert len(lines) == report.line_count == 5 * 4
    assert {row["report_id"] for row in rows} == {str(report.id)}
    assert {row["customer"] for row in rows} == {"Acme Outdoor"}
    assert sum(Decimal(row["amount"]) for row in lines) == report.total_amount
    assert Decimal(grand[0]["total_amount"]) == report.total_amount
    expected = {
        str(total.service_id): (total.service_name, total.amount, total.quantity)
        for total in ReportServiceTotal.objects.filter(report=report)
    }
    assert {
        row["service_id"]: (row["service_name"], Decimal(row["total_amount"]), Decimal(row["total_quantity"]))
        for row in totals
    } == (expected)
    for service_id, (_, amount, _) in expected.items():
        assert sum(Decimal(row["amount"]) for row in lines if row["service_id"] == service_id) == amount
    first = lines[0]
    assert first["transaction_id"] == f"{customer_a.pk}-TX00000"
    assert first["close_date"] == "2025-01-15"
    assert re.fullmatch(r"\d+\.\d{4}", first["unit_price"])
    assert all(re.fullmatch(r"\d+\.\d{2}", row["amount"]) for row in lines)
    assert {row["quantity"] for row in lines if row["charge_type"] == "per_weight_lb"} == {"2.5"}


def test_csv_neutralises_cells_a_spreadsheet_would_execute(api):
    customer = CustomerFactory(company_name='=HYPERLINK("http://evil.example")')
    for name, price in (("+SUM(A1:A9)", "1.0000"), ("@cmd", "2.0000"), ("-2+3", "0.5000"), ("\tTabbed", "0.2500")):
        CustomerServiceFactory(
            customer=customer,
            service=ServiceFactory(name=name, charge_type=ChargeType.PER_ORDER),
            unit_price=Decimal(price),
        )
    order_with_lines(customer=customer, transaction_id="=1+1", lines={"A": 1})
    order_with_lines(customer=customer, transaction_id="\rCR-1", lines={"A": 1})
    report = report_generate(actor=None, customer_id=customer.pk, start_date=JANUARY[0], end_date=JANUARY[1])

    rows = csv_rows(download(api, report))

    assert {row["customer"] for row in rows} == {'\'=HYPERLINK("http://evil.example")'}
    assert {row["transaction_id"] for row in rows if row["row_type"] == "line"} == {"'=1+1", "'\rCR-1"}
    assert {row["service_name"] for row in rows if row["service_name"]} == {
        "'+SUM(A1:A9)",
        "'@cmd",
        "'-2+3",
        "'\tTabbed",
    }
    for row in rows:
        for column in ("service_id", "quantity", "unit_price", "amount", "total_quantity", "total_amount"):
            assert not row[column].startswith("'")
    assert Decimal(rows[-1]["total_amount"]) == report.total_amount == Decimal("7.50")


def test_json_download_equals_the_detail_data(api, customer_a):
    report = billed_report(customer_a, orders=4)

    content = download(api, report, "json")

    detail = api.get(f"/api/v2/reports/{report.id}/")
    assert json.loads(content) == body(detail)["data"]
    assert json.loads(content, parse_float=Decimal) == json.loads(detail.content, parse_float=Decimal)["data"]
    assert f'"total_amount":{report.total_amount}' in content.decode()


def test_pdf_shows_customer_period_totals_and_page_numbers(api, customer_a):
    report = billed_report(customer_a, orders=60)  # 240 lines: several pages

    reader = PdfReader(io.BytesIO(download(api, report, "pdf")))

    pages = len(reader.pages)
    assert pages > 1
    first = reader.pages[0].extract_text()
    assert "Acme Outdoor" in first
    assert "2025-01-01 to 2025-01-31" in first
    assert str(report.id) in first
    assert f"Page 1 of {pages}" in first
    assert "Order fee" in first and "Weight" in first  # the per-service totals
    last = reader.pages[-1].extract_text()
    assert f"Page {pages} of {pages}" in last
    assert "Total charges" in last and f"{report.total_amount:,.2f} USD" in last
    text = "".join(page.extract_text() for page in reader.pages)
    header = "Order\nDate\nService\nCharge type\nQuantity\nUnit price\nAmount\n"
    for page in reader.pages[1:]:
        assert page.extract_text().startswith(header)  # each page of lines starts with the column headers
    assert f"{customer_a.pk}-TX00059" in text


def test_every_download_is_audited(api, staff, report_a):
    download(api, report_a, "pdf")
    api.get(f"/api/v2/reports/{report_a.id}/download/", headers={"X-Request-ID": "dl-7"})

    events = AuditEvent.objects.filter(report=report_a, action=AuditAction.DOWNLOADED).order_by("id")
    assert [(event.format, event.interface, event.actor) for event in events] == [
        ("pdf", Interface.REST, staff),
        ("csv", Interface.REST, staff),
    ]
    assert events[1].request_id == "dl-7"
