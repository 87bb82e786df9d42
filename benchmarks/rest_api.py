"""Benchmark: the REST facade on large data, through the whole Django stack; prints the figures.

    DATABASE_URL=postgres://postgres@127.0.0.1:5432/ledgerlink .venv/bin/python benchmarks/rest_api.py
    .venv/bin/python benchmarks/rest_api.py --csv-orders 20000        # SQLite, smaller

Builds (once; later runs reuse it) with bulk inserts, without pricing:
- 1,000 reports of one customer (distinct periods) for the list;
- one report of 10,000 orders (3 lines each) for the detail and the PDF;
- one report of 100,000 orders (3 lines each, 300,000 lines) for the CSV and JSON downloads.

Then it requests, with a bearer token through django.test.Client (every middleware, DRF,
rendering, streaming consumed to the end):
- GET /api/v2/reports/?customer_id=...   (1,000 reports)           target: under 50 ms
- GET /api/v2/reports/{10k-order id}/                               (seconds, MB, queries)
- GET .../{100k-order id}/download/?format=csv   rows/s and memory  target: >= 100,000 rows/s, constant memory
- GET .../{100k-order id}/download/?format=json  rows/s
- GET .../{10k-order id}/download/?format=pdf    seconds and pages  target: under 10 s

Memory: the peak resident set growth during the download (VmHWM, reset first) and, in a
second, untimed run, the tracemalloc peak of Python allocations. Constant memory shows as a
tracemalloc peak that does not grow with --csv-orders.
"""

from __future__ import annotations

import argparse
import datetime as dt
import gc
import io
import logging
import os
import statistics
import sys
import time
import tracemalloc
import uuid
from collections.abc import Sequence
from decimal import Decimal
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "backend.settings")

import django

django.setup()

from django.conf import settings  # noqa: E402
from django.contrib.auth import get_user_model  # noqa: E402
from django.contrib.auth.models import Permission  # noqa: E402
from django.db import connection, transaction  # noqa: E402
from django.test import Client  # noqa: E402
from django.test.utils import CaptureQueriesContext  # noqa: E402
from django.utils import timezone  # noqa: E402
from generate_report import ORDER_COPY_COLUMNS  # noqa: E402  (benchmarks/, next to this script)
from pypdf import PdfReader  # noqa: E402

from billing.models import (  # noqa: E402
    AuditEvent,
    BillingReport,
    Customer,
    Order,
    ReportServiceTotal,
    ReportStatus,
)
from billing.services.tokens import api_token_create  # noqa: E402

LIST_REPORTS = 1_000
LINES_PER_ORDER = 3
SERVICES = (
    (9001, "Bench order fee", "per_order", "1.2500"),
    (9002, "Bench pick", "per_unit", "0.2500"),
    (9003, "Bench weight", "per_weight_lb", "0.0600"),
)
PERIOD = (dt.date(2025, 1, 1), dt.date(2025, 1, 31))


def rss_kib(field: str) -> int:
    with open("/proc/self/status") as status:
        for line in status:
            if line.startswith(field + ":"):
                return int(line.split()[1])
    return 0


def reset_peak_rss() -> None:
    try:
        with open("/proc/self/clear_refs", "w") as clear_refs:
            clear_refs.write("5")
    except OSError:
        pass


# --- data (bulk inserts, no pricing) ----------------------------------------------------


def copy_rows(table: str, columns: Sequence[str], rows) -> None:
    """Insert rows fast: COPY on PostgreSQL, executemany elsewhere."""
    if connection.vendor == "postgresql":
        with connection.cursor() as cursor, cursor.copy(f"COPY {table} ({', '.join(columns)}) FROM STDIN") as copy:
            for row in rows:
                copy.write_row(row)
        return
    placeholders = ", ".join(["%s"] * len(columns))
    insert = f"INSERT INTO {table} ({', '.join(columns)}) VALUES ({placeholders})"  # noqa: S608 - our table names
    batch: list = []
    with connection.cursor() as cursor:
        for row in rows:
            batch.append(row)
            if len(batch) == 5000:
                cursor.executemany(insert, batch)
                batch.clear()
        if batch:
            cursor.executemany(insert, batch)


