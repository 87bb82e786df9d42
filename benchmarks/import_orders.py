"""Benchmark: import an orders export (CSV) into PostgreSQL and print rows/s and peak memory.

    DATABASE_URL=postgres://postgres@127.0.0.1:5432/scratch .venv/bin/python benchmarks/import_orders.py

THE DATABASE IS A SCRATCH ONE: the benchmark empties its orders and reports tables.

It writes a CSV shaped like the LedgerLink orders export (a JSON list of 1-4 SKU lines per
order, close dates with a "+00" offset, statuses draft/shipped/delivered) to a temporary file,
then runs `manage.py import_orders FILE` in this process, with the project's settings (so
DATABASE_PREPARED_STATEMENTS as configured, on by default), in two scenarios:

- empty: the orders table is empty when the import starts (it grows from 0 to N during the
  import; this is where a lookup plan prepared while the table was small used to keep
  scanning the whole table);
- full: the table already holds --prefill orders (default 1,000,000, inserted with SQL).

For each it prints wall time, rows/s, the Python CPU time (this process's: checks and writing,
and of it the worker process's, which reads and parses the file), the CPU time of the
PostgreSQL backends the import used (its writing connection is a second one, opened and closed
by the import: sampled while it runs, when the server runs on this machine) and the peak
resident set size of the process during the import (VmHWM, reset before), and the worker's
(which counts the pages it shares with this process). A smaller file (N/4 rows) is imported
too, into an empty table, to show that memory does not grow with the file. Target: at least
20,000 rows/s in both scenarios, memory constant in file size. BATCH=N in the environment
imports with --batch-size N.
"""

from __future__ import annotations

import argparse
import csv
import io
import json
import os
import random
import resource
import sys
import tempfile
import threading
import time
from contextlib import redirect_stderr
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "backend.settings")

import django

django.setup()

from django.core.management import call_command  # noqa: E402
from django.db import connection  # noqa: E402
from django.db.backends.signals import connection_created  # noqa: E402
from generate_report import backend_cpu_seconds, reset_peak_rss, rss_kib  # noqa: E402  (this folder's script)

from billing.models import Customer, Order  # noqa: E402
from billing.services.order_rows import ORDER_FIELDS  # noqa: E402

BATCH = ["--batch-size", os.environ["BATCH"]] if os.environ.get("BATCH") else []
STATUSES = ("draft", "draft", "draft", "shipped", "delivered")
CARRIERS = ("UPS", "ups", "FedEx", "USPS", "")


def write_export(path: Path, rows: int, customer_ids: list[int], *, start: int, seed: int) -> int:
    rng = random.Random(seed)
    skus = [f"SKU {index:04d}" if index % 3 else f"abo-{index:03d}" for index in range(500)]
    with path.open("w", newline="", encoding="utf-8") as handle:
        writer = csv.writer(handle)
        writer.writerow(ORDER_FIELDS)
        for number in range(start, start + rows):
            lines = [{"sku": sku, "quantity": rng.randint(1, 9)} for sku in rng.sample(skus, rng.randint(1, 4))]
            day, hour, minute = rng.randint(1, 28), rng.randint(0, 23), rng.randint(0, 59)
            values = {
                "transaction_id": str(number),
                "close_date": f"2025-01-{day:02d} {hour:02d}:{minute:02d}:00+00",
                "reference_number": f"PO-{number}",
                "ship_to_name": "Jane Roe",
                "ship_to_company": rng.choice(("", "Roe & Co", "-")),
                "ship_to_address": f"{rng.randint(1, 999)} Hill Farm Rd",
                "ship_to_address2": "",
                "ship_to_city": "Nobleton",
                "ship_to_state": "Ontario",
                "ship_to_zip": "L7B 0A1",
                "ship_to_country": rng.choice(("Canada", "US")),
                "weight_lb": f"{rng.uniform(0.1, 80):.2f}",
                "line_items": str(len(lines)),
                "sku_quantity": json.dumps(lines),
                "total_item_qty": str(sum(line["quantity"] for line in lines)),
                "volume_cuft": f"{rng.uniform(0.1, 9):.2f}",
                "packages": str(rng.randint(1, 3)),
                "notes": "",
                "carrier": rng.choice(CARRIERS),
                "customer_id": str(rng.choice(customer_ids)),
                "priority": "medium",
                "status": rng.choice(STATUSES),
            }
            writer.writerow([values[name] for name in ORDER_FIELDS])
    return path.stat().st_size


def empty_orders() -> None:
    tables = ["billing_orderline", "billing_reportline", "billing_reportorder", "billing_order"]
    with connection.cursor() as cursor:
        cursor.execute(f"TRUNCATE {', '.join(tables)} CASCADE")


def prefill(count: int, customer_ids: list[int]) -> None:
    """`count` orders (one line each) inserted by SQL, with transaction ids the files never use."""
    started = time.perf_counter()
    first = min(customer_ids)
    span = len(customer_ids)
    with connection.cursor() as cursor:
        cursor.execute(
            """
            INSERT INTO billing_order (transaction_id, customer_id, reference_number, close_date, status, priority,
                ship_to_name, ship_to_company, ship_to_address, ship_to_address2, ship_to_city, ship_to_state,
                ship_to_zip, ship_to_country, carrier, weight_lb, volume_cuft, packages, line_items,
                total_item_qty, notes, created_at, updated_at)
            SELECT 'PRE-' || n, %s + n %% %s, '', now(), 'delivered', '', '', '', '', '', '', '', '', '', '',
                1, 1, 1, 1, 1, '', now(), now()
            FROM generate_series(1, %s) AS n
            """,
            [first, span, count],
        )
        cursor.execute("INSERT INTO billing_orderline (order_id, sku, quantity) SELECT id, 'PRE', 1 FROM billing_order")
        cursor.execute("ANALYZE billing_order")
        cursor.execute("ANALYZE billing_orderline")
    print(f"  prefilled {count:,} orders in {time.perf_counter() - started:.1f} s")


