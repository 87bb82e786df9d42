#!/usr/bin/env python
"""Benchmark: report charges by the page loader (sync schema) against strawberry's DataLoader.

strawberry's DataLoader batches through asyncio: its `load()` returns a future, which the
synchronous execution of the /graphql/ view (WSGI) cannot wait for ("GraphQL execution failed
to complete synchronously"). So the DataLoader version is the whole schema executed
asynchronously (every ORM resolver through sync_to_async, as strawberry-django does in an
async context) with one DataLoader of charges per request, keyed by (report, order). This
script executes the same report-orders page both ways, in process (no HTTP), and prints the
median wall and CPU time and the SQL statements:

    DATABASE_URL=postgres://postgres@127.0.0.1:5432/ledgerlink .venv/bin/python benchmarks/graphql_dataloader.py

Options: --orders 20000 --repeat 30 (the data is built as benchmarks/graphql_api.py builds it,
in a throwaway test database).
"""

from __future__ import annotations

import argparse
import asyncio
import statistics
import sys
import time
from collections.abc import Callable
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from asgiref.sync import sync_to_async
from django.db import connection, connections
from django.test import RequestFactory
from django.test.utils import CaptureQueriesContext, setup_test_environment, teardown_test_environment
from graphql_api import ORDERS_PAGE_QUERY, build_dataset
from strawberry.dataloader import DataLoader

import graphql_schema.types as types_module
from billing.models import BillingReport, ReportLine
from billing.selectors import report_lines_by_order
from graphql_schema.schema import schema


class Context:
    def __init__(self, request) -> None:
        self.request = request
        self.response = None
        self.charges = DataLoader(load_fn=_load_charges)


def _lines_of(keys: list[tuple[object, int]]) -> list[list[ReportLine]]:
    by_report: dict[object, list[int]] = {}
    for report_id, order_id in keys:
        by_report.setdefault(report_id, []).append(order_id)
    found: dict[tuple[object, int], list[ReportLine]] = {}
    for report_id, order_ids in by_report.items():
        report = BillingReport(pk=report_id)  # only its id is read: no query for the row
        for order_id, lines in report_lines_by_order(report=report, order_ids=order_ids).items():
            found[(report_id, order_id)] = lines
    return [found.get(key, []) for key in keys]


async def _load_charges(keys: list[tuple[object, int]]) -> list[list[ReportLine]]:
    return await sync_to_async(_lines_of)(keys)


def charges_by_dataloader(order, info):
    return info.context.charges.load((order.report_id, order.order_id))


PAGE_CHARGES = types_module.charges_of


PAGE_CONNECTION = types_module.ReportOrderConnection.__dict__["resolve_connection"]


@classmethod  # type: ignore[misc]
def _plain_connection(cls, nodes, *, info, **kwargs):
    """The connection without attaching the page loader (asynchronously it is a coroutine)."""
    return super(types_module.ReportOrderConnection, cls).resolve_connection(nodes, info=info, **kwargs)


def use(dataloader: bool) -> None:
    connection_type = types_module.ReportOrderConnection
    connection_type.resolve_connection = _plain_connection if dataloader else PAGE_CONNECTION
    types_module.charges_of = charges_by_dataloader if dataloader else PAGE_CHARGES


def timed(run: Callable[[], object], repeat: int, loop: asyncio.AbstractEventLoop | None) -> tuple[float, float, int]:
    """Median wall and CPU ms, and the statements of one more run (asynchronously, sync_to_async's thread runs them)."""
    for _ in range(3):
        run()
    wall, cpu = [], []
    for _ in range(repeat):
        started, started_cpu = time.perf_counter(), time.process_time()
        run()
        wall.append((time.perf_counter() - started) * 1000)
        cpu.append((time.process_time() - started_cpu) * 1000)
    if loop is None:
        with CaptureQueriesContext(connection) as captured:
            run()
    else:
        captured = loop.run_until_complete(sync_to_async(lambda: CaptureQueriesContext(connections["default"]))())
        loop.run_until_complete(sync_to_async(captured.__enter__)())
        run()
        loop.run_until_complete(sync_to_async(lambda: captured.__exit__(None, None, None))())
    return statistics.median(wall), statistics.median(cpu), len(captured.captured_queries)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--orders", type=int, default=20_000)
    parser.add_argument("--repeat", type=int, default=30)
    args = parser.parse_args()

    setup_test_environment()
    old_name = connection.settings_dict["NAME"]
    print(f"database: {connection.vendor}", flush=True)
    connection.creation.create_test_db(verbosity=0, autoclobber=True, keepdb=False)
    try:
        user, big_id = build_dataset(reports=10, orders=args.orders)
        request = RequestFactory().post("/graphql/")
        request.user = user
        loop = asyncio.new_event_loop()

        def sync_page(first: int) -> Callable[[], object]:
            def run() -> object:
                use(dataloader=False)
                result = schema.execute_sync(
                    ORDERS_PAGE_QUERY, variable_values={"id": big_id, "first": first}, context_value=Context(request)
                )
                assert not result.errors, result.errors
                return result

            return run

        def async_page(first: int) -> Callable[[], object]:
            def run() -> object:
                use(dataloader=True)
                result = loop.run_until_complete(
                    schema.execute(
                        ORDERS_PAGE_QUERY,
                        variable_values={"id": big_id, "first": first},
                        context_value=Context(request),
                    )
                )
                assert not result.errors, result.errors
                return result

            return run

        print(f"{'report orders page':44} {'page':>4} {'median ms':>10} {'cpu ms':>7} {'SQL':>4}")
        for title, make, on in (
            ("page loader, sync schema (kept)", sync_page, None),
            ("DataLoader, async schema", async_page, loop),
        ):
            for first in (10, 100):
                wall, cpu, statements = timed(make(first), args.repeat, on)
                print(f"{title:44} {first:>4} {wall:>10.1f} {cpu:>7.1f} {statements:>4}", flush=True)
        use(dataloader=False)
        loop.run_until_complete(sync_to_async(lambda: connections.close_all())())  # sync_to_async's thread
        loop.close()
    finally:
        connection.creation.destroy_test_db(old_name, verbosity=0)
        teardown_test_environment()


if __name__ == "__main__":
    main()
