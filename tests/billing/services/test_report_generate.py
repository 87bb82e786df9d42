"""report_generate: billable orders, snapshot, totals, supersede, atomicity, validation, permissions."""

import datetime as dt
from decimal import Decimal

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from hypothesis import HealthCheck, given
from hypothesis import settings as hypothesis_settings
from hypothesis import strategies as st

from billing.errors import PermissionDenied, ValidationFailed
from billing.models import (
    AuditAction,
    AuditEvent,
    BillingReport,
    ChargeType,
    Interface,
    OrderStatus,
    ReportLine,
    ReportOrder,
    ReportServiceTotal,
    ReportStatus,
)
from billing.pricing import price_orders
from billing.pricing.types import OrderData, OrderLineData, RateCard, RateLineData, RuleData, RuleGroupData, TierData
from billing.services.reports import report_generate
from billing.services.users import system_user
from tests.factories import (
    CustomerFactory,
    CustomerServiceFactory,
    MembershipFactory,
    OrderFactory,
    PriceTierFactory,
    ProductFactory,
    RuleFactory,
    RuleGroupFactory,
    ServiceFactory,
    UserFactory,
    order_with_lines,
    staff_user,
)

pytestmark = pytest.mark.django_db

JAN_1 = dt.date(2025, 1, 1)
JAN_31 = dt.date(2025, 1, 31)


def utc(*args) -> dt.datetime:
    return dt.datetime(*args, tzinfo=dt.UTC)


def rate_line(customer, name, charge_type=ChargeType.PER_ORDER, price="1.0000", **kwargs):
    service = ServiceFactory(name=name, charge_type=charge_type)
    return CustomerServiceFactory(customer=customer, service=service, unit_price=Decimal(price), **kwargs)


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


def generate(customer, start=JAN_1, end=JAN_31, **kwargs):
    return report_generate(actor=None, customer_id=customer.pk, start_date=start, end_date=end, **kwargs)


def assert_nothing_written():
    assert BillingReport.objects.count() == 0
    assert ReportOrder.objects.count() == 0
    assert ReportLine.objects.count() == 0
    assert ReportServiceTotal.objects.count() == 0
    assert AuditEvent.objects.count() == 0


# --- the snapshot -----------------------------------------------------------------------


def test_generate_prices_orders_and_stores_the_snapshot(customer, card):
    us = order_with_lines(customer=customer, lines={"A1": 3, "B2": 1}, close_date=utc(2025, 1, 10, 9))
    ca = order_with_lines(
        customer=customer, lines={"A1": 2}, ship_to_country="CA", close_date=utc(2025, 1, 5, 9), ship_to_name="Zoé"
    )
    user = staff_user()

    report = report_generate(
        actor=user,
        customer_id=customer.pk,
        start_date=JAN_1,
        end_date=JAN_31,
        output_format="csv",
        interface=Interface.REST,
        request_id="req-1",
    )

    report.refresh_from_db()
    # CA: 1.50 + 2 x 0.25 + 5.00 = 7.00; US: 1.50 + 4 x 0.25 = 2.50
    assert report.total_amount == Decimal("9.50")
    assert (report.order_count, report.unbilled_order_count, report.line_count) == (2, 0, 5)
    assert report.currency == "CAD"
    assert report.output_format == "csv"
    assert report.status == ReportStatus.DRAFT
    assert report.created_by == user
    assert report.billing_time_zone == "UTC"
    assert report.generated_at is not None

    orders = list(ReportOrder.objects.filter(report=report).order_by("id"))
    assert [o.order_id for o in orders] == [ca.pk, us.pk]  # canonical order: close_date
    first = orders[0]
    assert (first.transaction_id, first.reference_number, first.status) == (
        ca.transaction_id,
        ca.reference_number,
        "completed",
    )
    assert (first.ship_to_name, first.ship_to_address, first.close_date) == ("Zoé", "123 Test St", ca.close_date)
    assert (first.total_items, first.line_items, first.total_amount, first.is_billed) == (2, 1, Decimal("7.00"), True)
    assert orders[1].total_amount == Decimal("2.50")

    lines = {(line.order_id, line.service_name): line for line in ReportLine.objects.filter(report=report)}
    pick = lines[(us.pk, "Pick")]
    assert (pick.service_id, pick.charge_type, pick.quantity, pick.unit_price, pick.amount) == (
        card["pick"].service_id,
        "per_unit",
        Decimal("4"),
        Decimal("0.2500"),
        Decimal("1.00"),
    )
    assert (ca.pk, "Canada surcharge") in lines
    assert (us.pk, "Canada surcharge") not in lines

    event = AuditEvent.objects.get(report=report)
    assert (event.action, event.actor, event.interface, event.format, event.request_id) == (
        AuditAction.GENERATED,
        user,
        "rest",
        "csv",
        "req-1",
    )


