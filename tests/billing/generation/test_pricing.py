"""The pricing loop: the stored report equals the reference engine, totals agree."""

import datetime as dt
from decimal import Decimal

import pytest
from hypothesis import HealthCheck, given
from hypothesis import settings as hypothesis_settings
from hypothesis import strategies as st

from billing.models import (
    ChargeType,
    OrderStatus,
    ReportLine,
    ReportOrder,
    ReportServiceTotal,
)
from billing.pricing import price_orders
from billing.pricing.types import OrderData, OrderLineData, RateCard, RateLineData, RuleData, RuleGroupData, TierData
from tests.billing.generation.helpers import JAN_1, generate, rate_line, utc
from tests.factories import (
    CustomerFactory,
    PriceTierFactory,
    ProductFactory,
    RuleFactory,
    RuleGroupFactory,
    order_with_lines,
)

pytestmark = pytest.mark.django_db

# --- property: the stored report equals the reference engine ----------------------------

SKUS = ("A-1", "b1", "C 2")
ORDER = st.fixed_dictionaries(
    {
        "day": st.integers(min_value=0, max_value=3),  # Jan 1..Jan 3 at a fixed hour; period is Jan 1..Jan 2
        "tx": st.text(alphabet="aB1-", min_size=1, max_size=4),
        "country": st.sampled_from(["US", "CA"]),
        "cancelled": st.booleans(),
        "lines": st.dictionaries(st.sampled_from(SKUS), st.integers(min_value=0, max_value=40), max_size=3),
        "packages": st.integers(min_value=0, max_value=3),
    }
)
PRICE = st.decimals(min_value=Decimal("0"), max_value=Decimal("3"), places=4)


@hypothesis_settings(max_examples=25, suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow])
@given(
    orders=st.lists(ORDER, max_size=8, unique_by=lambda o: o["tx"]),
    prices=st.tuples(PRICE, PRICE, PRICE, PRICE, PRICE, PRICE),
    case_size=st.integers(min_value=1, max_value=12),
    chunk_size=st.integers(min_value=1, max_value=4),
)
def test_report_totals_agree_and_equal_the_reference_engine(db, settings, orders, prices, case_size, chunk_size):
    settings.BILLING_GENERATION_CHUNK_SIZE = chunk_size
    customer = CustomerFactory()
    fee_price, pick_price, surcharge_price, tier1, tier2, case_price = prices
    fee = rate_line(customer, f"Fee {customer.pk}", ChargeType.PER_PACKAGE, price=fee_price)
    pick = rate_line(customer, f"Pick {customer.pk}", ChargeType.PER_UNIT, price=pick_price)
    pick.skus.add(ProductFactory(customer=customer, sku="C2", case_size=case_size))
    surcharge = rate_line(customer, f"Surcharge {customer.pk}", price=surcharge_price)
    group = RuleGroupFactory(customer_service=surcharge, logic_operator="OR")
    RuleFactory(rule_group=group, field="ship_to_country", operator="eq", value="CA")
    RuleFactory(rule_group=group, field="sku", operator="contains", value="A1")
    tiered = rate_line(customer, f"Tiered {customer.pk}", ChargeType.TIERED, price="0")
    PriceTierFactory(customer_service=tiered, up_to=Decimal("15"), unit_price=tier1)
    PriceTierFactory(customer_service=tiered, up_to=None, unit_price=tier2)
    cases = rate_line(customer, f"Cases {customer.pk}", ChargeType.CASE_PICK, price=case_price)
    ProductFactory(customer=customer, sku="A1", case_size=case_size)
    ProductFactory(customer=customer, sku="B1", case_size=case_size + 1)

    reference_orders = []
    for spec in orders:
        order = order_with_lines(
            customer=customer,
            lines=spec["lines"],
            transaction_id=f"{customer.pk}{spec['tx']}",
            close_date=utc(2025, 1, 1 + spec["day"], 12),
            ship_to_country=spec["country"],
            status=OrderStatus.CANCELLED if spec["cancelled"] else OrderStatus.COMPLETED,
            packages=spec["packages"],
        )
        if spec["day"] <= 1 and not spec["cancelled"]:
            reference_orders.append(
                OrderData(
                    order_id=order.pk,
                    transaction_id=order.transaction_id,
                    close_date=order.close_date,
                    ship_to_country=spec["country"],
                    weight_lb=order.weight_lb,
                    volume_cuft=order.volume_cuft,
                    packages=spec["packages"],
                    line_items=len(spec["lines"]),
                    total_item_qty=sum(spec["lines"].values()),
                    lines=tuple(OrderLineData(sku, qty) for sku, qty in spec["lines"].items()),
                )
            )
    reference_card = RateCard(
        lines=(
            RateLineData(cases.pk, cases.service_id, cases.service.name, "case_pick", case_price),
            RateLineData(fee.pk, fee.service_id, fee.service.name, "per_package", fee_price),
            RateLineData(pick.pk, pick.service_id, pick.service.name, "per_unit", pick_price, skus=frozenset({"C2"})),
            RateLineData(
                surcharge.pk,
                surcharge.service_id,
                surcharge.service.name,
                "per_order",
                surcharge_price,
                rule_groups=(
                    RuleGroupData("OR", (RuleData("ship_to_country", "eq", "CA"), RuleData("sku", "contains", "A1"))),
                ),
            ),
            RateLineData(
                tiered.pk,
                tiered.service_id,
                tiered.service.name,
                "tiered",
                Decimal(0),
                tiers=(TierData(Decimal("15"), tier1), TierData(None, tier2)),
            ),
        ),
        case_sizes={"A1": case_size, "B1": case_size + 1, "C2": case_size},
        per_unit_skus=frozenset({"C2"}),
    )
    expected = price_orders(reference_card, reference_orders)

    report = generate(customer, start=JAN_1, end=dt.date(2025, 1, 2))

    lines = list(ReportLine.objects.filter(report=report))
    stored = sorted((line.order_id, line.service_id, line.quantity, line.unit_price, line.amount) for line in lines)
    assert stored == sorted((c.order_id, c.service_id, c.quantity, c.unit_price, c.amount) for c in expected)
    line_sum = sum((line.amount for line in lines), Decimal(0))
    service_sum = sum((t.amount for t in ReportServiceTotal.objects.filter(report=report)), Decimal(0))
    order_rows = list(ReportOrder.objects.filter(report=report))
    order_sum = sum((o.total_amount for o in order_rows), Decimal(0))
    assert report.total_amount == line_sum == service_sum == order_sum == sum((c.amount for c in expected), Decimal(0))
    assert report.line_count == len(lines)
    assert len(order_rows) == len(reference_orders) == report.order_count + report.unbilled_order_count
    assert report.order_count == len({c.order_id for c in expected})
