"""manage.py generate_report: generates with report_generate, writes through the shared exporter."""

from __future__ import annotations

import csv
import io
import json
from decimal import Decimal

import pytest
from django.core.management import CommandError, call_command
from pypdf import PdfReader

from billing.models import AuditAction, AuditEvent, BillingReport, Interface

pytestmark = pytest.mark.django_db


def generate(*args: str) -> tuple[str, str]:
    out, err = io.StringIO(), io.StringIO()
    call_command("generate_report", *args, "--no-progress", stdout=out, stderr=err)
    return out.getvalue(), err.getvalue()


def test_csv_goes_to_standard_output_by_default(customer):
    out, err = generate("--customer", str(customer.pk), "--start", "2025-01-01", "--end", "2025-01-31")

    rows = list(csv.DictReader(io.StringIO(out, newline="")))
    report = BillingReport.objects.get()
    assert [row["row_type"] for row in rows] == ["line"] * 3 + ["service_total", "total"]
    assert Decimal(rows[-1]["total_amount"]) == report.total_amount == Decimal("6.00")
    assert str(report.id) in err and "3 orders" in err
    event = AuditEvent.objects.get(report=report, action=AuditAction.DOWNLOADED)
    assert (event.interface, event.actor, event.format) == (Interface.COMMAND, None, "csv")


def test_json_and_pdf_go_to_a_file(customer, tmp_path):
    json_path, pdf_path = tmp_path / "report.json", tmp_path / "report.pdf"

    period = ["--customer", str(customer.pk), "--start", "2025-01-01", "--end", "2025-01-31"]

    generate(*period, "--format", "json", "--output", str(json_path))
    generate(*period, "--format", "pdf", "--output", str(pdf_path))

    data = json.loads(json_path.read_text())
    assert data["customer_name"] == "Acme Outdoor" and len(data["orders"]) == 3
    assert "Acme Outdoor" in PdfReader(pdf_path).pages[0].extract_text()
    current = BillingReport.objects.get(status="draft")
    assert current.output_format == "pdf"


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (("--start", "2025-02-01", "--end", "2025-01-01"), "end_date: End date must be on or after the start date."),
        (("--start", "2025-01-01", "--end", "2025-01-31", "--customer", "999999"), "customer_id: Customer 999999"),
        (("--start", "2025-13-01", "--end", "2025-01-31"), "Not a date (YYYY-MM-DD): '2025-13-01'"),
        (("--start", "2025-01-01", "--end", "2025-01-31", "--format", "pdf"), "A PDF needs --output FILE"),
    ],
)
def test_invalid_input_fails_with_a_clear_message_and_writes_nothing(customer, args, message):
    arguments = ["--customer", str(customer.pk), *args]

    with pytest.raises(CommandError) as caught:
        generate(*arguments)

    assert message in str(caught.value)
    assert not BillingReport.objects.exists()
    assert not AuditEvent.objects.exists()
