"""Fixtures of the command tests."""

import datetime as dt
from decimal import Decimal

import pytest

from billing.models import ChargeType
from tests.factories import CustomerFactory, CustomerServiceFactory, ServiceFactory, order_with_lines


@pytest.fixture
def customer():
    """Acme Outdoor: 2.00 per order, three orders closed on 5-7 January 2025."""
    customer = CustomerFactory(company_name="Acme Outdoor")
    CustomerServiceFactory(
        customer=customer,
        service=ServiceFactory(name="Order fee", charge_type=ChargeType.PER_ORDER),
        unit_price=Decimal("2.0000"),
    )
    for index in range(3):
        order_with_lines(
            customer=customer,
            transaction_id=f"CMD-{index}",
            close_date=dt.datetime(2025, 1, 5 + index, 9, 0, tzinfo=dt.UTC),
            lines={"A": 1},
        )
    return customer
