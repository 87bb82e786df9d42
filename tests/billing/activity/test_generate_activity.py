"""Generation bills activity with the order lines: rows, totals, service and day totals, atomically."""

import datetime as dt
from decimal import Decimal

import pytest

from billing.models import (
    ChargeType,
    RateCardAdjustment,
    ReportDay,
    ReportOtherCharge,
    ReportServiceTotal,
)
from tests.billing.activity.helpers import extra_work, receipt, storage_line, storage_month, utc
from tests.billing.generation.helpers import generate, rate_line
from tests.factories import CustomerFactory, order_with_lines

pytestmark = pytest.mark.django_db


def test_a_month_of_storage_receiving_and_orders_is_one_bill():
    customer = CustomerFactory()
    rate_line(customer, "Order fee", price="1.5000")
    storage_line(customer, storage_basis="average", storage_period="month")  # 10.00 per pallet-month
    rate_line(customer, "Receiving", ChargeType.RECEIVING_PALLET, price="4.0000")
    labour = rate_line(customer, "Labour", ChargeType.EXTRA_WORK, price="35.0000")
    order_with_lines(customer=customer, lines={"A1": 2}, close_date=utc(2025, 1, 10, 9))
    storage_month(customer, pallets="2")  # 2 pallets every day of January
    receipt(customer, "R-1", utc(2025, 1, 5, 12), pallets=3)
    receipt(customer, "R-2", utc(2025, 2, 1, 12), pallets=9)  # February: not this report's
    extra_work(customer, labour, "EW-1", dt.date(2025, 1, 20), quantity="1.5")

    report = generate(customer)
    report.refresh_from_db()

    charges = list(ReportOtherCharge.objects.filter(report=report).order_by("position"))
    assert [(c.source, c.reference, c.quantity, c.unit_price, c.amount) for c in charges] == [
        ("extra_work", "EW-1", Decimal("1.5000"), Decimal("35.0000"), Decimal("52.50")),
        ("storage", "2025-01", Decimal("2.0000"), Decimal("10.0000"), Decimal("20.00")),
        ("receiving", "R-1", Decimal("3.0000"), Decimal("4.0000"), Decimal("12.00")),
    ]
    assert report.total_amount == Decimal("1.50") + Decimal("52.50") + Decimal("20.00") + Decimal("12.00")
    totals = {t.service_name: t.amount for t in ReportServiceTotal.objects.filter(report=report)}
    assert totals == {
        "Order fee": Decimal("1.50"),
        "Pallet storage": Decimal("20.00"),
        "Receiving": Decimal("12.00"),
        "Labour": Decimal("52.50"),
    }
    assert sum(totals.values()) == report.total_amount
    assert sum(d.amount for d in ReportDay.objects.filter(report=report)) == report.total_amount
    assert report.unbilled_activity == {"receipts": 0, "returns": 0, "extra_work": 0, "snapshot_days": 0}


def test_a_minimum_tops_up_a_small_bill_and_leaves_a_large_one():
    customer = CustomerFactory()
    rate_line(customer, "Order fee", price="10.0000")
    RateCardAdjustment.objects.create(customer=customer, kind="minimum", amount=Decimal("100.00"), description="Min")
    order_with_lines(customer=customer, lines={"A1": 1}, close_date=utc(2025, 1, 10, 9))

    small = generate(customer)
    small.refresh_from_db()
    true_up = ReportOtherCharge.objects.get(report=small)
    assert (true_up.source, true_up.charge_type, true_up.amount) == ("adjustment", "minimum", Decimal("90.00"))
    assert small.total_amount == Decimal("100.00")

    for day in range(11, 23):
        order_with_lines(customer=customer, lines={"A1": 1}, close_date=utc(2025, 1, day, 9))
    large = generate(customer)
    large.refresh_from_db()
    assert large.total_amount == Decimal("130.00")
    assert not ReportOtherCharge.objects.filter(report=large).exists()


def test_unbilled_activity_counts_what_no_line_priced():
    customer = CustomerFactory()
    rate_line(customer, "Order fee", price="1.0000")
    receipt(customer, "R-1", utc(2025, 1, 5, 12), pallets=3)
    storage_month(customer, days=3)
    report = generate(customer)
    report.refresh_from_db()
    assert report.unbilled_activity == {"receipts": 1, "returns": 0, "extra_work": 0, "snapshot_days": 3}


def test_a_minimum_on_a_service_without_orders_is_in_that_services_total_with_its_charge_type():
    customer = CustomerFactory()
    fee = rate_line(customer, "Order fee", price="10.0000")
    minimum = RateCardAdjustment.objects.create(customer=customer, kind="minimum", amount=Decimal("75.00"))
    minimum.services.add(fee)
    report = generate(customer)
    report.refresh_from_db()
    total = ReportServiceTotal.objects.get(report=report)
    assert (total.service_name, total.charge_type, total.amount, total.order_count) == (
        "Order fee",
        ChargeType.PER_ORDER,
        Decimal("75.00"),
        0,
    )
    assert report.total_amount == Decimal("75.00")


def test_a_partial_report_prices_its_activity_lines_but_applies_no_adjustment():
    customer = CustomerFactory()
    rate_line(customer, "Order fee", price="1.0000")
    receiving = rate_line(customer, "Receiving", ChargeType.RECEIVING_RECEIPT, price="20.0000")
    RateCardAdjustment.objects.create(customer=customer, kind="minimum", amount=Decimal("500.00"))
    receipt(customer, "R-1", utc(2025, 1, 5, 12), pallets=1)
    report = generate(customer, customer_service_ids=[receiving.pk])
    report.refresh_from_db()
    assert [(c.source, c.amount) for c in ReportOtherCharge.objects.filter(report=report)] == [
        ("receiving", Decimal("20.00"))
    ]
    assert report.total_amount == Decimal("20.00")


def test_an_only_unbilled_report_next_to_a_finalized_one_bills_orders_only():
    from billing.services.lifecycle import report_finalize

    customer = CustomerFactory()
    rate_line(customer, "Order fee", price="1.0000")
    rate_line(customer, "Receiving", ChargeType.RECEIVING_RECEIPT, price="20.0000")
    receipt(customer, "R-1", utc(2025, 1, 5, 12), pallets=1)
    first = generate(customer)
    report_finalize(actor=None, report_id=first.pk)  # the server (a command)
    order_with_lines(customer=customer, lines={"A1": 1}, close_date=utc(2025, 1, 10, 9))
    rest = generate(customer, only_unbilled=True)
    rest.refresh_from_db()
    assert rest.total_amount == Decimal("1.00")
    assert not ReportOtherCharge.objects.filter(report=rest).exists()


def test_an_only_unbilled_report_replacing_a_draft_bills_the_activity_too():
    customer = CustomerFactory()
    rate_line(customer, "Receiving", ChargeType.RECEIVING_RECEIPT, price="20.0000")
    receipt(customer, "R-1", utc(2025, 1, 5, 12), pallets=1)
    generate(customer)
    again = generate(customer, only_unbilled=True)  # supersedes the draft
    again.refresh_from_db()
    assert again.total_amount == Decimal("20.00")


def test_a_storage_rule_on_an_order_field_is_a_400_not_a_500():
    from billing.errors import ValidationFailed
    from tests.factories import RuleFactory, RuleGroupFactory

    customer = CustomerFactory()
    line = storage_line(customer)
    RuleFactory(rule_group=RuleGroupFactory(customer_service=line), field="carrier", operator="eq", value="UPS")
    with pytest.raises(ValidationFailed, match="unknown field 'carrier'"):
        generate(customer)
