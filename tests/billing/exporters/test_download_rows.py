"""The fast download writers against plain references, on whichever database the suite runs.

On PostgreSQL the CSV and JSON writers read flat rows with the decimals as text
(billing.selectors.reports.iter_report_rows); elsewhere the rows of iter_report_values. These
tests hold both to the same bytes: a csv.writer run over the report's model instances, and the
REST detail shape encoded by dumps. Run on SQLite and on PostgreSQL (DATABASE_URL), they prove
the two databases' downloads byte-identical.
"""

from __future__ import annotations

import csv
import datetime as dt
import io
from decimal import Decimal

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from billing.exporters.csv import HEADER, export_csv, neutralise
from billing.exporters.json import export_json
from billing.exporters.shapes import (
    charge_label,
    charge_unit,
    local_date,
    money,
    quantity_number,
    report_detail_data,
    scope_text,
    statement_number,
)
from billing.jsonencoding import dumps
from billing.models import ChargeType
from billing.selectors.reports import (
    iter_report_rows,
    iter_report_values,
    line_explanation,
    report_detail,
    report_explanations,
    report_tier_bases,
)
from billing.services.reports import report_generate
from tests.factories import (
    JANUARY,
    CustomerFactory,
    CustomerServiceFactory,
    PriceTierFactory,
    ServiceFactory,
    order_with_lines,
    staff_user,
)

pytestmark = pytest.mark.django_db

# Text a spreadsheet would run, text the CSV must quote, text a database escapes in its output.
HOSTILE_NAMES = ("=SUM(A1:A9)", 'Pick, "fast"', "Tab\there", "Back\\slash", "Zoë € 漢字", "-minus", "two\nlines")
HOSTILE_IDS = ("+TX1", "-TX2", "=TX3", "@TX4", 'TX"5', "TX,6", "TX\\7", "TX\t8", "ünï-9")


def hostile_report(*, names=HOSTILE_NAMES, ids=HOSTILE_IDS, customer_name='@Zoë, "Ltd"'):
    customer = CustomerFactory(company_name=customer_name, currency="EUR")
    charge_types = (
        ChargeType.PER_ORDER,
        ChargeType.PER_UNIT,
        ChargeType.PER_WEIGHT_LB,
        ChargeType.TIERED,
        ChargeType.PER_SKU,
        ChargeType.EACH_PICK,
        ChargeType.PER_VOLUME_CUFT,
    )
    for index, name in enumerate(names):
        charge_type = charge_types[index % len(charge_types)]
        line = CustomerServiceFactory(
            customer=customer,
            service=ServiceFactory(name=name, charge_type=charge_type),
            unit_price=Decimal("0.3333") + index,
        )
        if charge_type == ChargeType.TIERED:
            PriceTierFactory(customer_service=line, up_to=Decimal("4"), unit_price=Decimal("0.5000"))
            PriceTierFactory(customer_service=line, up_to=None, unit_price=Decimal("0.1250"))
    for index, transaction_id in enumerate(ids):
        order_with_lines(
            customer=customer,
            transaction_id=transaction_id,
            # 23:30 UTC on the 10th: still the 10th in UTC, the close date the CSV shows
            close_date=dt.datetime(2025, 1, 10, 23, 30, tzinfo=dt.UTC) + dt.timedelta(minutes=index),
            lines={"A": 1 + index % 4, "B": 3},
        )
    return report_generate(actor=None, customer_id=customer.pk, start_date=JANUARY[0], end_date=JANUARY[1])


