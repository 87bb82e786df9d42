"""Benchmark: report downloads (CSV, JSON, PDF) through the REST facade; prints rows/s, CPU and memory.

    DATABASE_URL=postgres://postgres@127.0.0.1:5432/ledgerlink .venv/bin/python benchmarks/downloads.py
    .venv/bin/python benchmarks/downloads.py --orders 100000 --pdf-orders 10000 100000 --rounds 3

Builds once (later runs reuse it; `--rebuild` starts over) with bulk inserts, without pricing
(benchmarks/rest_api.py's builder: 3 lines per order), one report per size asked for. Then, for
each round, each format (CSV and JSON of the `--orders` report, PDF of each `--pdf-orders`
report) is downloaded with `GET /api/v2/reports/{id}/download/?format=...` through
django.test.Client (every middleware, the streaming response consumed to the end), and prints:

- rows/s: report lines per second of wall time (the summary rows are not counted);
- CPU: this process's CPU seconds and the PostgreSQL backend's (read from /proc, so only when
  the server runs on this machine), and their sum beside the wall time;
- memory: the growth of this process's peak resident set during the download (VmHWM, reset
  first) and the peak resident set itself.

The last lines give the median of each figure over the rounds. To compare two versions of the
code, copy this script into the other checkout and run the two in turn against the same
database (their reports are found by name).
"""

from __future__ import annotations

import argparse
import io
import os
import statistics
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "backend.settings")

import django

django.setup()

from django.contrib.auth import get_user_model  # noqa: E402
from django.contrib.auth.models import Permission  # noqa: E402
from django.db import transaction  # noqa: E402
from django.test import Client  # noqa: E402
from generate_report import backend_cpu_seconds, backend_pid  # noqa: E402  (benchmarks/, next to this script)
from pypdf import PdfReader  # noqa: E402
from rest_api import build_report, rss_kib, serve_as_in_production  # noqa: E402
from rest_api import download as rest_download  # noqa: E402

from billing.models import AuditEvent, BillingReport, Customer, Order  # noqa: E402
from billing.services.tokens import api_token_create  # noqa: E402


def report_of(orders: int, rebuild: bool) -> BillingReport:
    name = f"Download bench: {orders:,} orders"
    customer = Customer.objects.filter(company_name=name).first()
    if customer is not None and rebuild:
        reports = BillingReport.objects.filter(customer=customer)
        AuditEvent.objects.filter(report__in=reports).delete()
        reports.delete()
        Order.objects.filter(customer=customer).delete()
        customer.delete()
        customer = None
    if customer is not None:
        return BillingReport.objects.get(customer=customer)
    with transaction.atomic():
        return build_report(name, orders)


def download(client: Client, report: BillingReport, fmt: str, pid: int | None) -> dict:
    """One download, consumed to the end: seconds, CPU, memory, size (and pages for a PDF)."""
    cpu, server = time.process_time(), backend_cpu_seconds(pid) or 0.0
    seconds, growth, size, content = rest_download(client, report, fmt)
    figures = {
        "seconds": seconds,
        "cpu": time.process_time() - cpu,
        "server_cpu": (backend_cpu_seconds(pid) or 0.0) - server,
        "rss_growth": growth / 1024,
        "peak_rss": rss_kib("VmHWM") / 1024,
        "bytes": size,
        "rows_per_s": report.line_count / seconds,
    }
    if content is not None:
        figures["pages"] = len(PdfReader(io.BytesIO(content)).pages)
    return figures


def describe(label: str, figures: dict) -> str:
    pages = f", {figures['pages']} pages" if "pages" in figures else ""
    return (
        f"{label}: {figures['seconds']:.2f} s = {figures['rows_per_s']:,.0f} rows/s; "
        f"CPU {figures['cpu']:.2f} s + PostgreSQL {figures['server_cpu']:.2f} s; "
        f"peak RSS growth {figures['rss_growth']:.1f} MiB (peak RSS {figures['peak_rss']:.0f} MiB); "
        f"{figures['bytes'] / 1e6:.1f} MB{pages}"
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--orders", type=int, default=100_000, help="Orders of the CSV and JSON report.")
    parser.add_argument("--pdf-orders", type=int, nargs="*", default=[10_000], help="Orders of each PDF report.")
    parser.add_argument("--formats", nargs="*", default=["csv", "json", "pdf"], choices=["csv", "json", "pdf"])
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--rebuild", action="store_true", help="Rebuild the reports even if they exist.")
    args = parser.parse_args()

    serve_as_in_production()
    jobs: list[tuple[str, BillingReport]] = []
    if {"csv", "json"} & set(args.formats):
        big = report_of(args.orders, args.rebuild)
        jobs += [(fmt, big) for fmt in ("csv", "json") if fmt in args.formats]
    if "pdf" in args.formats:
        jobs += [("pdf", report_of(orders, args.rebuild)) for orders in args.pdf_orders]

    user, created = get_user_model().objects.get_or_create(username="download-bench", defaults={"is_active": True})
    if created:
        view = Permission.objects.get(content_type__app_label="billing", codename="view_billingreport")
        user.user_permissions.add(view)
    _, raw = api_token_create(user=user, name="download benchmark", expires_in_days=1)
    client = Client(headers={"Authorization": f"Bearer {raw}"})
    client.get(f"/api/v2/reports/{jobs[0][1].id}/download/", {"format": "csv"})  # warm-up: connection, caches
    pid = backend_pid()

    results: dict[str, list[dict]] = {}
    for round_ in range(1, args.rounds + 1):
        for fmt, report in jobs:
            label = f"{fmt} {report.order_count:,} orders / {report.line_count:,} lines"
            figures = download(client, report, fmt, pid)
            results.setdefault(label, []).append(figures)
            print(f"round {round_} {describe(label, figures)}", flush=True)
    print(f"medians over {args.rounds} rounds (load average now {os.getloadavg()[0]:.1f}):")
    for label, runs in results.items():
        median = {key: statistics.median(run[key] for run in runs) for key in runs[0]}
        print("  " + describe(label, median))
    AuditEvent.objects.filter(actor=user, action="downloaded").delete()


if __name__ == "__main__":
    main()
