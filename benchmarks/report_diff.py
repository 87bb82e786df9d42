"""Benchmark: the diff of two N-order reports of one customer, and print the figures.

    DATABASE_URL=postgres://postgres@127.0.0.1:5432/ledgerlink .venv/bin/python benchmarks/report_diff.py
    .venv/bin/python benchmarks/report_diff.py --orders 20000          # SQLite

Uses the customer, rate card and orders of benchmarks/generate_report.py (its functions, built
once and reused). Generates the period's report, then changes the data the ways a diff must
tell apart: the order fee's price rises, 1% of the orders leave the period (moved to February),
the cancelled orders (about 1%) become billable, 1% of the orders get one more unit on their
SKU lines, and the heavy-order fee's rule threshold moves;
then generates again, which supersedes the first report. It times, `--repeat` times:

- the diff's summary (counts per cause, totals per service) and its first page of 100 lines,
  as the REST endpoint reads them, with the SQL statements issued;
- the whole diff streamed as CSV (every line), with its rows per second.

At the end the data is put back as it was (prices, rule, dates, statuses) and the reports are
deleted, so the data set stays the one generate_report.py measures. Target: README, "Speed".
"""

from __future__ import annotations

import argparse
import datetime as dt
import signal
import statistics
import sys
import time
from contextlib import contextmanager
from decimal import Decimal
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from django.core.management import call_command
from django.db import connection, transaction
from django.db.models import F

from benchmarks.generate_report import (
    END,
    StatementCounter,
    backend_cpu_seconds,
    backend_pid,
    bench_customer,
    clear_reports,
    generate,
)
from billing.exporters.report_diff import export_diff_csv
from billing.models import BillingReport, Customer, CustomerService, Order, OrderLine, ReportLine, Rule
from billing.selectors.report_diff import report_diff_between


def change_the_period(customer: Customer) -> dict:
    """Change prices, a rule, and which orders are in the period; returns what to put back."""
    orders = Order.objects.filter(customer=customer)
    fee = CustomerService.objects.get(customer=customer, service__name="Bench Order fee")
    rule = Rule.objects.filter(rule_group__customer_service__customer=customer, field="weight_lb").first()
    with transaction.atomic():
        ids = list(orders.order_by("id").values_list("id", flat=True)[::100])
        moved = list(Order.objects.filter(id__in=ids).values_list("id", "close_date"))
        cancelled = list(orders.filter(status="cancelled").values_list("id", flat=True))
        edited = list(orders.order_by("id").values_list("id", flat=True)[50::100])
        OrderLine.objects.filter(order_id__in=edited).update(quantity=F("quantity") + 1)
        Order.objects.filter(id__in=ids).update(close_date=_february(END))
        Order.objects.filter(id__in=cancelled).update(status="completed")
        saved = {"fee": fee.unit_price, "rule": (rule.pk, rule.value) if rule else None}
        fee.unit_price += Decimal("0.1000")
        fee.save(update_fields=["unit_price"])
        if rule is not None:
            rule.value = str(Decimal(rule.value) + 5)
            rule.save(update_fields=["value"])
    return {**saved, "moved": moved, "cancelled": cancelled, "edited": edited}


def put_back(customer: Customer, saved: dict) -> None:
    with transaction.atomic():
        CustomerService.objects.filter(customer=customer, service__name="Bench Order fee").update(
            unit_price=saved["fee"]
        )
        if saved["rule"] is not None:
            Rule.objects.filter(pk=saved["rule"][0]).update(value=saved["rule"][1])
        for order_id, close_date in saved["moved"]:
            Order.objects.filter(pk=order_id).update(close_date=close_date)
        Order.objects.filter(id__in=saved["cancelled"]).update(status="cancelled")
        OrderLine.objects.filter(order_id__in=saved["edited"]).update(quantity=F("quantity") - 1)


def _february(day: dt.date) -> dt.datetime:
    return dt.datetime.combine(day + dt.timedelta(days=3), dt.time(12), tzinfo=dt.UTC)


