"""A report's per-day rollup: generation's sums are those of its lines, and the backfill that
reads them back from the lines is never planned as a nested loop, whatever the statistics say.

Generation keeps the per-day sums while it prices (billing.services.analytics.report_days_store);
the backfill of older reports (report_days_write) joins a report's lines to its orders. Under
statistics that an ANALYZE took while the tables held one other report, the planner estimates a
row or two for the report and, left alone, joins half a million lines by a nested loop (minutes;
benchmarks/generate_report.py measured 130 s for 10,000 orders when generation ran that join).
The plan the database chooses for the statement as it is run is checked.
"""

from __future__ import annotations

from collections import defaultdict
from decimal import Decimal

import pytest
from django.db import connection

from billing.models import ReportDay, ReportDayService, ReportLine, ReportMonth, ReportMonthService, ReportOrder
from billing.periods import billing_time_zone
from billing.services.analytics import report_days_write
from billing.services.reports import report_generate
from tests.factories import JANUARY, CustomerServiceFactory, make_orders, staff_user

pytestmark = pytest.mark.django_db


def test_generated_days_are_the_sums_of_the_lines_and_orders():
    line = CustomerServiceFactory(unit_price="1.2500")
    make_orders(line.customer, 30, day=15)
    make_orders(line.customer, 20, day=20, prefix="LATER")
    report = report_generate(
        actor=staff_user(), customer_id=line.customer_id, start_date=JANUARY[0], end_date=JANUARY[1]
    )
    zone = billing_time_zone()
    day_of = {
        order_id: close_date.astimezone(zone).date()
        for order_id, close_date in ReportOrder.objects.filter(report=report).values_list("order_id", "close_date")
    }
    amounts: dict = defaultdict(Decimal)
    lines: dict = defaultdict(int)
    for order_id, amount in ReportLine.objects.filter(report=report).values_list("order_id", "amount"):
        amounts[day_of[order_id]] += amount
        lines[day_of[order_id]] += 1
    days = {
        day: (amount, count)
        for day, amount, count in ReportDay.objects.filter(report=report).values_list("day", "amount", "line_count")
    }
    assert len(days) > 1
    assert days == {day: (amounts[day], lines[day]) for day in amounts}
    services = ReportDayService.objects.filter(report=report).values_list("day", "amount", "order_count", "line_count")
    assert {day: (amount, orders) for day, amount, orders, _ in services} == {
        day: (amounts[day], lines[day]) for day in amounts
    }


@pytest.mark.skipif(connection.vendor != "postgresql", reason="the planner and its statistics are PostgreSQL's")
def test_backfill_is_no_nested_loop_under_statistics_of_one_earlier_report():
    line = CustomerServiceFactory(unit_price="1.0000")
    make_orders(line.customer, 60)
    actor = staff_user()
    report_generate(actor=actor, customer_id=line.customer_id, start_date=JANUARY[0], end_date=JANUARY[1])
    with connection.cursor() as cursor:
        cursor.execute("ANALYZE billing_reportline")
        cursor.execute("ANALYZE billing_reportorder")
    report = report_generate(actor=actor, customer_id=line.customer_id, start_date=JANUARY[0], end_date=JANUARY[1])
    generated = list(ReportDayService.objects.filter(report=report).values_list("day", "service_id", "amount"))
    for model in (ReportDay, ReportDayService, ReportMonth, ReportMonthService):
        model.objects.filter(report=report).delete()

    plans: list[str] = []
    rollup = f'INSERT INTO "{ReportDayService._meta.db_table}"'

    def explain_rollup(execute, sql, params, many, context):
        if sql.startswith(rollup) and "SELECT" in sql:
            context["cursor"].execute(f"EXPLAIN {sql}", params)
            plans.append("\n".join(row[0] for row in context["cursor"].fetchall()))
        return execute(sql, params, many, context)

    with connection.execute_wrapper(explain_rollup):
        report_days_write(report_id=report.pk, time_zone=report.billing_time_zone, end_date=report.end_date)

    assert len(plans) == 1
    # a hash join, or a merge join of the two (report, order) indexes: linear either way
    assert "Nested Loop" not in plans[0], plans[0]
    assert list(ReportDayService.objects.filter(report=report).values_list("day", "service_id", "amount")) == generated
