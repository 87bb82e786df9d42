"""The streamed reader (COPY text, PostgreSQL) gives the records the keyset reader gives, whatever
the text of the orders and SKUs; the COPY-text helpers read what PostgreSQL writes."""

from __future__ import annotations

import datetime as dt
import itertools
from decimal import Decimal

import pytest
from django.db import connection, transaction
from hypothesis import HealthCheck, given
from hypothesis import settings as hypothesis_settings
from hypothesis import strategies as st

from billing.db_copy import array_items, copy_value
from billing.generation.copy_pipeline import CopyPipeline
from billing.generation.orders import SNAPSHOT_FIELDS, _stream_query, chunked_records, streamed_records
from billing.pricing.fields import TEXT_FIELDS as ORDER_TEXT_FIELDS
from billing.selectors.orders import billable_orders
from tests.factories import CustomerFactory, order_with_lines

pytestmark = [
    pytest.mark.django_db,
    pytest.mark.skipif(connection.vendor != "postgresql", reason="the streamed reader is PostgreSQL's"),
]

# Any text PostgreSQL stores (no NUL, no lone surrogate), with the characters COPY and arrays escape.
SPECIAL = "\t\n\r\\\"{},  \x0b\x0c\x08'é中\u2028"
text = st.text(
    alphabet=st.one_of(st.sampled_from(SPECIAL), st.characters(exclude_categories=("Cs",), exclude_characters="\x00")),
    max_size=12,
)
sku = st.one_of(text.filter(bool), st.sampled_from(["NULL", "null", " ", '"', "\\", "{}", "a,b", "A1"]))
TEXT_FIELDS = (*ORDER_TEXT_FIELDS, "status", "ship_to_address")
order = st.fixed_dictionaries(
    {
        "texts": st.tuples(*(text for _ in TEXT_FIELDS)),
        "weight": st.decimals(min_value=0, max_value=99999, places=2),
        "packages": st.integers(0, 50),
        "lines": st.dictionaries(sku, st.integers(0, 10**6), max_size=4),
        "minute": st.integers(0, 3 * 24 * 60),
        "micros": st.sampled_from([0, 1, 250, 120000, 999999]),
    }
)
serial = itertools.count()


@hypothesis_settings(
    max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow]
)
@given(orders=st.lists(order, min_size=1, max_size=6))
def test_the_streamed_records_are_the_keyset_records(orders):
    with transaction.atomic():
        customer = CustomerFactory()
        for fields in orders:
            values = dict(zip(TEXT_FIELDS, fields["texts"], strict=True))
            values["status"] = values["status"] or "shipped"  # a cancelled status is not billable
            order_with_lines(
                customer=customer,
                transaction_id=f"T\t{next(serial)}\\",
                close_date=dt.datetime(2025, 1, 10, tzinfo=dt.UTC)
                + dt.timedelta(minutes=fields["minute"], microseconds=fields["micros"]),
                weight_lb=fields["weight"],
                packages=fields["packages"],
                lines=fields["lines"],
                **values,
            )
        billable = billable_orders(
            customer_id=customer.pk, start_date=dt.date(2025, 1, 1), end_date=dt.date(2025, 1, 31)
        )
        keyset = [record for chunk in chunked_records(billable, 4) for record in chunk]
        with connection.cursor() as cursor, CopyPipeline(cursor) as pipeline:
            records = streamed_records(billable, pipeline)
            streamed = list(records)
        assert records.count == len(streamed)
        transaction.set_rollback(True)

    # the same records, an order's lines in the same order (by SKU)
    assert [record._replace(snapshot="") for record in streamed] == keyset
    assert all([line.sku for line in record.lines] == sorted(line.sku for line in record.lines) for record in keyset)
    for record in streamed:
        snapshot = [copy_value(field) for field in record.snapshot.split("\t")]
        expected = [getattr(record, name) for name in SNAPSHOT_FIELDS]
        close_at = SNAPSHOT_FIELDS.index("close_date")
        assert dt.datetime.fromisoformat(snapshot[close_at]) == expected[close_at]
        assert [str(value) for i, value in enumerate(expected) if i != close_at] == [
            value for i, value in enumerate(snapshot) if i != close_at
        ]


def test_the_read_sends_rows_as_it_goes_sorting_the_orders_alone():
    """The orders are sorted alone, under the lateral join that aggregates each one's lines:
    nothing above the join waits for all of them (a sort of the joined rows would send
    nothing before the last line was aggregated)."""
    customer = CustomerFactory()
    for day in range(1, 4):
        order_with_lines(customer=customer, close_date=dt.datetime(2025, 1, day, tzinfo=dt.UTC), lines={"A": day})
    billable = billable_orders(customer_id=customer.pk, start_date=dt.date(2025, 1, 1), end_date=dt.date(2025, 1, 31))
    sql, params = _stream_query(billable)
    with connection.cursor() as cursor:
        cursor.execute(f"EXPLAIN (FORMAT JSON) {sql}", params)
        plan = cursor.fetchone()[0][0]["Plan"]

    assert plan["Node Type"] == "Nested Loop" and plan["Join Type"] == "Left"
    outer, lines = plan["Plans"]
    sorts = []
    node = outer
    while node:  # the outer side, down to the sort of the orders
        sorts.append(node["Node Type"])
        node = node.get("Plans", [None])[0]
    assert "Sort" in sorts
    assert lines["Node Type"] == "Aggregate"


@hypothesis_settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(values=st.lists(st.one_of(text, st.sampled_from(["NULL", "", " x ", '"', "\\", "{", "}"])), max_size=5))
def test_copy_text_and_arrays_read_what_postgresql_writes(values):
    with (
        connection.cursor() as cursor,
        cursor.cursor.copy(
            "COPY (SELECT %s::text, %s::text[], NULL::text) TO STDOUT", (values[0] if values else "", values)
        ) as copy,
    ):
        line = b"".join(bytes(block) for block in copy).decode()
    first, array, null = line.removesuffix("\n").split("\t")
    assert copy_value(first) == (values[0] if values else "")
    assert array_items(copy_value(array)) == values
    assert copy_value(null) is None


def test_copy_value_reads_every_escape():
    assert copy_value(r"a\tb\nc\rd\\e\bf\fg\vh") == "a\tb\nc\rd\\e\bf\fg\vh"
    assert copy_value(r"\101\x42\q") == "ABq"  # octal, hexadecimal, any other character as itself
    assert copy_value("\\N") is None and copy_value("N") == "N"
    assert Decimal(copy_value("1.50")) == Decimal("1.50")
