"""Report selectors: scoping, filters, ordering, parsing, detail and streaming reads."""

import datetime as dt
import uuid
from decimal import Decimal

import pytest
from django.contrib.auth.models import AnonymousUser
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from billing.errors import NotFound, ValidationFailed
from billing.models import BillingReport, ChargeType, ReportStatus
from billing.periods import DATE_OUT_OF_RANGE, LATEST_DATE
from billing.selectors.reports import (
    REPORT_LINE_VALUES,
    REPORT_ORDERING_FIELDS,
    iter_report_values,
    parse_report_filters,
    report_detail,
    report_get,
    report_lines_by_order,
    report_list,
    report_orders,
    report_service_totals,
    reports_visible_to,
)
from billing.services.reports import report_generate
from tests.factories import (
    CustomerFactory,
    CustomerServiceFactory,
    MembershipFactory,
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


def utc(*args):
    return dt.datetime(*args, tzinfo=dt.UTC)


def make_report(customer, start=JAN_1, end=JAN_31, total="10.00", created_at=None, status=ReportStatus.DRAFT):
    report = BillingReport.objects.create(
        customer=customer,
        start_date=start,
        end_date=end,
        total_amount=Decimal(total),
        status=status,
        generated_at=timezone.now(),
    )
    if created_at is not None:
        BillingReport.objects.filter(pk=report.pk).update(created_at=created_at)
        report.refresh_from_db()
    return report


def ids(queryset):
    return [report.pk for report in queryset]


@pytest.fixture
def staff():
    return staff_user()


# --- scoping ----------------------------------------------------------------------------


def test_visibility_by_actor(staff):
    mine, theirs = CustomerFactory(), CustomerFactory()
    my_report, their_report = make_report(mine), make_report(theirs)
    member = UserFactory()
    MembershipFactory(user=member, customer=mine)

    assert set(ids(reports_visible_to(staff))) == {my_report.pk, their_report.pk}
    assert ids(reports_visible_to(member)) == [my_report.pk]
    assert ids(report_list(actor=member)) == [my_report.pk]
    assert ids(report_list(actor=member, customer_id=theirs.pk)) == []
    for nobody in (AnonymousUser(), UserFactory(), UserFactory(is_staff=True), None):
        assert ids(reports_visible_to(nobody)) == []


def test_superuser_sees_everything():
    report = make_report(CustomerFactory())
    admin = UserFactory(is_superuser=True)
    assert ids(report_list(actor=admin)) == [report.pk]


# --- filters ----------------------------------------------------------------------------


def test_filter_by_customer_and_unknown_customer_is_refused_for_staff(staff):
    a, b = CustomerFactory(), CustomerFactory()
    report_a = make_report(a)
    make_report(b)
    assert ids(report_list(actor=staff, customer_id=a.pk)) == [report_a.pk]
    with pytest.raises(ValidationFailed) as caught:
        report_list(actor=staff, customer_id=987654)
    assert caught.value.fields == {"customer_id": ["No customer with id 987654."]}


def test_period_filters_are_inclusive(staff):
    customer = CustomerFactory()
    january = make_report(customer, JAN_1, JAN_31)
    mid = make_report(customer, dt.date(2025, 1, 15), dt.date(2025, 2, 14))
    february = make_report(customer, dt.date(2025, 2, 1), dt.date(2025, 2, 28))

    assert set(ids(report_list(actor=staff, start_date=dt.date(2025, 1, 15)))) == {mid.pk, february.pk}
    assert set(ids(report_list(actor=staff, end_date=JAN_31))) == {january.pk}
    assert set(ids(report_list(actor=staff, start_date=JAN_1, end_date=dt.date(2025, 2, 14)))) == {january.pk, mid.pk}


def test_created_filters_with_dates_include_whole_days(staff):
    customer = CustomerFactory()
    early = make_report(customer, created_at=utc(2025, 3, 1, 0, 0))
    late = make_report(customer, dt.date(2025, 2, 1), dt.date(2025, 2, 28), created_at=utc(2025, 3, 1, 23, 59, 59))
    next_day = make_report(customer, dt.date(2025, 3, 1), dt.date(2025, 3, 31), created_at=utc(2025, 3, 2, 0, 0))
    before = make_report(customer, dt.date(2024, 12, 1), dt.date(2024, 12, 31), created_at=utc(2025, 2, 28, 23, 59))

    day = dt.date(2025, 3, 1)
    assert set(ids(report_list(actor=staff, created_after=day))) == {early.pk, late.pk, next_day.pk}
    assert set(ids(report_list(actor=staff, created_before=day))) == {early.pk, late.pk, before.pk}
    assert set(ids(report_list(actor=staff, created_after=day, created_before=day))) == {early.pk, late.pk}


def test_created_filters_with_datetimes(staff):
    customer = CustomerFactory()
    at_noon = make_report(customer, created_at=utc(2025, 3, 1, 12, 0))
    assert ids(report_list(actor=staff, created_after=utc(2025, 3, 1, 12, 0))) == [at_noon.pk]  # >=
    assert ids(report_list(actor=staff, created_after=utc(2025, 3, 1, 12, 0, 1))) == []
    assert ids(report_list(actor=staff, created_before=utc(2025, 3, 1, 12, 0))) == []  # <
    assert ids(report_list(actor=staff, created_before=utc(2025, 3, 1, 12, 0, 1))) == [at_noon.pk]
    # 08:00 in New York is 13:00 UTC
    new_york = dt.timezone(dt.timedelta(hours=-5))
    assert ids(report_list(actor=staff, created_before=dt.datetime(2025, 3, 1, 8, 0, tzinfo=new_york))) == [at_noon.pk]


def test_include_superseded(staff):
    customer = CustomerFactory()
    old = make_report(customer, status=ReportStatus.SUPERSEDED)
    current = make_report(customer)
    assert set(ids(report_list(actor=staff))) == {old.pk, current.pk}
    assert ids(report_list(actor=staff, include_superseded=False)) == [current.pk]


# --- ordering ---------------------------------------------------------------------------


def test_default_ordering_is_newest_first_with_id_tie_breaker(staff):
    customer = CustomerFactory()
    same_time = utc(2025, 3, 1, 12)
    older = make_report(customer, dt.date(2025, 1, 1), dt.date(2025, 1, 2), created_at=utc(2025, 2, 1))
    tied = [
        make_report(customer, dt.date(2025, 1, day), dt.date(2025, 1, day), created_at=same_time) for day in (3, 4, 5)
    ]
    expected = [r.pk for r in sorted(tied, key=lambda r: r.pk, reverse=True)] + [older.pk]
    assert ids(report_list(actor=staff)) == expected


@pytest.mark.parametrize("name", sorted(REPORT_ORDERING_FIELDS))
def test_every_whitelisted_ordering(staff, name):
    rows = [
        (CustomerFactory(company_name="Beta"), dt.date(2025, 2, 1), dt.date(2025, 2, 28), "30.00", utc(2025, 3, 3)),
        (CustomerFactory(company_name="Alpha"), dt.date(2025, 3, 1), dt.date(2025, 3, 31), "10.00", utc(2025, 3, 1)),
        (CustomerFactory(company_name="Gamma"), dt.date(2025, 1, 1), dt.date(2025, 1, 31), "20.00", utc(2025, 3, 2)),
    ]
    reports = [make_report(c, s, e, t, created_at=at) for c, s, e, t, at in rows]

    def key(report):
        value = {
            "customer_name": report.customer.company_name,
            "id": report.pk,
        }.get(name)
        return (value if value is not None else getattr(report, name), report.pk)

    assert ids(report_list(actor=staff, order_by=name)) == [r.pk for r in sorted(reports, key=key)]
    assert ids(report_list(actor=staff, order_by=f"-{name}")) == [r.pk for r in sorted(reports, key=key, reverse=True)]


@pytest.mark.parametrize("bad", ["customer__email", "password", "-", "total_amount; drop", "created_by__password"])
def test_ordering_outside_the_whitelist_is_refused(staff, bad):
    with pytest.raises(ValidationFailed) as caught:
        report_list(actor=staff, order_by=bad)
    (message,) = caught.value.fields["order_by"]
    for allowed in REPORT_ORDERING_FIELDS:
        assert allowed in message


# --- parsing query parameters -----------------------------------------------------------


def test_parse_report_filters_valid_values():
    parsed = parse_report_filters(
        {
            "customer_id": "12",
            "start_date": "2025-01-01",
            "end_date": "2025-01-31",
            "created_after": "2025-03-01",
            "created_before": "2025-03-05T10:30:00+02:00",
            "order_by": "-total_amount",
            "unrelated": "ignored",
        }
    )
    assert parsed == {
        "customer_id": 12,
        "start_date": JAN_1,
        "end_date": JAN_31,
        "created_after": dt.date(2025, 3, 1),
        "created_before": dt.datetime(2025, 3, 5, 8, 30, tzinfo=dt.UTC),
        "order_by": "-total_amount",
    }
    assert parsed["created_before"].utcoffset() == dt.timedelta(hours=2)


def test_parse_report_filters_ignores_empty_values_and_reads_naive_datetimes_as_utc():
    assert parse_report_filters({"customer_id": "", "start_date": "", "order_by": ""}) == {}
    parsed = parse_report_filters({"created_after": "2025-03-05T10:30:00", "created_before": "2025-03-05 10:30:00Z"})
    assert parsed["created_after"] == dt.datetime(2025, 3, 5, 10, 30, tzinfo=dt.UTC)
    assert parsed["created_before"] == dt.datetime(2025, 3, 5, 10, 30, tzinfo=dt.UTC)


def test_parse_report_filters_reports_every_bad_field_at_once():
    with pytest.raises(ValidationFailed) as caught:
        parse_report_filters(
            {
                "customer_id": "abc",
                "start_date": "2025-02-30",
                "end_date": "01/31/2025",
                "created_after": "yesterday",
                "created_before": "2025-13-01T00:00:00Z",
                "order_by": "secret",
            }
        )
    fields = caught.value.fields
    assert set(fields) == {"customer_id", "start_date", "end_date", "created_after", "created_before", "order_by"}
    assert all(isinstance(messages, list) and messages for messages in fields.values())


def test_parsed_filters_feed_report_list(staff):
    customer = CustomerFactory()
    report = make_report(customer, created_at=utc(2025, 3, 1, 9))
    make_report(CustomerFactory())
    params = {"customer_id": str(customer.pk), "created_after": "2025-03-01", "order_by": "start_date"}
    assert ids(report_list(actor=staff, **parse_report_filters(params))) == [report.pk]


# --- single report ----------------------------------------------------------------------


def test_report_get_never_reveals_existence():
    mine, theirs = CustomerFactory(), CustomerFactory()
    my_report, their_report = make_report(mine), make_report(theirs)
    member = UserFactory()
    MembershipFactory(user=member, customer=mine)

    assert report_get(actor=member, report_id=str(my_report.pk)) == my_report
    assert report_get(actor=member, report_id=my_report.pk) == my_report
    for report_id in (their_report.pk, str(uuid.uuid4()), "not-a-uuid", "", None, 42):
        with pytest.raises(NotFound) as caught:
            report_get(actor=member, report_id=report_id)
        assert caught.value.message == "Billing report not found."
    with pytest.raises(NotFound):
        report_get(actor=AnonymousUser(), report_id=my_report.pk)


@pytest.fixture
def generated():
    """A generated report: 3 billed orders (2 lines each, surcharge on one) and 1 unbilled order."""
    customer = CustomerFactory()
    fee = CustomerServiceFactory(customer=customer, service=ServiceFactory(name="Fee"), unit_price=Decimal("1.0000"))
    RuleFactory(rule_group=RuleGroupFactory(customer_service=fee), field="ship_to_country", operator="ne", value="MX")
    pick = CustomerServiceFactory(
        customer=customer,
        service=ServiceFactory(name="Pick", charge_type=ChargeType.PER_UNIT),
        unit_price=Decimal("0.5000"),
    )
    RuleFactory(rule_group=RuleGroupFactory(customer_service=pick), field="ship_to_country", operator="ne", value="MX")
    orders = [
        order_with_lines(customer=customer, lines={"A1": day}, close_date=utc(2025, 1, day, 12)) for day in (3, 1, 2)
    ]
    unbilled = order_with_lines(customer=customer, lines={"A1": 1}, ship_to_country="MX", close_date=utc(2025, 1, 4))
    report = report_generate(actor=None, customer_id=customer.pk, start_date=JAN_1, end_date=JAN_31)
    return report, sorted(orders, key=lambda o: o.close_date), unbilled


def test_report_orders_and_lines(generated):
    report, orders, unbilled = generated

    billed = list(report_orders(report=report))
    assert [o.order_id for o in billed] == [o.pk for o in orders]  # generation order
    assert [o.order_id for o in report_orders(report=report, billed=False)] == [unbilled.pk]
    assert len(report_orders(report=report, billed=None)) == 4

    with CaptureQueriesContext(connection) as captured:
        grouped = report_lines_by_order(report=report, order_ids=[o.pk for o in orders] + [unbilled.pk])
    assert len(captured.captured_queries) == 1
    assert grouped[unbilled.pk] == []
    assert [line.service_name for line in grouped[orders[0].pk]] == ["Fee", "Pick"]
    assert report_lines_by_order(report=report, order_ids=[]) == {}

    totals = list(report_service_totals(report=report))
    assert [(t.service_name, t.amount, t.order_count) for t in totals] == [
        ("Fee", Decimal("3.00"), 3),
        ("Pick", Decimal("3.00"), 3),
    ]


def test_report_detail_loads_everything_in_constant_queries(generated, staff):
    report, orders, unbilled = generated
    staff.has_perm("billing.view_billingreport")  # warm the permission cache

    with CaptureQueriesContext(connection) as captured:
        detail = report_detail(actor=staff, report_id=report.pk)
    assert len(captured.captured_queries) == 5  # report, totals, orders, lines, not-closed orders
    assert detail.report == report
    assert detail.report.customer.company_name  # select_related
    assert [t.service_name for t in detail.service_totals] == ["Fee", "Pick"]
    assert [o.order_id for o, _ in detail.orders] == [o.pk for o in orders] + [unbilled.pk]
    lines_by_order = {o.order_id: lines for o, lines in detail.orders}
    assert lines_by_order[unbilled.pk] == []
    assert [(line.service_name, line.amount) for line in lines_by_order[orders[2].pk]] == [
        ("Fee", Decimal("1.00")),
        ("Pick", Decimal("1.50")),
    ]
    assert sum(line.amount for _, lines in detail.orders for line in lines) == report.total_amount

    billed_only = report_detail(actor=staff, report_id=report.pk, billed=True)
    assert [o.order_id for o, _ in billed_only.orders] == [o.pk for o in orders]


def test_report_detail_is_scoped(generated):
    report, _, _ = generated
    outsider = UserFactory()
    MembershipFactory(user=outsider, customer=CustomerFactory())
    with pytest.raises(NotFound):
        report_detail(actor=outsider, report_id=report.pk)


def test_iter_report_values_streams_pairs_in_order(generated):
    report, orders, unbilled = generated
    expected = [(o.pk, name) for o in orders for name in ("Fee", "Pick")]
    fields = {name: i for i, name in enumerate(REPORT_LINE_VALUES)}

    for chunk_size in (1, 2, 5000):
        rows = [
            (line[fields["order_id"]], line[fields["service_name"]])
            for _, lines in iter_report_values(report=report, chunk_size=chunk_size)
            for line in lines
        ]
        assert rows == expected

    streamed = [line[fields["order_id"]] for _, lines in iter_report_values(report=report) for line in lines]
    assert unbilled.pk not in streamed  # unbilled orders are read with report_orders(billed=False)


def test_iter_report_values_queries_per_chunk_not_per_order(generated):
    report, _, _ = generated
    with CaptureQueriesContext(connection) as captured:
        rows = [line for _, lines in iter_report_values(report=report, chunk_size=2) for line in lines]
    assert len(rows) == 6
    assert len(captured.captured_queries) == 4  # 2 chunks x (orders + their lines)


@pytest.mark.parametrize("raw", ["0", "-4", str(2**63)])
def test_parse_report_filters_refuses_ids_no_database_can_hold(raw):
    with pytest.raises(ValidationFailed) as caught:
        parse_report_filters({"customer_id": raw})
    assert list(caught.value.fields) == ["customer_id"]


@pytest.mark.parametrize("raw", ["\x0c", " ", " 5", "5\n", "+5", "1_000", "\u0665", "9" * 5000])
def test_parse_report_filters_refuses_an_id_with_anything_but_digits(raw):
    """Whitespace is not trimmed into "no filter" or into a number, and int()'s extras are refused."""
    with pytest.raises(ValidationFailed) as caught:
        parse_report_filters({"customer_id": raw})
    assert caught.value.fields == {"customer_id": ["Enter a whole number."]}


@pytest.mark.parametrize("name", ["start_date", "created_after", "status", "order_by"])
def test_parse_report_filters_refuses_a_value_of_only_whitespace(name):
    with pytest.raises(ValidationFailed) as caught:
        parse_report_filters({name: "\x0c"})
    assert list(caught.value.fields) == [name]


def test_the_last_accepted_day_is_a_valid_created_before(staff):
    report = make_report(CustomerFactory())
    assert ids(report_list(actor=staff, created_before=LATEST_DATE)) == [report.pk]


@pytest.mark.parametrize("name", ["start_date", "end_date", "created_after", "created_before"])
@pytest.mark.parametrize("value", [dt.date.max, dt.date(1969, 12, 31), dt.datetime(9999, 12, 31, 23, 0, tzinfo=dt.UTC)])
def test_dates_outside_the_accepted_range_are_refused(staff, name, value):
    if name in ("start_date", "end_date") and isinstance(value, dt.datetime):
        value = value.date()
    with pytest.raises(ValidationFailed) as error:
        report_list(actor=staff, **{name: value})
    assert error.value.fields == {name: [DATE_OUT_OF_RANGE]}
