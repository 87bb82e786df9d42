"""Benchmark: generate one billing report over N orders and print the figures.

    DATABASE_URL=postgres://postgres@127.0.0.1:5432/ledgerlink .venv/bin/python benchmarks/generate_report.py
    .venv/bin/python benchmarks/generate_report.py --orders 20000          # SQLite (bulk_create path)

Builds (once, reused by later runs with the same N) one customer with N orders of 2-4 SKU
lines each (about 3) closed during January 2025, and a rate card of 9 lines: a per-order fee,
a per_unit line with assigned SKUs, case pick, each pick, a tiered line graduated over the
period's units, and four lines with rules (package fee, heavy-order fee, per-SKU handling,
Canada surcharge). Orders and lines are written with COPY on PostgreSQL.

Then it times report_generate and prints: wall time, orders/second, Python and PostgreSQL
CPU time, report lines written, the SQL statements issued during generation (every statement
Django records in connection.queries: queries run through cursor.execute, counted by
connection.execute_wrapper, plus the streamed order read and the COPY statements), and
memory: peak resident set size during generation (VmHWM after resetting it, or the ru_maxrss
delta) and, in a separate run, the tracemalloc peak (tracemalloc slows Python down, so that
run is not timed). A second, untimed-in-detail generation over N/10 orders (another customer,
built once like the first) shows that the statement count does not depend on N.

    --repeat 3                   three timed runs, then their median wall time

Targets, figures and what the design measured against the alternatives: README, "Speed".
"""

from __future__ import annotations

import argparse
import datetime as dt
import os
import random
import resource
import statistics
import sys
import time
import tracemalloc
from decimal import Decimal
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "backend.settings")

import django

django.setup()

from django.conf import settings  # noqa: E402
from django.core.management import call_command  # noqa: E402
from django.db import connection, transaction  # noqa: E402
from django.test.utils import CaptureQueriesContext  # noqa: E402
from django.utils import timezone  # noqa: E402

from billing.models import (  # noqa: E402
    AuditEvent,
    BilledPair,
    BillingReport,
    ChargeType,
    Customer,
    CustomerService,
    Order,
    OrderLine,
    PriceTier,
    Product,
    ReportLine,
    ReportOrder,
    ReportServiceTotal,
    Rule,
    RuleGroup,
    Service,
)
from billing.services.reports import report_generate  # noqa: E402

START = dt.date(2025, 1, 1)
END = dt.date(2025, 1, 31)
SKU_COUNT = 400
COUNTRIES = ("US", "US", "US", "CA", "MX", "GB")
CARRIERS = ("UPS", "FEDEX", "USPS", "DHL")
ORDER_COPY_COLUMNS = (
    "id",
    "transaction_id",
    "customer_id",
    "reference_number",
    "close_date",
    "status",
    "priority",
    "ship_to_name",
    "ship_to_company",
    "ship_to_address",
    "ship_to_address2",
    "ship_to_city",
    "ship_to_state",
    "ship_to_zip",
    "ship_to_country",
    "carrier",
    "weight_lb",
    "volume_cuft",
    "packages",
    "line_items",
    "total_item_qty",
    "notes",
    "created_at",
    "updated_at",
)


def rss_kib(field: str) -> int | None:
    try:
        with open("/proc/self/status") as status:
            for line in status:
                if line.startswith(field + ":"):
                    return int(line.split()[1])
    except OSError:
        return None
    return None


def backend_cpu_seconds(pid: int | None) -> float | None:
    """CPU time (user + system) of the PostgreSQL backend serving this connection, when it runs here."""
    if pid is None:
        return None
    try:
        with open(f"/proc/{pid}/stat") as stat:
            fields = stat.read().rsplit(")", 1)[1].split()
        return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")
    except (OSError, IndexError, ValueError):
        return None


def backend_pid() -> int | None:
    if connection.vendor != "postgresql":
        return None
    with connection.cursor() as cursor:
        cursor.execute("SELECT pg_backend_pid()")
        return cursor.fetchone()[0]


def reset_peak_rss() -> bool:
    """Reset VmHWM (Linux >= 4.0) so it measures the peak of what follows."""
    try:
        with open("/proc/self/clear_refs", "w") as clear_refs:
            clear_refs.write("5")
        return True
    except OSError:
        return False


# --- data -----------------------------------------------------------------------------


