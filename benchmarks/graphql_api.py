#!/usr/bin/env python
"""Benchmark of the GraphQL API: the reports list and a page of a 100,000-order report.

Measures requests handed to Django's WSGI application, as a WSGI server would (the whole
middleware stack; no network), authenticated with an API token of a billing staff user:
- `reports(first: N)` over 1,000 reports with the REST list's fields, and again with every
  total and the per-service totals of each report;
- `report(id) { orders(first: N) { ... charges } }` on a report of 100,000 orders: the first
  page, and a page deep in the report (after the 99,800th order, by its keyset cursor);
for page sizes 10 and 100: the median and 95th-percentile latency, the median CPU time of the
process (less sensitive to other load on the machine), and the SQL statements per request
(which must not depend on the page size). Target: a median under 50 ms.

The data is bulk-inserted directly (report rows included) into a throwaway test database
(test_<NAME>), which is dropped at the end. Run it on PostgreSQL:

    DATABASE_URL=postgres://postgres@127.0.0.1:5432/ledgerlink .venv/bin/python benchmarks/graphql_api.py

Options: --reports 1000 --orders 100000 --repeat 30 --keepdb
"""

from __future__ import annotations

import argparse
import base64
import datetime as dt
import io
import json
import os
import statistics
import sys
import time
from decimal import Decimal
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "backend.settings")
os.environ.setdefault("LOG_LEVEL", "WARNING")

import django

django.setup()

from django.contrib.auth import get_user_model  # noqa: E402
from django.contrib.auth.models import Permission  # noqa: E402
from django.core.handlers.wsgi import WSGIHandler  # noqa: E402
from django.db import connection  # noqa: E402
from django.test.utils import CaptureQueriesContext, setup_test_environment, teardown_test_environment  # noqa: E402
from django.utils import timezone  # noqa: E402

from billing.models import (  # noqa: E402
    BillingReport,
    ChargeType,
    Customer,
    Order,
    ReportLine,
    ReportOrder,
    ReportServiceTotal,
    Service,
)
from billing.services.tokens import api_token_create  # noqa: E402

BATCH = 10_000
PAGE_SIZES = (10, 50, 100)
SERVICES = [  # (name, charge type, unit price, quantity per order)
    ("Order fee", ChargeType.PER_ORDER, Decimal("1.5000"), Decimal("1")),
    ("Pick per unit", ChargeType.PER_UNIT, Decimal("0.2500"), Decimal("3")),
    ("Per SKU", ChargeType.PER_SKU, Decimal("0.1000"), Decimal("2")),
]
PER_ORDER = sum((price * quantity).quantize(Decimal("0.01")) for _, _, price, quantity in SERVICES)

# The REST list's fields (id, customer, customer_name, start/end date, total, generated_at,
# output_format, created_at, created_by) ...
REPORTS_QUERY = """
query Reports($first: Int) { reports(first: $first) { totalCount pageInfo { hasNextPage endCursor } edges { node {
  id customer { id companyName } period { startDate endDate } totals { totalAmount currency }
  generatedAt outputFormat createdAt createdBy status
} } } }
"""
# ... and the same with every total and the per-service totals of each report (about 4x the fields).
REPORTS_WITH_SERVICE_TOTALS_QUERY = """
query Reports($first: Int) { reports(first: $first) { totalCount pageInfo { hasNextPage endCursor } edges { node {
  id status outputFormat generatedAt createdAt createdBy customer { id companyName } period { startDate endDate }
  totals { totalAmount currency orderCount lineCount unbilledOrderCount }
  serviceTotals { serviceId serviceName chargeType quantity amount orderCount }
} } } }
"""
ORDERS_PAGE_QUERY = """
query Page($id: UUID!, $first: Int, $after: String) { report(id: $id) {
  id totals { totalAmount orderCount }
  orders(first: $first, after: $after) { totalCount pageInfo { hasNextPage endCursor } edges { node {
    transactionId referenceNumber closeDate status totalAmount
    charges { serviceId serviceName chargeType quantity unitPrice amount }
  } } }
} }
"""


def progress(message: str) -> None:
    print(f"  {message}", file=sys.stderr, flush=True)


