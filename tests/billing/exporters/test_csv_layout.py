"""The CSV an accountant opens: report, currency and period on every row; a summable amount column."""

from __future__ import annotations

import csv
import io
from decimal import Decimal

import pytest
from hypothesis import given
from hypothesis import strategies as st

from billing import exporters
from billing.errors import ValidationFailed
from billing.exporters.csv import HEADER, UTF8_BOM, export_csv
from billing.exporters.shapes import statement_number
from billing.models import ChargeType
from billing.services.reports import report_generate
from tests.factories import (
    JANUARY,
    CustomerFactory,
    CustomerServiceFactory,
    PriceTierFactory,
    ServiceFactory,
    make_orders,
    staff_user,
)

pytestmark = pytest.mark.django_db


def rows_of(data: bytes) -> list[dict[str, str]]:
    return list(csv.DictReader(io.StringIO(data.decode("utf-8"), newline="")))


def priced_report(*, orders: int = 6, prices=("1.5000", "0.2000", "0.3000")):
    customer = CustomerFactory(company_name="Zoë Ltd", currency="EUR")
    for name, charge_type, price in zip(
        ("Order fee", "Weight", "Tiered pick"),
        (ChargeType.PER_ORDER, ChargeType.PER_WEIGHT_LB, ChargeType.TIERED),
        prices,
        strict=True,
    ):
        line = CustomerServiceFactory(
            customer=customer, service=ServiceFactory(name=name, charge_type=charge_type), unit_price=Decimal(price)
        )
        if charge_type == ChargeType.TIERED:
            PriceTierFactory(customer_service=line, up_to=Decimal("5"), unit_price=Decimal(price))
            PriceTierFactory(customer_service=line, up_to=None, unit_price=Decimal("0.1000"))
    make_orders(customer, orders)
    return report_generate(actor=None, customer_id=customer.pk, start_date=JANUARY[0], end_date=JANUARY[1])


def test_every_row_names_report_statement_currency_and_period():
    report = priced_report()

    data = b"".join(export_csv(report))

    assert data.splitlines()[0].decode() == ",".join(HEADER)
    rows = rows_of(data)
    assert {
        (row["report_id"], row["statement_number"], row["currency"], row["period_start"], row["period_end"])
        for row in rows
    } == {(str(report.id), statement_number(report), "EUR", "2025-01-01", "2025-01-31")}
    assert {row["customer"] for row in rows} == {"Zoë Ltd"}


def test_line_rows_carry_labels_and_units():
    rows = [row for row in rows_of(b"".join(export_csv(priced_report()))) if row["row_type"] == "line"]

    units = {(row["charge_type"], row["charge_label"], row["unit"]) for row in rows}
    assert units == {
        ("per_order", "Per order", "order"),
        ("per_weight_lb", "Per lb", "lb"),
        ("tiered", "Tiered (graduated)", "unit"),
    }
    assert all(row["total_quantity"] == row["total_amount"] == "" for row in rows)


@given(prices=st.tuples(*[st.decimals("0", "99.9999", places=4) for _ in range(3)]), orders=st.integers(1, 8))
def test_summing_the_amount_column_gives_the_report_total(prices, orders):
    report = priced_report(orders=orders, prices=tuple(str(price) for price in prices))

    rows = rows_of(b"".join(export_csv(report)))

    # SUM(amount) over the whole file, summary rows included: only line rows fill it
    assert sum(Decimal(row["amount"] or 0) for row in rows) == report.total_amount
    summary = [row for row in rows if row["row_type"] != "line"]
    assert summary and all(row["amount"] == row["quantity"] == row["unit_price"] == "" for row in summary)
    services = [row for row in summary if row["row_type"] == "service_total"]
    assert sum(Decimal(row["total_amount"]) for row in services) == report.total_amount
    assert Decimal(summary[-1]["total_amount"]) == report.total_amount and summary[-1]["row_type"] == "total"
    for row in services:
        lines = [line for line in rows if line["row_type"] == "line" and line["service_id"] == row["service_id"]]
        assert sum(Decimal(line["amount"]) for line in lines) == Decimal(row["total_amount"])
        assert sum(Decimal(line["quantity"]) for line in lines) == Decimal(row["total_quantity"])


def test_excel_option_starts_with_a_byte_order_mark_and_nothing_else_changes():
    report = priced_report()
    staff = staff_user()

    plain = b"".join(exporters.report_export(actor=staff, report_id=report.id, fmt="csv", interface="rest").chunks)
    excel = b"".join(
        exporters.report_export(actor=staff, report_id=report.id, fmt="csv", interface="rest", bom=True).chunks
    )

    assert not plain.startswith(UTF8_BOM)
    assert excel == UTF8_BOM + plain
    assert excel.decode("utf-8-sig") == plain.decode("utf-8")


def test_a_byte_order_mark_for_another_format_is_refused():
    report = priced_report(orders=1)
    with pytest.raises(ValidationFailed) as caught:
        exporters.report_export(actor=staff_user(), report_id=report.id, fmt="pdf", interface="rest", bom=True)
    assert "bom" in caught.value.fields


def test_rest_download_with_bom(client):
    report = priced_report(orders=1)
    client.force_login(staff_user())
    url = f"/api/v2/reports/{report.id}/download/"

    response = client.get(url, {"format": "csv", "bom": "true"})
    assert response.status_code == 200 and b"".join(response.streaming_content).startswith(UTF8_BOM)

    refused = client.get(url, {"format": "csv", "bom": "maybe"})
    assert refused.status_code == 400
    assert refused.json()["error"]["details"] == {"bom": ["Expected true or false, got 'maybe'."]}
