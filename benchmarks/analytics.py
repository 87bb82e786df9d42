#!/usr/bin/env python
"""Benchmark of the GraphQL analytics: a year of monthly buckets over 1,000 reports and 10M lines.

Builds, with INSERT ... SELECT on PostgreSQL (a few minutes for the full size), a throwaway test
database (test_<NAME>, dropped at the end) holding a year of monthly reports: `--reports`
reports over customers in USD and CAD, each with `--lines / --reports` lines (five services per
billed order, plus 5 % unbilled orders), their orders, service totals, and the per-day totals
written by billing.services.analytics.report_days_write (called once per report, as report
generation does: its time per report is printed too). Then it measures, through Django's WSGI
application with a bearer token of a billing staff user (as benchmarks/graphql_api.py does):

- the monthly series for the year (per currency; per service; per customer);
- the top-10 customers and the top-10 services of the year;
- the year against the previous one;
- the same from 2 January (not whole months, so read from the per-day rows);
- the dashboard page's whole document (docs/graphql.md);

printing the median and 95th-percentile latency, the median CPU time of the process and the SQL
statements per request. Run it on PostgreSQL:

    DATABASE_URL=postgres://postgres@127.0.0.1:5432/ledgerlink .venv/bin/python benchmarks/analytics.py

Options: --reports 1000 --lines 10000000 --repeat 30 --keepdb (reuse a kept database as is)
"""

from __future__ import annotations

import argparse
import datetime as dt
import os
import re
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))  # benchmarks/graphql_api.py
sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "backend.settings")
os.environ.setdefault("LOG_LEVEL", "WARNING")

import django

django.setup()

from django.contrib.auth import get_user_model  # noqa: E402
from django.contrib.auth.models import Permission  # noqa: E402
from django.db import connection  # noqa: E402
from django.test.utils import setup_test_environment, teardown_test_environment  # noqa: E402
from django.utils import timezone  # noqa: E402
from graphql_api import Requester, measure, progress  # noqa: E402

from billing.models import BillingReport, ChargeType, Customer, Service  # noqa: E402
from billing.services.analytics import report_days_write  # noqa: E402
from billing.services.tokens import api_token_create  # noqa: E402

SERVICES = [  # name, charge type, unit price; quantities per order vary with the order
    ("Order fee", ChargeType.PER_ORDER, "1.5000"),
    ("Pick per unit", ChargeType.PER_UNIT, "0.2500"),
    ("Per SKU", ChargeType.PER_SKU, "0.1000"),
    ("Packaging", ChargeType.PER_PACKAGE, "0.7500"),
    ("Weight", ChargeType.PER_WEIGHT_LB, "0.0400"),
]
YEAR = 2025
DOCS = Path(__file__).resolve().parent.parent / "docs" / "graphql.md"
YEAR_FILTER = {"startDate": f"{YEAR}-01-01", "endDate": f"{YEAR}-12-31"}
PARTIAL_YEAR = {"startDate": f"{YEAR}-01-02", "endDate": f"{YEAR}-12-31"}  # not whole months: per-day rows
SERIES = """query($f: AnalyticsFilter!, $g: [AnalyticsDimension!]) { analytics(filter: $f) {
  series(bucket: MONTH, groupBy: $g) { key { currency customerName serviceName }
    points { start end figures { billedAmount orderCount unbilledOrderCount lineCount } } } } }"""
TOP = """query($f: AnalyticsFilter!, $by: AnalyticsDimension!) { analytics(filter: $f) {
  top(by: $by, limit: 10) { rank key { currency customerName serviceName } figures { billedAmount orderCount } } } }"""
COMPARISON = """query($f: AnalyticsFilter!) { analytics(filter: $f) { comparison {
  key { currency } current { billedAmount orderCount } previous { billedAmount } change { billedAmountPercent } } } }"""


def dashboard_document() -> str:
    return re.findall(r"```graphql\n(.*?)```", DOCS.read_text(encoding="utf-8"), flags=re.S)[0]


def execute(sql: str, params: tuple = ()) -> None:
    with connection.cursor() as cursor:
        cursor.execute(sql, params)


