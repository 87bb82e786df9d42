"""Benchmark: generation against its physical floor, side by side in one run (PostgreSQL).

    DATABASE_URL=postgres://postgres@127.0.0.1:5432/ledgerlink .venv/bin/python benchmarks/generate_vs_floor.py
    ... benchmarks/generate_vs_floor.py --orders 100000 --rounds 3 [--no-set-based]

The floor is one set-based INSERT ... SELECT (benchmarks/generation_floor.sql) that prices the
same billable orders against the same rate card and writes the same report lines, and does
nothing else: no report orders, totals, per-day figures, claims or audit, nor the lines'
explanation keys and detail. It runs in its own transaction and commits, as generation does.
The set-based statement (benchmarks/generation_set_based.sql) writes the lines whole, as
generation does, explanation keys and detail (JSON text) included: what pricing in SQL costs.

Uses benchmarks/generate_report.py's customer (built once, reused). Each round times the floor,
the set-based statement and then a generation (report_generate, the whole use case),
interleaved so that all see the same machine, and each from the same starting point: the
previous rows deleted, the tables the sides write or read vacuumed (the report tables and the
orders), then a checkpoint. Each side writes a few hundred megabytes of WAL, and the deletions
and vacuums between them as much, so without the checkpoint the ones max_wal_size triggers
start wherever they fall, and the side running while one is under way pays for the other
side's dirty pages and for a full-page image of each page it touches first. The script checks
that the floor wrote as many lines for the same total as the generation did, and the set-based
statement the very same lines (a digest of every line's order, service, quantity, unit price,
amount, explanation key and detail): otherwise a ratio would compare different work. It prints
per round the times with the CPU seconds of the PostgreSQL backend (and, for generation, of
Python) behind them, then the medians and, as its last line:

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
from billing.pricing import compile_rate_card  # noqa: E402
from billing.selectors.orders import billable_orders  # noqa: E402
from billing.selectors.rate_cards import load_rate_card  # noqa: E402

FLOOR_SQL = HERE / "generation_floor.sql"
SET_BASED_SQL = HERE / "generation_set_based.sql"
# build_rate_card's service names (after "Bench ") -> the SQL's service_... and key_... placeholders.
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
# What is compared of the lines each side wrote: their count, total and a digest of their content.
LINES_DIGEST_SQL = """
SELECT COUNT(*), SUM(amount), MD5(STRING_AGG(
    CONCAT_WS('|', order_id, service_id, quantity, unit_price, amount, explanation, detail), E'\\n'
    ORDER BY order_id, service_id
))
FROM billing_reportline WHERE report_id = %s
"""


def floor_statement(sql_path: Path, customer, report_id: uuid.UUID) -> str:
    """A floor's SQL with its placeholders filled in as SQL literals."""
    literal = connection.ops.compose_sql
    orders = billable_orders(customer_id=customer.pk, start_date=bench.START, end_date=bench.END).values_list(
        "id", "close_date", "transaction_id", "carrier", "packages", "weight_lb", "ship_to_country"
    )
    orders_sql = literal(*orders.query.sql_with_params())
    services = {}
    special: list[str] = []
    key_of = {
        cs_id: key
        for key, cs_id in compile_rate_card(load_rate_card(customer_id=customer.pk).rate_card).explanation_lines.items()
    }
    lines = CustomerService.objects.filter(customer=customer).select_related("service").prefetch_related("skus")
    for line in lines:
        key = SERVICE_KEYS[line.service.name.removeprefix("Bench ")]
        services[f"service_{key}"] = str(int(line.service_id))
        services[f"key_{key}"] = str(int(key_of[line.pk]))
        if key == "special":
            special = sorted(p.sku_key for p in line.skus.all())
    skus = [f"SKU{i:05d}" for i in range(bench.SKU_COUNT)]
    return sql_path.read_text().format(
        orders=orders_sql,
        report=literal("%s::uuid", [str(report_id)]),
        customer=str(int(customer.pk)),
        special=literal("%s::text[]", [special]),
        handled=literal("%s::text[]", [skus[100:140]]),
        **services,
    )


