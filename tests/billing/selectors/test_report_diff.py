"""The diff of two reports: each kind of change with its cause, after a real regeneration."""

from __future__ import annotations

import datetime as dt
from collections import defaultdict
from decimal import Decimal

import pytest

from billing.errors import NotFound, ValidationFailed
from billing.models import BillingReport, ChargeType, CustomerService, OrderLine, ReportLine
from billing.selectors.report_diff import CAUSES, report_diff
from billing.services.reports import report_generate
from tests.factories import (
    JANUARY,
    CustomerFactory,
    CustomerServiceFactory,
    RuleFactory,
    RuleGroupFactory,
    ServiceFactory,
    make_orders,
    order_with_lines,
)

pytestmark = pytest.mark.django_db


def generate(customer) -> BillingReport:
    return report_generate(actor=None, customer_id=customer.pk, start_date=JANUARY[0], end_date=JANUARY[1])


@pytest.fixture
def card(customer_a) -> dict[str, CustomerService]:
    """An order fee, a pick fee per unit, and an export fee for Canada only."""
    lines = {
        "order": CustomerServiceFactory(
            customer=customer_a,
            service=ServiceFactory(name="Order fee", charge_type=ChargeType.PER_ORDER),
            unit_price=Decimal("1.5000"),
        ),
        "pick": CustomerServiceFactory(
            customer=customer_a,
            service=ServiceFactory(name="Pick", charge_type=ChargeType.PER_UNIT),
            unit_price=Decimal("0.2500"),
        ),
        "export": CustomerServiceFactory(
            customer=customer_a,
            service=ServiceFactory(name="Export fee", charge_type=ChargeType.PER_ORDER),
            unit_price=Decimal("3.3333"),
        ),
    }
    RuleFactory(rule_group=RuleGroupFactory(customer_service=lines["export"]), field="ship_to_country", value="CA")
    return lines


@pytest.fixture
def orders(customer_a, card):
    orders = make_orders(customer_a, 6)
    for order in orders[:2]:
        order.ship_to_country = "CA"
        order.save()
    return orders


def assert_totals_add_up(diff) -> None:
    """Per service and overall, the lines' changes are the difference of the reports' totals, to the cent."""
    by_service: dict[int, Decimal] = defaultdict(Decimal)
    for line in diff.iter_lines():
        by_service[line.service_id] += line.amount_change
    stored = {total.service_id: total.change for total in diff.service_totals}
    assert {key: value for key, value in stored.items() if value} == {k: v for k, v in by_service.items() if v}
    assert diff.total_change == diff.report.total_amount - diff.against.total_amount
    assert sum(stored.values(), Decimal("0.00")) == diff.total_change
    assert diff.line_count == len(list(diff.iter_lines()))


def test_a_report_diffed_with_itself_is_empty(customer_a, orders, staff):
    report = generate(customer_a)

    diff = report_diff(actor=staff, report_id=report.id, against_id=report.id)

    assert diff.line_count == 0 and diff.lines() == []
    assert diff.total_change == 0
    assert all(total.change == 0 for total in diff.service_totals)
    assert len(diff.service_totals) == 3


def test_a_price_change_changes_every_line_of_that_service(customer_a, card, orders, staff):
    before = generate(customer_a)
    card["pick"].unit_price = Decimal("0.3000")
    card["pick"].save()
    after = generate(customer_a)

    diff = report_diff(actor=staff, report_id=after.id)  # against: the report it superseded

    assert diff.against.pk == before.pk
    lines = diff.lines()
    assert {(line.service_name, line.change, line.cause) for line in lines} == {("Pick", "changed", "price_changed")}
    assert len(lines) == len(orders)
    first = lines[0]
    assert (first.old_unit_price, first.new_unit_price) == (Decimal("0.2500"), Decimal("0.3000"))
    assert first.old_quantity == first.new_quantity
    assert first.amount_change == first.new_amount - first.old_amount > 0
    assert diff.counts["price_changed"] == len(orders) and diff.change_counts == {
        "added": 0,
        "removed": 0,
        "changed": len(orders),
    }
    assert_totals_add_up(diff)


