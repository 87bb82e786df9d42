import datetime as dt
import json
from decimal import Decimal

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from billing.errors import PermissionDenied
from billing.models import Order, OrderLine
from billing.services.order_rows import ORDER_FIELDS, RowError
from billing.services.orders import orders_upsert
from tests.factories import CustomerFactory, MembershipFactory, UserFactory, order_with_lines

pytestmark = pytest.mark.django_db


def row(customer, **overrides):
    base = {
        "transaction_id": "TX1",
        "close_date": "2026-08-03T14:05:00Z",
        "reference_number": "PO-1",
        "ship_to_name": "Ann Lee",
        "ship_to_company": "",
        "ship_to_address": "1 Main St",
        "ship_to_address2": "",
        "ship_to_city": "Toronto",
        "ship_to_state": "ON",
        "ship_to_zip": "M5V 2T6",
        "ship_to_country": "CA",
        "weight_lb": "2.5",
        "line_items": "",
        "sku_quantity": '[{"sku": "abc-1", "quantity": 2}, {"sku": "XYZ 9", "quantity": "3.0"}]',
        "total_item_qty": "",
        "volume_cuft": "0.75",
        "packages": "1",
        "notes": "",
        "carrier": "UPS",
        "customer_id": str(customer.pk),
        "priority": "high",
        "status": "Completed",
    }
    base.update(overrides)
    return base


def lines_of(transaction_id):
    return sorted(OrderLine.objects.filter(order__transaction_id=transaction_id).values_list("sku", "quantity"))


def test_creates_an_order_with_lines_as_entered_and_derived_counts():
    customer = CustomerFactory()

    result = orders_upsert(rows=[row(customer)])

    assert (result.created, result.updated, result.unchanged, result.errors) == (1, 0, 0, [])
    order = Order.objects.get(transaction_id="TX1")
    assert order.customer_id == customer.pk
    assert order.close_date == dt.datetime(2026, 8, 3, 14, 5, tzinfo=dt.UTC)
    assert order.status == "Completed"  # as given
    assert order.weight_lb == Decimal("2.500")
    assert order.volume_cuft == Decimal("0.750")
    assert (order.packages, order.line_items, order.total_item_qty) == (1, 2, 5)
    assert (order.ship_to_city, order.carrier, order.priority) == ("Toronto", "UPS", "high")
    assert lines_of("TX1") == [("XYZ 9", 3), ("abc-1", 2)]  # SKUs as entered


def test_typed_values_and_object_shape_are_accepted():
    customer = CustomerFactory()
    typed = row(
        customer,
        customer_id=customer.pk,
        weight_lb=12.25,
        volume_cuft=Decimal("1.5"),
        packages=2.0,
        line_items=7,
        total_item_qty=40,
        sku_quantity={"A-1": 5.0, "a 1": 1, "B": "4"},
        close_date=dt.datetime(2026, 8, 3, 9, 0, tzinfo=dt.UTC),
    )

    result = orders_upsert(rows=[typed])

    assert result.errors == []
    order = Order.objects.get()
    assert (order.weight_lb, order.packages, order.line_items, order.total_item_qty) == (Decimal("12.250"), 2, 7, 40)
    # Spellings of one SKU are one line under the first spelling, their quantities summed.
    assert lines_of("TX1") == [("A-1", 6), ("B", 4)]


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ("2026-08-03T10:00:00+02:00", dt.datetime(2026, 8, 3, 8, 0, tzinfo=dt.UTC)),
        ("2026-08-03 10:00:00", dt.datetime(2026, 8, 3, 14, 0, tzinfo=dt.UTC)),  # naive = billing zone
        ("2026-08-03T10:00", dt.datetime(2026, 8, 3, 14, 0, tzinfo=dt.UTC)),
        ("08/03/2026 10:00", dt.datetime(2026, 8, 3, 14, 0, tzinfo=dt.UTC)),
        ("08/03/2026 10:00:30", dt.datetime(2026, 8, 3, 14, 0, 30, tzinfo=dt.UTC)),
        ("2026-08-03", dt.datetime(2026, 8, 3, 4, 0, tzinfo=dt.UTC)),
    ],
)
def test_close_date_layouts_and_billing_zone(settings, value, expected):
    settings.BILLING_TIME_ZONE = "America/New_York"
    customer = CustomerFactory()

    result = orders_upsert(rows=[row(customer, close_date=value)])

    assert result.errors == []
    assert Order.objects.get().close_date == expected


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ("draft", "draft"),
        ("CLOSED", "CLOSED"),
        ("Canceled", "Canceled"),
        ("  Shipped ", "Shipped"),
        ("in-progress", "in-progress"),
        ("", ""),
        (None, ""),
    ],
)
def test_statuses_are_stored_as_given(value, expected):
    customer = CustomerFactory()

    result = orders_upsert(rows=[row(customer, status=value)])

    assert result.errors == []
    assert Order.objects.get().status == expected


