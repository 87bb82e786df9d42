"""Benchmark: the 100,000-order report with a month of storage, receiving, returns and extra work.

    DATABASE_URL=postgres://postgres@127.0.0.1:5432/ledgerlink .venv/bin/python benchmarks/generate_with_activity.py
    .venv/bin/python benchmarks/generate_with_activity.py --orders 20000 --skus 2000 --repeat 3

Builds (once, reused by later runs with the same sizes) the customer of
benchmarks/generate_report.py (N orders, its 9-line rate card) and adds to it: daily inventory
snapshots of --skus SKUs over January 2025 (10,000 SKUs: 310,000 rows, written with COPY on
PostgreSQL), 2,000 receipts with SKU lines, 1,000 returns and 300 extra-work entries, with rate-card
lines for storage per pallet (average per month), per location (per day), per cubic foot (peak),
receiving per receipt, pallet and labour hour (one with a rule `pallets gt 10`), returns per
return and per unit, extra work, and three adjustments (a minimum, a dated surcharge, a discount).
With --storage-rule the cubic-foot line gets a rule on the snapshots' location, so generation
reads every snapshot row instead of the per-day sums.

Then it times, interleaved, an order-only report (the activity lines and adjustments switched
off, the activity still stored) and the whole report, --repeat times each, and prints each
run's wall and CPU time (this process and the PostgreSQL backend), the medians and the ratio
whole / order-only (target: at most 1.3), and the SQL statements of both, for N and for N/10
orders (the same activity), which shows that the statement count does not depend on N.
"""

from __future__ import annotations

import argparse
import datetime as dt
import random
import statistics
import sys
import time
from decimal import Decimal
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

import generate_report as base
from django.db import connection, transaction
from django.test.utils import CaptureQueriesContext

from billing.models import (
    ChargeType,
    Customer,
    CustomerReturn,
    CustomerService,
    ExtraWorkEntry,
    InventorySnapshot,
    RateCardAdjustment,
    Receipt,
    ReceiptLine,
    ReportOtherCharge,
    ReturnLine,
    Rule,
    RuleGroup,
    Service,
)
from billing.pricing import normalize_sku

ACTIVITY_LINES = (
    ("Pallet storage", ChargeType.STORAGE_PALLET, "12.0000", "month", "average"),
    ("Bin storage", ChargeType.STORAGE_LOCATION, "0.0500", "day", "daily_sum"),
    ("Cubic-foot storage", ChargeType.STORAGE_CUFT, "0.4500", "month", "peak"),
    ("Receiving per receipt", ChargeType.RECEIVING_RECEIPT, "25.0000", "", ""),
    ("Receiving per pallet", ChargeType.RECEIVING_PALLET, "6.5000", "", ""),
    ("Receiving labour", ChargeType.RECEIVING_HOUR, "38.0000", "", ""),
    ("Returns per return", ChargeType.RETURN_ORDER, "3.0000", "", ""),
    ("Returns per unit", ChargeType.RETURN_UNIT, "0.6000", "", ""),
    ("Kitting", ChargeType.EXTRA_WORK, "42.0000", "", ""),
)


def _copy(model, columns: tuple[str, ...], rows: list[tuple]) -> None:
    if connection.vendor != "postgresql":
        model.objects.bulk_create([model(**dict(zip(columns, row, strict=True))) for row in rows], batch_size=5000)
        return
    table = model._meta.db_table
    with connection.cursor() as cursor, cursor.copy(f"COPY {table} ({', '.join(columns)}) FROM STDIN") as copy:
        copy.write("".join("\t".join(base.copy_text(str(v)) for v in row) + "\n" for row in rows))


