"""Benchmark: a month-end billing run on Celery workers, with 1 and with 2 worker processes.

    DATABASE_URL=postgres://postgres@127.0.0.1:5432/ledgerlink_bench .venv/bin/python benchmarks/billing_run.py
    ... benchmarks/billing_run.py --customers 200 --orders 1000 --workers 1 2 --broker redis://127.0.0.1:6379/6

PostgreSQL only (several worker processes write at once). The database is created when
missing and migrated. Builds once (reused by later runs with the same sizes) N customers
named "Run bench ..." with M orders each, 1-4 SKU lines per order, closed during January 2025,
and a rate card of 5 lines (order fee, pick per unit, package fee for UPS/FedEx, per-SKU
handling, Canada surcharge). Orders and lines are written with COPY.

For each worker count it deletes the bench customers' reports, flushes the broker database,
starts that many `celery worker --pool=solo` processes (one job at a time each), starts a
billing run over the bench customers through billing_run_start (the jobs go through the
broker) and polls the run until every job finished. It prints the wall time (from starting
the run to the last job finishing), reports/second and orders/second of each run, then per
worker count the median over --repeat rounds and its speed-up over the first count. Workers
are stopped afterwards; every wait is bounded. The machine's load average is printed too:
other processes competing for the CPUs or the disk skew the figures.
"""

from __future__ import annotations

import argparse
import datetime as dt
import os
import random
import secrets
import signal
import statistics
import subprocess
import sys
import tempfile
import time
import uuid
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "backend.settings")

START = dt.date(2025, 1, 1)
END = dt.date(2025, 1, 31)
NAME_PREFIX = "Run bench"
SKUS = [f"RB{i:04d}" for i in range(200)]
WORKER_START_TIMEOUT = 90  # seconds
POLL_INTERVAL = 0.2


def parse_args() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--customers", type=int, default=200)
    parser.add_argument("--orders", type=int, default=1000, help="orders per customer")
    parser.add_argument("--workers", type=int, nargs="+", default=[1, 2], help="worker process counts to measure")
    parser.add_argument("--broker", default=os.environ.get("BENCH_BROKER_URL", "redis://127.0.0.1:6379/6"))
    parser.add_argument("--timeout", type=float, default=1800, help="seconds allowed for one run")
    parser.add_argument("--rebuild", action="store_true", help="rebuild the bench customers and orders")
    parser.add_argument(
        "--repeat", type=int, default=1, help="rounds over the worker counts; the median of each count is compared"
    )
    return parser.parse_args()


def ensure_database(url: str) -> None:
    """Create the PostgreSQL database named in DATABASE_URL when it does not exist."""
    import environ
    import psycopg
    from psycopg import sql

    config = environ.Env.db_url_config(url)
    if "postgresql" not in config["ENGINE"]:
        sys.exit("This benchmark needs PostgreSQL: set DATABASE_URL=postgres://...")
    params = {
        "host": config.get("HOST") or "127.0.0.1",
        "port": config.get("PORT") or 5432,
        "user": config.get("USER") or None,
        "password": config.get("PASSWORD") or None,
        "dbname": "postgres",
        "autocommit": True,
    }
    with psycopg.connect(**{k: v for k, v in params.items() if v is not None}) as conn:
        exists = conn.execute("SELECT 1 FROM pg_database WHERE datname = %s", [config["NAME"]]).fetchone()
        if not exists:
            conn.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(config["NAME"])))
            print(f"created database {config['NAME']}")


# --- data -----------------------------------------------------------------------------