def build_rate_card(customer: Customer, rng: random.Random) -> None:
    skus = [f"SKU{i:05d}" for i in range(SKU_COUNT)]
    Product.objects.bulk_create(
        [Product(customer=customer, sku=sku, sku_key=sku, case_size=rng.choice((6, 12, 24))) for sku in skus]
    )
    products = {p.sku: p for p in Product.objects.filter(customer=customer)}

    def line(name: str, charge_type: str, price: str, **kwargs) -> CustomerService:
        service, _ = Service.objects.get_or_create(name=f"Bench {name}", defaults={"charge_type": charge_type})
        return CustomerService.objects.create(customer=customer, service=service, unit_price=Decimal(price), **kwargs)

    line("Order fee", ChargeType.PER_ORDER, "1.2500")
    special = line("Special handling", ChargeType.PER_UNIT, "0.4000")
    special.skus.add(*[products[sku] for sku in skus[:20]])
    line("Case pick", ChargeType.CASE_PICK, "0.9000")
    line("Each pick", ChargeType.EACH_PICK, "0.1800")
    tiered = line("Units (graduated)", ChargeType.TIERED, "0", tier_basis=ChargeType.PER_UNIT)
    PriceTier.objects.create(customer_service=tiered, up_to=Decimal("100000"), unit_price=Decimal("0.0500"))
    PriceTier.objects.create(customer_service=tiered, up_to=Decimal("250000"), unit_price=Decimal("0.0400"))
    PriceTier.objects.create(customer_service=tiered, up_to=None, unit_price=Decimal("0.0300"))

    def with_rules(cs: CustomerService, logic: str, *rules: tuple[str, str, str]) -> None:
        group = RuleGroup.objects.create(customer_service=cs, logic_operator=logic)
        Rule.objects.bulk_create([Rule(rule_group=group, field=f, operator=o, value=v) for f, o, v in rules])

    with_rules(
        line("Package fee", ChargeType.PER_PACKAGE, "0.7500"),
        "AND",
        ("carrier", "in", "UPS;FEDEX"),
        ("packages", "ge", "1"),
    )
    with_rules(line("Heavy order", ChargeType.PER_WEIGHT_LB, "0.0600"), "OR", ("weight_lb", "gt", "20"))
    with_rules(
        line("SKU handling", ChargeType.PER_SKU, "0.3500"),
        "AND",
        ("sku", "contains", ";".join(skus[100:140])),
        ("ship_to_country", "ne", "GB"),
    )
    with_rules(line("Canada surcharge", ChargeType.PER_ORDER, "3.0000"), "NOR", ("ship_to_country", "not_in", "CA"))


def copy_text(value: str) -> str:
    return value.replace("\\", "\\\\").replace("\t", "\\t").replace("\n", "\\n").replace("\r", "\\r")


def build_orders(customer: Customer, n: int, rng: random.Random) -> None:
    skus = [f"SKU{i:05d}" for i in range(SKU_COUNT)]
    period_seconds = int((END - START).days + 1) * 86400
    base = dt.datetime.combine(START, dt.time.min, tzinfo=dt.UTC)
    now = timezone.now().isoformat()
    if connection.vendor == "postgresql":
        with connection.cursor() as cursor:
            cursor.execute("SELECT COALESCE(MAX(id), 0) FROM billing_order")
            first_id = cursor.fetchone()[0] + 1
            order_sql = f"COPY billing_order ({', '.join(ORDER_COPY_COLUMNS)}) FROM STDIN"
            line_sql = "COPY billing_orderline (order_id, sku, quantity) FROM STDIN"
            batch = 20_000
            for start in range(0, n, batch):
                orders, lines = [], []
                for i in range(start, min(n, start + batch)):
                    order_id = first_id + i
                    row, order_lines = fake_order(customer, i, order_id, base, period_seconds, rng, skus, now)
                    orders.append("\t".join(copy_text(str(v)) for v in row) + "\n")
                    lines.extend(f"{order_id}\t{sku}\t{qty}\n" for sku, qty in order_lines)
                with cursor.copy(order_sql) as copy:
                    copy.write("".join(orders))
                with cursor.copy(line_sql) as copy:
                    copy.write("".join(lines))
            cursor.execute(
                "SELECT setval(pg_get_serial_sequence('billing_order', 'id'), (SELECT MAX(id) FROM billing_order))"
            )
            cursor.execute("ANALYZE billing_order")
            cursor.execute("ANALYZE billing_orderline")
        return
    batch = 5_000
    for start in range(0, n, batch):
        specs = [
            fake_order(customer, i, None, base, period_seconds, rng, skus, now)
            for i in range(start, min(n, start + batch))
        ]
        created = Order.objects.bulk_create(
            [Order(**dict(zip(ORDER_COPY_COLUMNS[1:], row[1:], strict=True))) for row, _ in specs], batch_size=2000
        )
        OrderLine.objects.bulk_create(
            [
                OrderLine(order_id=order.pk, sku=sku, quantity=qty)
                for order, (_, order_lines) in zip(created, specs, strict=True)
                for sku, qty in order_lines
            ],
            batch_size=2000,
        )