def add_activity(customer: Customer, skus: int, rng: random.Random) -> None:
    """The activity, the activity lines and the adjustments (if the customer has none yet)."""
    if InventorySnapshot.objects.filter(customer=customer).exists():
        print(f"reusing the activity of customer {customer.pk}")
        return
    started = time.perf_counter()
    with transaction.atomic():
        lines = {}
        for name, charge_type, price, period, basis in ACTIVITY_LINES:
            service, _ = Service.objects.get_or_create(name=name, defaults={"charge_type": charge_type})
            lines[name] = CustomerService.objects.create(
                customer=customer,
                service=service,
                unit_price=Decimal(price),
                storage_period=period,
                storage_basis=basis,
            )
        group = RuleGroup.objects.create(customer_service=lines["Receiving per pallet"])
        Rule.objects.create(rule_group=group, field="pallets", operator="gt", value="10")
        columns = ("customer_id", "snapshot_date", "sku", "sku_key", "location", "quantity", "pallets", "cubic_feet")
        for day in range(1, 32):
            rows = []
            for i in range(skus):
                sku = f"ST-{i:05d}"
                quantity = max(0, 200 + (i * 7 + day * 13) % 90 - 45)
                location = f"{'COLD' if i % 10 == 0 else 'A'}-{i % 2500:04d}"
                rows.append(
                    (
                        customer.pk,
                        dt.date(2025, 1, day).isoformat(),
                        sku,
                        normalize_sku(sku),
                        location,
                        quantity,
                        Decimal(quantity) / 100,
                        Decimal(quantity) / 10,
                    )
                )
            _copy(InventorySnapshot, columns, rows)
        received = dt.datetime(2025, 1, 1, tzinfo=dt.UTC)
        receipts = Receipt.objects.bulk_create(
            [
                Receipt(
                    customer=customer,
                    reference=f"RCV-{i:05d}",
                    received_at=received + dt.timedelta(minutes=i * 22),
                    pallets=rng.randint(1, 24),
                    cartons=rng.randint(10, 200),
                    units=rng.randint(100, 5000),
                    labour_minutes=Decimal(rng.randint(15, 240)),
                )
                for i in range(2000)
            ],
            batch_size=1000,
        )
        ReceiptLine.objects.bulk_create(
            [
                ReceiptLine(
                    receipt=r,
                    sku=f"ST-{(j * 37 + n) % skus:05d}",
                    sku_key=f"ST{(j * 37 + n) % skus:05d}",
                    quantity=rng.randint(1, 500),
                )
                for j, r in enumerate(receipts)
                for n in range(3)
            ],
            batch_size=2000,
        )
        returns = CustomerReturn.objects.bulk_create(
            [
                CustomerReturn(
                    customer=customer,
                    reference=f"RMA-{i:05d}",
                    received_at=received + dt.timedelta(minutes=i * 44),
                    original_order_reference=f"PO-{i}",
                    units=rng.randint(0, 4),
                )
                for i in range(1000)
            ],
            batch_size=1000,
        )
        ReturnLine.objects.bulk_create(
            [
                ReturnLine(customer_return=r, sku=f"ST-{j % skus:05d}", sku_key=f"ST{j % skus:05d}", quantity=2)
                for j, r in enumerate(returns)
            ],
            batch_size=2000,
        )
        ExtraWorkEntry.objects.bulk_create(
            [
                ExtraWorkEntry(
                    customer=customer,
                    reference=f"EW-{i:05d}",
                    work_date=dt.date(2025, 1, 1 + i % 31),
                    service=lines["Kitting"].service,
                    quantity=Decimal(rng.randint(1, 16)) / 4,
                )
                for i in range(300)
            ]
        )
        RateCardAdjustment.objects.create(customer=customer, kind="minimum", amount=Decimal("1000.00"))
        peak = RateCardAdjustment.objects.create(
            customer=customer,
            kind="surcharge",
            percent=Decimal("4.50"),
            start_date=dt.date(2025, 1, 15),
            end_date=dt.date(2025, 1, 31),
            description="Peak season",
        )
        peak.services.add(lines["Pallet storage"], lines["Cubic-foot storage"])
        RateCardAdjustment.objects.create(
            customer=customer, kind="discount", percent=Decimal("2"), description="Volume"
        )
    if connection.vendor == "postgresql":
        with connection.cursor() as cursor:
            cursor.execute("ANALYZE billing_inventorysnapshot")
    print(f"built the activity ({skus * 31:,} snapshots) in {time.perf_counter() - started:.1f} s")


