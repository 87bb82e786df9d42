"""customer_summaries and customers_visible_to: current reports only, exact money, scoping."""

import datetime as dt
from decimal import Decimal

import pytest
from django.contrib.auth.models import AnonymousUser
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from billing.errors import ValidationFailed
from billing.models import BillingReport, ReportStatus
from billing.selectors.customers import customer_summaries, customers_visible_to
from billing.services.reports import report_generate
from tests.factories import (
    CustomerFactory,
    CustomerServiceFactory,
    MembershipFactory,
    UserFactory,
    order_with_lines,
    staff_user,
)

pytestmark = pytest.mark.django_db


def report(customer, start, end, total, status=ReportStatus.DRAFT):
    return BillingReport.objects.create(
        customer=customer,
        start_date=start,
        end_date=end,
        total_amount=Decimal(total),
        status=status,
        generated_at=timezone.now(),
    )


def by_id(rows):
    return {row.pk: row for row in rows}


def test_summary_counts_current_reports_only():
    customer = CustomerFactory()
    report(customer, dt.date(2025, 1, 1), dt.date(2025, 1, 31), "100.00", status=ReportStatus.SUPERSEDED)
    report(customer, dt.date(2025, 1, 1), dt.date(2025, 1, 31), "120.00")
    report(customer, dt.date(2025, 2, 1), dt.date(2025, 2, 28), "80.50")
    report(customer, dt.date(2024, 12, 1), dt.date(2024, 12, 31), "999.00", status=ReportStatus.SUPERSEDED)

    (row,) = customer_summaries(actor=staff_user())

    assert row.pk == customer.pk
    assert row.reports_count == 2
    assert row.total_billed == Decimal("200.50")
    assert row.first_billing_date == dt.date(2025, 1, 1)
    assert row.last_billing_date == dt.date(2025, 2, 28)
    assert row.average_bill_amount == Decimal("100.25")


def test_regenerating_does_not_double_count():
    customer = CustomerFactory()
    CustomerServiceFactory(customer=customer, unit_price=Decimal("2.0000"))
    order_with_lines(customer=customer, lines={"A1": 1})
    for _ in range(3):
        report_generate(
            actor=None, customer_id=customer.pk, start_date=dt.date(2025, 1, 1), end_date=dt.date(2025, 1, 31)
        )

    (row,) = customer_summaries(actor=staff_user(), customer_id=customer.pk)

    assert (row.reports_count, row.total_billed, row.average_bill_amount) == (1, Decimal("2.00"), Decimal("2.00"))


@pytest.mark.parametrize(
    ("totals", "average"),
    [
        (["0.01", "0.02"], "0.02"),  # 0.015 rounds half up
        (["2.67", "2.68"], "2.68"),  # 2.675
        (["1.00", "1.00", "1.01"], "1.00"),  # 1.00333...
        (["1.00", "1.01", "1.01"], "1.01"),  # 1.00666...
        (["0.10", "0.20", "0.30"], "0.20"),
        (["12345678.91", "0.00"], "6172839.46"),  # 6172839.455
    ],
)
def test_average_is_exact_and_rounds_half_up(totals, average):
    customer = CustomerFactory()
    for month, total in enumerate(totals, start=1):
        report(customer, dt.date(2025, month, 1), dt.date(2025, month, 20), total)

    (row,) = customer_summaries(actor=staff_user(), customer_id=customer.pk)

    assert row.average_bill_amount == Decimal(average)
    assert row.total_billed == sum(Decimal(t) for t in totals)


def test_customers_without_reports_are_listed_only_when_asked_for():
    billed = CustomerFactory(company_name="B billed")
    report(billed, dt.date(2025, 1, 1), dt.date(2025, 1, 31), "10.00")
    quiet = CustomerFactory(company_name="A quiet")
    only_superseded = CustomerFactory(company_name="C superseded")
    report(only_superseded, dt.date(2025, 1, 1), dt.date(2025, 1, 31), "10.00", status=ReportStatus.SUPERSEDED)
    staff = staff_user()

    assert [row.pk for row in customer_summaries(actor=staff)] == [billed.pk]

    (row,) = customer_summaries(actor=staff, customer_id=quiet.pk)
    assert (row.reports_count, row.total_billed, row.average_bill_amount) == (0, Decimal("0.00"), Decimal("0.00"))
    assert (row.first_billing_date, row.last_billing_date) == (None, None)
    with pytest.raises(ValidationFailed):  # staff are told the customer does not exist
        customer_summaries(actor=staff, customer_id=987654)


def test_summaries_are_ordered_by_company_name():
    names = ["Zeta", "alpha", "Mid"]
    for name in names:
        report(CustomerFactory(company_name=name), dt.date(2025, 1, 1), dt.date(2025, 1, 31), "1.00")
    listed = [row.company_name for row in customer_summaries(actor=staff_user())]
    assert sorted(listed) == sorted(names)
    assert listed == list(
        CustomerFactory._meta.model.objects.filter(company_name__in=names)
        .order_by("company_name", "id")
        .values_list("company_name", flat=True)
    )


def test_customer_user_sees_only_its_customers():
    mine = CustomerFactory()
    theirs = CustomerFactory()
    for customer in (mine, theirs):
        report(customer, dt.date(2025, 1, 1), dt.date(2025, 1, 31), "5.00")
    user = UserFactory()
    MembershipFactory(user=user, customer=mine)

    assert [row.pk for row in customer_summaries(actor=user)] == [mine.pk]
    assert list(customer_summaries(actor=user, customer_id=theirs.pk)) == []
    assert list(customers_visible_to(user)) == [mine]


def test_anonymous_and_unlinked_users_see_nothing():
    report(CustomerFactory(), dt.date(2025, 1, 1), dt.date(2025, 1, 31), "5.00")
    for actor in (AnonymousUser(), UserFactory(), None):
        assert list(customer_summaries(actor=actor)) == []
        assert list(customers_visible_to(actor)) == []


def test_staff_without_view_permission_sees_nothing_but_with_it_sees_all():
    customers = [CustomerFactory() for _ in range(2)]
    for customer in customers:
        report(customer, dt.date(2025, 1, 1), dt.date(2025, 1, 31), "5.00")
    assert list(customer_summaries(actor=UserFactory(is_staff=True))) == []
    assert {row.pk for row in customer_summaries(actor=staff_user(generate=False))} == {c.pk for c in customers}


def test_summaries_take_one_query_whatever_the_number_of_customers():
    staff = staff_user()
    staff.has_perm("billing.view_billingreport")  # warm the permission cache

    def queries(n):
        for _ in range(n):
            customer = CustomerFactory()
            report(customer, dt.date(2025, 1, 1), dt.date(2025, 1, 31), "5.00")
            report(customer, dt.date(2025, 2, 1), dt.date(2025, 2, 28), "7.00")
        with CaptureQueriesContext(connection) as captured:
            rows = list(customer_summaries(actor=staff))
        return len(captured.captured_queries), len(rows)

    assert queries(2) == (1, 2)
    assert queries(10) == (1, 12)
