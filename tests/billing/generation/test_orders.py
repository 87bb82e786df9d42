"""The order stream: which orders are billable, the canonical order, chunks and progress."""

import datetime as dt
from decimal import Decimal

import pytest

from billing.models import (
    ChargeType,
    OrderStatus,
    ReportLine,
    ReportOrder,
)
from tests.billing.generation.helpers import generate, rate_line, utc
from tests.factories import (
    OrderFactory,
    PriceTierFactory,
    ProductFactory,
    order_with_lines,
)

pytestmark = pytest.mark.django_db

# --- which orders are billable ----------------------------------------------------------


def test_billing_time_zone_decides_the_day_an_order_belongs_to(customer, card, settings):
    settings.BILLING_TIME_ZONE = "America/New_York"
    # 23:30 on Jan 31 in New York is 04:30 UTC on Feb 1: January.
    late_january = order_with_lines(customer=customer, lines={"A1": 1}, close_date=utc(2025, 2, 1, 4, 30))
    # 00:30 on Feb 1 in New York (05:30 UTC): February.
    early_february = order_with_lines(customer=customer, lines={"A1": 1}, close_date=utc(2025, 2, 1, 5, 30))
    # 00:30 on Jan 1 in New York (05:30 UTC) is January; 23:30 on Dec 31 (04:30 UTC Jan 1) is not.
    new_year = order_with_lines(customer=customer, lines={"A1": 1}, close_date=utc(2025, 1, 1, 5, 30))
    order_with_lines(customer=customer, lines={"A1": 1}, close_date=utc(2025, 1, 1, 4, 30))

    january = generate(customer)
    february = generate(customer, start=dt.date(2025, 2, 1), end=dt.date(2025, 2, 28))

    assert set(ReportOrder.objects.filter(report=january).values_list("order_id", flat=True)) == {
        late_january.pk,
        new_year.pk,
    }
    assert set(ReportOrder.objects.filter(report=february).values_list("order_id", flat=True)) == {early_february.pk}
    assert january.billing_time_zone == "America/New_York"


def test_period_boundaries_follow_daylight_saving_time(customer, card, settings):
    settings.BILLING_TIME_ZONE = "America/New_York"
    # 2025-03-09 is 23 hours long in New York (EST -5 until 02:00, then EDT -4).
    day = dt.date(2025, 3, 9)
    inside = [utc(2025, 3, 9, 5, 0), utc(2025, 3, 10, 3, 59)]  # 00:00 EST .. 23:59 EDT
    outside = [utc(2025, 3, 9, 4, 59), utc(2025, 3, 10, 4, 0)]  # 23:59 EST the day before, 00:00 EDT the day after
    inside_ids = {order_with_lines(customer=customer, lines={"A1": 1}, close_date=at).pk for at in inside}
    for at in outside:
        order_with_lines(customer=customer, lines={"A1": 1}, close_date=at)

    report = generate(customer, start=day, end=day)

    assert set(ReportOrder.objects.filter(report=report).values_list("order_id", flat=True)) == inside_ids


def test_end_date_is_inclusive(customer, card):
    last_moment = order_with_lines(customer=customer, lines={"A1": 1}, close_date=utc(2025, 1, 31, 23, 59, 59, 999999))
    first_moment = order_with_lines(customer=customer, lines={"A1": 1}, close_date=utc(2025, 1, 1, 0, 0))
    order_with_lines(customer=customer, lines={"A1": 1}, close_date=utc(2025, 2, 1, 0, 0))
    order_with_lines(customer=customer, lines={"A1": 1}, close_date=utc(2024, 12, 31, 23, 59, 59))

    report = generate(customer)

    assert set(ReportOrder.objects.filter(report=report).values_list("order_id", flat=True)) == {
        last_moment.pk,
        first_moment.pk,
    }


def test_single_day_period(customer, card):
    order = order_with_lines(customer=customer, lines={"A1": 1}, close_date=utc(2025, 1, 15, 12))
    order_with_lines(customer=customer, lines={"A1": 1}, close_date=utc(2025, 1, 16, 12))
    report = generate(customer, start=dt.date(2025, 1, 15), end=dt.date(2025, 1, 15))
    assert list(ReportOrder.objects.filter(report=report).values_list("order_id", flat=True)) == [order.pk]