def next_id(table: str) -> int:
    with connection.cursor() as cursor:
        cursor.execute(f"SELECT COALESCE(MAX(id), 0) FROM {table}")  # noqa: S608 - our table names
        return cursor.fetchone()[0] + 1


def fix_sequence(table: str) -> None:
    if connection.vendor == "postgresql":
        with connection.cursor() as cursor:
            sequence = f"pg_get_serial_sequence('{table}', 'id')"
            cursor.execute(f"SELECT setval({sequence}, (SELECT MAX(id) FROM {table}))")  # noqa: S608 - our tables


def build_report(name: str, orders: int) -> BillingReport:
    """A customer and one report of `orders` orders with LINES_PER_ORDER lines each, written directly."""
    started = time.perf_counter()
    now = timezone.now()
    customer = Customer.objects.create(company_name=name)
    prices = [Decimal(price) for *_, price in SERVICES]
    quantities = [Decimal(1), Decimal(3), Decimal("2.5")]
    amounts = [(p * q).quantize(Decimal("0.01")) for p, q in zip(prices, quantities, strict=True)]
    order_total = sum(amounts)
    report = BillingReport.objects.create(
        customer=customer,
        start_date=PERIOD[0],
        end_date=PERIOD[1],
        total_amount=order_total * orders,
        order_count=orders,
        line_count=orders * LINES_PER_ORDER,
        generated_at=now,
    )
    first = next_id("billing_order")
    base = dt.datetime(2025, 1, 1, tzinfo=dt.UTC)
    closes = [base + dt.timedelta(seconds=(i * 26) % (31 * 86400)) for i in range(orders)]
    copy_rows(
        "billing_order",
        ORDER_COPY_COLUMNS,
        (
            (
                first + i,
                f"R{customer.pk}-{i:08d}",
                customer.pk,
                f"PO-{i}",
                closes[i],
                "completed",
                "",
                f"Customer {i % 997}",
                "",
                f"{i % 9000} Main St",
                "",
                "Springfield",
                "IL",
                "62701",
                "US",
                "UPS",
                Decimal("2.500"),
                Decimal("0.800"),
                1,
                2,
                3,
                "",
                now,
                now,
            )
            for i in range(orders)
        ),
    )
    fix_sequence("billing_order")
    copy_rows(
        "billing_reportorder",
        [
            "report_id",
            "order_id",
            "transaction_id",
            "reference_number",
            "close_date",
            "status",
            "ship_to_name",
            "ship_to_address",
            "total_items",
            "line_items",
            "total_amount",
            "is_billed",
        ],
        (
            (
                report.pk,
                first + i,
                f"R{customer.pk}-{i:08d}",
                f"PO-{i}",
                closes[i],
                "completed",
                f"Customer {i % 997}",
                f"{i % 9000} Main St",
                3,
                2,
                order_total,
                True,
            )
            for i in range(orders)
        ),
    )
    copy_rows(
        "billing_reportline",
        ["report_id", "order_id", "service_id", "service_name", "charge_type", "quantity", "unit_price", "amount"],
        (
            (report.pk, first + i, service_id, service_name, charge_type, quantities[k], prices[k], amounts[k])
            for i in range(orders)
            for k, (service_id, service_name, charge_type, _) in enumerate(SERVICES)
        ),
    )
    ReportServiceTotal.objects.bulk_create(
        ReportServiceTotal(
            report=report,
            service_id=service_id,
            service_name=service_name,
            charge_type=charge_type,
            quantity=quantities[k] * orders,
            amount=amounts[k] * orders,
            order_count=orders,
        )
        for k, (service_id, service_name, charge_type, _) in enumerate(SERVICES)
    )
    if connection.vendor == "postgresql":
        with connection.cursor() as cursor:
            for table in ("billing_order", "billing_reportorder", "billing_reportline"):
                cursor.execute(f"ANALYZE {table}")
    print(
        f"built {name}: {orders:,} orders, {orders * LINES_PER_ORDER:,} lines in {time.perf_counter() - started:.1f} s"
    )
    return report


