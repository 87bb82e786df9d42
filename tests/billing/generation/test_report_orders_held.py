"""A report's orders stay in the database: no per-row foreign key, the same guarantee.

The order table refuses to delete or renumber an order a report holds (a trigger, PostgreSQL's),
and the trigger first waits for any generation of the order's customer, which holds the
customer's row from before it reads the orders until it commits (migration 0014). So a deletion
during a generation waits for it and is refused, and a generation waits for a deletion under way
and bills without that order; generation itself neither checks nor locks its orders.
"""

from __future__ import annotations

import threading
import time

import pytest
from django.db import IntegrityError, OperationalError, connection, connections, transaction
from django.db.models import ProtectedError

from billing.models import Customer, Order, ReportOrder
from tests.billing.generation.helpers import generate, utc
from tests.factories import CustomerFactory, order_with_lines

pytestmark = pytest.mark.django_db

needs_postgresql = pytest.mark.skipif(
    connection.vendor != "postgresql", reason="the trigger and the row locks are PostgreSQL's"
)

DELETE = "DELETE FROM billing_order WHERE id = %s"
RENUMBER = "UPDATE billing_order SET id = id + 1000 WHERE id = %s"
MOVE = "UPDATE billing_order SET customer_id = %s WHERE id = %s"


def _order(customer, transaction_id, month=1):
    return order_with_lines(
        customer=customer, transaction_id=transaction_id, close_date=utc(2025, month, 5, 10), lines={"A": 2}
    )


@pytest.fixture
def held(customer, card):
    """A report holding one order, and an order no report holds."""
    order = _order(customer, "HELD-1")
    free = _order(customer, "LATE-1", month=3)
    return generate(customer), order, free


def _raw(sql, params):
    with connection.cursor() as cursor:
        cursor.execute(sql, params)


def test_an_order_a_report_holds_cannot_be_deleted_or_renumbered(held):
    _, order, free = held
    with pytest.raises(ProtectedError):  # the ORM's own refusal
        order.delete()
    for sql in (DELETE, RENUMBER) if connection.vendor == "postgresql" else ():  # the trigger is PostgreSQL's
        with pytest.raises(IntegrityError, match="is held by a billing report"), transaction.atomic():
            _raw(sql, [order.pk])
    assert Order.objects.filter(pk=order.pk).exists()

    # an order no report holds is deleted as before; a held order's other columns still change,
    # its customer among them
    _raw("UPDATE billing_order SET notes = 'checked' WHERE id = %s", [order.pk])
    other = CustomerFactory()
    _raw(MOVE, [other.pk, order.pk])
    assert Order.objects.get(pk=order.pk).customer_id == other.pk
    _raw("DELETE FROM billing_orderline WHERE order_id = %s", [free.pk])
    _raw(DELETE, [free.pk])
    assert not Order.objects.filter(pk=free.pk).exists()


def _check_foreign_keys():
    """The deferred foreign-key checks, now rather than at a commit the test never makes (and
    for every later statement of the test's transaction)."""
    if connection.vendor == "postgresql":
        _raw("SET CONSTRAINTS ALL IMMEDIATE", [])


def test_a_customer_is_deleted_with_its_orders_unless_a_report_holds_one(held):
    report, order, _ = held
    gone = CustomerFactory()
    for transaction_id in ("GONE-1", "GONE-2"):
        _order(gone, transaction_id)
    with transaction.atomic():  # as seed_demo does: the orders (the trigger locks their customer), then the customer
        Order.objects.filter(customer=gone).delete()
        gone.delete()
        _check_foreign_keys()
    assert not Customer.objects.filter(pk=gone.pk).exists()

    with pytest.raises(ProtectedError):
        report.customer.delete()
    assert Order.objects.filter(pk=order.pk).exists()


@needs_postgresql
def test_the_trigger_lets_a_transaction_delete_a_customer_before_its_orders(held):
    """The customer row the trigger locks may be one the same transaction has already deleted."""
    report, order, _ = held
    # a customer whose orders a report holds: the customer's row goes first, its order is still refused
    with pytest.raises(IntegrityError, match="is held by a billing report"), transaction.atomic():
        _raw("DELETE FROM billing_customer WHERE id = %s", [report.customer_id])
        _raw("DELETE FROM billing_order WHERE customer_id = %s", [report.customer_id])
    assert Order.objects.filter(pk=order.pk).exists()

    gone = CustomerFactory()
    orders = [_order(gone, "GONE-1").pk, _order(gone, "GONE-2").pk]
    with transaction.atomic():
        _raw("DELETE FROM billing_orderline WHERE order_id = ANY(%s)", [orders])
        _raw("DELETE FROM billing_customer WHERE id = %s", [gone.pk])
        _raw("DELETE FROM billing_order WHERE customer_id = %s", [gone.pk])
        _check_foreign_keys()
    assert not Order.objects.filter(pk__in=orders).exists()
    assert not Customer.objects.filter(pk=gone.pk).exists()


# --- concurrent transactions, each with its own connection ---------------------------------


def _attempt(sql, params) -> Exception | None:
    """`sql` in autocommit on this thread's connection, waiting at most 300 ms for a lock: its error, or None."""
    with connections["default"].cursor() as cursor:
        cursor.execute("SET lock_timeout = '300ms'")
        try:
            cursor.execute(sql, params)
        except (OperationalError, IntegrityError) as exc:
            return exc
    return None


