"""Helpers for the report job tests: customers with a rate card and January orders, threads."""

import datetime as dt
import threading
from collections.abc import Callable
from decimal import Decimal

import pytest
from django.db import connection, connections

from billing.models import ChargeType, Customer, Order
from tests.factories import CustomerFactory, CustomerServiceFactory, OrderFactory, ServiceFactory

JAN_1 = dt.date(2025, 1, 1)
JAN_31 = dt.date(2025, 1, 31)
ORDER_FEE = Decimal("1.5000")

needs_postgresql = pytest.mark.skipif(
    connection.vendor != "postgresql",
    reason="needs PostgreSQL: concurrent transactions on separate connections (SQLite has one writer)",
)


def billed_customer(*, orders: int, name: str | None = None, currency: str = "USD", fee: Decimal = ORDER_FEE):
    """A customer charged `fee` per order, with `orders` orders closed in January 2025."""
    customer = CustomerFactory(currency=currency, **({"company_name": name} if name else {}))
    service = ServiceFactory(name="Order fee", charge_type=ChargeType.PER_ORDER)
    CustomerServiceFactory(customer=customer, service=service, unit_price=fee)
    for day in range(orders):
        OrderFactory(customer=customer, close_date=dt.datetime(2025, 1, 1 + day % 28, 12, tzinfo=dt.UTC))
    return customer


def order_count(customer: Customer) -> int:
    return Order.objects.filter(customer=customer).count()


def run_in_threads(target: Callable[[int], object], count: int) -> list[object]:
    """Call target(i) in `count` threads started together; each uses its own DB connections.

    Returns each thread's result, or the exception it raised.
    """
    barrier = threading.Barrier(count)
    results: list[object] = [None] * count

    def body(index: int) -> None:
        try:
            barrier.wait(timeout=10)
            results[index] = target(index)
        except Exception as exc:
            results[index] = exc
        finally:
            connections.close_all()

    threads = [threading.Thread(target=body, args=(i,)) for i in range(count)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=120)
    assert not any(thread.is_alive() for thread in threads), "a thread did not finish"
    return results