def build_customers(n_customers: int, n_orders: int, rebuild: bool) -> list[int]:
    from django.db import connection, transaction
    from django.utils import timezone

    from billing.models import ChargeType, Customer, CustomerService, Order, Rule, RuleGroup, Service

    existing = list(Customer.objects.filter(company_name__startswith=NAME_PREFIX).order_by("pk"))
    if (
        not rebuild
        and len(existing) == n_customers
        and Order.objects.filter(customer__in=existing).count() == n_customers * n_orders
    ):
        print(f"reusing {n_customers} bench customers x {n_orders} orders")
        return [c.pk for c in existing]
    if existing:
        delete_reports([c.pk for c in existing])
        with connection.cursor() as cursor:
            ids = [c.pk for c in existing]
            cursor.execute(
                "DELETE FROM billing_orderline WHERE order_id IN "
                "(SELECT id FROM billing_order WHERE customer_id = ANY(%s))",
                [ids],
            )
            cursor.execute("DELETE FROM billing_order WHERE customer_id = ANY(%s)", [ids])
        CustomerService.objects.filter(customer__in=existing).delete()
        Customer.objects.filter(pk__in=[c.pk for c in existing]).delete()

    started = time.perf_counter()
    rng = random.Random(7)

    def service(name: str, charge_type: str) -> Service:
        return Service.objects.get_or_create(name=f"Run bench {name}", defaults={"charge_type": charge_type})[0]

    services = {
        "fee": service("order fee", ChargeType.PER_ORDER),
        "pick": service("pick", ChargeType.PER_UNIT),
        "package": service("package fee", ChargeType.PER_PACKAGE),
        "sku": service("SKU handling", ChargeType.PER_SKU),
        "canada": service("Canada surcharge", ChargeType.PER_ORDER),
    }
    now = timezone.now()
    base = dt.datetime.combine(START, dt.time.min, tzinfo=dt.UTC)
    period_seconds = ((END - START).days + 1) * 86400
    customer_ids = []
    with transaction.atomic():
        customers = Customer.objects.bulk_create(
            [Customer(company_name=f"{NAME_PREFIX} {i:04d}", currency="USD") for i in range(n_customers)]
        )
        for customer in customers:
            customer_ids.append(customer.pk)
            prices = {"fee": "1.2500", "pick": "0.2000", "package": "0.7500", "sku": "0.1500", "canada": "3.0000"}
            lines = {
                key: CustomerService.objects.create(customer=customer, service=svc, unit_price=prices[key])
                for key, svc in services.items()
            }
            package_group = RuleGroup.objects.create(customer_service=lines["package"], logic_operator="AND")
            canada_group = RuleGroup.objects.create(customer_service=lines["canada"], logic_operator="AND")
            Rule.objects.bulk_create(
                [
                    Rule(rule_group=package_group, field="carrier", operator="in", value="UPS;FEDEX"),
                    Rule(rule_group=canada_group, field="ship_to_country", operator="eq", value="CA"),
                ]
            )
        with connection.cursor() as cursor:
            cursor.execute("SELECT COALESCE(MAX(id), 0) FROM billing_order")
            next_id = cursor.fetchone()[0] + 1
            order_sql = (
                "COPY billing_order (id, transaction_id, customer_id, reference_number, close_date, status, priority,"
                " ship_to_name, ship_to_company, ship_to_address, ship_to_address2, ship_to_city, ship_to_state,"
                " ship_to_zip, ship_to_country, carrier, weight_lb, volume_cuft, packages, line_items,"
                " total_item_qty, notes, created_at, updated_at) FROM STDIN"
            )
            line_sql = "COPY billing_orderline (order_id, sku, quantity) FROM STDIN"
            for customer_id in customer_ids:
                orders, order_lines = [], []
                for i in range(n_orders):
                    skus = rng.sample(SKUS, rng.randint(1, 4))
                    quantities = [rng.randint(1, 12) for _ in skus]
                    close = base + dt.timedelta(seconds=rng.randrange(period_seconds))
                    orders.append(
                        f"{next_id}\tRB{customer_id}-{i:06d}\t{customer_id}\tPO-{i}\t{close.isoformat()}\tcompleted\t\t"
                        f"Buyer {i}\t\t{i} Main St\t\tSpringfield\tIL\t62701\t{rng.choice(('US', 'US', 'CA'))}\t"
                        f"{rng.choice(('UPS', 'FEDEX', 'USPS'))}\t{rng.randint(1, 30000) / 1000}\t"
                        f"{rng.randint(100, 5000) / 1000}\t{rng.randint(1, 3)}\t{len(skus)}\t{sum(quantities)}\t\t"
                        f"{now.isoformat()}\t{now.isoformat()}\n"
                    )
                    order_lines.extend(f"{next_id}\t{sku}\t{qty}\n" for sku, qty in zip(skus, quantities, strict=True))
                    next_id += 1
                with cursor.copy(order_sql) as copy:
                    copy.write("".join(orders))
                with cursor.copy(line_sql) as copy:
                    copy.write("".join(order_lines))
            cursor.execute(
                "SELECT setval(pg_get_serial_sequence('billing_order', 'id'), (SELECT MAX(id) FROM billing_order))"
            )
    with connection.cursor() as cursor:
        cursor.execute("ANALYZE billing_order")
        cursor.execute("ANALYZE billing_orderline")
    print(f"built {n_customers} customers x {n_orders} orders in {time.perf_counter() - started:.1f} s")
    return customer_ids