@pytest.mark.parametrize(
    ("overrides", "reason"),
    [
        ({"customer_id": "999999"}, "unknown customer_id 999999"),
        ({"customer_id": "acme"}, "customer_id must be a customer's numeric id"),
        ({"close_date": "yesterday"}, "close_date is not a date and time"),
        ({"status": "x" * 65}, "status is longer than 64 characters"),
        ({"status": 7}, "status must be text"),
        ({"status": "a\x00b"}, "status contains a NUL character"),
        ({"weight_lb": "1e30"}, "weight_lb is too large"),
        ({"volume_cuft": 1e30}, "volume_cuft is too large"),
        ({"packages": "1e30"}, "packages is too large"),
        ({"sku_quantity": "[" * 100_000 + "]" * 100_000}, "sku_quantity is nested too deeply"),
        ({"sku_quantity": '{"A\\u0000": 1}'}, "SKU with a NUL character"),
        ({"ship_to_name": "\ud800"}, "ship_to_name is not valid Unicode text"),
        ({"sku_quantity": "[{sku: 1}"}, "sku_quantity is not valid JSON"),
        ({"sku_quantity": '{"A": -1}'}, "must not be negative"),
        ({"sku_quantity": '{"A": 2.5}'}, "must be a whole number"),
        ({"sku_quantity": '[{"sku": "A"}]'}, 'sku_quantity[0] must be an object with "sku" and "quantity"'),
        ({"sku_quantity": '"A"'}, "sku_quantity must be a list"),
        ({"sku_quantity": '{" - ": 1}'}, "empty SKU"),
        ({"weight_lb": "-1"}, "weight_lb must not be negative"),
        ({"weight_lb": "heavy"}, "weight_lb must be a number"),
        ({"packages": "1.5"}, "packages must be a whole number"),
        ({"line_items": "-2"}, "line_items must not be negative"),
        ({"transaction_id": ""}, "transaction_id is required"),
        ({"ship_to_city": "x" * 101}, "ship_to_city is longer than 100 characters"),
        ({"ship_to_name": "a\x00b"}, "ship_to_name contains a NUL character"),
        ({"weight_lb": "NaN"}, "weight_lb must be a finite number"),
        ({"packages": True}, "packages must be a whole number"),
    ],
)
def test_bad_rows_are_rejected_with_a_reason_and_good_rows_kept(overrides, reason):
    customer = CustomerFactory()
    rows = [row(customer, transaction_id="GOOD1"), row(customer, **{"transaction_id": "BAD", **overrides})]

    result = orders_upsert(rows=rows)

    assert result.created == 1
    assert len(result.errors) == 1
    error = result.errors[0]
    assert error.row_number == 2
    assert reason in error.reason
    assert list(Order.objects.values_list("transaction_id", flat=True)) == ["GOOD1"]


def test_a_row_reports_all_its_problems():
    customer = CustomerFactory()

    result = orders_upsert(
        rows=[row(customer, customer_id="999999", status=5, weight_lb="-3", packages="x", transaction_id="")]
    )

    (error,) = result.errors
    assert error.reason == (
        "unknown customer_id 999999; transaction_id is required; status must be text, got 5; "
        "weight_lb must not be negative, got '-3'; packages must be a whole number, got 'x'"
    )


