"""manage.py list_customers: the ids that --customer ID expects."""

from __future__ import annotations

import io

import pytest
from django.core.management import call_command

from tests.factories import CustomerFactory, make_orders

pytestmark = pytest.mark.django_db


def listing(*args: str) -> list[str]:
    out = io.StringIO()
    call_command("list_customers", *args, stdout=out)
    return out.getvalue().splitlines()


def test_lists_active_customers_with_their_ids():
    acme = CustomerFactory(company_name="Acme Outdoor", legal_business_name="Acme Outdoor LLC", currency="CAD")
    make_orders(acme, 2)
    closed = CustomerFactory(company_name="Closed Shop", is_active=False)

    lines = listing()

    assert lines[0].split() == ["id", "company", "name", "legal", "name", "currency", "active", "orders"]
    assert lines[1].split() == [str(acme.pk), "Acme", "Outdoor", "Acme", "Outdoor", "LLC", "CAD", "yes", "2"]
    assert lines[-1] == "1 customer (active only; --inactive for all)"
    assert not any("Closed Shop" in line for line in lines)

    everyone = listing("--inactive")
    assert any(line.split()[0] == str(closed.pk) and line.split()[-2:] == ["no", "0"] for line in everyone)
    assert everyone[-1] == "2 customers"