def build_dataset(*, reports: int, lines: int) -> object:
    user = get_user_model().objects.create_user(username="bench-staff", password="x")
    user.user_permissions.add(
        *Permission.objects.filter(content_type__app_label="billing", codename__in=["view_billingreport"])
    )
    services = [Service.objects.create(name=name, charge_type=charge) for name, charge, _ in SERVICES]
    count = -(-reports // 12)  # customers, one report per month each
    customers = Customer.objects.bulk_create(
        Customer(company_name=f"Merchant {index:03d}", currency="CAD" if index % 6 == 5 else "USD")
        for index in range(count)
    )
    now = timezone.now()
    report_rows = []
    for index in range(reports):
        month = 1 + index // count
        start = dt.date(YEAR, month, 1)
        end = (start + dt.timedelta(days=32)).replace(day=1) - dt.timedelta(days=1)
        customer = customers[index % count]
        report_rows.append(
            BillingReport(
                customer=customer, start_date=start, end_date=end, currency=customer.currency, generated_at=now
            )
        )
    created = BillingReport.objects.bulk_create(report_rows)
    billed = max(1, lines // reports // len(SERVICES))  # billed orders per report
    unbilled = max(1, billed // 19)  # about 5 % of the orders
    per_report = billed + unbilled
    started = time.perf_counter()

    # A numbering table: report number -> id, customer, month bounds.
    execute("CREATE TEMP TABLE bench_report (n int PRIMARY KEY, id uuid, customer_id bigint, start date, days int)")
    with connection.cursor() as cursor:
        cursor.executemany(
            "INSERT INTO bench_report VALUES (%s, %s, %s, %s, %s)",
            [
                (n, r.pk, r.customer_id, r.start_date, (r.end_date - r.start_date).days + 1)
                for n, r in enumerate(created)
            ],
        )
    # Orders: explicit ids n * per_report + k + 1, closed on a day of their report's month.
    execute(
        """
        INSERT INTO billing_order (id, transaction_id, customer_id, reference_number, close_date, status, priority,
            ship_to_name, ship_to_company, ship_to_address, ship_to_address2, ship_to_city, ship_to_state, ship_to_zip,
            ship_to_country, carrier, weight_lb, volume_cuft, packages, line_items, total_item_qty, notes,
            created_at, updated_at)
        SELECT r.n * %s + k + 1, 'B' || r.n || '-' || k, r.customer_id, '', r.start + ((k * 7) %% r.days)
               + make_interval(secs => k), 'completed', '', 'John Smith', '', '1 Main St', '', 'Springfield', 'IL',
               '', 'US', 'UPS', 1 + k %% 9, 0.5, 1 + k %% 3, 1 + k %% 4, 1 + k %% 7, '', now(), now()
        FROM bench_report r CROSS JOIN generate_series(0, %s - 1) AS k
        """,
        (per_report, per_report),
    )
    progress(f"{reports * per_report} orders in {time.perf_counter() - started:.0f} s")
    prices = ", ".join(
        f"({s.pk}, '{name}', '{charge}', {price})" for s, (name, charge, price) in zip(services, SERVICES, strict=True)
    )
    execute("CREATE TEMP TABLE bench_service (id bigint, name text, charge text, price numeric)")
    execute(f"INSERT INTO bench_service VALUES {prices}")  # noqa: S608 - the benchmark's own constants
    execute(
        """
        INSERT INTO billing_reportline (report_id, order_id, service_id, service_name, charge_type, quantity,
            unit_price, amount)
        SELECT r.id, r.n * %s + k + 1, s.id, s.name, s.charge, q.quantity, s.price, round(q.quantity * s.price, 2)
        FROM bench_report r CROSS JOIN generate_series(0, %s - 1) AS k CROSS JOIN bench_service s
        CROSS JOIN LATERAL (SELECT (CASE s.charge WHEN 'per_order' THEN 1 ELSE 1 + (k + s.id) %% 7 END)::numeric
                            AS quantity) q
        """,
        (per_report, billed),
    )
    progress(f"{reports * billed * len(SERVICES)} report lines in {time.perf_counter() - started:.0f} s")
    execute(
        """
        INSERT INTO billing_reportorder (report_id, order_id, transaction_id, reference_number, close_date, status,
            ship_to_name, ship_to_address, total_items, line_items, total_amount, is_billed)
        SELECT r.id, o.id, o.transaction_id, '', o.close_date, o.status, o.ship_to_name, o.ship_to_address,
               o.total_item_qty, o.line_items, COALESCE(t.amount, 0), t.amount IS NOT NULL
        FROM bench_report r JOIN billing_order o ON o.id BETWEEN r.n * %s + 1 AND (r.n + 1) * %s
        LEFT JOIN (SELECT order_id, SUM(amount) AS amount FROM billing_reportline GROUP BY order_id) t
               ON t.order_id = o.id
        """,
        (per_report, per_report),
    )
    execute(
        """
        INSERT INTO billing_reportservicetotal (report_id, service_id, service_name, charge_type, quantity, amount,
            order_count)
        SELECT report_id, service_id, MAX(service_name), MAX(charge_type), SUM(quantity), SUM(amount), COUNT(*)
        FROM billing_reportline GROUP BY report_id, service_id
        """
    )
    execute(
        """
        UPDATE billing_billingreport b SET total_amount = t.amount, order_count = t.billed,
               unbilled_order_count = t.unbilled, line_count = t.billed * %s
        FROM (SELECT report_id, SUM(total_amount) AS amount, COUNT(*) FILTER (WHERE is_billed) AS billed,
                     COUNT(*) FILTER (WHERE NOT is_billed) AS unbilled
              FROM billing_reportorder GROUP BY report_id) t
        WHERE b.id = t.report_id
        """,
        (len(SERVICES),),
    )
    execute("SELECT setval(pg_get_serial_sequence('billing_order', 'id'), (SELECT MAX(id) FROM billing_order))")
    progress(f"report orders and totals in {time.perf_counter() - started:.0f} s")
    execute("ANALYZE")

    written = time.perf_counter()
    for report in created:
        report_days_write(report_id=report.pk, time_zone="UTC", end_date=report.end_date)
    per_report_ms = (time.perf_counter() - written) * 1000 / reports
    execute("ANALYZE")
    progress(
        f"per-day totals of {reports} reports in {time.perf_counter() - written:.0f} s "
        f"({per_report_ms:.0f} ms per report of {billed * len(SERVICES)} lines)"
    )
    return user


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--reports", type=int, default=1000)
    parser.add_argument("--lines", type=int, default=10_000_000)
    parser.add_argument("--repeat", type=int, default=30)
    parser.add_argument("--keepdb", action="store_true", help="keep the test database (and reuse a kept one)")
    args = parser.parse_args()
    if connection.vendor != "postgresql":
        raise SystemExit("Run this benchmark on PostgreSQL (set DATABASE_URL).")

    setup_test_environment()
    old_name = connection.settings_dict["NAME"]
    print(f"database: {connection.vendor}", flush=True)
    connection.creation.create_test_db(verbosity=0, autoclobber=not args.keepdb, keepdb=args.keepdb)
    try:
        user = get_user_model().objects.filter(username="bench-staff").first()
        if user is None:
            progress("building the dataset")
            user = build_dataset(reports=args.reports, lines=args.lines)
        with connection.cursor() as cursor:
            cursor.execute(
                "SELECT (SELECT COUNT(*) FROM billing_billingreport), (SELECT COUNT(*) FROM billing_reportline), "
                "(SELECT COUNT(*) FROM billing_reportday), (SELECT COUNT(*) FROM billing_reportdayservice), "
                "(SELECT COUNT(*) FROM billing_reportmonth), (SELECT COUNT(*) FROM billing_reportmonthservice)"
            )
            reports, lines, days, service_days, months, service_months = cursor.fetchone()
        print(
            f"{reports} reports, {lines} lines; per day: {days} rows, {service_days} per service; "
            f"per month: {months} rows, {service_months} per service"
        )
        _, token = api_token_create(user=user, name="benchmark")
        requester = Requester(token)
        cases = [
            ("monthly series, a year, per currency", SERIES, {"f": YEAR_FILTER}),
            ("monthly series, a year, per service", SERIES, {"f": YEAR_FILTER, "g": ["SERVICE"]}),
            ("monthly series, a year, per customer", SERIES, {"f": YEAR_FILTER, "g": ["CUSTOMER"]}),
            ("top-10 customers, a year", TOP, {"f": YEAR_FILTER, "by": "CUSTOMER"}),
            ("top-10 services, a year", TOP, {"f": YEAR_FILTER, "by": "SERVICE"}),
            ("a year against the previous one", COMPARISON, {"f": YEAR_FILTER}),
            ("monthly series, 2 Jan-31 Dec, per currency", SERIES, {"f": PARTIAL_YEAR}),
            ("monthly series, 2 Jan-31 Dec, per service", SERIES, {"f": PARTIAL_YEAR, "g": ["SERVICE"]}),
            ("top-10 services, 2 Jan-31 Dec", TOP, {"f": PARTIAL_YEAR, "by": "SERVICE"}),
            (
                "dashboard document (all of the page)",
                dashboard_document(),
                {"filter": YEAR_FILTER, "customerId": None, "reportFilter": {}},
            ),
        ]
        print(f"{'request':40} {'median ms':>10} {'p95 ms':>8} {'cpu ms':>7} {'SQL':>4}")
        for title, query, variables in cases:
            figures = measure(requester, query, variables, args.repeat)
            print(
                f"{title:40} {figures['median_ms']:>10.1f} {figures['p95_ms']:>8.1f} "
                f"{figures['cpu_ms']:>7.1f} {figures['statements']:>4}",
                flush=True,
            )
    finally:
        connection.creation.destroy_test_db(old_name, verbosity=0, keepdb=args.keepdb)
        teardown_test_environment()


if __name__ == "__main__":
    main()
