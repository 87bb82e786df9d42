"""Per-day and per-month totals of a report, written with it: what the analytics selectors read.

A report's orders are split by the calendar day they closed on, read in the report's billing
time zone (the same reading that put them in the report's period). Small tables hold the
result: ReportDay (amount, billed and unbilled orders, lines per day), ReportDayService (the
same per service), and their sums per calendar month, ReportMonth and ReportMonthService.
Their sums are the report's totals and its ReportServiceTotal rows, so analytics never read
the (large) line table.
"""

from __future__ import annotations

import datetime as dt
from collections import defaultdict
from collections.abc import Iterable
from decimal import Decimal
from typing import Any, NamedTuple
from zoneinfo import ZoneInfo

from django.apps import apps as global_apps
from django.db import connection
from django.db.models import Count, DateField, Q, Sum, Value
from django.db.models.functions import Coalesce, TruncDate

ZERO = Decimal("0")


class DayTotals(NamedTuple):
    """A report's sums for one day, as generation keeps them: per service, the service's name,
    amount, quantity and orders (its lines: an order has at most one charge per service)."""

    day: dt.date
    amount: Decimal
    billed_orders: int
    unbilled_orders: int
    lines: int
    services: dict[int, tuple[str, Decimal, Decimal, int]]


ROLLUP_COLUMNS = ("report_id", "day", "service_id", "service_name", "amount", "quantity", "order_count", "line_count")


def report_days_write(*, report_id: Any, time_zone: str, end_date: dt.date, apps: Any = global_apps) -> None:
    """Write the report's per-day and per-month rows, with and without service (6 statements),
    from its stored orders and lines: the backfill of reports written before these tables.
    Generation writes the same rows from the sums it keeps while pricing (report_days_store).

    ``apps`` is the model registry: the live one, or a migration's historical one (the backfill
    uses this same function). An order without a close date (none is billable today) counts on
    the report's end date.
    """
    report_order = apps.get_model("billing", "ReportOrder")
    report_line = apps.get_model("billing", "ReportLine")
    report_day = apps.get_model("billing", "ReportDay")
    report_day_service = apps.get_model("billing", "ReportDayService")
    day = Coalesce(TruncDate("close_date", tzinfo=ZoneInfo(time_zone or "UTC")), Value(end_date, DateField()))

    _insert_service_days(report_order, report_line, report_day_service, report_id, day)
    service_days = report_day_service.objects.filter(report_id=report_id).values_list(
        "day", "service_id", "service_name", "amount", "quantity", "order_count", "line_count"
    )
    lines_per_day: dict[dt.date, int] = defaultdict(int)
    service_months: dict[tuple[dt.date, int], list[Any]] = {}
    for service_day, service_id, name, amount, quantity, orders, lines in service_days:
        lines_per_day[service_day] += lines
        sums = service_months.setdefault((service_day.replace(day=1), service_id), [name, ZERO, ZERO, 0, 0])
        sums[1] += amount
        sums[2] += quantity
        sums[3] += orders
        sums[4] += lines
    days = (
        report_order.objects.filter(report_id=report_id)
        .annotate(day=day)
        .values("day")
        .annotate(
            amount=Sum("total_amount"),
            billed=Count("id", filter=Q(is_billed=True)),
            unbilled=Count("id", filter=Q(is_billed=False)),
        )
        .order_by("day")
    )
    day_rows = [
        report_day(
            report_id=report_id,
            day=row["day"],
            amount=row["amount"],
            order_count=row["billed"],
            unbilled_order_count=row["unbilled"],
            line_count=lines_per_day.get(row["day"], 0),
        )
        for row in days
    ]
    report_day.objects.bulk_create(day_rows)
    _write_months(apps, report_id, day_rows, service_months)


def report_days_store(*, report_id: Any, days: Iterable[DayTotals]) -> None:
    """Write the report's per-day and per-month rows, with and without service, from the sums
    generation kept while it priced the orders (4 statements, none of which reads the lines).
    The rows are those report_days_write computes from the stored lines."""
    report_day_service = global_apps.get_model("billing", "ReportDayService")
    report_day = global_apps.get_model("billing", "ReportDay")
    day_rows = []
    service_rows = []
    service_months: dict[tuple[dt.date, int], list[Any]] = {}
    for day, amount, billed, unbilled, lines, services in days:
        day_rows.append(
            report_day(
                report_id=report_id,
                day=day,
                amount=amount,
                order_count=billed,
                unbilled_order_count=unbilled,
                line_count=lines,
            )
        )
        for service_id, (name, service_amount, quantity, orders) in services.items():
            # a service's orders are its lines: an order has one charge per service
            service_rows.append(
                report_day_service(
                    report_id=report_id,
                    day=day,
                    service_id=service_id,
                    service_name=name,
                    amount=service_amount,
                    quantity=quantity,
                    order_count=orders,
                    line_count=orders,
                )
            )
            sums = service_months.setdefault((day.replace(day=1), service_id), [name, ZERO, ZERO, 0, 0])
            sums[1] += service_amount
            sums[2] += quantity
            sums[3] += orders
            sums[4] += orders
    report_day_service.objects.bulk_create(service_rows)
    report_day.objects.bulk_create(day_rows)
    _write_months(global_apps, report_id, day_rows, service_months)