def lines_digest(report_id: uuid.UUID) -> tuple[int, object, str]:
    with connection.cursor() as cursor:
        cursor.execute(LINES_DIGEST_SQL, [report_id])
        return cursor.fetchone()


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


def timed_statement(sql_path: Path, customer) -> tuple[float, float, tuple]:
    """(wall seconds, backend CPU seconds, lines digest) of the floor or the set-based statement."""
    report_id = uuid.uuid4()
    statement = floor_statement(sql_path, customer, report_id)
    settle()
    server = server_cpu()
    started = time.perf_counter()
    with transaction.atomic(), connection.cursor() as cursor:
        cursor.execute(statement)
    elapsed = time.perf_counter() - started
    server = server_cpu() - server
    digest = lines_digest(report_id)
    ReportLine.objects.filter(report_id=report_id).delete()
    return elapsed, server, digest


def timed_generation(customer) -> tuple[float, float, float, tuple]:
    """(wall seconds, backend CPU seconds, Python CPU seconds, lines digest) of one generation."""
    settle()
    server = server_cpu()
    started, python = time.perf_counter(), time.process_time()
    report = bench.generate(customer)
    elapsed, python = time.perf_counter() - started, time.process_time() - python
    server = server_cpu() - server
    return elapsed, server, python, lines_digest(report.pk)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--orders", type=int, default=100_000)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--seed", type=int, default=20250131)
    parser.add_argument(
        "--no-set-based", dest="set_based", action="store_false", help="leave out the set-based statement"
    )
    args = parser.parse_args()
    if connection.vendor != "postgresql":
        sys.exit("This benchmark needs PostgreSQL: set DATABASE_URL=postgres://...")
    call_command("migrate", verbosity=0, skip_checks=True)
    customer = bench.bench_customer(args.orders, False, args.seed)
    print(f"database {connection.settings_dict.get('NAME')}; {args.orders:,} orders; load {os.getloadavg()[0]:.2f}")

    floors, set_based, generations = [], [], []
    for round_number in range(1, args.rounds + 1):
        bench.clear_reports(customer)
        floor, floor_server, floor_lines = timed_statement(FLOOR_SQL, customer)
        if args.set_based:
            sql, sql_server, sql_lines = timed_statement(SET_BASED_SQL, customer)
        generation, server, python, lines = timed_generation(customer)
        if floor_lines[:2] != lines[:2] or (args.set_based and sql_lines != lines):
            sys.exit(
                f"the floor wrote {floor_lines[:2]} (lines, total), the set-based statement "
                f"{sql_lines if args.set_based else '-'} (and digest), generation {lines}: "
                "benchmarks/generation_*.sql no longer price what build_rate_card builds"
            )
        floors.append(floor)
        generations.append(generation)
        sides = f"floor {floor:.2f} s (server CPU {floor_server:.2f} s), "
        if args.set_based:
            set_based.append(sql)
            sides += f"set-based {sql:.2f} s (server CPU {sql_server:.2f} s), "
        print(
            f"round {round_number}: {sides}generation {generation:.2f} s "
            f"(server CPU {server:.2f} s, Python CPU {python:.2f} s) ({generation / floor:.2f}x; "
            f"{lines[0]:,} lines, total {lines[1]}; load {os.getloadavg()[0]:.2f})"
        )
    bench.clear_reports(customer)
    floor_median, generation_median = statistics.median(floors), statistics.median(generations)
    if set_based:
        sql_median = statistics.median(set_based)
        print(
            f"set-based median {sql_median:.2f} s: generation takes {generation_median / sql_median:.2f}x "
            "the time of pricing and writing the same lines in SQL"
        )
    print(f"floor median {floor_median:.2f} s; generation median {generation_median:.2f} s")
    print(f"ratio {generation_median:.2f}/{floor_median:.2f} = {generation_median / floor_median:.2f}")


if __name__ == "__main__":
    main()