def reference_line_rows(report) -> str:
    """The header and line rows as csv.writer writes them, one row at a time, from model instances."""
    buffer = io.StringIO()
    writer = csv.writer(buffer)
    writer.writerow(HEADER)
    part = (
        str(report.id),
        statement_number(report),
        report.status,
        scope_text(report),
        neutralise(report.customer.company_name),
        neutralise(report.currency),
        report.start_date.isoformat(),
        report.end_date.isoformat(),
    )
    bases = report_tier_bases(report=report)
    payloads = report_explanations(report=report)
    detail = report_detail(actor=staff_user(username="reference"), report_id=report.id, billed=True)
    for order, lines in detail.orders:
        day = local_date(order.close_date, report.billing_time_zone) or ""
        for line in lines:
            explanation = line_explanation(payloads, line.explanation, line.detail)
            writer.writerow(
                (
                    "line",
                    *part,
                    neutralise(order.transaction_id),
                    day,
                    line.service_id,
                    neutralise(line.service_name),
                    neutralise(line.charge_type),
                    neutralise(charge_label(line.charge_type)),
                    charge_unit(line.charge_type, bases.get(line.service_id, "")),
                    str(quantity_number(line.quantity)),
                    format(line.unit_price, "f"),
                    format(money(line.amount), "f"),
                    "",
                    "",
                    neutralise(explanation["text"]) if explanation else "",
                )
            )
    return buffer.getvalue()


def test_csv_lines_are_the_bytes_of_a_row_by_row_csv_writer():
    report = hostile_report()

    data = b"".join(export_csv(report)).decode("utf-8")

    reference = reference_line_rows(report)
    assert report.line_count == len(HOSTILE_IDS) * len(HOSTILE_NAMES)
    assert data.startswith(reference)
    assert data[len(reference) :].startswith("service_total,")
    # the references' hostile cells came through: quoted, neutralised, with bands and SKUs explained
    assert '"Pick, ""fast"""' in data and ",'=SUM(A1:A9)," in data and ",'+TX1," in data
    assert "Tiers (" in data
    assert "SKUs counted:" in data


def test_json_is_the_detail_shape_with_hostile_text():
    report = hostile_report()

    data = b"".join(export_json(report)).decode("utf-8")

    detail = report_detail(actor=staff_user(), report_id=report.id, billed=True)
    assert data == dumps(report_detail_data(detail.report, service_totals=detail.service_totals, orders=detail.orders))


def test_rows_are_the_flattened_values_of_iter_report_values():
    report = hostile_report(names=HOSTILE_NAMES[:3], ids=HOSTILE_IDS[:4])

    rows = list(iter_report_rows(report=report, chunk_size=3, order_details=True))

    expected = [(*order, *line[1:]) for order, lines in iter_report_values(report=report) for line in lines]
    assert len(rows) == len(expected) == report.line_count
    for row, want in zip(rows, expected, strict=True):
        # decimals may arrive as their text; the rest is equal as it is
        assert [Decimal(v) if isinstance(w, Decimal) else v for v, w in zip(row, want, strict=True)] == list(want)


def test_rows_abandoned_midway_leave_the_connection_usable():
    report = hostile_report(names=HOSTILE_NAMES[:2], ids=HOSTILE_IDS)
    rows = iter_report_rows(report=report, chunk_size=1)  # on PostgreSQL, the next order read ahead
    first = [next(rows), next(rows), next(rows)]
    rows.close()

    assert report_tier_bases(report=report) is not None  # the connection answers again
    assert list(iter_report_rows(report=report, chunk_size=1))[:3] == first
    assert len(list(iter_report_rows(report=report, chunk_size=2))) == report.line_count


@settings(max_examples=8, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(
    names=st.lists(
        st.text(st.characters(exclude_categories=["Cs", "Cc"]), min_size=1, max_size=12),
        min_size=1,
        max_size=3,
        unique=True,
    ),
    ids=st.lists(
        st.text(st.characters(exclude_categories=["Cs", "Cc"]), min_size=1, max_size=12),
        min_size=1,
        max_size=3,
        unique=True,
    ),
)
def test_csv_and_json_of_any_text(names, ids):
    report = hostile_report(names=names, ids=ids, customer_name=names[0])

    data = b"".join(export_csv(report)).decode("utf-8")
    assert data.startswith(reference_line_rows(report))
    detail = report_detail(actor=staff_user(username="any"), report_id=report.id, billed=True)
    expected = dumps(report_detail_data(detail.report, service_totals=detail.service_totals, orders=detail.orders))
    assert b"".join(export_json(report)).decode("utf-8") == expected