def build_list(name: str, user) -> Customer:
    customer = Customer.objects.create(company_name=name)
    now = timezone.now()
    BillingReport.objects.bulk_create(
        BillingReport(
            id=uuid.uuid4(),
            customer=customer,
            start_date=dt.date(2020, 1, 1) + dt.timedelta(days=i),
            end_date=dt.date(2020, 1, 1) + dt.timedelta(days=i),
            total_amount=Decimal(1500) + i,
            order_count=10,
            line_count=30,
            generated_at=now,
            created_by=user,
            status=ReportStatus.CURRENT,
        )
        for i in range(LIST_REPORTS)
    )
    print(f"built {name}: {LIST_REPORTS:,} reports")
    return customer


def dataset(csv_orders: int, detail_orders: int, rebuild: bool) -> dict:
    names = {
        "list": "REST bench: 1,000 reports",
        "detail": f"REST bench: {detail_orders:,} orders",
        "csv": f"REST bench: {csv_orders:,} orders",
    }
    if rebuild:
        for name in names.values():
            for customer in Customer.objects.filter(company_name=name):
                reports = BillingReport.objects.filter(customer=customer)
                AuditEvent.objects.filter(report__in=reports).delete()
                reports.delete()
                Order.objects.filter(customer=customer).delete()
                customer.delete()
    user_model = get_user_model()
    user, created = user_model.objects.get_or_create(username="rest-bench", defaults={"is_active": True})
    if created:
        user.user_permissions.add(
            *Permission.objects.filter(content_type__app_label="billing", codename__in=["view_billingreport"])
        )
    found = {key: Customer.objects.filter(company_name=name).first() for key, name in names.items()}
    with transaction.atomic():
        list_customer = found["list"] or build_list(names["list"], user)
        detail = (
            BillingReport.objects.get(customer=found["detail"])
            if found["detail"]
            else build_report(names["detail"], detail_orders)
        )
        big = (
            BillingReport.objects.get(customer=found["csv"]) if found["csv"] else build_report(names["csv"], csv_orders)
        )
    return {"user": user, "list_customer": list_customer, "detail": detail, "big": big}


# --- measuring ------------------------------------------------------------------------------


def timed(client: Client, path: str, params: dict | None = None) -> tuple[float, int, int]:
    """(seconds, status, body bytes) of one request, streaming bodies consumed to the end."""
    gc.collect()
    started = time.perf_counter()
    response = client.get(path, params or {})
    size = sum(len(chunk) for chunk in response.streaming_content) if response.streaming else len(response.content)
    return time.perf_counter() - started, response.status_code, size


def download(client: Client, report: BillingReport, fmt: str) -> tuple[float, int, int, bytes | None]:
    """(seconds, peak RSS growth KiB, bytes, content when small) of one download."""
    gc.collect()
    reset_peak_rss()
    baseline = rss_kib("VmRSS")
    started = time.perf_counter()
    response = client.get(f"/api/v2/reports/{report.id}/download/", {"format": fmt})
    assert response.status_code == 200, response.content
    size, keep = 0, [] if fmt == "pdf" else None
    for chunk in response.streaming_content:
        size += len(chunk)
        if keep is not None:
            keep.append(chunk)
    seconds = time.perf_counter() - started
    return seconds, rss_kib("VmHWM") - baseline, size, b"".join(keep) if keep is not None else None


def traced_peak(client: Client, report: BillingReport, fmt: str) -> int:
    gc.collect()
    tracemalloc.start()
    response = client.get(f"/api/v2/reports/{report.id}/download/", {"format": fmt})
    for _ in response.streaming_content:
        pass
    peak = tracemalloc.get_traced_memory()[1]
    tracemalloc.stop()
    return peak


