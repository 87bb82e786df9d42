"""Benchmark: import inventory snapshots and receipts (CSV) and print rows/s, CPU time and peak memory.

    DATABASE_URL=postgres://postgres@127.0.0.1:5432/scratch .venv/bin/python benchmarks/import_activity.py \
        [--skus 10000] [--days 31] [--receipts 2000]

THE DATABASE IS A SCRATCH ONE: the benchmark empties the activity tables.

It writes a snapshot file of --skus SKUs at one location each for --days days (the storage of
benchmarks/generate_with_activity.py: 10,000 x 31 = 310,000 rows by default) and a receipts file
(--receipts receipts of 1-4 SKU lines), then runs `manage.py import_activity` on each twice in
this process: into empty tables, then again (every row unchanged, the idempotent path). For
each it prints wall time, process CPU time, rows/s and the peak resident set size (VmHWM,
reset before).
"""

from __future__ import annotations

import argparse
import csv
import datetime as dt
import io
import json
import os
import random
import sys
import tempfile
import time
from contextlib import redirect_stderr
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "backend.settings")

import django

django.setup()

from django.core.management import call_command  # noqa: E402
from generate_report import backend_cpu_seconds, backend_pid, reset_peak_rss, rss_kib  # noqa: E402  (this folder's script)

from billing.models import Customer, CustomerReturn, ExtraWorkEntry, InventorySnapshot, Receipt  # noqa: E402

START = dt.date(2026, 8, 1)


def write_snapshots(path: Path, customer_id: int, skus: int, days: int, seed: int) -> int:
    rng = random.Random(seed)
    with path.open("w", newline="", encoding="utf-8") as handle:
        writer = csv.writer(handle)
        writer.writerow(["customer_id", "snapshot_date", "sku", "location", "quantity", "pallets", "cubic_feet"])
        for day in range(days):
            date = (START + dt.timedelta(days=day)).isoformat()
            for index in range(skus):
                quantity = rng.randint(0, 500)
                writer.writerow(
                    [customer_id, date, f"SKU-{index:05d}", f"A-{index % 400:03d}-{index // 400:02d}", quantity,
                     f"{quantity / 240:.3f}", f"{quantity * 0.4:.3f}"]
                )  # fmt: skip
    return skus * days


def write_receipts(path: Path, customer_id: int, receipts: int, seed: int) -> int:
    rng = random.Random(seed)
    with path.open("w", newline="", encoding="utf-8") as handle:
        writer = csv.writer(handle)
        writer.writerow(
            ["customer_id", "reference", "received_at", "pallets", "cartons", "labour_minutes", "sku_quantity"]
        )
        for index in range(receipts):
            lines = [
                {"sku": f"SKU-{rng.randrange(10_000):05d}", "quantity": rng.randint(1, 400)}
                for _ in range(rng.randint(1, 4))
            ]
            moment = dt.datetime.combine(START, dt.time(8)) + dt.timedelta(minutes=index * 20)
            writer.writerow(
                [customer_id, f"ASN-{index:06d}", moment.isoformat(), rng.randint(1, 20), rng.randint(5, 200),
                 rng.randint(10, 300), json.dumps(lines)]
            )  # fmt: skip
    return receipts


def run(kind: str, path: Path, rows: int, label: str) -> None:
    reset_peak_rss()
    backend = backend_pid()
    server = backend_cpu_seconds(backend)
    wall, cpu = time.perf_counter(), time.process_time()
    out = io.StringIO()
    with redirect_stderr(io.StringIO()):
        call_command("import_activity", kind, str(path), "--no-progress", stdout=out)
    wall, cpu = time.perf_counter() - wall, time.process_time() - cpu
    after = backend_cpu_seconds(backend)
    database = f"  {after - server:6.2f} s database CPU" if server is not None and after is not None else ""
    print(
        f"{kind:20} {label:6} {rows:>8,} rows  {wall:7.2f} s wall  {cpu:7.2f} s CPU{database}  "
        f"{rows / wall:9,.0f} rows/s  peak RSS {(rss_kib('VmHWM') or 0) // 1024} MiB  ({out.getvalue().strip()})"
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--skus", type=int, default=10_000)
    parser.add_argument("--days", type=int, default=31)
    parser.add_argument("--receipts", type=int, default=2_000)
    options = parser.parse_args()

    for model in (InventorySnapshot, Receipt, CustomerReturn, ExtraWorkEntry):
        model.objects.all().delete()
    customer, _ = Customer.objects.get_or_create(company_name="Benchmark activity")
    with tempfile.TemporaryDirectory() as folder:
        snapshots = Path(folder) / "snapshots.csv"
        receipts = Path(folder) / "receipts.csv"
        snapshot_rows = write_snapshots(snapshots, customer.pk, options.skus, options.days, seed=1)
        receipt_rows = write_receipts(receipts, customer.pk, options.receipts, seed=2)
        for label in ("empty", "again"):
            run("inventory_snapshots", snapshots, snapshot_rows, label)
            run("receipts", receipts, receipt_rows, label)


if __name__ == "__main__":
    main()
