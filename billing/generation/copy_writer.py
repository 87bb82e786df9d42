"""Step 4, PostgreSQL: priced orders written with COPY, in a constant number of statements.

With the order stream (orders.streamed_records) it is three statements whatever the number of
orders: the streamed read, one COPY into ReportLine that stays open while the orders are priced
(the server ingests one batch of lines while Python prices the next), and one COPY of the
ReportOrder rows, spooled meanwhile. The connection is busy throughout, so `progress` must not
query it: such a query is refused with an error rather than left to block forever.
"""

from __future__ import annotations

import tempfile
from collections.abc import Callable, Iterable
from decimal import Decimal

from django.db import connection

from billing.db_copy import COPY_NULL, copy_statement, copy_text
from billing.models import REPORT_LINE_CHARGE_FIELDS, BillingReport, ReportLine, ReportOrder
from billing.pricing.explain import detail_json
from billing.selectors.rate_cards import LineInfo

from .orders import SNAPSHOT_FIELDS, OrderRecord
from .pricing import PricedOrder

# Orders priced between two writes into the open line COPY (and the order spool).
COPY_FLUSH_ORDERS = 500
# Bytes the ReportOrder spool keeps in memory before it moves to a temporary file, and the block size read back.
SPOOL_MEMORY_BYTES = 16 * 2**20
SPOOL_BLOCK_BYTES = 2**20

LINE_FIELDS = ("report", "order", *REPORT_LINE_CHARGE_FIELDS)
# A report order's columns: the order's snapshot, as the streamed read gave it (SNAPSHOT_FIELDS,
# record field -> ReportOrder field), then what the report adds.
_SNAPSHOT_COLUMN = {"order_id": "order", "total_item_qty": "total_items"}
REPORT_ORDER_FIELDS = (
    *(_SNAPSHOT_COLUMN.get(name, name) for name in SNAPSHOT_FIELDS),
    "report",
    "total_amount",
    "is_billed",
)


def copy_report(
    report: BillingReport,
    priced: Iterable[PricedOrder],
    line_info: dict[int, LineInfo],
    progress: Callable[[int], None] | None,
    every: int,
) -> None:
    """Write the ReportLine and ReportOrder rows of `priced`; `progress(processed)` every
    `every` orders and after the last one."""
    with tempfile.SpooledTemporaryFile(max_size=SPOOL_MEMORY_BYTES) as order_spool, connection.wrap_database_errors:
        with connection.cursor() as cursor, cursor.copy(copy_statement(ReportLine, LINE_FIELDS)) as copy:
            _write_rows(report, priced, line_info, copy.write, order_spool.write, progress, every)
        order_spool.seek(0)
        with connection.cursor() as cursor, cursor.copy(copy_statement(ReportOrder, REPORT_ORDER_FIELDS)) as copy:
            while block := order_spool.read(SPOOL_BLOCK_BYTES):
                copy.write(block)


def _write_rows(
    report: BillingReport,
    priced: Iterable[PricedOrder],
    line_info: dict[int, LineInfo],
    write_lines: Callable[[str], object],
    write_orders: Callable[[bytes], object],
    progress: Callable[[int], None] | None,
    every: int,
) -> None:
    key = str(report.pk)
    prefixes = {
        cs_id: f"{info.service_id}\t{copy_text(info.service_name)}\t{copy_text(info.charge_type)}\t"
        for cs_id, info in line_info.items()
    }
    report_progress = _refusing_queries(progress) if progress is not None else None
    line_rows: list[str] = []
    order_rows: list[str] = []
    processed = 0
    add_line, add_order = line_rows.append, order_rows.append
    for order, charges, order_total in priced:
        if charges:
            head = f"{key}\t{order.order_id}\t"
            shared: dict | None = None
            text = ""
            for cs_id, quantity, unit_price, amount, explanation, charge_detail, _ in charges:
                # !s: a Decimal's str() is more than twice as fast as its __format__.
                if charge_detail is None:
                    detail = COPY_NULL
                elif charge_detail is shared:  # lines of the order sharing one detail (case and each pick)
                    detail = text
                else:
                    shared, detail = charge_detail, _detail_field(charge_detail)
                    text = detail
                add_line(f"{head}{prefixes[cs_id]}{quantity!s}\t{unit_price!s}\t{amount!s}\t{explanation}\t{detail}\n")
        add_order(_order_row(key, order, order_total, bool(charges)))
        processed += 1
        if processed % COPY_FLUSH_ORDERS == 0:
            if line_rows:
                write_lines("".join(line_rows))
                line_rows.clear()
            write_orders("".join(order_rows).encode())
            order_rows.clear()
        if report_progress is not None and processed % every == 0:
            report_progress(processed)
    if line_rows:
        write_lines("".join(line_rows))
    if order_rows:
        write_orders("".join(order_rows).encode())
    if report_progress is not None and processed % every:
        report_progress(processed)


def _detail_field(detail: dict) -> str:
    """A line's detail as a COPY field: its JSON, escaped only when it holds a backslash (an
    escaped character of a SKU); JSON text has no raw tab or newline."""
    text = detail_json(detail)
    return copy_text(text) if "\\" in text else text


def _order_row(key: str, order: OrderRecord, order_total: Decimal, is_billed: bool) -> str:
    """A ReportOrder row (REPORT_ORDER_FIELDS) in COPY's text format: the record's snapshot text
    (the records of orders.streamed_records have one), then the report's columns."""
    return f"{order.snapshot}\t{key}\t{order_total!s}\t{'t' if is_billed else 'f'}\n"


def _refusing_queries(progress: Callable[[int], None]) -> Callable[[int], None]:
    def report(processed: int) -> None:
        with connection.execute_wrapper(_refuse_queries):
            progress(processed)

    return report


def _refuse_queries(execute, sql, params, many, context):
    raise RuntimeError(
        "A report_generate progress callback ran a query on the connection that is streaming the report; "
        "write progress through another database alias."
    )