def _write_months(apps: Any, report_id: Any, day_rows: list[Any], service_months: dict[tuple, list[Any]]) -> None:
    """The per-month rows: the sums of the day rows, and the per-month sums of the services."""
    months: dict[dt.date, list[Any]] = {}
    for row in day_rows:
        sums = months.setdefault(row.day.replace(day=1), [ZERO, 0, 0, 0])
        sums[0] += row.amount
        sums[1] += row.order_count
        sums[2] += row.unbilled_order_count
        sums[3] += row.line_count
    apps.get_model("billing", "ReportMonth").objects.bulk_create(
        apps.get_model("billing", "ReportMonth")(
            report_id=report_id,
            month=month,
            amount=amount,
            order_count=billed,
            unbilled_order_count=unbilled,
            line_count=lines,
        )
        for month, (amount, billed, unbilled, lines) in months.items()
    )
    apps.get_model("billing", "ReportMonthService").objects.bulk_create(
        apps.get_model("billing", "ReportMonthService")(
            report_id=report_id,
            month=month,
            service_id=service_id,
            service_name=name,
            amount=amount,
            quantity=quantity,
            order_count=orders,
            line_count=lines,
        )
        for (month, service_id), (name, amount, quantity, orders, lines) in service_months.items()
    )


def _insert_service_days(report_order, report_line, report_day_service, report_id, day) -> None:
    """One INSERT ... SELECT over the report's lines joined to their orders, by day and service.

    ReportLine has no relation to ReportOrder for the ORM to join, so the join is written out;
    the day expression is compiled by the ORM, so the time-zone conversion is the database's
    own (as in every date filter of the project) on PostgreSQL and SQLite alike. An order has
    at most one charge per service (one rate-card line per customer and service), so a
    service's orders are its lines: COUNT(*), which lets the database hash the groups instead
    of sorting half a million lines for a COUNT(DISTINCT). GROUP BY names
    the columns by position: PostgreSQL would not match a repeated day expression whose time
    zone is a separate bound parameter.

    On PostgreSQL the join is kept from being a nested loop. The report's rows were written in
    this transaction, so no ANALYZE has seen them: the statistics describe the tables as the last
    ANALYZE found them (empty, or holding one other report), the planner estimates a row or two
    for this report, and a nested loop over half a million lines then takes minutes. A hash join
    of the report's lines and orders is the right plan at every size.
    """
    quote = connection.ops.quote_name
    orders = report_order.objects.filter(report_id=report_id)
    query = orders.query
    compiler = query.get_compiler(connection=connection)
    day_sql, day_params = compiler.compile(day.resolve_expression(query))
    order_table = quote(report_order._meta.db_table)
    line_table = quote(report_line._meta.db_table)
    columns = ", ".join(quote(name) for name in ROLLUP_COLUMNS)
    key = report_line._meta.get_field("report").target_field.get_db_prep_value(report_id, connection)
    sql = (
        f"INSERT INTO {quote(report_day_service._meta.db_table)} ({columns}) "  # noqa: S608 - quoted model tables
        f"SELECT {line_table}.report_id, {day_sql}, {line_table}.service_id, MAX({line_table}.service_name), "
        f"SUM({line_table}.amount), SUM({line_table}.quantity), COUNT(*), COUNT(*) "
        f"FROM {line_table} JOIN {order_table} ON {order_table}.report_id = {line_table}.report_id "
        f"AND {order_table}.order_id = {line_table}.order_id "
        f"WHERE {line_table}.report_id = %s GROUP BY 1, 2, 3"
    )
    with connection.cursor() as cursor:
        if connection.vendor == "postgresql":
            cursor.execute("SET LOCAL enable_nestloop = off")
        cursor.execute(sql, [*day_params, key])
        if connection.vendor == "postgresql":
            cursor.execute("SET LOCAL enable_nestloop = on")