def _during_and_after_a_generation(customer, sql, params):
    """A report of `customer` generated in a transaction of this thread, and `sql` attempted on
    another connection while that transaction is open, then after it committed: the report and
    the two outcomes."""
    outcomes: dict[str, Exception | None] = {}
    generated, attempted, committed = threading.Event(), threading.Event(), threading.Event()

    def attempt():
        try:
            generated.wait(timeout=30)
            outcomes["during"] = _attempt(sql, params)
            attempted.set()
            committed.wait(timeout=30)
            outcomes["after"] = _attempt(sql, params)
        finally:
            attempted.set()
            connections.close_all()

    thread = threading.Thread(target=attempt)
    thread.start()
    try:
        with transaction.atomic():
            report = generate(customer)
            generated.set()
            attempted.wait(timeout=30)
    finally:
        generated.set()
        committed.set()
    thread.join(timeout=30)
    return report, outcomes["during"], outcomes["after"]


def _lock_timeout(outcome) -> bool:
    return isinstance(outcome, OperationalError) and "lock timeout" in str(outcome)


@needs_postgresql
@pytest.mark.django_db(transaction=True)
@pytest.mark.parametrize("sql", [DELETE, RENUMBER], ids=["delete", "renumber"])
def test_an_order_deleted_or_renumbered_during_its_generation_waits_then_is_refused(customer, card, sql):
    order = _order(customer, "HELD-1")
    report, during, after = _during_and_after_a_generation(customer, sql, [order.pk])

    assert _lock_timeout(during)
    assert isinstance(after, IntegrityError) and "is held by a billing report" in str(after)
    assert Order.objects.filter(pk=order.pk).exists()
    assert list(ReportOrder.objects.filter(report=report).values_list("order_id", flat=True)) == [order.pk]


@needs_postgresql
@pytest.mark.django_db(transaction=True)
def test_an_order_moved_to_another_customer_during_its_generation_waits_and_stays_held(customer, card):
    order, other = _order(customer, "HELD-1"), CustomerFactory()
    _, during, after = _during_and_after_a_generation(customer, MOVE, [other.pk, order.pk])

    assert _lock_timeout(during)
    assert after is None  # moved once the report is committed...
    assert Order.objects.get(pk=order.pk).customer_id == other.pk
    with pytest.raises(IntegrityError, match="is held by a billing report"):
        _raw(DELETE, [order.pk])  # ...and its deletion, now under the other customer, still refused


@needs_postgresql
@pytest.mark.django_db(transaction=True)
def test_a_generation_does_not_hold_other_customers_orders(customer, card):
    billed = _order(customer, "HELD-1")
    other = CustomerFactory()
    elsewhere = _order(other, "OTHER-1")
    _raw("DELETE FROM billing_orderline WHERE order_id = %s", [elsewhere.pk])
    _, during, _ = _during_and_after_a_generation(customer, DELETE, [elsewhere.pk])

    assert during is None  # deleted at once, within the 300 ms lock timeout
    assert not Order.objects.filter(pk=elsewhere.pk).exists()
    assert Order.objects.filter(pk=billed.pk).exists()


def _backend_pid() -> int:
    with connection.cursor() as cursor:
        cursor.execute("SELECT pg_backend_pid()")
        return cursor.fetchone()[0]


def _blockers(pid: int) -> list[int]:
    """The backends `pid` waits for, once it waits for a lock (within 10 s)."""
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline:
        with connection.cursor() as cursor:
            cursor.execute("SELECT pg_blocking_pids(%s)", [pid])
            (blockers,) = cursor.fetchone()
        if blockers:
            return blockers
        time.sleep(0.02)
    return []


@needs_postgresql
@pytest.mark.django_db(transaction=True)
def test_a_generation_waits_for_a_deletion_under_way_and_bills_without_it(customer, card):
    kept, gone = _order(customer, "KEPT-1"), _order(customer, "GONE-1")
    pids: dict[str, int] = {}
    result: dict[str, object] = {}
    deleted, started, commit = threading.Event(), threading.Event(), threading.Event()

    def delete():
        try:
            with transaction.atomic():
                pids["deleter"] = _backend_pid()
                _raw("DELETE FROM billing_orderline WHERE order_id = %s", [gone.pk])
                _raw(DELETE, [gone.pk])
                deleted.set()
                commit.wait(timeout=30)
        finally:
            deleted.set()
            connections.close_all()

    def generation():
        try:
            pids["generation"] = _backend_pid()
            started.set()
            result["report"] = generate(customer)
        except Exception as exc:  # reported by the assertions below
            result["error"] = exc
        finally:
            started.set()
            connections.close_all()

    deleter, generator = threading.Thread(target=delete), threading.Thread(target=generation)
    deleter.start()
    try:
        deleted.wait(timeout=30)
        generator.start()
        started.wait(timeout=30)
        blockers = _blockers(pids["generation"])
        still_generating = generator.is_alive()
    finally:
        commit.set()
        deleter.join(timeout=30)
        generator.join(timeout=30)

    assert blockers == [pids["deleter"]]  # the generation waited for the deleting transaction
    assert still_generating
    assert "error" not in result
    report = result["report"]
    report.refresh_from_db()
    assert report.order_count == 1
    assert list(ReportOrder.objects.filter(report=report).values_list("order_id", flat=True)) == [kept.pk]
    assert not Order.objects.filter(pk=gone.pk).exists()