def test_service_totals_agree_with_lines(customer, card):
    for country in ("US", "CA", "CA"):
        order_with_lines(customer=customer, lines={"A1": 2}, ship_to_country=country)

    report = generate(customer)

    totals = {t.service_name: t for t in ReportServiceTotal.objects.filter(report=report)}
    assert set(totals) == {"Order fee", "Pick", "Canada surcharge"}
    for name, total in totals.items():
        lines = list(ReportLine.objects.filter(report=report, service_name=name))
        assert total.amount == sum(line.amount for line in lines)
        assert total.quantity == sum(line.quantity for line in lines)
        assert total.order_count == len({line.order_id for line in lines})
        assert total.service_id == lines[0].service_id
        assert total.charge_type == lines[0].charge_type
    assert totals["Canada surcharge"].order_count == 2
    assert totals["Canada surcharge"].amount == Decimal("10.00")
    assert sum(t.amount for t in totals.values()) == report.total_amount


def test_orders_no_line_applies_to_are_recorded_unbilled(customer):
    surcharge = rate_line(customer, "Canada only", price="5.0000")
    RuleFactory(
        rule_group=RuleGroupFactory(customer_service=surcharge), field="ship_to_country", operator="eq", value="CA"
    )
    billed = order_with_lines(customer=customer, lines={"A1": 1}, ship_to_country="CA")
    unbilled = order_with_lines(customer=customer, lines={"A1": 1}, ship_to_country="US")

    report = generate(customer)

    assert (report.order_count, report.unbilled_order_count, report.line_count) == (1, 1, 1)
    rows = {row.order_id: row for row in ReportOrder.objects.filter(report=report)}
    assert rows[billed.pk].is_billed is True
    assert rows[unbilled.pk].is_billed is False
    assert rows[unbilled.pk].total_amount == Decimal("0")
    assert not ReportLine.objects.filter(report=report, order_id=unbilled.pk).exists()


def test_empty_period_gives_an_empty_current_report(customer, card):
    report = generate(customer)
    assert (report.total_amount, report.order_count, report.line_count, report.unbilled_order_count) == (0, 0, 0, 0)
    assert report.status == ReportStatus.DRAFT
    assert not ReportServiceTotal.objects.filter(report=report).exists()


def test_orders_of_other_customers_are_not_billed(customer, card):
    mine = order_with_lines(customer=customer, lines={"A1": 1})
    order_with_lines(customer=CustomerFactory(), lines={"A1": 1})
    report = generate(customer)
    assert list(ReportOrder.objects.filter(report=report).values_list("order_id", flat=True)) == [mine.pk]


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


def test_text_with_tabs_newlines_and_backslashes_is_stored_verbatim(customer, card):
    name = "Tab\there\nnew line \\N back\\slash\r"
    order = order_with_lines(customer=customer, lines={"A1": 1}, ship_to_name=name, reference_number="R\\1\t")
    service = ServiceFactory(name="Fee\twith\\tab", charge_type=ChargeType.PER_ORDER)
    CustomerServiceFactory(customer=customer, service=service)

    report = generate(customer)

    row = ReportOrder.objects.get(report=report, order=order)
    assert (row.ship_to_name, row.reference_number) == (name, "R\\1\t")
    assert ReportLine.objects.filter(report=report, service_name="Fee\twith\\tab").count() == 1


# --- supersede, immutability, atomicity -------------------------------------------------