def fake_order(customer, i, order_id, base, period_seconds, rng, skus, now):
    line_count = rng.choice((2, 3, 3, 4))
    order_lines = [(sku, rng.randint(1, 30)) for sku in rng.sample(skus, line_count)]
    close_date = base + dt.timedelta(seconds=rng.randrange(period_seconds))
    status = "cancelled" if rng.random() < 0.01 else "completed"
    row = (
        order_id,
        f"B{customer.pk}-{i:08d}",
        customer.pk,
        f"PO-{i}",
        close_date.isoformat(),
        status,
        "",
        f"Customer {i % 997}",
        "",
        f"{i % 9000} Main St",
        "",
        "Springfield",
        "IL",
        "62701",
        rng.choice(COUNTRIES),
        rng.choice(CARRIERS),
        Decimal(rng.randint(1, 40000)) / 1000,
        Decimal(rng.randint(100, 9000)) / 1000,
        rng.randint(1, 3),
        line_count,
        sum(qty for _, qty in order_lines),
        "",
        now,
        now,
    )
    return row, order_lines


def bench_customer(n: int, rebuild: bool, seed: int) -> Customer:
    name = f"Benchmark {n} orders"
    customer = Customer.objects.filter(company_name=name).first()
    if customer is not None and not rebuild and Order.objects.filter(customer=customer).count() == n:
        print(f"reusing {name} (customer {customer.pk})")
        return customer
    if customer is not None:
        clear_reports(customer)
        OrderLine.objects.filter(order__customer=customer).delete()
        Order.objects.filter(customer=customer).delete()
        CustomerService.objects.filter(customer=customer).delete()
        Product.objects.filter(customer=customer).delete()
        customer.delete()
    rng = random.Random(seed)
    started = time.perf_counter()
    with transaction.atomic():
        customer = Customer.objects.create(company_name=name, currency="USD")
        build_rate_card(customer, rng)
        build_orders(customer, n, rng)
    print(f"built {name} (customer {customer.pk}) in {time.perf_counter() - started:.1f} s")
    return customer


def clear_reports(customer: Customer) -> None:
    reports = BillingReport.objects.filter(customer=customer)
    # The claims first: a deleted report releases its pairs through its lines, deleted below.
    BilledPair.objects.filter(order_id__in=Order.objects.filter(customer=customer).values("id")).delete()
    AuditEvent.objects.filter(report__in=reports).delete()
    ReportLine.objects.filter(report__in=reports).delete()
    ReportOrder.objects.filter(report__in=reports).delete()
    ReportServiceTotal.objects.filter(report__in=reports).delete()
    reports.update(superseded_by=None)
    reports.delete()
    if connection.vendor == "postgresql":
        with connection.cursor() as cursor:
            existing = set(connection.introspection.table_names(cursor))
            for table in (
                "billing_reportline",
                "billing_reportorder",
                "billing_reportservicetotal",
                "billing_billingreport",
                # The claims of the deleted reports: left unvacuumed (autovacuum may be off), every
                # run adds a dead entry per pair to the primary key, which the next claim visits.
                "billing_billedpair",
            ):
                if table in existing:  # not before the invoice lifecycle
                    cursor.execute(f"VACUUM ANALYZE {table}")


# --- measuring --------------------------------------------------------------------------


TRANSACTION_CONTROL = ("BEGIN", "COMMIT", "ROLLBACK")


def statement_kind(sql: str) -> str:
    return sql.lstrip().split(None, 1)[0].upper()


class StatementCounter:
    """Counts the statements run through cursor.execute (transaction control apart)."""

    def __init__(self) -> None:
        self.count = 0

    def __call__(self, execute, sql, params, many, context):
        if statement_kind(sql) not in TRANSACTION_CONTROL:
            self.count += 1
        return execute(sql, params, many, context)


def generate(customer: Customer):
    return report_generate(actor=None, customer_id=customer.pk, start_date=START, end_date=END)


