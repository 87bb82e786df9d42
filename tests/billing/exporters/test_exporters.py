"""billing.exporters: the shared download service and the CSV/JSON/PDF formatters."""

from __future__ import annotations

import csv
import datetime as dt
import io
import json
import tracemalloc
from decimal import Decimal

import pytest
from hypothesis import given
from hypothesis import strategies as st
from pypdf import PdfReader

from billing import exporters
from billing.errors import NotFound, ValidationFailed
from billing.exporters import csv as csv_exporter
from billing.exporters import json as json_exporter
from billing.exporters.csv import neutralise
from billing.exporters.shapes import money, quantity_number, report_detail_data
from billing.jsonencoding import dumps
from billing.models import AuditAction, AuditEvent, ChargeType, Interface
from billing.selectors.reports import report_detail
from billing.services.reports import report_generate
from tests.factories import (
    CustomerFactory,
    CustomerServiceFactory,
    MembershipFactory,
    ServiceFactory,
    UserFactory,
    order_with_lines,
    staff_user,
)

JANUARY = (dt.date(2025, 1, 1), dt.date(2025, 1, 31))


def make_report(*, orders: int = 3, name: str = "Acme Outdoor", prefix: str = ""):
    customer = CustomerFactory(company_name=name)
    for service, charge_type, price in (
        (f"{prefix}Order fee", ChargeType.PER_ORDER, "1.5000"),
        (f"{prefix}Pick", ChargeType.PER_UNIT, "0.2500"),
        (f"{prefix}Weight", ChargeType.PER_WEIGHT_LB, "0.3333"),
    ):
        CustomerServiceFactory(
            customer=customer,
            service=ServiceFactory(name=service, charge_type=charge_type),
            unit_price=Decimal(price),
        )
    for index in range(orders):
        order_with_lines(
            customer=customer,
            transaction_id=f"{prefix}TX{index:05d}",
            close_date=dt.datetime(2025, 1, 10, 8, 0, tzinfo=dt.UTC) + dt.timedelta(minutes=index),
            lines={"A": 1 + index % 5, "B": 2},
        )
    return report_generate(actor=None, customer_id=customer.pk, start_date=JANUARY[0], end_date=JANUARY[1])


def content(result) -> bytes:
    return b"".join(result.chunks)


# --- the service ----------------------------------------------------------------------------


@pytest.mark.django_db
@pytest.mark.parametrize(
    ("fmt", "content_type"),
    [
        ("csv", "text/csv; charset=utf-8"),
        ("json", "application/json"),
        ("pdf", "application/pdf"),
        ("PDF", "application/pdf"),
    ],
)
def test_report_export_returns_type_filename_and_body_and_audits(fmt, content_type):
    report = make_report()
    staff = staff_user(username="auditor")

    result = exporters.report_export(
        actor=staff, report_id=str(report.id), fmt=fmt, interface=Interface.GRAPHQL, request_id="r-1"
    )

    assert result.content_type == content_type
    assert result.filename == f"billing-report-{report.id}.{fmt.lower()}"
    assert content(result)
    event = AuditEvent.objects.get(report=report, action=AuditAction.DOWNLOADED)
    assert (event.actor, event.interface, event.format, event.request_id) == (
        staff,
        Interface.GRAPHQL,
        fmt.lower(),
        "r-1",
    )


@pytest.mark.django_db
@pytest.mark.parametrize("fmt", ["xml", "", None, "csv "])
def test_report_export_refuses_unknown_formats_on_the_format_field(fmt):
    report = make_report(orders=1)
    if fmt == "csv ":  # surrounding blanks are tolerated
        assert exporters.report_export(actor=staff_user(), report_id=report.id, fmt=fmt, interface="rest").filename
        return

    with pytest.raises(ValidationFailed) as caught:
        exporters.report_export(actor=staff_user(), report_id=report.id, fmt=fmt, interface="rest")

    assert set(caught.value.fields) == {"format"}
    assert not AuditEvent.objects.filter(action=AuditAction.DOWNLOADED).exists()


@pytest.mark.django_db
def test_report_export_hides_reports_the_actor_may_not_see():
    report = make_report(orders=1)
    outsider = UserFactory(username="outsider")
    MembershipFactory(user=outsider)  # linked to another customer

    for actor in (outsider, None):
        with pytest.raises(NotFound):
            exporters.report_export(actor=actor, report_id=report.id, fmt="csv", interface="rest")
    assert not AuditEvent.objects.filter(action=AuditAction.DOWNLOADED).exists()


