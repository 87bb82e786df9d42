"""Money invariants over random activity (hypothesis): every other charge is its quantity x unit
price to the cent, and a report's total is its order lines plus its other charges (adjustments
included), to the cent, as its service, day and month totals, REST and GraphQL all say."""

from __future__ import annotations

import datetime as dt
import json
from decimal import Decimal

import pytest
from django.db.models import Sum
from hypothesis import HealthCheck, given
from hypothesis import settings as hypothesis_settings
from hypothesis import strategies as st

from billing.models import (
    ChargeType,
    RateCardAdjustment,
    ReportDay,
    ReportLine,
    ReportMonth,
    ReportOtherCharge,
    ReportServiceTotal,
)
from billing.pricing.activity import AdjustmentData, ReceiptData, SnapshotData, apply_adjustments, price_activity
from billing.pricing.types import RateLineData
from tests.billing.activity.helpers import receipt, snapshot, storage_line, utc
from tests.billing.generation.helpers import generate, rate_line
from tests.factories import CustomerFactory, order_with_lines, staff_user
from tests.graphql_schema.helpers import data_of, gql

CENT = Decimal("0.01")
FEB = (dt.date(2025, 1, 25), dt.date(2025, 2, 5))  # across a month end
prices = st.decimals(min_value=0, max_value=500, places=4, allow_nan=False, allow_infinity=False)
figures = st.decimals(min_value=0, max_value=80, places=3, allow_nan=False, allow_infinity=False)
days = st.dates(min_value=dt.date(2025, 1, 20), max_value=dt.date(2025, 2, 10))
amounts = st.decimals(min_value=0, max_value=1000, places=2, allow_nan=False, allow_infinity=False)
percents = st.decimals(min_value=Decimal("0.01"), max_value=100, places=2, allow_nan=False, allow_infinity=False)


@st.composite
def adjustments(draw):
    made = []
    for index in range(draw(st.integers(0, 4))):
        kind = draw(st.sampled_from(["minimum", "surcharge", "discount"]))
        scope = frozenset(draw(st.sets(st.sampled_from([1, 2, 3]), max_size=2)))
        if kind == "minimum":
            made.append(AdjustmentData(index, kind, amount=draw(amounts) + CENT, customer_service_ids=scope))
        elif kind == "surcharge" or draw(st.booleans()):
            made.append(AdjustmentData(index, kind, percent=draw(percents), customer_service_ids=scope))
        else:
            made.append(AdjustmentData(index, kind, amount=draw(amounts) + CENT, customer_service_ids=scope))
    return made


@hypothesis_settings(max_examples=150, deadline=None)
@given(
    basis=st.sampled_from(["daily_sum", "average", "peak", "end_of_period"]),
    period=st.sampled_from(["day", "month"]),
    storage_price=prices,
    receiving_price=prices,
    snaps=st.lists(st.tuples(days, st.sampled_from(["A", "B", "C"]), figures), max_size=30),
    receipts=st.lists(st.tuples(days, st.integers(0, 40), st.decimals(0, 600, places=2)), max_size=10),
    order_amount=amounts,
    chosen=adjustments(),
)
def test_every_charge_is_quantity_times_price_and_the_bill_adds_up(
    basis, period, storage_price, receiving_price, snaps, receipts, order_amount, chosen
):
    lines = [
        RateLineData.build(
            customer_service_id=2,
            service_id=2,
            service_name="Storage",
            charge_type="storage_pallet",
            unit_price=storage_price,
            storage_period=period,
            storage_basis=basis,
        ),
        RateLineData.build(
            customer_service_id=3,
            service_id=3,
            service_name="Labour",
            charge_type="receiving_hour",
            unit_price=receiving_price,
        ),
    ]
    snapshots = [
        SnapshotData(day, sku, "L", 1, pallets, Decimal(0))
        for day, sku, pallets in {(d, s): (d, s, p) for d, s, p in snaps}.values()
    ]
    records = [
        ReceiptData(f"R{i}", day, pallets=pallets, labour_minutes=minutes)
        for i, (day, pallets, minutes) in enumerate(receipts)
    ]
    start, end = FEB
    charges = price_activity(lines, start=start, end=end, snapshots=snapshots, receipts=records).charges
    for charge in charges:
        assert charge.amount == (charge.quantity * charge.unit_price).quantize(CENT, rounding="ROUND_HALF_UP")
        assert start <= charge.date <= end
        assert charge.amount >= 0
    bill = [(1, end, order_amount)] + [(c.customer_service_id, c.date, c.amount) for c in charges]
    extra = apply_adjustments(chosen, bill, end=end)
    for charge in extra:
        assert charge.amount == (charge.quantity * charge.unit_price).quantize(CENT, rounding="ROUND_HALF_UP")
        assert charge.amount == charge.amount.quantize(CENT)
    subtotal = sum((amount for _, _, amount in bill), Decimal(0))
    total = subtotal + sum((c.amount for c in extra), Decimal(0))
    # discounts never take a bill below zero; a minimum over everything, with no discount, is reached
    assert total >= 0
    if not any(a.kind == "discount" for a in chosen):
        for a in chosen:
            if a.kind == "minimum" and not a.customer_service_ids:
                assert total >= a.amount


