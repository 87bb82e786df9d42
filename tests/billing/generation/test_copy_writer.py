"""The writers' formatting, and PostgreSQL's streamed snapshot (COPY, a constant statement count)."""

from decimal import Decimal

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from billing.generation import copy_pipeline, copy_writer
from billing.generation import orders as order_stream
from billing.models import (
    BilledPair,
    BillingReport,
    ChargeType,
    ReportLine,
    ReportOrder,
    ReportServiceTotal,
)
from billing.services.users import system_user
from tests.billing.generation.helpers import assert_nothing_written, generate, rate_line, utc
from tests.factories import (
    CustomerFactory,
    CustomerServiceFactory,
    PriceTierFactory,
    RuleFactory,
    RuleGroupFactory,
    ServiceFactory,
    order_with_lines,
)

pytestmark = pytest.mark.django_db


def test_text_with_tabs_newlines_and_backslashes_is_stored_verbatim(customer, card):
    name = "Tab\there\nnew line \\N back\\slash\r"
    order = order_with_lines(customer=customer, lines={"A1": 1}, ship_to_name=name, reference_number="R\\1\t")
    service = ServiceFactory(name="Fee\twith\\tab", charge_type=ChargeType.PER_ORDER)
    CustomerServiceFactory(customer=customer, service=service)

    report = generate(customer)

    row = ReportOrder.objects.get(report=report, order=order)
    assert (row.ship_to_name, row.reference_number) == (name, "R\\1\t")
    assert ReportLine.objects.filter(report=report, service_name="Fee\twith\\tab").count() == 1


# --- PostgreSQL: the streamed snapshot ----------------------------------------------------

needs_postgresql = pytest.mark.skipif(
    connection.vendor != "postgresql", reason="the streamed snapshot (constant statement count) is PostgreSQL's"
)


def _statements_to_generate(customer, n_orders: int) -> list[str]:
    for i in range(n_orders):
        order_with_lines(
            customer=customer,
            lines={"A1": 1 + i % 3, "B2": 2} if i % 5 else {},
            ship_to_country="CA" if i % 2 else "US",
            close_date=utc(2025, 1, 1 + i % 28, 12),
        )
    with CaptureQueriesContext(connection) as captured:
        generate(customer, progress=lambda done, total: None)
    return [query["sql"] for query in captured.captured_queries]


@needs_postgresql
def test_statement_count_depends_neither_on_orders_nor_on_chunk_size(card, settings):
    settings.BILLING_GENERATION_CHUNK_SIZE = 7  # 2 chunks of 10 orders, 9 of 60
    system_user()  # created once, by the first report made without a user
    small = _statements_to_generate(card["fee"].customer, 10)
    other = CustomerFactory()
    fee = rate_line(other, "Fee 2", price="1.5000")
    RuleFactory(rule_group=RuleGroupFactory(customer_service=fee), field="ship_to_country", operator="eq", value="CA")
    rate_line(other, "Pick 2", ChargeType.PER_UNIT, price="0.2500")
    rate_line(other, "Fee 3", price="5.0000")
    large = _statements_to_generate(other, 60)

    assert len(small) == len(large)
    assert [sql.split(None, 1)[0] for sql in small] == [sql.split(None, 1)[0] for sql in large]
    copies = [sql.split(None, 2)[1] for sql in large if sql.startswith("COPY") and sql.endswith("FROM STDIN")]
    # the lines, the orders, and the claim of the lines' pairs (not read back from the lines)
    assert copies == ['"billing_reportline"', '"billing_reportorder"', '"billing_billedpair"']
    assert not any(sql.startswith('INSERT INTO "billing_billedpair"') for sql in large)
    # every order and its lines, in one statement, read as COPY text
    assert [sql.startswith("COPY (SELECT") and sql.endswith("TO STDOUT") for sql in large if "ARRAY_AGG" in sql] == [
        True
    ]


def _snapshot(report) -> dict:
    report.refresh_from_db()
    return {
        "totals": (report.total_amount, report.order_count, report.unbilled_order_count, report.line_count),
        "lines": list(
            ReportLine.objects.filter(report=report)
            .order_by("id")
            .values_list("order_id", "service_id", "service_name", "charge_type", "quantity", "unit_price", "amount")
        ),
        "orders": list(
            ReportOrder.objects.filter(report=report)
            .order_by("id")
            .values_list(
                "order_id",
                "transaction_id",
                "reference_number",
                "close_date",
                "status",
                "ship_to_name",
                "ship_to_address",
                "total_items",
                "line_items",
                "total_amount",
                "is_billed",
            )
        ),
        "services": sorted(
            ReportServiceTotal.objects.filter(report=report).values_list(
                "service_id", "service_name", "charge_type", "quantity", "amount", "order_count"
            )
        ),
    }