@pytest.mark.django_db
def test_report_export_unchecked_serves_trusted_callers():
    report = make_report(orders=1)

    result = exporters.report_export_unchecked(report=report, fmt="json", actor=None, interface=Interface.COMMAND)

    assert json.loads(content(result))["id"] == str(report.id)
    assert AuditEvent.objects.get(action=AuditAction.DOWNLOADED).actor is None


# --- CSV ------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("=1+1", "'=1+1"),
        ("+1", "'+1"),
        ("-1", "'-1"),
        ("@SUM(A1)", "'@SUM(A1)"),
        ("\tx", "'\tx"),
        ("\rx", "'\rx"),
        ("a=1", "a=1"),
        (" =1", " =1"),
        ("", ""),
        ("Pick & pack", "Pick & pack"),
    ],
)
def test_neutralise(text, expected):
    assert neutralise(text) == expected


@pytest.mark.django_db
def test_csv_streams_in_chunks_and_totals_match(monkeypatch):
    report = make_report(orders=12)
    monkeypatch.setattr(csv_exporter, "ROWS_PER_CHUNK", 5)

    chunks = list(csv_exporter.export_csv(report))

    assert len(chunks) >= report.line_count // (5 + 3)  # flushed at the first order boundary after 5 rows
    rows = list(csv.DictReader(io.StringIO(b"".join(chunks).decode(), newline="")))
    lines = [row for row in rows if row["row_type"] == "line"]
    assert len(lines) == report.line_count
    assert sum(Decimal(row["amount"]) for row in lines) == report.total_amount == Decimal(rows[-1]["total_amount"])


@pytest.mark.django_db
def test_csv_memory_does_not_grow_with_the_report(monkeypatch):
    monkeypatch.setattr(csv_exporter, "ORDERS_PER_QUERY", 50)
    monkeypatch.setattr(csv_exporter, "ROWS_PER_CHUNK", 100)  # both reports span many chunks

    def peak(report) -> int:
        tracemalloc.start()
        for _ in csv_exporter.export_csv(report):
            pass
        size = tracemalloc.get_traced_memory()[1]
        tracemalloc.stop()
        return size

    small = make_report(orders=100, name="Small", prefix="S ")
    large = make_report(orders=1000, name="Large", prefix="L ")
    peak(small)  # warm-up: first-use allocations (query compilation, caches)

    assert peak(large) < 2 * peak(small) + 256 * 1024


# --- JSON -----------------------------------------------------------------------------------


@pytest.mark.django_db
def test_json_export_is_the_detail_data_streamed(monkeypatch):
    report = make_report(orders=7)
    monkeypatch.setattr(json_exporter, "CHUNK_BYTES", 100)
    staff = staff_user()

    chunks = list(json_exporter.export_json(report))

    detail = report_detail(actor=staff, report_id=report.id, billed=True)
    expected = report_detail_data(detail.report, service_totals=detail.service_totals, orders=detail.orders)
    assert len(chunks) > 2
    assert b"".join(chunks).decode() == dumps(expected)


@pytest.mark.django_db
def test_json_export_of_a_report_without_orders():
    report = make_report(orders=0)

    data = json.loads(b"".join(json_exporter.export_json(report)))

    assert data["orders"] == [] and data["service_totals"] == {} and data["total_amount"] == 0


@given(st.decimals(allow_nan=False, allow_infinity=False, min_value=0, max_value=10**10, places=2))
def test_money_always_prints_two_decimals(amount):
    literal = dumps(money(amount))
    assert literal.count(".") == 1 and len(literal.split(".")[1]) == 2
    assert Decimal(literal) == amount


@pytest.mark.parametrize(
    ("quantity", "expected"),
    [(Decimal("3.0000"), "3"), (Decimal("2.5000"), "2.5"), (Decimal("0.1250"), "0.125"), (Decimal("100"), "100")],
)
def test_quantities_are_integers_when_whole(quantity, expected):
    assert dumps(quantity_number(quantity)) == expected


# --- PDF ------------------------------------------------------------------------------------


@pytest.mark.django_db
def test_pdf_of_a_large_report_has_numbered_pages_and_every_order():
    report = make_report(orders=150, name="Große & <Co>")

    reader = PdfReader(
        io.BytesIO(
            content(exporters.report_export_unchecked(report=report, fmt="pdf", actor=None, interface="command"))
        )
    )

    pages = len(reader.pages)
    assert pages >= 5
    texts = [page.extract_text() for page in reader.pages]
    assert "Große & <Co>" in texts[0]
    assert all(f"Page {number} of {pages}" in text for number, text in enumerate(texts, start=1))
    joined = "\n".join(texts)
    assert all(f"TX{index:05d}" in joined for index in range(150))
    assert f"{report.total_amount:,.2f} USD" in texts[-1]
