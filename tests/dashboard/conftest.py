"""Demo-like billing data for the dashboard tests: four customers, two currencies, a quarter of
monthly reports (one regenerated), orders no rate-card line applies to, a background job."""

from __future__ import annotations

import datetime as dt

from billing.models import ChargeType, Interface, Order
from billing.services.reports import report_generate
from tests.factories import (
    CustomerFactory,
    CustomerServiceFactory,
    RuleFactory,
    RuleGroupFactory,
    ServiceFactory,
    make_orders,
    submit_job,
)
from tests.graphql_schema.conftest import rate_card

MONTHS = [(dt.date(2025, month, 1), dt.date(2025, month, end)) for month, end in ((1, 31), (2, 28), (3, 31))]


def demo_billing() -> dict:
    customers = {
        "acme": CustomerFactory(company_name="Acme Outdoor", currency="USD"),
        "bravo": CustomerFactory(company_name="Bravo Goods", currency="USD"),
        "maple": CustomerFactory(company_name="Maple Supply", currency="CAD"),
    }
    for index, customer in enumerate(customers.values()):
        rate_card(customer)
        for month in (1, 2, 3):
            make_orders(customer, 2 + index + month, month=month, day=5 + index, prefix=f"{customer.pk}-{month}")
    # Delta is charged for orders shipped to Canada only: its other orders stay unbilled.
    delta = customers["delta"] = CustomerFactory(company_name="Delta Home", currency="USD")
    fee = CustomerServiceFactory(
        customer=delta, service=ServiceFactory(name="Cross-border fee", charge_type=ChargeType.PER_ORDER)
    )
    RuleFactory(rule_group=RuleGroupFactory(customer_service=fee), field="ship_to_country", operator="eq", value="CA")
    for month in (1, 2):
        orders = make_orders(delta, 4, month=month, day=20, prefix=f"{delta.pk}-{month}")
        Order.objects.filter(pk__in=[order.pk for order in orders[:month]]).update(ship_to_country="CA")
    for customer in customers.values():
        for start, end in MONTHS[:2]:
            report_generate(actor=None, customer_id=customer.pk, start_date=start, end_date=end)
    report_generate(actor=None, customer_id=customers["acme"].pk, start_date=MONTHS[0][0], end_date=MONTHS[0][1])
    job = submit_job(
        actor=None,
        customer_id=customers["maple"].pk,
        start_date=MONTHS[2][0],
        end_date=MONTHS[2][1],
        interface=Interface.COMMAND,
    )
    return {"customers": customers, "job": job}
