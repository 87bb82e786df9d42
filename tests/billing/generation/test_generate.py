"""The use case: snapshot, totals, supersede, atomicity, validation, permissions, query count."""

import datetime as dt
from decimal import Decimal

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from billing.errors import PermissionDenied, ValidationFailed
from billing.models import (
    AuditAction,
    AuditEvent,
    BillingReport,
    ChargeType,
    Interface,
    ReportLine,
    ReportOrder,
    ReportServiceTotal,
    ReportStatus,
)
from billing.services.reports import report_generate
from billing.services.users import system_user
from tests.billing.generation.helpers import JAN_1, JAN_31, assert_nothing_written, generate, rate_line, utc
from tests.factories import (
    CustomerFactory,
    CustomerServiceFactory,
    MembershipFactory,
    PriceTierFactory,
    RuleFactory,
    RuleGroupFactory,
    UserFactory,
    order_with_lines,
    staff_user,
)

pytestmark = pytest.mark.django_db

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
    # 30 orders, 90 lines: one bulk_create batch of lines within SQLite's 999 parameters (10 a line)
    large = _queries_to_generate(other, 30)
    assert small == large
    # the snapshot, its explanations, its not-closed orders, its per-day totals (with the join-plan
    # setting around them on PostgreSQL), the claim of billed pairs (in a savepoint) and the period's
    # activity (billing.generation.activity: storage days, receipts, returns, extra work, adjustments)
    assert small <= 37
