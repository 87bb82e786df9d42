"""Fixtures for the REST facade tests: users of each kind, tokens, and reports made by the real service."""

from __future__ import annotations

import json
from decimal import Decimal
from typing import Any

import pytest
from django.test import Client

from billing.models import AuditEvent, BillingReport, ChargeType, IdempotencyKey, ReportJob, ReportLine, ReportOrder
from billing.services.reports import report_generate
from billing.services.tokens import api_token_create
from tests.factories import (
    JANUARY,
    CustomerServiceFactory,
    ServiceFactory,
    make_orders,
    staff_user,
)

FRONTEND_ORIGIN = "http://localhost:5176"


def rate_card(customer, *, prefix: str = "") -> None:
    """Four lines: 1.50 per order, 0.25 per unit, 0.10 per SKU, 0.35 per lb (fractional quantities)."""
    for name, charge_type, price in (
        ("Order fee", ChargeType.PER_ORDER, "1.5000"),
        ("Pick per unit", ChargeType.PER_UNIT, "0.2500"),
        ("Per SKU", ChargeType.PER_SKU, "0.1000"),
        ("Weight", ChargeType.PER_WEIGHT_LB, "0.3500"),
    ):
        CustomerServiceFactory(
            customer=customer,
            service=ServiceFactory(name=f"{prefix}{name}", charge_type=charge_type),
            unit_price=Decimal(price),
        )


def billed_report(customer, *, orders: int = 3, period=JANUARY, prefix: str = "") -> BillingReport:
    rate_card(customer, prefix=prefix)
    make_orders(customer, orders)
    return report_generate(actor=None, customer_id=customer.pk, start_date=period[0], end_date=period[1])


def written_counts() -> dict[str, int]:
    """Row counts of everything a request could write."""
    return {
        model.__name__: model.objects.count()
        for model in (BillingReport, ReportOrder, ReportLine, AuditEvent, ReportJob, IdempotencyKey)
    }


def bearer(raw: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {raw}"}


def body(response) -> Any:
    content = response.content if not response.streaming else b"".join(response.streaming_content)
    return json.loads(content)


def assert_error(response, status: int, code: str) -> dict[str, Any]:
    assert response.status_code == status, response.content
    assert response["Content-Type"] == "application/json"
    payload = body(response)
    assert set(payload) == {"success", "error"}
    assert payload["success"] is False
    assert set(payload["error"]) == {"code", "message", "details"}
    assert payload["error"]["code"] == code
    assert isinstance(payload["error"]["message"], str) and payload["error"]["message"]
    assert isinstance(payload["error"]["details"], dict)
    return payload["error"]


@pytest.fixture
def report_a(customer_a) -> BillingReport:
    return billed_report(customer_a)


@pytest.fixture
def report_b(customer_b) -> BillingReport:
    return billed_report(customer_b, orders=2, prefix="B ")


@pytest.fixture
def viewer():
    """Billing staff without the generate permission."""
    return staff_user(username="viewer", generate=False)


@pytest.fixture
def staff_token(staff) -> str:
    return api_token_create(user=staff, name="tests")[1]


@pytest.fixture
def api(staff_token) -> Client:
    """A client authenticated by the staff user's bearer token."""
    return Client(headers=bearer(staff_token))


@pytest.fixture
def anonymous() -> Client:
    return Client()
