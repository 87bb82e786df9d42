"""A report's orders stay in the database: no per-row foreign key, the same guarantee.

The order table refuses to delete or renumber an order a report holds (a trigger); generation
checks that every order it wrote exists and, on PostgreSQL, holds them locked until it commits
(billing.generation.orders.lock_report_orders), as the deferred foreign-key checks did.
"""

from __future__ import annotations

import threading

import pytest
from django.db import IntegrityError, OperationalError, connection, connections, transaction
from django.db.models import ProtectedError

from billing.generation.orders import lock_report_orders
from billing.models import Order, ReportOrder
from tests.billing.generation.helpers import generate, utc
from tests.factories import order_with_lines

pytestmark = pytest.mark.django_db


@pytest.fixture
def held(customer, card):
    """A report holding one order, and an order no report holds."""
    order = order_with_lines(customer=customer, transaction_id="HELD-1", close_date=utc(2025, 1, 5, 10), lines={"A": 2})
    free = order_with_lines(customer=customer, transaction_id="LATE-1", close_date=utc(2025, 3, 5, 10), lines={"A": 1})
    return generate(customer), order, free


def _raw(sql, params):
    with connection.cursor() as cursor:
        cursor.execute(sql, params)


def test_an_order_a_report_holds_cannot_be_deleted_or_renumbered(held):
    _, order, free = held
    with pytest.raises(ProtectedError):  # the ORM's own refusal
        order.delete()
    refused = ("DELETE FROM billing_order WHERE id = %s", "UPDATE billing_order SET id = id + 1000 WHERE id = %s")
    for sql in refused if connection.vendor == "postgresql" else ():  # the trigger is PostgreSQL's
        with pytest.raises(IntegrityError), transaction.atomic():
            _raw(sql, [order.pk])
    assert Order.objects.filter(pk=order.pk).exists()

    # an order no report holds is deleted as before; a held order's other columns still change
    _raw("UPDATE billing_order SET notes = 'checked' WHERE id = %s", [order.pk])
    _raw("DELETE FROM billing_orderline WHERE order_id = %s", [free.pk])
    _raw("DELETE FROM billing_order WHERE id = %s", [free.pk])
    assert not Order.objects.filter(pk=free.pk).exists()


def test_generation_refuses_a_report_whose_orders_are_gone(held):
    report, order, _ = held
    lock_report_orders(report.pk, 1)
    with pytest.raises(IntegrityError, match="1 of the report's 2 orders were deleted"):
        lock_report_orders(report.pk, 2)
    row = ReportOrder.objects.get(report=report)
    ReportOrder.objects.filter(pk=row.pk).update(order_id=order.pk + 10_000)  # an order that does not exist
    with pytest.raises(IntegrityError, match="1 of the report's 1 orders"):
        lock_report_orders(report.pk, 1)


@pytest.mark.skipif(connection.vendor != "postgresql", reason="needs PostgreSQL row locks")
@pytest.mark.django_db(transaction=True)
def test_an_order_deleted_while_its_report_is_written_waits_then_is_refused(customer, card):
    order = order_with_lines(customer=customer, transaction_id="HELD-1", close_date=utc(2025, 1, 5, 10), lines={"A": 2})
    outcome: dict[str, object] = {}
    generated, deleting = threading.Event(), threading.Event()

    def delete():
        generated.wait()
        try:
            with connections["default"].cursor() as cursor:
                cursor.execute("SET lock_timeout = '300ms'")
                try:
                    cursor.execute("DELETE FROM billing_order WHERE id = %s", [order.pk])
                except OperationalError as exc:  # the generating transaction holds the order
                    outcome["while"] = exc
                deleting.set()
                try:
                    cursor.execute("DELETE FROM billing_order WHERE id = %s", [order.pk])  # after it committed
                except IntegrityError as exc:
                    outcome["after"] = exc
        finally:
            deleting.set()
            connections.close_all()

    thread = threading.Thread(target=delete)
    thread.start()
    try:
        with transaction.atomic():
            generate(customer)
            generated.set()
            deleting.wait(timeout=30)
    finally:
        generated.set()
    thread.join(timeout=30)

    assert "lock timeout" in str(outcome.get("while"))
    assert isinstance(outcome.get("after"), IntegrityError)
    assert Order.objects.filter(pk=order.pk).exists()