def timed_run(customer: Customer, n: int, *, quiet: bool = False) -> tuple[float, int]:
    """Generate the report once and print its figures; returns (wall seconds, SQL statements)."""
    counter = StatementCounter()
    peak_reset = reset_peak_rss()
    rss_before = rss_kib("VmRSS")
    maxrss_before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    pid = backend_pid()
    server_before = backend_cpu_seconds(pid)
    with connection.execute_wrapper(counter), CaptureQueriesContext(connection) as captured:
        started = time.perf_counter()
        cpu_started = time.process_time()
        report = generate(customer)
        elapsed = time.perf_counter() - started
        cpu = time.process_time() - cpu_started
    server_after = backend_cpu_seconds(pid)
    maxrss_after = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    statements = len(captured.captured_queries)
    kinds = [statement_kind(q["sql"]) for q in captured.captured_queries]
    copies = kinds.count("COPY")
    control = sum(kinds.count(kind) for kind in TRANSACTION_CONTROL)  # Django records them too
    streamed = statements - counter.count - copies - control  # recorded, not run through cursor.execute
    if quiet:
        return elapsed, statements
    print(
        f"report {report.pk}: {report.order_count} billed + {report.unbilled_order_count} unbilled orders, "
        f"{report.line_count} lines, total {report.total_amount} {report.currency}"
    )
    print(f"  wall time            {elapsed:.2f} s")
    print(f"  orders/second        {n / elapsed:,.0f}")
    print(f"  Python CPU           {cpu:.2f} s")
    if server_before is not None and server_after is not None:
        print(f"  PostgreSQL CPU       {server_after - server_before:.2f} s (backend {pid})")
    print(f"  machine load         {os.getloadavg()[0]:.2f} (1-min average, {os.cpu_count()} CPUs)")
    print(f"  lines/second         {report.line_count / elapsed:,.0f}")
    print(
        f"  SQL statements       {statements}: {counter.count} executed + {streamed} streamed + {copies} COPY "
        f"+ {control} transaction control "
        f"(chunk size {settings.BILLING_GENERATION_CHUNK_SIZE})"
    )
    if peak_reset and rss_before is not None:
        peak = rss_kib("VmHWM") or 0
        print(
            f"  peak RSS             {peak / 1024:.0f} MiB (was {rss_before / 1024:.0f} MiB before; "
            f"+{(peak - rss_before) / 1024:.0f} MiB)"
        )
    print(f"  ru_maxrss delta      +{(maxrss_after - maxrss_before) / 1024:.0f} MiB")
    return elapsed, statements


def tracemalloc_run(customer: Customer) -> None:
    tracemalloc.start()
    started = time.perf_counter()
    generate(customer)
    elapsed = time.perf_counter() - started
    _, peak = tracemalloc.get_traced_memory()
    tracemalloc.stop()
    print(f"  tracemalloc peak     {peak / 2**20:.0f} MiB (separate run under tracemalloc: {elapsed:.1f} s)")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--orders", type=int, default=100_000)
    parser.add_argument("--repeat", type=int, default=1, help="timed runs (each generates the report afresh)")
    parser.add_argument("--chunk-size", type=int, default=None, help="BILLING_GENERATION_CHUNK_SIZE override")
    parser.add_argument("--rebuild", action="store_true", help="rebuild the orders even if they exist")
    parser.add_argument("--no-tracemalloc", action="store_true", help="skip the tracemalloc run")
    parser.add_argument("--no-small", action="store_true", help="skip the N/10 run that shows the statement count")
    parser.add_argument("--seed", type=int, default=20250131)
    args = parser.parse_args()

    call_command("migrate", verbosity=0, skip_checks=True)
    if args.chunk_size:
        settings.BILLING_GENERATION_CHUNK_SIZE = args.chunk_size
    print(f"database: {connection.vendor} {connection.settings_dict.get('NAME')}; orders: {args.orders:,}")

    customer = bench_customer(args.orders, args.rebuild, args.seed)
    small_n = max(1, args.orders // 10)
    small = None if args.no_small else bench_customer(small_n, args.rebuild, args.seed + 1)
    walls, statements = [], set()
    for _ in range(max(1, args.repeat)):
        clear_reports(customer)  # every run a first generation (a regeneration also supersedes: +2 statements)
        wall, count = timed_run(customer, args.orders)
        walls.append(wall)
        statements.add(count)
    if len(walls) > 1:
        median = statistics.median(walls)
        print(
            f"median of {len(walls)} runs: {median:.2f} s ({args.orders / median:,.0f} orders/s); "
            f"all: {', '.join(f'{w:.2f}' for w in walls)} s"
        )
    # Before the small run: an ANALYZE that sees one lone report leaves statistics under which
    # the next report's analytics join is planned as a nested loop (minutes instead of a second).
    clear_reports(customer)
    if small is not None:
        clear_reports(small)
        _, small_count = timed_run(small, small_n, quiet=True)
        print(
            f"SQL statements: {small_count} for {small_n:,} orders, {', '.join(map(str, sorted(statements)))} "
            f"for {args.orders:,} orders (chunk size {settings.BILLING_GENERATION_CHUNK_SIZE})"
        )
        clear_reports(small)
    if not args.no_tracemalloc:
        tracemalloc_run(customer)
        clear_reports(customer)


if __name__ == "__main__":
    main()