def timed_diff(new: BillingReport, old: BillingReport) -> tuple[float, float | None, int, object]:
    counter = StatementCounter()
    pid = backend_pid()
    cpu_before = backend_cpu_seconds(pid)
    started = time.perf_counter()
    with connection.execute_wrapper(counter):
        diff = report_diff_between(new, old)
        page = diff.lines(limit=100)
    wall = time.perf_counter() - started
    cpu_after = backend_cpu_seconds(pid)
    cpu = cpu_after - cpu_before if cpu_before is not None and cpu_after is not None else None
    assert len(page) == min(100, diff.line_count)
    return wall, cpu, counter.count, diff


def timed_csv(diff) -> tuple[float, int]:
    started = time.perf_counter()
    rows = sum(chunk.count(b"\n") for chunk in export_diff_csv(diff))
    return time.perf_counter() - started, rows


@contextmanager
def no_nested_loops():
    """While the two reports are generated (not measured here): with statistics taken on empty
    report tables the planner picks a nested loop for the generation's per-day totals, which then
    takes minutes on 500,000 lines. The diff itself is measured with the default settings."""
    if connection.vendor != "postgresql":
        yield
        return
    with connection.cursor() as cursor:
        cursor.execute("SET enable_nestloop = off")
    try:
        yield
    finally:
        with connection.cursor() as cursor:
            cursor.execute("RESET enable_nestloop")


def analyze() -> None:
    if connection.vendor == "postgresql":
        with connection.cursor() as cursor:
            for table in ("billing_reportline", "billing_reportorder", "billing_reportservicetotal"):
                cursor.execute(f"ANALYZE {table}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--orders", type=int, default=100_000)
    parser.add_argument("--repeat", type=int, default=3, help="timed diffs (the two reports are generated once)")
    parser.add_argument("--no-csv", action="store_true", help="skip the CSV download")
    parser.add_argument("--seed", type=int, default=20250131)
    parser.add_argument("--rebuild", action="store_true", help="rebuild the orders even if they exist")
    args = parser.parse_args()
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(1))  # a kill still puts the data back

    call_command("migrate", verbosity=0, skip_checks=True)
    print(f"database: {connection.vendor} {connection.settings_dict.get('NAME')}; orders: {args.orders:,}")
    customer = bench_customer(args.orders, args.rebuild, args.seed)
    clear_reports(customer)
    started = time.perf_counter()
    with no_nested_loops():
        old = generate(customer)
    analyze()  # statistics that know a report: the second generation's joins are planned for its size
    saved = change_the_period(customer)
    try:
        with no_nested_loops():
            new = generate(customer)
        print(
            f"two reports generated in {time.perf_counter() - started:.1f} s: {old.line_count:,} and "
            f"{new.line_count:,} lines ({ReportLine.objects.filter(report__in=[old, new]).count():,} in all)"
        )
        analyze()
        walls = []
        for run in range(max(1, args.repeat)):
            wall, cpu, statements, diff = timed_diff(new, old)
            walls.append(wall)
            cpu_text = f", PostgreSQL CPU {cpu:.2f} s" if cpu is not None else ""
            print(f"run {run + 1}: diff summary + first page {wall:.2f} s{cpu_text}, {statements} SQL statements")
        counts = ", ".join(f"{cause} {number:,}" for cause, number in diff.counts.items())
        print(f"diff: {diff.line_count:,} lines ({counts}); total change {diff.total_change} {new.currency}")
        print(f"median {statistics.median(walls):.2f} s (target < 5 s); all: {', '.join(f'{w:.2f}' for w in walls)} s")
        if not args.no_csv:
            seconds, rows = timed_csv(diff)
            print(f"CSV of the whole diff: {rows:,} rows in {seconds:.2f} s ({rows / seconds:,.0f} rows/s)")
    finally:
        clear_reports(customer)
        put_back(customer, saved)


if __name__ == "__main__":
    main()