def test_a_rule_change_adds_and_removes_lines_of_orders_in_both_reports(customer_a, card, orders, staff):
    generate(customer_a)
    rule = card["export"].rule_groups.get().rules.get()
    rule.value = "US"  # the export fee moves from the two Canadian orders to the four others
    rule.save()
    after = generate(customer_a)

    diff = report_diff(actor=staff, report_id=after.id)

    kinds = {(line.transaction_id, line.change, line.cause) for line in diff.lines()}
    canadian = {order.transaction_id for order in orders[:2]}
    assert kinds == {
        (order.transaction_id, "removed", "rule_no_longer_matches")
        if order.transaction_id in canadian
        else (order.transaction_id, "added", "rule_now_matches")
        for order in orders
    }
    removed = next(line for line in diff.lines() if line.change == "removed")
    assert removed.new_amount is None and removed.old_amount == Decimal("3.33")
    assert removed.amount_change == Decimal("-3.33")
    assert_totals_add_up(diff)


def test_an_order_edit_changes_its_quantity_lines(customer_a, orders, staff):
    generate(customer_a)
    edited = orders[3]
    line = OrderLine.objects.filter(order=edited, sku="BASE").get()
    line.quantity = 7
    line.save()
    after = generate(customer_a)

    diff = report_diff(actor=staff, report_id=after.id)

    [changed] = diff.lines()
    assert (changed.transaction_id, changed.service_name, changed.cause) == (
        edited.transaction_id,
        "Pick",
        "order_changed",
    )
    assert changed.new_quantity - changed.old_quantity == 5
    assert changed.amount_change == Decimal("1.25")
    assert_totals_add_up(diff)


def test_an_order_added_to_and_one_gone_from_the_period(customer_a, orders, staff):
    generate(customer_a)
    gone = orders[0]
    gone.close_date = dt.datetime(2025, 2, 3, tzinfo=dt.UTC)  # leaves January
    gone.save()
    new = order_with_lines(
        customer=customer_a,
        transaction_id="NEW-1",
        close_date=dt.datetime(2025, 1, 20, tzinfo=dt.UTC),
        lines={"X": 4},
    )
    after = generate(customer_a)

    diff = report_diff(actor=staff, report_id=after.id)

    by_order = defaultdict(set)
    for line in diff.lines():
        by_order[line.transaction_id].add((line.service_name, line.change, line.cause))
    assert dict(by_order) == {
        gone.transaction_id: {
            ("Order fee", "removed", "order_gone"),
            ("Pick", "removed", "order_gone"),
            ("Export fee", "removed", "order_gone"),
        },
        new.transaction_id: {("Order fee", "added", "order_new"), ("Pick", "added", "order_new")},
    }
    assert diff.counts == {**dict.fromkeys(CAUSES, 0), "order_gone": 3, "order_new": 2}
    assert_totals_add_up(diff)


def test_lines_are_paged_by_order_then_service(customer_a, card, orders, staff):
    before = generate(customer_a)
    for line in card.values():
        line.unit_price += Decimal("0.01")
        line.save()
    after = generate(customer_a)
    diff = report_diff(actor=staff, report_id=after.id, against_id=before.id)

    every = diff.lines(limit=None)
    pages = [diff.lines(offset=offset, limit=3) for offset in range(0, len(every), 3)]

    assert [line for page in pages for line in page] == every
    assert diff.lines(offset=2, limit=None) == every[2:]
    assert [(line.order_id, line.service_id) for line in every] == sorted((ln.order_id, ln.service_id) for ln in every)
    assert len(every) == ReportLine.objects.filter(report=after).count()


def test_reports_of_two_customers_cannot_be_compared(customer_a, customer_b, orders, staff):
    mine = generate(customer_a)
    CustomerServiceFactory(customer=customer_b, service=ServiceFactory(name="B fee"), unit_price=Decimal(1))
    make_orders(customer_b, 1)
    theirs = generate(customer_b)

    with pytest.raises(ValidationFailed) as raised:
        report_diff(actor=staff, report_id=mine.id, against_id=theirs.id)
    assert set(raised.value.fields) == {"against"}


def test_without_against_a_report_that_superseded_none_is_refused(customer_a, orders, staff):
    report = generate(customer_a)

    with pytest.raises(ValidationFailed) as raised:
        report_diff(actor=staff, report_id=report.id)
    assert "against" in raised.value.fields


def test_a_report_the_actor_may_not_see_is_not_found(customer_a, orders, member_a):
    other = CustomerFactory()
    CustomerServiceFactory(customer=other, service=ServiceFactory(name="Other fee"), unit_price=Decimal(1))
    make_orders(other, 1)
    hidden = generate(other)
    mine = generate(customer_a)

    with pytest.raises(NotFound):
        report_diff(actor=member_a, report_id=mine.id, against_id=hidden.id)
    with pytest.raises(NotFound):
        report_diff(actor=member_a, report_id=hidden.id, against_id=mine.id)