class BackendCpu:
    """CPU time of the PostgreSQL backends of the connections opened meanwhile (sampled every 20 ms:
    a backend's figure is gone once its connection closes)."""

    def __init__(self) -> None:
        self.backends: dict[int, list[float]] = {}  # pid -> [CPU when opened, CPU last seen]
        self.running = True
        connection_created.connect(self.opened)
        self.sampler = threading.Thread(target=self.sample, daemon=True)
        self.sampler.start()

    def opened(self, sender: object, connection: object, **kwargs: object) -> None:
        pid = connection.connection.execute("SELECT pg_backend_pid()").fetchone()[0]  # type: ignore[attr-defined]
        seconds = backend_cpu_seconds(pid)
        if seconds is not None:
            self.backends[pid] = [seconds, seconds]

    def sample(self) -> None:
        while self.running:
            for pid, seen in list(self.backends.items()):
                seconds = backend_cpu_seconds(pid)
                if seconds is not None:
                    seen[1] = seconds
            time.sleep(0.02)

    def stop(self) -> float | None:
        self.running = False
        self.sampler.join()
        connection_created.disconnect(self.opened)
        return sum(last - first for first, last in self.backends.values()) if self.backends else None


def timed_import(path: Path, rows: int, label: str) -> None:
    connection.close()  # a fresh connection, as a new `manage.py import_orders` process would have
    out = io.StringIO()
    reset_peak_rss()
    before = rss_kib("VmRSS") or 0
    backends = BackendCpu()
    cpu = resource.getrusage(resource.RUSAGE_SELF)
    children = resource.getrusage(resource.RUSAGE_CHILDREN)
    started = time.perf_counter()
    with redirect_stderr(io.StringIO()):
        call_command("import_orders", str(path), "--no-progress", *BATCH, stdout=out)
    elapsed = time.perf_counter() - started
    used = resource.getrusage(resource.RUSAGE_SELF)
    children_used = resource.getrusage(resource.RUSAGE_CHILDREN)
    server_cpu = backends.stop()
    python_cpu = used.ru_utime + used.ru_stime - cpu.ru_utime - cpu.ru_stime
    worker_cpu = max(0.0, children_used.ru_utime + children_used.ru_stime - children.ru_utime - children.ru_stime)
    peak = rss_kib("VmHWM") or 0
    # The worker's peak (ru_maxrss: the largest child's so far, KiB). A forked child shares this
    # process's pages, and counts them as its own until either writes to them.
    worker_peak = children_used.ru_maxrss if worker_cpu > 0.05 else 0
    server = f"PostgreSQL CPU {server_cpu:.1f} s" if server_cpu is not None else "PostgreSQL CPU not measured (remote)"
    print(
        f"  {label:<34} {rows:>9,} rows in {elapsed:6.1f} s = {rows / elapsed:>7,.0f} rows/s; "
        f"Python CPU {python_cpu + worker_cpu:.1f} s (worker process {worker_cpu:.1f} s); {server}; "
        f"peak RSS {peak / 1024:.0f} MiB (+{(peak - before) / 1024:.0f} MiB), worker {worker_peak / 1024:.0f} MiB; "
        f"{out.getvalue().strip()}"
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--orders", type=int, default=200_000)
    parser.add_argument("--prefill", type=int, default=1_000_000)
    parser.add_argument("--seed", type=int, default=17)
    args = parser.parse_args()
    if connection.vendor != "postgresql":
        sys.exit("Run it on PostgreSQL: DATABASE_URL=postgres://... (a scratch database).")

    call_command("migrate", verbosity=0, skip_checks=True)
    empty_orders()
    customers = [Customer.objects.get_or_create(company_name=f"Import bench {i}")[0].pk for i in range(4)]
    prepared = connection.settings_dict.get("OPTIONS", {}).get("prepare_threshold")
    print(
        f"database: postgresql {connection.settings_dict.get('NAME')}; prepared statements: "
        f"{'on (threshold ' + str(prepared) + ')' if prepared else 'off'}"
    )
    with tempfile.TemporaryDirectory() as folder:
        big, small = Path(folder) / "orders.csv", Path(folder) / "orders-small.csv"
        size = write_export(big, args.orders, customers, start=2, seed=args.seed)
        small_rows = max(1, args.orders // 4)
        write_export(small, small_rows, customers, start=2, seed=args.seed)
        print(f"file: {args.orders:,} orders, {size / 2**20:.0f} MiB; small file: {small_rows:,} orders")

        timed_import(small, small_rows, "small file into an empty table")
        empty_orders()
        timed_import(big, args.orders, "into an empty table")
        empty_orders()
        prefill(args.prefill, customers)
        timed_import(big, args.orders, f"into a table of {args.prefill:,} orders")
        print(f"  orders now: {Order.objects.count():,}")
    empty_orders()


if __name__ == "__main__":
    main()