def build_dataset(*, reports: int, orders: int) -> tuple[object, str]:
    """A staff user, `reports` reports (one of them with `orders` orders); returns (user, big report id)."""
    user = get_user_model().objects.create_user(username="bench-staff", password="x")
    user.user_permissions.add(
        *Permission.objects.filter(content_type__app_label="billing", codename__in=["view_billingreport"])
    )
    services = [Service.objects.create(name=name, charge_type=charge) for name, charge, _, _ in SERVICES]
    customers = Customer.objects.bulk_create(Customer(company_name=f"Merchant {index:03d}") for index in range(50))
    now = timezone.now()

    started = time.perf_counter()
    big_customer = customers[0]
    big = BillingReport.objects.create(
        customer=big_customer,
        start_date=dt.date(2025, 1, 1),
        end_date=dt.date(2025, 1, 31),
        total_amount=PER_ORDER * orders,
        order_count=orders,
        line_count=orders * len(SERVICES),
        generated_at=now,
    )
    close = dt.datetime(2025, 1, 15, tzinfo=dt.UTC)
    order_ids: list[int] = []
    for start in range(0, orders, BATCH):
        created = Order.objects.bulk_create(
            Order(
                transaction_id=f"BIG-{index:07d}",
                customer=big_customer,
                reference_number=f"REF-{index}",
                close_date=close + dt.timedelta(seconds=index),
                line_items=2,
                total_item_qty=3,
            )
            for index in range(start, min(start + BATCH, orders))
        )
        order_ids += [order.pk for order in created]
    progress(f"{orders} orders in {time.perf_counter() - started:.1f} s")
    for start in range(0, orders, BATCH):
        ReportOrder.objects.bulk_create(
            ReportOrder(
                report=big,
                order_id=order_ids[index],
                transaction_id=f"BIG-{index:07d}",
                reference_number=f"REF-{index}",
                close_date=close + dt.timedelta(seconds=index),
                status="completed",
                ship_to_name="John Smith",
                ship_to_address="123 Test St",
                total_items=3,
                line_items=2,
                total_amount=PER_ORDER,
            )
            for index in range(start, min(start + BATCH, orders))
        )
    progress(f"{orders} report orders in {time.perf_counter() - started:.1f} s")
    per_batch = BATCH // len(SERVICES)
    for start in range(0, orders, per_batch):
        ReportLine.objects.bulk_create(
            ReportLine(
                report=big,
                order_id=order_ids[index],
                service_id=service.pk,
                service_name=service.name,
                charge_type=charge,
                quantity=quantity,
                unit_price=price,
                amount=(price * quantity).quantize(Decimal("0.01")),
            )
            for index in range(start, min(start + per_batch, orders))
            for service, (_, charge, price, quantity) in zip(services, SERVICES, strict=True)
        )
    progress(f"{orders * len(SERVICES)} report lines in {time.perf_counter() - started:.1f} s")

    small = []
    for index in range(reports - 1):
        customer = customers[1 + index % (len(customers) - 1)]
        day = dt.date(2024, 1, 1) + dt.timedelta(days=index // (len(customers) - 1))
        small.append(
            BillingReport(
                customer=customer,
                start_date=day,
                end_date=day,
                total_amount=PER_ORDER * 10,
                order_count=10,
                line_count=30,
                generated_at=now,
            )
        )
    small = BillingReport.objects.bulk_create(small)
    ReportServiceTotal.objects.bulk_create(
        ReportServiceTotal(
            report=report,
            service_id=service.pk,
            service_name=service.name,
            charge_type=charge,
            quantity=quantity * report.order_count,
            amount=(price * quantity).quantize(Decimal("0.01")) * report.order_count,
            order_count=report.order_count,
        )
        for report in [big, *small]
        for service, (_, charge, price, quantity) in zip(services, SERVICES, strict=True)
    )
    progress(f"{reports} reports in {time.perf_counter() - started:.1f} s")
    with connection.cursor() as cursor:
        if connection.vendor == "postgresql":
            cursor.execute("ANALYZE")
    return user, str(big.pk)


def order_cursor_at(report_id: str, offset: int) -> str:
    """The keyset cursor of a report's order at `offset` (the connection orders by id)."""
    order_id = ReportOrder.objects.filter(report_id=report_id).order_by("id").values_list("id", flat=True)[offset]
    return base64.b64encode(f"orderedcursor:{json.dumps([str(order_id)])}".encode()).decode()


class Requester:
    """POSTs GraphQL documents straight to the WSGI application with a bearer token."""

    def __init__(self, token: str) -> None:
        self.application = WSGIHandler()
        self.token = token

    def post(self, query: str, variables: dict) -> dict:
        status, content = self.send(json.dumps({"query": query, "variables": variables}).encode())
        if not status.startswith("200") or b'"errors"' in content:
            raise SystemExit(f"request failed: {status} {content[:500]!r}")
        return json.loads(content)

    def send(self, payload: bytes, *, authenticated: bool = True, query_string: str = "") -> tuple[str, bytes]:
        """POST a raw body (or GET with `query_string`); returns the status line and the content."""
        environ = {
            "REQUEST_METHOD": "GET" if query_string else "POST",
            "QUERY_STRING": query_string,
            "PATH_INFO": "/graphql/",
            "SERVER_NAME": "testserver",
            "SERVER_PORT": "80",
            "SERVER_PROTOCOL": "HTTP/1.1",
            "wsgi.url_scheme": "http",
            "wsgi.input": io.BytesIO(payload),
            "wsgi.errors": sys.stderr,
            "CONTENT_TYPE": "application/json",
            "CONTENT_LENGTH": str(len(payload)),
        }
        if authenticated:
            environ["HTTP_AUTHORIZATION"] = f"Bearer {self.token}"
        status: list[str] = []
        chunks = self.application(environ, lambda code, headers, exc_info=None: status.append(code))
        return status[0], b"".join(chunks)


def measure(requester: Requester, query: str, variables: dict, repeat: int) -> dict[str, float]:
    def post() -> dict:
        return requester.post(query, variables)

    for _ in range(3):  # warm up caches and connections
        post()
    timings = []
    cpu = []
    for _ in range(repeat):
        started, started_cpu = time.perf_counter(), time.process_time()
        post()
        timings.append((time.perf_counter() - started) * 1000)
        cpu.append((time.process_time() - started_cpu) * 1000)
    with CaptureQueriesContext(connection) as captured:
        post()
    timings.sort()
    return {
        "median_ms": statistics.median(timings),
        "cpu_ms": statistics.median(cpu),
        "p95_ms": timings[min(len(timings) - 1, round(0.95 * (len(timings) - 1)))],
        "statements": len(captured.captured_queries),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--reports", type=int, default=1000)
    parser.add_argument("--orders", type=int, default=100_000)
    parser.add_argument("--repeat", type=int, default=30)
    parser.add_argument("--keepdb", action="store_true", help="keep the test database afterwards")
    args = parser.parse_args()

    setup_test_environment()  # also lets the WSGI application answer for "testserver"
    old_name = connection.settings_dict["NAME"]
    print(f"database: {connection.vendor}", flush=True)
    connection.creation.create_test_db(verbosity=0, autoclobber=True, keepdb=args.keepdb)
    try:
        progress("building the dataset")
        user, big_id = build_dataset(reports=args.reports, orders=args.orders)
        deep_cursor = order_cursor_at(big_id, args.orders - 201)
        _, token = api_token_create(user=user, name="benchmark")
        requester = Requester(token)
        cases = [
            (f"reports list ({args.reports} reports)", REPORTS_QUERY, lambda first: {"first": first}),
            (
                f"reports list + service totals ({args.reports} reports)",
                REPORTS_WITH_SERVICE_TOTALS_QUERY,
                lambda first: {"first": first},
            ),
            (
                f"report orders, first page ({args.orders} orders)",
                ORDERS_PAGE_QUERY,
                lambda first: {"id": big_id, "first": first},
            ),
            (
                f"report orders, deep page ({args.orders} orders)",
                ORDERS_PAGE_QUERY,
                lambda first: {"id": big_id, "first": first, "after": deep_cursor},
            ),
        ]
        print(f"{'request':52} {'page':>4} {'median ms':>10} {'p95 ms':>8} {'cpu ms':>7} {'SQL':>4}")
        for title, query, variables in cases:
            counts = set()
            for first in PAGE_SIZES:
                figures = measure(requester, query, variables(first), args.repeat)
                counts.add(figures["statements"])
                print(
                    f"{title:52} {first:>4} {figures['median_ms']:>10.1f} {figures['p95_ms']:>8.1f} "
                    f"{figures['cpu_ms']:>7.1f} {figures['statements']:>4}",
                    flush=True,
                )
            print(f"{'':52} statements constant in page size: {'yes' if len(counts) == 1 else 'NO'}")
    finally:
        connection.creation.destroy_test_db(old_name, verbosity=0, keepdb=args.keepdb)
        teardown_test_environment()


if __name__ == "__main__":
    main()