@pytest.mark.django_db(transaction=False)
@hypothesis_settings(
    max_examples=8, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow]
)
@given(
    orders=st.lists(st.integers(1, 28), min_size=0, max_size=6),
    pallet_days=st.lists(st.tuples(st.integers(1, 31), st.decimals(0, 50, places=3)), max_size=8),
    receipt_pallets=st.lists(st.integers(0, 30), max_size=4),
    minimum=st.one_of(st.none(), amounts),
    discount=st.one_of(st.none(), percents),
)
def test_a_report_is_its_order_lines_plus_its_other_charges_in_every_view(
    client, orders, pallet_days, receipt_pallets, minimum, discount
):
    customer = CustomerFactory()
    fee = rate_line(customer, f"Fee {customer.pk}", price="1.3333")
    storage = storage_line(customer, name=f"Storage {customer.pk}", price="7.7777", storage_basis="peak")
    rate_line(customer, f"Receiving {customer.pk}", ChargeType.RECEIVING_PALLET, price="2.1111")
    for day in orders:
        order_with_lines(customer=customer, lines={"A1": day}, close_date=utc(2025, 1, day, 12))
    for day, pallets in dict(pallet_days).items():
        snapshot(customer, dt.date(2025, 1, day), pallets=str(pallets))
    for index, pallets in enumerate(receipt_pallets):
        receipt(customer, f"R-{index}", utc(2025, 1, 3 + index, 12), pallets=pallets)
    if minimum is not None:
        made = RateCardAdjustment.objects.create(customer=customer, kind="minimum", amount=minimum + CENT)
        made.services.add(fee, storage)
    if discount is not None:
        RateCardAdjustment.objects.create(customer=customer, kind="discount", percent=discount)

    report = generate(customer)
    report.refresh_from_db()
    lines = ReportLine.objects.filter(report=report).aggregate(s=Sum("amount"))["s"] or Decimal(0)
    other = ReportOtherCharge.objects.filter(report=report)
    others = sum((c.amount for c in other), Decimal(0))
    assert report.total_amount == lines + others
    unattributed = sum((c.amount for c in other if c.service_id is None), Decimal(0))
    services = ReportServiceTotal.objects.filter(report=report).aggregate(s=Sum("amount"))["s"] or Decimal(0)
    assert services + unattributed == report.total_amount
    assert (ReportDay.objects.filter(report=report).aggregate(s=Sum("amount"))["s"] or 0) == report.total_amount
    assert (ReportMonth.objects.filter(report=report).aggregate(s=Sum("amount"))["s"] or 0) == report.total_amount

    client.force_login(staff_user(username=f"staff-{customer.pk}"))
    rest = json.loads(client.get(f"/api/v2/reports/{report.id}/").content, parse_float=Decimal)["data"]
    graph = data_of(
        gql(client, "query($id: UUID!) { report(id: $id) { totals { totalAmount } } }", {"id": str(report.id)})
    )["report"]
    assert rest["total_amount"] == Decimal(graph["totals"]["totalAmount"]) == report.total_amount
    assert sum((c["amount"] for c in rest["other_charges"]), Decimal(0)) == others