def test_regenerating_supersedes_the_current_report(customer, card):
    order_with_lines(customer=customer, lines={"A1": 1})
    user = staff_user()
    first = generate(customer)
    other_period = generate(customer, start=dt.date(2025, 2, 1), end=dt.date(2025, 2, 28))  # bills nothing of January

    second = report_generate(
        actor=user,
        customer_id=customer.pk,
        start_date=JAN_1,
        end_date=JAN_31,
        interface=Interface.GRAPHQL,
        request_id="r2",
    )

    first.refresh_from_db()
    other_period.refresh_from_db()
    assert first.status == ReportStatus.SUPERSEDED
    assert first.superseded_by_id == second.pk
    assert second.status == ReportStatus.DRAFT
    assert other_period.status == ReportStatus.DRAFT  # a different period is untouched
    # the old snapshot keeps its rows
    assert ReportLine.objects.filter(report=first).count() == ReportLine.objects.filter(report=second).count() == 2
    assert list(AuditEvent.objects.filter(report=second).values_list("action", "actor", "interface", "request_id")) == [
        (AuditAction.REGENERATED, user.pk, "graphql", "r2")
    ]
    superseded = AuditEvent.objects.filter(report=first).order_by("id")
    assert [e.action for e in superseded] == [AuditAction.GENERATED, AuditAction.SUPERSEDED]
    assert superseded[1].actor == user

    third = generate(customer)
    second.refresh_from_db()
    first.refresh_from_db()
    assert (second.status, second.superseded_by_id) == (ReportStatus.SUPERSEDED, third.pk)
    assert first.superseded_by_id == second.pk
    assert (
        BillingReport.objects.filter(customer=customer, start_date=JAN_1, end_date=JAN_31, status="draft").count() == 1
    )


def test_report_is_a_snapshot_unchanged_by_later_edits(customer, card):
    order = order_with_lines(customer=customer, lines={"A1": 2}, ship_to_name="Before")
    report = generate(customer)
    before_lines = list(ReportLine.objects.filter(report=report).order_by("id").values())
    before_orders = list(ReportOrder.objects.filter(report=report).values())

    card["pick"].unit_price = Decimal("9.9900")
    card["pick"].save()
    card["fee"].service.name = "Renamed fee"
    card["fee"].service.save()
    order.ship_to_name = "After"
    order.total_item_qty = 50
    order.save()
    order.lines.update(quantity=50)

    report.refresh_from_db()
    assert report.total_amount == Decimal("2.00")
    assert list(ReportLine.objects.filter(report=report).order_by("id").values()) == before_lines
    assert list(ReportOrder.objects.filter(report=report).values()) == before_orders


def test_failure_midway_leaves_nothing_and_keeps_the_old_report_current(customer, card, settings):
    for _ in range(5):
        order_with_lines(customer=customer, lines={"A1": 1})
    old = generate(customer)
    counts = (ReportLine.objects.count(), ReportOrder.objects.count(), ReportServiceTotal.objects.count())
    events = AuditEvent.objects.count()
    settings.BILLING_GENERATION_CHUNK_SIZE = 2

    def fail_on_second_chunk(done, total):
        if done > 2:
            raise RuntimeError("worker lost")

    with pytest.raises(RuntimeError, match="worker lost"):
        generate(customer, progress=fail_on_second_chunk)

    assert list(BillingReport.objects.values_list("id", "status", "superseded_by")) == [
        (old.pk, ReportStatus.DRAFT, None)
    ]
    assert (ReportLine.objects.count(), ReportOrder.objects.count(), ReportServiceTotal.objects.count()) == counts
    assert AuditEvent.objects.count() == events


def test_invalid_stored_rule_is_a_validation_error_naming_the_rule_and_writes_nothing(customer, card):
    order_with_lines(customer=customer, lines={"A1": 1})
    bad = RuleFactory(
        rule_group=RuleGroupFactory(customer_service=card["fee"]), field="carrier", operator="gt", value="5"
    )

    with pytest.raises(ValidationFailed) as caught:
        generate(customer)

    messages = caught.value.fields["rate_card"]
    assert f"#{bad.pk}" in messages[0]
    assert "Order fee" in messages[0]
    assert_nothing_written()


def test_order_that_cannot_be_priced_fails_the_whole_report(customer, card):
    order_with_lines(customer=customer, lines={"A1": 3}, close_date=utc(2025, 1, 2))
    order_with_lines(customer=customer, lines={"- -": 3}, close_date=utc(2025, 1, 3), transaction_id="BAD-SKU")

    with pytest.raises(ValidationFailed) as caught:
        generate(customer)

    assert "BAD-SKU" in caught.value.fields["rate_card"][0]
    assert_nothing_written()