def test_every_status_may_lack_a_close_date():
    customer = CustomerFactory()

    result = orders_upsert(
        rows=[row(customer, transaction_id=status, status=status, close_date="") for status in ("shipped", "delivered")]
    )

    assert result.errors == []
    assert list(Order.objects.values_list("close_date", flat=True)) == [None, None]


def test_open_order_may_lack_a_close_date():
    customer = CustomerFactory()

    result = orders_upsert(rows=[row(customer, status="open", close_date="")])

    assert result.errors == []
    assert Order.objects.get().close_date is None


def test_reimporting_the_same_rows_changes_nothing():
    customer = CustomerFactory()
    rows = [row(customer, transaction_id=f"TX{i}") for i in range(5)]
    orders_upsert(rows=rows)
    before = list(Order.objects.order_by("pk").values())

    result = orders_upsert(rows=rows)

    assert (result.created, result.updated, result.unchanged, result.rejected) == (0, 0, 5, 0)
    assert list(Order.objects.order_by("pk").values()) == before


def test_upsert_updates_fields_and_replaces_lines():
    customer = CustomerFactory()
    orders_upsert(rows=[row(customer), row(customer, transaction_id="TX2")])
    untouched_updated_at = Order.objects.get(transaction_id="TX2").updated_at

    result = orders_upsert(
        rows=[
            row(customer, status="cancelled", weight_lb="60", sku_quantity='{"NEW-1": 4}'),
            row(customer, transaction_id="TX2"),
        ]
    )

    assert (result.created, result.updated, result.unchanged) == (0, 1, 1)
    order = Order.objects.get(transaction_id="TX1")
    assert (order.status, order.weight_lb, order.line_items, order.total_item_qty) == ("cancelled", 60, 1, 4)
    assert lines_of("TX1") == [("NEW-1", 4)]
    assert Order.objects.get(transaction_id="TX2").updated_at == untouched_updated_at


def test_changing_only_the_lines_is_an_update():
    customer = CustomerFactory()
    orders_upsert(rows=[row(customer, line_items="2", total_item_qty="5")])

    result = orders_upsert(
        rows=[row(customer, line_items="2", total_item_qty="5", sku_quantity='{"ABC1": 1, "XYZ9": 4}')]
    )

    assert result.updated == 1
    assert lines_of("TX1") == [("ABC1", 1), ("XYZ9", 4)]


def test_an_order_cannot_move_to_another_customer():
    first, second = CustomerFactory(), CustomerFactory()
    order_with_lines(transaction_id="TX1", customer=first, lines={"A": 1})

    result = orders_upsert(rows=[row(second)])

    assert result.errors == [
        RowError(1, "TX1", "transaction_id is already used for another customer (orders never move between customers)")
    ]
    assert Order.objects.get().customer_id == first.pk
    assert lines_of("TX1") == [("A", 1)]


def test_duplicate_transaction_id_in_one_import_is_rejected():
    customer = CustomerFactory()

    result = orders_upsert(rows=[row(customer), row(customer, weight_lb="9")], batch_size=1)

    assert result.created == 1
    assert result.errors == [RowError(2, "TX1", "duplicate transaction_id (first given on row 1)")]
    assert Order.objects.get().weight_lb == Decimal("2.500")


def test_row_numbers_given_by_the_caller_are_reported():
    customer = CustomerFactory()

    result = orders_upsert(rows=[(7, row(customer)), (9, row(customer, transaction_id="B", status=["?"]))])

    assert [error.row_number for error in result.errors] == [9]


