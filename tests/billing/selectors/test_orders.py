"""Order selectors: scoping, billing-zone date ranges, filters, ordering, prefetch."""

import datetime as dt

import pytest
from django.contrib.auth.models import AnonymousUser
from django.db import connection
from django.test.utils import CaptureQueriesContext

from billing.errors import ValidationFailed
from billing.models import OrderStatus
from billing.selectors.orders import billable_orders, billing_period_bounds, order_list, orders_visible_to
from tests.factories import CustomerFactory, MembershipFactory, OrderFactory, UserFactory, order_with_lines, staff_user

pytestmark = pytest.mark.django_db


def utc(*args):
    return dt.datetime(*args, tzinfo=dt.UTC)


def pks(queryset):
    return [order.pk for order in queryset]


def test_period_bounds_are_local_midnights_in_utc(settings):
    settings.BILLING_TIME_ZONE = "America/New_York"
    assert billing_period_bounds(dt.date(2025, 1, 1), dt.date(2025, 1, 31)) == (
        utc(2025, 1, 1, 5),
        utc(2025, 2, 1, 5),
    )
    # DST starts 2025-03-09 and ends 2025-11-02 in New York.
    assert billing_period_bounds(dt.date(2025, 3, 9), dt.date(2025, 3, 9)) == (utc(2025, 3, 9, 5), utc(2025, 3, 10, 4))
    assert billing_period_bounds(dt.date(2025, 11, 2), dt.date(2025, 11, 2)) == (
        utc(2025, 11, 2, 4),
        utc(2025, 11, 3, 5),
    )
    assert billing_period_bounds(None, dt.date(2025, 1, 31)) == (None, utc(2025, 2, 1, 5))


def test_billable_orders_window(settings):
    settings.BILLING_TIME_ZONE = "America/New_York"
    customer = CustomerFactory()
    inside = OrderFactory(customer=customer, close_date=utc(2025, 2, 1, 4, 30))  # Jan 31 23:30 local
    OrderFactory(customer=customer, close_date=utc(2025, 2, 1, 5, 30))  # Feb 1 00:30 local
    OrderFactory(customer=customer, close_date=utc(2025, 1, 15), status=OrderStatus.CANCELLED)
    OrderFactory(close_date=utc(2025, 1, 15))  # another customer
    assert pks(
        billable_orders(customer_id=customer.pk, start_date=dt.date(2025, 1, 1), end_date=dt.date(2025, 1, 31))
    ) == [inside.pk]


def test_orders_visible_to_each_actor():
    mine, theirs = CustomerFactory(), CustomerFactory()
    my_order, their_order = OrderFactory(customer=mine), OrderFactory(customer=theirs)
    member = UserFactory()
    MembershipFactory(user=member, customer=mine)

    assert pks(orders_visible_to(member)) == [my_order.pk]
    assert set(pks(orders_visible_to(staff_user(generate=False)))) == {my_order.pk, their_order.pk}
    for nobody in (AnonymousUser(), UserFactory(), None):
        assert pks(orders_visible_to(nobody)) == []
    assert pks(order_list(actor=member, customer_id=theirs.pk)) == []


def test_close_date_filters_use_billing_zone_dates_inclusive(settings):
    settings.BILLING_TIME_ZONE = "America/New_York"
    customer = CustomerFactory()
    jan_31_late = OrderFactory(customer=customer, close_date=utc(2025, 2, 1, 4, 30))
    feb_1_early = OrderFactory(customer=customer, close_date=utc(2025, 2, 1, 5, 30))
    jan_1_early = OrderFactory(customer=customer, close_date=utc(2025, 1, 1, 5, 0))
    staff = staff_user()

    jan_31 = dt.date(2025, 1, 31)
    assert pks(order_list(actor=staff, close_date_from=jan_31, close_date_to=jan_31)) == [jan_31_late.pk]
    assert pks(order_list(actor=staff, close_date_from=dt.date(2025, 2, 1))) == [feb_1_early.pk]
    assert pks(order_list(actor=staff, close_date_to=jan_31)) == [jan_1_early.pk, jan_31_late.pk]


def test_status_and_reference_filters():
    customer = CustomerFactory()
    shipped = OrderFactory(customer=customer, status=OrderStatus.SHIPPED, reference_number="PO-ABC-7")
    OrderFactory(customer=customer, status=OrderStatus.CANCELLED, reference_number="PO-XYZ")
    exact_tx = OrderFactory(customer=customer, transaction_id="abc", reference_number="other")
    staff = staff_user()

    assert pks(order_list(actor=staff, status="shipped")) == [shipped.pk]
    assert pks(order_list(actor=staff, status=" SHIPPED ")) == [shipped.pk]  # trimmed, case-insensitive
    assert pks(order_list(actor=staff, status="lost")) == []  # statuses are free text
    assert set(pks(order_list(actor=staff, reference=" abc "))) == {shipped.pk, exact_tx.pk}
    assert pks(order_list(actor=staff, reference="po-abc")) == [shipped.pk]
    assert pks(order_list(actor=staff, reference="ab")) == [shipped.pk]  # transaction_id matches exactly only
    with pytest.raises(ValidationFailed) as caught:
        order_list(actor=staff, status="lost", order_by="ship_to_name")
    assert set(caught.value.fields) == {"order_by"}


def test_ordering_default_and_whitelisted():
    customer = CustomerFactory()
    late = OrderFactory(customer=customer, close_date=utc(2025, 1, 20), transaction_id="A-2")
    early = OrderFactory(customer=customer, close_date=utc(2025, 1, 10), transaction_id="B-1")
    staff = staff_user()
    assert pks(order_list(actor=staff)) == [early.pk, late.pk]
    assert pks(order_list(actor=staff, order_by="-close_date")) == [late.pk, early.pk]
    assert pks(order_list(actor=staff, order_by="transaction_id")) == [late.pk, early.pk]


def test_lines_are_prefetched_in_constant_queries():
    customer = CustomerFactory()
    staff = staff_user()
    staff.has_perm("billing.view_billingreport")  # warm the permission cache

    def queries(n):
        for i in range(n):
            order_with_lines(customer=customer, lines={f"S{i}A": 1, f"S{i}B": 2})
        with CaptureQueriesContext(connection) as captured:
            orders = list(order_list(actor=staff, customer_id=customer.pk))
            skus = [[line.sku for line in order.lines.all()] for order in orders]
            names = [order.customer.company_name for order in orders]
        assert all(len(order_skus) == 2 for order_skus in skus)
        assert len(names) == len(orders)
        return len(captured.captured_queries)

    assert queries(2) == queries(8) == 2