def test_invalid_stored_rate_card_line_is_named_by_its_service(customer, card):
    tiered = rate_line(customer, "Capped storage", ChargeType.TIERED, price="0")
    PriceTierFactory(customer_service=tiered, up_to=Decimal("5"), unit_price=Decimal("1.0000"))
    order_with_lines(customer=customer, lines={"A1": 3})

    with pytest.raises(ValidationFailed) as caught:
        generate(customer)

    (message,) = caught.value.fields["rate_card"]
    assert f"Capped storage (rate-card line #{tiered.pk})" in message
    assert "rate_card[" not in message
    assert_nothing_written()


# --- validation and permissions ---------------------------------------------------------


def test_validation_collects_every_field_error_and_writes_nothing(customer, card):
    with pytest.raises(ValidationFailed) as caught:
        report_generate(
            actor=None,
            customer_id=customer.pk,
            start_date=dt.date(2025, 2, 1),
            end_date=JAN_31,
            output_format="xlsx",
            customer_service_ids=[999999],
        )
    fields = caught.value.fields
    assert set(fields) == {"end_date", "output_format", "customer_service_ids"}
    assert "xlsx" in fields["output_format"][0]
    assert "999999" in fields["customer_service_ids"][0]
    assert_nothing_written()


def test_unknown_customer(db):
    with pytest.raises(ValidationFailed) as caught:
        report_generate(actor=staff_user(), customer_id=123456, start_date=JAN_1, end_date=JAN_31)
    assert caught.value.fields == {"customer_id": ["Customer 123456 does not exist."]}
    assert_nothing_written()


def test_inactive_customer_is_refused(card, customer):
    customer.is_active = False
    customer.save()
    with pytest.raises(ValidationFailed) as caught:
        generate(customer)
    assert list(caught.value.fields) == ["customer_id"]
    assert_nothing_written()


@pytest.mark.parametrize(
    ("start", "end", "field"),
    [("2025-01-01", JAN_31, "start_date"), (JAN_1, None, "end_date"), (dt.datetime(2025, 1, 1), JAN_31, "start_date")],
)
def test_dates_must_be_dates(customer, card, start, end, field):
    with pytest.raises(ValidationFailed) as caught:
        generate(customer, start=start, end=end)
    assert field in caught.value.fields
    assert_nothing_written()


def test_rate_card_lines_of_another_customer_or_inactive_are_refused(customer, card):
    foreign = CustomerServiceFactory(customer=CustomerFactory())
    inactive = rate_line(customer, "Retired", is_active=False)
    for ids in ([foreign.pk], [inactive.pk], []):
        with pytest.raises(ValidationFailed) as caught:
            generate(customer, customer_service_ids=ids)
        assert list(caught.value.fields) == ["customer_service_ids"]
    assert_nothing_written()


def test_inactive_rate_card_lines_are_not_priced(customer, card):
    rate_line(customer, "Retired", price="100.0000", is_active=False)
    order_with_lines(customer=customer, lines={"A1": 1})
    report = generate(customer)
    assert not ReportLine.objects.filter(report=report, service_name="Retired").exists()


def test_customer_user_cannot_generate_for_another_customer(customer, card):
    user = UserFactory(permissions=["generate_report"])
    MembershipFactory(user=user, customer=CustomerFactory())
    with pytest.raises(PermissionDenied):
        report_generate(actor=user, customer_id=customer.pk, start_date=JAN_1, end_date=JAN_31)
    # and cannot probe which customers exist
    with pytest.raises(PermissionDenied):
        report_generate(actor=user, customer_id=987654, start_date=JAN_1, end_date=JAN_31)
    assert_nothing_written()


def test_customer_user_with_permission_generates_for_own_customer(customer, card):
    user = UserFactory(permissions=["generate_report"])
    MembershipFactory(user=user, customer=customer)
    report = report_generate(actor=user, customer_id=customer.pk, start_date=JAN_1, end_date=JAN_31)
    assert report.created_by == user


