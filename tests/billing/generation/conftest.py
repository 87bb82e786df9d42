"""Fixtures of the generation tests: a customer and its rate card."""

import pytest

from billing.models import ChargeType
from tests.billing.generation.helpers import rate_line
from tests.factories import CustomerFactory, RuleFactory, RuleGroupFactory


@pytest.fixture
def customer():
    return CustomerFactory(company_name="Acme", currency="CAD")


@pytest.fixture
def card(customer):
    """Order fee 1.50 on every order, pick 0.25 per unit, Canada surcharge 5.00 when shipping to CA."""
    fee = rate_line(customer, "Order fee", price="1.5000")
    pick = rate_line(customer, "Pick", ChargeType.PER_UNIT, price="0.2500")
    surcharge = rate_line(customer, "Canada surcharge", price="5.0000")
    RuleFactory(
        rule_group=RuleGroupFactory(customer_service=surcharge), field="ship_to_country", operator="eq", value="CA"
    )
    return {"fee": fee, "pick": pick, "surcharge": surcharge}