def test_cancelled_orders_are_excluded_and_other_statuses_billed(customer, card):
    billed = {
        order_with_lines(customer=customer, lines={"A1": 1}, status=status).pk
        for status in (OrderStatus.OPEN, OrderStatus.PROCESSING, OrderStatus.SHIPPED, OrderStatus.COMPLETED)
    }
    order_with_lines(customer=customer, lines={"A1": 1}, status=OrderStatus.CANCELLED)
    OrderFactory(customer=customer, close_date=None)  # never closed: not billable

    report = generate(customer)

    assert set(ReportOrder.objects.filter(report=report).values_list("order_id", flat=True)) == billed
    assert report.order_count == 4


def test_subset_of_rate_card_lines(customer, card):
    order_with_lines(customer=customer, lines={"A1": 4}, ship_to_country="CA")

    report = generate(customer, customer_service_ids=[card["pick"].pk, card["surcharge"].pk])

    assert set(ReportLine.objects.filter(report=report).values_list("service_name", flat=True)) == {
        "Pick",
        "Canada surcharge",
    }
    assert report.total_amount == Decimal("6.00")


def test_case_pick_excludes_skus_of_per_unit_lines_even_when_not_selected(customer):
    case_pick = rate_line(customer, "Case pick", ChargeType.CASE_PICK, price="2.0000")
    each_pick = rate_line(customer, "Each pick", ChargeType.EACH_PICK, price="0.1000")
    special = rate_line(customer, "Special handling", ChargeType.PER_UNIT, price="1.0000")
    special.skus.add(ProductFactory(customer=customer, sku="SPECIAL1", case_size=6))
    ProductFactory(customer=customer, sku="WIDGET1", case_size=10)
    order_with_lines(customer=customer, lines={"widget-1": 23, "special 1": 13})

    report = generate(customer, customer_service_ids=[case_pick.pk, each_pick.pk])

    lines = {line.service_name: line for line in ReportLine.objects.filter(report=report)}
    assert lines["Case pick"].quantity == 2  # 23 widgets = 2 cases of 10; SPECIAL1 is a per_unit SKU
    assert lines["Each pick"].quantity == 3
    assert set(lines) == {"Case pick", "Each pick"}


def test_tiers_graduate_over_the_period_in_canonical_order(customer):
    tiered = rate_line(customer, "Storage", ChargeType.TIERED, price="0")
    PriceTierFactory(customer_service=tiered, up_to=Decimal("10"), unit_price=Decimal("1.0000"))
    PriceTierFactory(customer_service=tiered, up_to=None, unit_price=Decimal("0.5000"))
    # Same close_date: the transaction id decides, compared by code point ("B" < "a").
    later = order_with_lines(customer=customer, lines={"A1": 8}, transaction_id="a-1", close_date=utc(2025, 1, 9))
    first = order_with_lines(customer=customer, lines={"A1": 8}, transaction_id="B-1", close_date=utc(2025, 1, 9))

    report = generate(customer)

    amounts = dict(ReportLine.objects.filter(report=report).values_list("order_id", "amount"))
    assert amounts[first.pk] == Decimal("8.00")
    assert amounts[later.pk] == Decimal("5.00")  # 2 x 1.00 + 6 x 0.50
    assert list(ReportOrder.objects.filter(report=report).order_by("id").values_list("order_id", flat=True)) == [
        first.pk,
        later.pk,
    ]


def test_progress_reports_each_chunk(customer, card, settings):
    settings.BILLING_GENERATION_CHUNK_SIZE = 2
    for _ in range(5):
        order_with_lines(customer=customer, lines={"A1": 1})
    calls = []

    generate(customer, progress=lambda done, total: calls.append((done, total)))

    assert calls == [(2, 5), (4, 5), (5, 5)]


def test_chunked_generation_equals_single_chunk(customer, card, settings):
    for day in (3, 1, 2, 2, 2, 5, 4):
        order_with_lines(customer=customer, lines={"A1": day}, close_date=utc(2025, 1, day, 10))
    single = generate(customer)
    settings.BILLING_GENERATION_CHUNK_SIZE = 2
    chunked = generate(customer)

    def rows(report):
        return list(
            ReportLine.objects.filter(report=report)
            .order_by("id")
            .values_list("order_id", "service_id", "quantity", "unit_price", "amount")
        )

    assert rows(single) == rows(chunked)
    assert list(ReportOrder.objects.filter(report=single).order_by("id").values_list("order_id", flat=True)) == list(
        ReportOrder.objects.filter(report=chunked).order_by("id").values_list("order_id", flat=True)
    )