def delete_reports(customer_ids: list[int]) -> None:
    """Remove the bench customers' reports, jobs and runs (and only theirs): every table with a
    `report` column pointing at BillingReport (lines, orders, totals, rollups, explanations,
    claimed pairs, audit events, credit notes, jobs) first, then the reports."""
    from django.apps import apps
    from django.db import connection

    from billing.models import BillingReport, ReportJob

    dependents = [
        model._meta.db_table
        for model in apps.get_models()
        if model is not BillingReport
        and any(getattr(f, "related_model", None) is BillingReport and f.name == "report" for f in model._meta.fields)
    ]
    reports = "SELECT id FROM billing_billingreport WHERE customer_id = ANY(%s)"
    statements = [
        "UPDATE billing_billingreport SET superseded_by_id = NULL WHERE customer_id = ANY(%s)",
        *(f"DELETE FROM {table} WHERE report_id IN ({reports})" for table in dependents),  # noqa: S608 - model tables
        f"DELETE FROM {ReportJob._meta.db_table} WHERE customer_id = ANY(%s)",  # noqa: S608 - a model table
        "DELETE FROM billing_billingreport WHERE customer_id = ANY(%s)",
    ]
    with connection.cursor() as cursor:
        for statement in statements:
            cursor.execute(statement, [customer_ids])
        cursor.execute(
            "DELETE FROM billing_billingrun r "
            "WHERE NOT EXISTS (SELECT 1 FROM billing_reportjob j WHERE j.billing_run_id = r.id)"
        )
        for table in (*dependents, "billing_billingreport"):
            cursor.execute(f"VACUUM ANALYZE {table}")


# --- workers --------------------------------------------------------------------------


def start_workers(count: int, broker: str, log_dir: Path) -> list[tuple[subprocess.Popen, Path]]:
    # Production settings, as a worker host has them (a worker refuses to start without them).
    env = os.environ | {
        "CELERY_BROKER_URL": broker,
        "LOG_LEVEL": "WARNING",
        "SECRET_KEY": os.environ.get("SECRET_KEY") or secrets.token_urlsafe(48),
        "ALLOWED_HOSTS": os.environ.get("ALLOWED_HOSTS") or "127.0.0.1",
    }
    workers = []
    for _ in range(count):
        name = f"bench-{uuid.uuid4().hex[:6]}"
        log = log_dir / f"{name}.log"
        with log.open("wb") as handle:
            process = subprocess.Popen(
                [
                    str(ROOT / ".venv" / "bin" / "celery"),
                    "-A",
                    "backend",
                    "worker",
                    "--pool=solo",
                    "-c",
                    "1",
                    "-l",
                    "info",
                    "-n",
                    f"{name}@%h",
                    "--without-gossip",
                    "--without-mingle",
                    "--without-heartbeat",
                ],
                cwd=ROOT,
                env=env,
                stdout=handle,
                stderr=subprocess.STDOUT,
                start_new_session=True,
            )
        workers.append((process, log))
    deadline = time.monotonic() + WORKER_START_TIMEOUT
    for process, log in workers:
        while " ready." not in log.read_text(errors="replace"):
            if process.poll() is not None or time.monotonic() > deadline:
                stop_workers(workers)
                sys.exit(f"worker did not start:\n{log.read_text(errors='replace')[-2000:]}")
            time.sleep(0.2)
    return workers