def test_queries_do_not_grow_with_rows():
    customer = CustomerFactory()

    def rows(n, weight):
        return [
            row(customer, transaction_id=f"Q{i}", weight_lb=weight, sku_quantity=json.dumps({f"S{i}": 1, "T": 2}))
            for i in range(n)
        ]

    with CaptureQueriesContext(connection) as created:
        orders_upsert(rows=rows(300, "1"), batch_size=1000)
    with CaptureQueriesContext(connection) as updated:
        orders_upsert(rows=rows(300, "2"), batch_size=1000)
    with CaptureQueriesContext(connection) as unchanged:
        orders_upsert(rows=rows(300, "2"), batch_size=1000)

    assert Order.objects.filter(weight_lb=2).count() == 300
    # Bulk statements (SQLite splits a bulk insert by its parameter limit), never one per row.
    assert len(created) < 30
    assert len(updated) < 30
    assert len(unchanged) <= 6  # PostgreSQL: SET LOCAL synchronous_commit, lookups, commit


def test_progress_callback_reports_rows_done():
    customer = CustomerFactory()
    seen = []

    orders_upsert(rows=[row(customer, transaction_id=f"P{i}") for i in range(5)], batch_size=2, on_progress=seen.append)

    assert seen == [2, 4, 5]


def test_actor_needs_order_permissions_and_sees_only_its_customers():
    customer, other = CustomerFactory(), CustomerFactory()
    plain = UserFactory()
    with pytest.raises(PermissionDenied):
        orders_upsert(rows=[row(customer)], actor=plain)
    assert not Order.objects.exists()

    member = UserFactory(permissions=["add_order", "change_order"])
    MembershipFactory(user=member, customer=customer)
    result = orders_upsert(rows=[row(customer), row(other, transaction_id="TX2")], actor=member)

    assert result.created == 1
    assert result.errors == [RowError(2, "TX2", f"unknown customer_id {other.pk}")]


def test_every_export_field_is_known():
    assert len(ORDER_FIELDS) == 22
    assert set(row(CustomerFactory.build(pk=1))) == set(ORDER_FIELDS)


def test_duplicates_across_batches_are_found_when_the_seen_ids_leave_memory(monkeypatch):
    monkeypatch.setattr("billing.services.orders._SeenTransactionIds.MEMORY_LIMIT", 3)
    customer = CustomerFactory()
    rows = [row(customer, transaction_id=f"D{i}") for i in range(6)] + [row(customer, transaction_id="D1")]

    result = orders_upsert(rows=rows, batch_size=2)

    assert result.created == 6
    assert result.errors == [RowError(7, "D1", "duplicate transaction_id (first given on row 2)")]


@pytest.mark.django_db(transaction=True)
def test_outside_a_transaction_postgresql_parses_while_a_writer_thread_writes(monkeypatch):
    """The pipelined path (a second connection) gives the same result as the sequential one."""
    monkeypatch.setattr("billing.services.orders._SeenTransactionIds.MEMORY_LIMIT", 3)
    customer = CustomerFactory()
    rows = [row(customer, transaction_id=f"P{i}") for i in range(7)] + [row(customer, transaction_id="P0")]
    progress = []

    result = orders_upsert(rows=rows, batch_size=3, on_progress=progress.append)

    assert (result.created, result.errors) == (
        7,
        [RowError(8, "P0", "duplicate transaction_id (first given on row 1)")],
    )
    assert progress == [3, 6, 8]
    assert Order.objects.count() == 7
    assert orders_upsert(rows=rows[:7], batch_size=3).unchanged == 7


def test_an_imported_order_takes_its_lines_with_it_when_deleted():
    """Lines have no foreign-key constraint in the database: deleting orders (one, or a
    queryset) deletes their lines through the relation, and every imported line has its order."""
    customer = CustomerFactory()
    orders_upsert(rows=[row(customer), row(customer, transaction_id="TX2"), row(customer, transaction_id="TX3")])
    assert OrderLine.objects.count() == 6
    assert not OrderLine.objects.exclude(order_id__in=Order.objects.values("pk")).exists()

    Order.objects.get(transaction_id="TX1").delete()
    assert lines_of("TX1") == []
    assert OrderLine.objects.count() == 4

    Order.objects.filter(transaction_id__in=["TX2", "TX3"]).delete()
    assert OrderLine.objects.count() == 0