@needs_postgresql
def test_tiny_buffers_store_the_same_report(customer, card, settings, monkeypatch):
    tiered = rate_line(customer, "Units", ChargeType.TIERED, price="0")
    PriceTierFactory(customer_service=tiered, up_to=Decimal("10"), unit_price=Decimal("0.5000"))
    PriceTierFactory(customer_service=tiered, up_to=None, unit_price=Decimal("0.1000"))
    rate_line(customer, "Fee\twith\\escapes\n", price="0.3000")
    same_time = utc(2025, 1, 7, 8)
    # Same close_date: code-point order of transaction ids decides (B < a < b), which the tiers see.
    for tx, qty in (("b-1", 4), ("B-1", 6), ("a-1", 3)):
        order_with_lines(
            customer=customer, lines={"A1": qty}, transaction_id=f"{customer.pk}{tx}", close_date=same_time
        )
    for day in range(1, 10):
        order_with_lines(
            customer=customer,
            lines={"A1": day, "B-2": 1, "c 3": day % 4} if day % 3 else {},
            close_date=utc(2025, 1, day, 12, 30, 15, 250 * day),
            ship_to_country="CA" if day % 2 else "US",
            ship_to_name=f"Name\t{day}\\ \r\n",
            reference_number=f"R{day}",
        )
    baseline = _snapshot(generate(customer))

    monkeypatch.setattr(copy_pipeline, "READ_BLOCK_BYTES", 1)  # the read's rows reach the reader one by one
    monkeypatch.setattr(copy_writer, "SPOOL_MEMORY_BYTES", 1)  # the report orders' spools move to files at once
    monkeypatch.setattr(copy_pipeline, "FILE_BLOCK_BYTES", 7)  # COPY blocks end mid-row
    monkeypatch.setattr(copy_pipeline, "QUEUE_BYTES", 1)  # the pricing waits for each write
    monkeypatch.setattr(copy_writer, "COPY_FLUSH_ORDERS", 3)
    # 5 slices of the 12 orders (3, 2, 3, 2, 2): each its lines, its orders and its claim
    monkeypatch.setattr(copy_writer, "REPORT_SLICES", 5)
    monkeypatch.setattr(copy_writer, "SLICE_MIN_ORDERS", 2)
    monkeypatch.setattr(order_stream, "LINE_CACHE_LIMIT", 2)
    settings.BILLING_GENERATION_CHUNK_SIZE = 4
    calls = []

    with CaptureQueriesContext(connection) as captured:
        tiny = _snapshot(generate(customer, progress=lambda done, total: calls.append((done, total))))

    assert tiny == baseline
    copies = [q["sql"].split(None, 2)[1] for q in captured.captured_queries if q["sql"].endswith("FROM STDIN")]
    assert copies == ['"billing_reportline"', '"billing_reportorder"', '"billing_billedpair"'] * 5
    assert BilledPair.objects.count() == len(baseline["lines"])
    assert calls == [(4, 12), (8, 12), (12, 12)]
    assert baseline["totals"][1:] == (12, 0, len(baseline["lines"]))
    same_time_txs = [row[1] for row in baseline["orders"] if row[3] == same_time]
    assert same_time_txs == [f"{customer.pk}B-1", f"{customer.pk}a-1", f"{customer.pk}b-1"]


@needs_postgresql
def test_progress_must_not_query_the_connection_that_streams_the_report(customer, card, settings):
    settings.BILLING_GENERATION_CHUNK_SIZE = 2
    for _ in range(3):
        order_with_lines(customer=customer, lines={"A1": 1})

    def reads_the_database(done, total):
        BillingReport.objects.count()

    with pytest.raises(RuntimeError, match="another database alias"):
        generate(customer, progress=reads_the_database)

    assert_nothing_written()


@needs_postgresql
def test_failure_while_streaming_rolls_back_and_leaves_the_connection_usable(customer, card, settings, monkeypatch):
    settings.BILLING_GENERATION_CHUNK_SIZE = 2
    for _ in range(7):
        order_with_lines(customer=customer, lines={"A1": 1})

    def fail_on_second_chunk(done, total):
        if done > 2:
            raise RuntimeError("worker lost")

    with pytest.raises(RuntimeError, match="worker lost"):
        generate(customer, progress=fail_on_second_chunk)

    assert_nothing_written()
    assert generate(customer).order_count == 7
