"""A credit note as CSV, JSON and PDF: what was credited, for which invoice, and why."""

from __future__ import annotations

import csv
import io
from collections.abc import Iterator

from django.conf import settings
from reportlab.lib.pagesizes import A4
from reportlab.lib.units import mm
from reportlab.pdfgen import canvas

from billing.exporters.csv import neutralise
from billing.exporters.shapes import credit_note_data, iso_date, local_date, money
from billing.jsonencoding import dumps
from billing.models import CreditNote

CSV_HEADER = (
    "credit_note_number",
    "invoice_number",
    "report_id",
    "customer",
    "period_start",
    "period_end",
    "issued_on",
    "currency",
    "amount_credited",
    "reason",
)


def credit_note_csv(note: CreditNote) -> Iterator[bytes]:
    report = note.report
    buffer = io.StringIO()
    writer = csv.writer(buffer)
    writer.writerow(CSV_HEADER)
    writer.writerow(
        (
            note.number,
            report.invoice_number,
            str(report.id),
            neutralise(report.customer.company_name),
            iso_date(report.start_date),
            iso_date(report.end_date),
            local_date(note.issued_at, report.billing_time_zone),
            note.currency,
            format(money(note.amount), "f"),
            neutralise(note.reason),
        )
    )
    yield buffer.getvalue().encode()


def credit_note_json(note: CreditNote) -> Iterator[bytes]:
    report = note.report
    data = {
        **credit_note_data(note),
        "customer": report.customer_id,
        "customer_name": report.customer.company_name,
        "start_date": iso_date(report.start_date),
        "end_date": iso_date(report.end_date),
    }
    yield dumps(data).encode()


def credit_note_pdf(note: CreditNote) -> Iterator[bytes]:
    report = note.report
    output = io.BytesIO()
    page = canvas.Canvas(output, pagesize=A4)
    page.setTitle(f"Credit note {note.number}")
    page.setAuthor(settings.BILLING_ISSUER_NAME)
    left, y = 20 * mm, A4[1] - 25 * mm
    page.setFont("Helvetica-Bold", 12)
    page.drawString(left, y, settings.BILLING_ISSUER_NAME)
    page.setFont("Helvetica-Bold", 18)
    page.drawString(left, y - 14 * mm, "CREDIT NOTE")
    rows = [
        ("Credit note no.", note.number),
        ("Issue date", local_date(note.issued_at, report.billing_time_zone) or ""),
        ("Credits invoice", report.invoice_number),
        ("Customer", report.customer.legal_business_name or report.customer.company_name),
        ("Period", f"{iso_date(report.start_date)} to {iso_date(report.end_date)}"),
        ("Amount credited", f"{money(note.amount):,.2f} {note.currency}"),
        ("Reason", note.reason[:180]),
        ("Report ID", str(report.id)),
    ]
    y -= 26 * mm
    for label, value in rows:
        page.setFont("Helvetica-Bold", 10)
        page.drawString(left, y, label)
        page.setFont("Helvetica", 10)
        page.drawString(left + 40 * mm, y, value)
        y -= 7 * mm
    page.showPage()
    page.save()
    yield output.getvalue()