def stop_workers(workers: list[tuple[subprocess.Popen, Path]]) -> None:
    for process, _ in workers:
        if process.poll() is None:
            process.send_signal(signal.SIGTERM)
    for process, _ in workers:
        try:
            process.wait(timeout=30)
        except subprocess.TimeoutExpired:
            process.send_signal(signal.SIGKILL)
            process.wait(timeout=10)


def flush_broker(broker: str) -> None:
    import redis

    redis.Redis.from_url(broker).flushdb()


# --- measuring --------------------------------------------------------------------------


def measure(workers: int, customer_ids: list[int], n_orders: int, args: argparse.Namespace) -> float:
    from billing.models import Interface
    from billing.selectors.jobs import billing_run_summary
    from billing.services.jobs import billing_run_start

    delete_reports(customer_ids)
    flush_broker(args.broker)
    with tempfile.TemporaryDirectory(prefix="billing-run-bench-") as log_dir:
        processes = start_workers(workers, args.broker, Path(log_dir))
        try:
            started = time.perf_counter()
            run = billing_run_start(
                actor=None, start_date=START, end_date=END, customer_ids=customer_ids, interface=Interface.COMMAND
            )
            queued = time.perf_counter() - started
            deadline = time.monotonic() + args.timeout
            summary = billing_run_summary(run=run)
            while not summary.finished:
                if time.monotonic() > deadline:
                    sys.exit(f"timed out after {args.timeout:g}s: {summary.counts}")
                time.sleep(POLL_INTERVAL)
                summary = billing_run_summary(run=run)
            elapsed = time.perf_counter() - started
        finally:
            stop_workers(processes)
    reports = summary.succeeded
    print(
        f"{workers} worker process{'es' if workers > 1 else ''}: {reports} reports "
        f"({summary.failed} failed) in {elapsed:.2f} s (queueing {queued:.2f} s)"
    )
    print(f"  reports/second       {reports / elapsed:.1f}")
    print(f"  orders/second        {summary.processed_orders / elapsed:,.0f}")
    print(f"  total billed         {summary.total_billed} USD")
    print(f"  load average after   {' '.join(f'{x:.2f}' for x in os.getloadavg())}")
    if summary.failed:
        sys.exit("some jobs failed; see the errors on billing_reportjob")
    return elapsed


def main() -> None:
    args = parse_args()
    url = os.environ.get("DATABASE_URL", "")
    if not url:
        sys.exit("Set DATABASE_URL=postgres://... (the benchmark needs PostgreSQL).")
    ensure_database(url)
    os.environ["CELERY_BROKER_URL"] = args.broker  # settings: tasks go through the broker

    import django

    django.setup()
    from django.core.management import call_command
    from django.db import connection

    from backend.celery import app

    assert not app.conf.task_always_eager, "the broker must be configured"
    call_command("migrate", verbosity=0)
    print(
        f"PostgreSQL database {connection.settings_dict['NAME']}, broker {args.broker}, {os.cpu_count()} CPUs, "
        f"load average {' '.join(f'{x:.2f}' for x in os.getloadavg())}"
    )
    customer_ids = build_customers(args.customers, args.orders, args.rebuild)

    results: dict[int, list[float]] = {count: [] for count in args.workers}
    for _ in range(max(1, args.repeat)):
        for count in args.workers:  # interleaved, so a busy moment on the machine hits every count alike
            results[count].append(measure(count, customer_ids, args.orders, args))
    medians = {count: statistics.median(times) for count, times in results.items()}
    baseline = medians[args.workers[0]]
    n_reports = len(customer_ids)
    for count, elapsed in medians.items():
        runs = ", ".join(f"{t:.1f}" for t in results[count])
        print(
            f"{count} worker process{'es' if count > 1 else ''}: median {elapsed:.2f} s ({runs}), "
            f"{n_reports / elapsed:.1f} reports/s, speed-up {baseline / elapsed:.2f}x"
        )


if __name__ == "__main__":
    main()