def serve_as_in_production() -> None:
    """Requests through django.test.Client as production serves them (DEBUG off, no request log
    lines), and a line saying where the figures come from."""
    logging.getLogger("ledgerlink.request").setLevel(logging.WARNING)
    settings.ALLOWED_HOSTS = ["testserver"]
    settings.DEBUG = False
    print(f"database: {connection.vendor}; load average {os.getloadavg()[0]:.1f} on {os.cpu_count()} CPUs")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--csv-orders", type=int, default=100_000)
    parser.add_argument("--detail-orders", type=int, default=10_000)
    parser.add_argument("--repeat", type=int, default=15, help="List requests to time (median reported).")
    parser.add_argument("--downloads", type=int, default=3, help="CSV/JSON downloads to time (best and median).")
    parser.add_argument("--rebuild", action="store_true", help="Rebuild the data even if it exists.")
    args = parser.parse_args()

    serve_as_in_production()
    data = dataset(args.csv_orders, args.detail_orders, args.rebuild)
    _, raw = api_token_create(user=data["user"], name="rest benchmark", expires_in_days=1)
    client = Client(headers={"Authorization": f"Bearer {raw}"})
    big, detail = data["big"], data["detail"]

    # list of 1,000 reports
    list_path, list_params = "/api/v2/reports/", {"customer_id": data["list_customer"].pk}
    timed(client, list_path, list_params)  # warm-up
    runs = [timed(client, list_path, list_params) for _ in range(args.repeat)]
    assert all(status == 200 for _, status, _ in runs)
    with CaptureQueriesContext(connection) as queries:
        timed(client, list_path, list_params)
    seconds = [run[0] for run in runs]
    print(
        f"list {LIST_REPORTS:,} reports: median {statistics.median(seconds) * 1000:.1f} ms, "
        f"min {min(seconds) * 1000:.1f} ms, {runs[0][2] / 1024:.0f} KiB, {len(queries)} queries  (target < 50 ms)"
    )

    # detail of the 10,000-order report
    with CaptureQueriesContext(connection) as queries:
        seconds_, status, size = timed(client, f"/api/v2/reports/{detail.id}/")
    assert status == 200
    print(
        f"detail {detail.order_count:,} orders ({detail.line_count:,} lines): {seconds_:.2f} s, "
        f"{size / 1e6:.1f} MB, {len(queries)} queries"
    )
    page_seconds, _, _ = timed(client, f"/api/v2/reports/{detail.id}/", {"orders_limit": 100})
    print(f"detail, first 100 orders: {page_seconds * 1000:.1f} ms")

    # CSV and JSON of the 100,000-order report (the first run also warms the database cache)
    for fmt in ("csv", "json"):
        runs = [download(client, big, fmt) for _ in range(args.downloads)]
        seconds = sorted(run[0] for run in runs)
        peak = traced_peak(client, big, fmt)
        print(
            f"{fmt} download {big.order_count:,} orders / {big.line_count:,} rows ({runs[0][2] / 1e6:.1f} MB): "
            f"best {seconds[0]:.2f} s = {big.line_count / seconds[0]:,.0f} rows/s, "
            f"median {statistics.median(seconds):.2f} s = {big.line_count / statistics.median(seconds):,.0f} rows/s; "
            f"peak RSS growth {max(run[1] for run in runs) / 1024:.1f} MiB, tracemalloc peak {peak / 2**20:.1f} MiB"
            + ("  (target >= 100,000 rows/s)" if fmt == "csv" else "")
        )

    # PDF of the 10,000-order report
    seconds_, rss_growth, size, content = download(client, detail, "pdf")
    pages = len(PdfReader(io.BytesIO(content or b"")).pages)
    print(
        f"pdf {detail.order_count:,} orders / {detail.line_count:,} lines: {seconds_:.2f} s, {pages} pages, "
        f"{size / 1e6:.1f} MB, {detail.line_count / seconds_:,.0f} lines/s, peak RSS growth {rss_growth / 1024:.0f} MiB"
        "  (target < 10 s)"
    )
    AuditEvent.objects.filter(report__in=[big, detail], action="downloaded").delete()


if __name__ == "__main__":
    main()