def test_staff_needs_the_generate_permission(customer, card):
    with pytest.raises(PermissionDenied):
        report_generate(actor=staff_user(generate=False), customer_id=customer.pk, start_date=JAN_1, end_date=JAN_31)
    assert_nothing_written()
    report = report_generate(actor=staff_user(), customer_id=customer.pk, start_date=JAN_1, end_date=JAN_31)
    assert report.status == ReportStatus.DRAFT


def test_anonymous_cannot_generate(customer, card):
    from django.contrib.auth.models import AnonymousUser

    with pytest.raises(PermissionDenied):
        report_generate(actor=AnonymousUser(), customer_id=customer.pk, start_date=JAN_1, end_date=JAN_31)
    assert_nothing_written()


# --- query count ------------------------------------------------------------------------


def _queries_to_generate(customer, n_orders: int) -> int:
    for i in range(n_orders):
        order_with_lines(customer=customer, lines={"A1": 1 + i % 3, "B2": 2}, ship_to_country="CA" if i % 2 else "US")
    with CaptureQueriesContext(connection) as captured:
        generate(customer)
    return len(captured.captured_queries)


def test_query_count_does_not_grow_with_orders(card):
    system_user()  # created once, on the first report made without a user
    small = _queries_to_generate(card["fee"].customer, 10)
    other = CustomerFactory()
    fee = rate_line(other, "Fee 2", price="1.5000")
    RuleFactory(rule_group=RuleGroupFactory(customer_service=fee), field="ship_to_country", operator="eq", value="CA")
    rate_line(other, "Pick 2", ChargeType.PER_UNIT, price="0.2500")
    rate_line(other, "Fee 3", price="5.0000")
    large = _queries_to_generate(other, 40)
    assert small == large
    assert small <= 27  # the snapshot, its not-closed orders, its per-day totals and the claim of billed pairs


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


# --- PostgreSQL: the streamed snapshot ----------------------------------------------------

needs_postgresql = pytest.mark.skipif(
    connection.vendor != "postgresql", reason="the streamed snapshot (constant statement count) is PostgreSQL's"
)


def _statements_to_generate(customer, n_orders: int) -> list[str]:
    for i in range(n_orders):
        order_with_lines(
            customer=customer,
            lines={"A1": 1 + i % 3, "B2": 2} if i % 5 else {},
            ship_to_country="CA" if i % 2 else "US",
            close_date=utc(2025, 1, 1 + i % 28, 12),
        )
    with CaptureQueriesContext(connection) as captured:
        generate(customer, progress=lambda done, total: None)
    return [query["sql"] for query in captured.captured_queries]


@needs_postgresql
def test_statement_count_depends_neither_on_orders_nor_on_chunk_size(card, settings):
    settings.BILLING_GENERATION_CHUNK_SIZE = 7  # 2 chunks of 10 orders, 9 of 60
    system_user()  # created once, by the first report made without a user
    small = _statements_to_generate(card["fee"].customer, 10)
    other = CustomerFactory()
    fee = rate_line(other, "Fee 2", price="1.5000")
    RuleFactory(rule_group=RuleGroupFactory(customer_service=fee), field="ship_to_country", operator="eq", value="CA")
    rate_line(other, "Pick 2", ChargeType.PER_UNIT, price="0.2500")
    rate_line(other, "Fee 3", price="5.0000")
    large = _statements_to_generate(other, 60)

    assert len(small) == len(large)
    assert [sql.split(None, 1)[0] for sql in small] == [sql.split(None, 1)[0] for sql in large]
    copies = [sql for sql in large if sql.startswith("COPY")]
    assert len(copies) == 2  # one for the lines, one for the orders
    assert sum("ARRAY_AGG" in sql for sql in large) == 1  # every order and its lines, in one statement


def _snapshot(report) -> dict:
    report.refresh_from_db()
    return {
        "totals": (report.total_amount, report.order_count, report.unbilled_order_count, report.line_count),
        "lines": list(
            ReportLine.objects.filter(report=report)
            .order_by("id")
            .values_list("order_id", "service_id", "service_name", "charge_type", "quantity", "unit_price", "amount")
        ),
        "orders": list(
            ReportOrder.objects.filter(report=report)
            .order_by("id")
            .values_list(
                "order_id",
                "transaction_id",
                "reference_number",
                "close_date",
                "status",
                "ship_to_name",
                "ship_to_address",
                "total_items",
                "line_items",
                "total_amount",
                "is_billed",
            )
        ),
        "services": sorted(
            ReportServiceTotal.objects.filter(report=report).values_list(
                "service_id", "service_name", "charge_type", "quantity", "amount", "order_count"
            )
        ),
    }