def set_storage_rule(customer: Customer, on: bool) -> None:
    line = CustomerService.objects.get(customer=customer, service__name="Cubic-foot storage")
    RuleGroup.objects.filter(customer_service=line).delete()
    if on:
        group = RuleGroup.objects.create(customer_service=line)
        Rule.objects.create(rule_group=group, field="location", operator="startswith", value="COLD")


def set_activity(customer: Customer, on: bool) -> None:
    names = [name for name, *_ in ACTIVITY_LINES]
    CustomerService.objects.filter(customer=customer, service__name__in=names).update(is_active=on)
    RateCardAdjustment.objects.filter(customer=customer).update(is_active=on)


def clear(customer: Customer) -> None:
    ReportOtherCharge.objects.filter(report__customer=customer).delete()
    base.clear_reports(customer)


def run(customer: Customer, *, activity: bool) -> tuple[float, float, float | None, int, Decimal, int]:
    """One generation: (wall, Python CPU, PostgreSQL CPU or None, statements, total, other charges)."""
    set_activity(customer, activity)
    clear(customer)
    pid = base.backend_pid()
    server_before = base.backend_cpu_seconds(pid)
    with CaptureQueriesContext(connection) as captured:
        started = time.perf_counter()
        cpu_started = time.process_time()
        report = base.generate(customer)
        wall = time.perf_counter() - started
        cpu = time.process_time() - cpu_started
    server_after = base.backend_cpu_seconds(pid)
    server = server_after - server_before if server_before is not None and server_after is not None else None
    others = ReportOtherCharge.objects.filter(report=report).count()
    return wall, cpu, server, len(captured.captured_queries), report.total_amount, others


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--orders", type=int, default=100_000)
    parser.add_argument("--skus", type=int, default=10_000, help="SKUs in store (a snapshot each per day)")
    parser.add_argument("--repeat", type=int, default=3, help="timed pairs (order-only, whole), interleaved")
    parser.add_argument("--storage-rule", action="store_true", help="a rule on the cubic-foot storage line")
    parser.add_argument("--no-small", action="store_true", help="skip the N/10 statement count")
    parser.add_argument("--seed", type=int, default=20250131)
    args = parser.parse_args()

    base.call_command("migrate", verbosity=0, skip_checks=True)
    print(f"database: {connection.vendor} {connection.settings_dict.get('NAME')}; orders: {args.orders:,}")
    customers = [base.bench_customer(args.orders, False, args.seed)]
    if not args.no_small:
        customers.append(base.bench_customer(max(1, args.orders // 10), False, args.seed + 1))
    for customer in customers:
        add_activity(customer, args.skus, random.Random(args.seed))
        set_storage_rule(customer, args.storage_rule)

    customer = customers[0]
    figures: dict[bool, list[tuple]] = {False: [], True: []}
    for index in range(max(1, args.repeat)):
        for activity in (False, True) if index % 2 == 0 else (True, False):
            result = run(customer, activity=activity)
            figures[activity].append(result)
            wall, cpu, server, statements, total, others = result
            label = "whole report" if activity else "order-only  "
            server_text = f", PostgreSQL CPU {server:.2f} s" if server is not None else ""
            print(
                f"  {label} wall {wall:6.2f} s, Python CPU {cpu:6.2f} s{server_text}; {statements} statements, "
                f"{others} other charges, total {total}"
            )
    median = {key: statistics.median(r[0] for r in rows) for key, rows in figures.items()}
    cpu_median = {key: statistics.median(r[1] for r in rows) for key, rows in figures.items()}
    print(
        f"median wall: order-only {median[False]:.2f} s, whole {median[True]:.2f} s, "
        f"ratio {median[True] / median[False]:.3f} (target <= 1.3)"
    )
    print(
        f"median Python CPU: order-only {cpu_median[False]:.2f} s, whole {cpu_median[True]:.2f} s, "
        f"ratio {cpu_median[True] / cpu_median[False]:.3f}"
    )
    if len(customers) > 1:
        small = run(customers[1], activity=True)
        print(
            f"SQL statements of the whole report: {small[3]} for {max(1, args.orders // 10):,} orders, "
            f"{figures[True][0][3]} for {args.orders:,} orders"
        )
        clear(customers[1])
    set_activity(customer, True)
    clear(customer)


if __name__ == "__main__":
    main()
