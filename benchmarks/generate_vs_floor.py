"""Benchmark: generation against its physical floor, side by side in one run (PostgreSQL).

    DATABASE_URL=postgres://postgres@127.0.0.1:5432/ledgerlink .venv/bin/python benchmarks/generate_vs_floor.py
    ... benchmarks/generate_vs_floor.py --orders 100000 --rounds 3

The floor is one set-based INSERT ... SELECT (benchmarks/generation_floor.sql) that prices the
same billable orders against the same rate card and writes the same report lines, and does
nothing else: no report orders, totals, per-day figures, claims or audit. It runs in its own
transaction and commits, as generation does.

Uses benchmarks/generate_report.py's customer (built once, reused). Each round times the floor
and then a generation (report_generate, the whole use case), interleaved so that both see the
same machine, and each from the same starting point: the previous rows deleted, the tables both
sides write or read vacuumed (the report tables and the orders), then a checkpoint. Each side
writes a few hundred megabytes of WAL, and the deletions and vacuums between them as much, so
without the checkpoint the ones max_wal_size triggers start wherever they fall, and the side
running while one is under way pays for the other side's dirty pages and for a full-page image
of each page it touches first. The script checks that the floor wrote as many lines, for the
same total, as the generation did (otherwise the ratio would compare different work) and
prints per round the two times with the CPU seconds of the PostgreSQL backend (and, for
generation, of Python) behind them, then the medians and, as its last line:

    ratio <generation median>/<floor median> = X.XX
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import time
import uuid
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))

import generate_report as bench  # noqa: E402  (sets up Django)
from django.core.management import call_command  # noqa: E402
from django.db import connection, transaction  # noqa: E402

from billing.models import CustomerService, ReportLine  # noqa: E402
from billing.selectors.orders import billable_orders  # noqa: E402

FLOOR_SQL = HERE / "generation_floor.sql"
# build_rate_card's service names (after "Bench ") -> the SQL's service_... placeholders.
SERVICE_KEYS = {
    "Order fee": "fee",
    "Special handling": "special",
    "Case pick": "case",
    "Each pick": "each",
    "Units (graduated)": "tier",
    "Package fee": "package",
    "Heavy order": "heavy",
    "SKU handling": "sku",
    "Canada surcharge": "canada",
}


def floor_statement(customer, report_id: uuid.UUID) -> str:
    """generation_floor.sql with its placeholders filled in as SQL literals."""
    literal = connection.ops.compose_sql
    orders = billable_orders(customer_id=customer.pk, start_date=bench.START, end_date=bench.END).values_list(
        "id", "close_date", "transaction_id", "carrier", "packages", "weight_lb", "ship_to_country"
    )
    orders_sql = literal(*orders.query.sql_with_params())
    services = {}
    special: list[str] = []
    for line in CustomerService.objects.filter(customer=customer).select_related("service").prefetch_related("skus"):
        key = SERVICE_KEYS[line.service.name.removeprefix("Bench ")]
        services[f"service_{key}"] = str(int(line.service_id))
        if key == "special":
            special = sorted(p.sku_key for p in line.skus.all())
    skus = [f"SKU{i:05d}" for i in range(bench.SKU_COUNT)]
    return FLOOR_SQL.read_text().format(
        orders=orders_sql,
        report=literal("%s::uuid", [str(report_id)]),
        customer=str(int(customer.pk)),
        special=literal("%s::text[]", [special]),
        handled=literal("%s::text[]", [skus[100:140]]),
        **services,
    )


SETTLED_TABLES = (
    "billing_reportline",
    "billing_reportorder",
    "billing_billingreport",
    "billing_billedpair",
    "billing_order",  # read by both sides
)


def settle() -> None:
    """The same starting point for either side: the tables both write or read vacuumed, then a checkpoint."""
    with connection.cursor() as cursor:
        for table in SETTLED_TABLES:
            cursor.execute(f"VACUUM ANALYZE {table}")
        cursor.execute("CHECKPOINT")


def server_cpu() -> float:
    return bench.backend_cpu_seconds(bench.backend_pid()) or 0.0


def timed_floor(customer) -> tuple[float, float, int, object]:
    """(wall seconds, backend CPU seconds, lines, total) of the floor statement."""
    report_id = uuid.uuid4()
    statement = floor_statement(customer, report_id)
    settle()
    server = server_cpu()
    started = time.perf_counter()
    with transaction.atomic(), connection.cursor() as cursor:
        cursor.execute(statement)
    elapsed = time.perf_counter() - started
    server = server_cpu() - server
    lines = ReportLine.objects.filter(report_id=report_id)
    count, total = lines.count(), sum(lines.values_list("amount", flat=True))
    lines.delete()
    return elapsed, server, count, total


def timed_generation(customer) -> tuple[float, float, float, int, object]:
    """(wall seconds, backend CPU seconds, Python CPU seconds, lines, total) of one generation."""
    settle()
    server = server_cpu()
    started, python = time.perf_counter(), time.process_time()
    report = bench.generate(customer)
    elapsed, python = time.perf_counter() - started, time.process_time() - python
    server = server_cpu() - server
    return elapsed, server, python, report.line_count, report.total_amount


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--orders", type=int, default=100_000)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--seed", type=int, default=20250131)
    args = parser.parse_args()
    if connection.vendor != "postgresql":
        sys.exit("This benchmark needs PostgreSQL: set DATABASE_URL=postgres://...")
    call_command("migrate", verbosity=0, skip_checks=True)
    customer = bench.bench_customer(args.orders, False, args.seed)
    print(f"database {connection.settings_dict.get('NAME')}; {args.orders:,} orders; load {os.getloadavg()[0]:.2f}")

    floors, generations = [], []
    for round_number in range(1, args.rounds + 1):
        bench.clear_reports(customer)
        floor, floor_server, floor_lines, floor_total = timed_floor(customer)
        generation, server, python, lines, total = timed_generation(customer)
        if (floor_lines, floor_total) != (lines, total):
            sys.exit(
                f"the floor wrote {floor_lines} lines for {floor_total}, generation {lines} for {total}: "
                "generation_floor.sql no longer prices what build_rate_card builds"
            )
        floors.append(floor)
        generations.append(generation)
        print(
            f"round {round_number}: floor {floor:.2f} s (server CPU {floor_server:.2f} s), "
            f"generation {generation:.2f} s (server CPU {server:.2f} s, Python CPU {python:.2f} s) "
            f"({generation / floor:.2f}x; {lines:,} lines, total {total}; load {os.getloadavg()[0]:.2f})"
        )
    bench.clear_reports(customer)
    floor_median, generation_median = statistics.median(floors), statistics.median(generations)
    print(f"floor median {floor_median:.2f} s; generation median {generation_median:.2f} s")
    print(f"ratio {generation_median:.2f}/{floor_median:.2f} = {generation_median / floor_median:.2f}")


if __name__ == "__main__":
    main()
