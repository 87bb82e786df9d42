"""A report's per-day rollup is never planned as a nested loop, whatever the statistics say.

The rollup joins the report's lines to its orders in the transaction that wrote them, before
any ANALYZE has seen them. Under statistics that an ANALYZE took while the tables held one
other report, the planner estimates a row or two for the new report and, left alone, joins
half a million lines by a nested loop (minutes; benchmarks/generate_report.py measured 130 s
for 10,000 orders). The plan the database chooses for the statement as it is run is checked.
"""

from __future__ import annotations

import pytest
from django.db import connection

from billing.models import ReportDayService
from billing.services.reports import report_generate
from tests.factories import JANUARY, CustomerServiceFactory, make_orders, staff_user

pytestmark = [
    pytest.mark.django_db,
    pytest.mark.skipif(connection.vendor != "postgresql", reason="the planner and its statistics are PostgreSQL's"),
]


def test_rollup_is_no_nested_loop_under_statistics_of_one_earlier_report():
    line = CustomerServiceFactory(unit_price="1.0000")
    make_orders(line.customer, 60)
    actor = staff_user()
    report_generate(actor=actor, customer_id=line.customer_id, start_date=JANUARY[0], end_date=JANUARY[1])
    with connection.cursor() as cursor:
        cursor.execute("ANALYZE billing_reportline")
        cursor.execute("ANALYZE billing_reportorder")

    plans: list[str] = []
    rollup = f'INSERT INTO "{ReportDayService._meta.db_table}"'

    def explain_rollup(execute, sql, params, many, context):
        if sql.startswith(rollup):
            context["cursor"].execute(f"EXPLAIN {sql}", params)
            plans.append("\n".join(row[0] for row in context["cursor"].fetchall()))
        return execute(sql, params, many, context)

    with connection.execute_wrapper(explain_rollup):
        report = report_generate(actor=actor, customer_id=line.customer_id, start_date=JANUARY[0], end_date=JANUARY[1])

    assert len(plans) == 1
    # a hash join, or a merge join of the two (report, order) indexes: linear either way
    assert "Nested Loop" not in plans[0], plans[0]
    assert ReportDayService.objects.filter(report=report).count() == 1