@needs_postgresql
@pytest.mark.parametrize("strategy", ["read-first", "spooled"])
def test_write_strategies_and_tiny_buffers_store_the_same_report(customer, card, settings, monkeypatch, strategy):
    from billing.services import reports

    tiered = rate_line(customer, "Units", ChargeType.TIERED, price="0")
    PriceTierFactory(customer_service=tiered, up_to=Decimal("10"), unit_price=Decimal("0.5000"))
    PriceTierFactory(customer_service=tiered, up_to=None, unit_price=Decimal("0.1000"))
    rate_line(customer, "Fee\twith\\escapes\n", price="0.3000")
    same_time = utc(2025, 1, 7, 8)
    # Same close_date: code-point order of transaction ids decides (B < a < b), which the tiers see.
    for tx, qty in (("b-1", 4), ("B-1", 6), ("a-1", 3)):
        order_with_lines(
            customer=customer, lines={"A1": qty}, transaction_id=f"{customer.pk}{tx}", close_date=same_time
        )
    for day in range(1, 10):
        order_with_lines(
            customer=customer,
            lines={"A1": day, "B-2": 1, "c 3": day % 4} if day % 3 else {},
            close_date=utc(2025, 1, day, 12, 30, 15, 250 * day),
            ship_to_country="CA" if day % 2 else "US",
            ship_to_name=f"Name\t{day}\\ \r\n",
            reference_number=f"R{day}",
        )
    baseline = _snapshot(generate(customer))

    monkeypatch.setattr(reports, "WRITE_STRATEGY", strategy)
    monkeypatch.setattr(reports, "STREAM_BATCH_ROWS", 2)  # many marshal records in the read spool
    monkeypatch.setattr(reports, "SPOOL_MEMORY_BYTES", 1)  # spools move to files at once
    monkeypatch.setattr(reports, "SPOOL_BLOCK_BYTES", 7)  # COPY blocks end mid-row
    monkeypatch.setattr(reports, "COPY_FLUSH_ORDERS", 3)
    monkeypatch.setattr(reports, "LINE_CACHE_LIMIT", 2)
    settings.BILLING_GENERATION_CHUNK_SIZE = 4
    calls = []

    tiny = _snapshot(generate(customer, progress=lambda done, total: calls.append((done, total))))

    assert tiny == baseline
    assert calls == [(4, 12), (8, 12), (12, 12)]
    assert baseline["totals"][1:] == (12, 0, len(baseline["lines"]))
    same_time_txs = [row[1] for row in baseline["orders"] if row[3] == same_time]
    assert same_time_txs == [f"{customer.pk}B-1", f"{customer.pk}a-1", f"{customer.pk}b-1"]


@needs_postgresql
def test_progress_must_not_query_the_connection_that_streams_the_report(customer, card, settings):
    settings.BILLING_GENERATION_CHUNK_SIZE = 2
    for _ in range(3):
        order_with_lines(customer=customer, lines={"A1": 1})

    def reads_the_database(done, total):
        BillingReport.objects.count()

    with pytest.raises(RuntimeError, match="another database alias"):
        generate(customer, progress=reads_the_database)

    assert_nothing_written()


@needs_postgresql
@pytest.mark.parametrize("strategy", ["read-first", "spooled"])
def test_failure_while_streaming_rolls_back_and_leaves_the_connection_usable(
    customer, card, settings, monkeypatch, strategy
):
    from billing.services import reports

    monkeypatch.setattr(reports, "WRITE_STRATEGY", strategy)
    monkeypatch.setattr(reports, "STREAM_BATCH_ROWS", 2)
    settings.BILLING_GENERATION_CHUNK_SIZE = 2
    for _ in range(7):
        order_with_lines(customer=customer, lines={"A1": 1})

    def fail_on_second_chunk(done, total):
        if done > 2:
            raise RuntimeError("worker lost")

    with pytest.raises(RuntimeError, match="worker lost"):
        generate(customer, progress=fail_on_second_chunk)

    assert_nothing_written()
    assert generate(customer).order_count == 7
