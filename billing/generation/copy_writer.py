"""Step 4, PostgreSQL: priced orders written with COPY, in a constant number of statements.

With the order stream (orders.streamed_records, read by the same CopyPipeline), the orders are
read in one statement, then written in REPORT_SLICES slices (one for a small report): each
slice's lines in one COPY, its ReportOrder rows (spooled while its lines were written) in
another and, when the report claims as it writes (generate), its (order, line) pairs in a
third. The pipeline runs them on its worker thread while the pricing goes on, so the server
ingests one slice's lines, orders and pairs while Python prices the next. The connection is
busy throughout, so `progress` must not query it: such a query is refused with an error
rather than left to block forever.
"""

from __future__ import annotations

import tempfile
from collections.abc import Callable, Iterable
from decimal import Decimal
from typing import IO

from django.db import connection

from billing.db_copy import COPY_NULL, copy_statement, copy_text
from billing.models import REPORT_LINE_CHARGE_FIELDS, BilledPair, BillingReport, ReportLine, ReportOrder
from billing.pricing.explain import detail_json
from billing.selectors.rate_cards import LineInfo

from .claims import PAIR_FIELDS, ClaimedPairs
from .copy_pipeline import CopyPipeline
from .orders import SNAPSHOT_FIELDS, OrderRecord
from .pricing import PricedOrder

# Orders priced between two writes into the open line COPY (and the order spool).
COPY_FLUSH_ORDERS = 2000
# Bytes a slice's ReportOrder spool keeps in memory before it moves to a temporary file.
SPOOL_MEMORY_BYTES = 16 * 2**20
# A report of at least REPORT_SLICES * SLICE_MIN_ORDERS orders is written in REPORT_SLICES
# slices of orders, a smaller one in one: each slice's lines, then its report orders, one COPY
# each, run by a CopyPipeline while the next slice is priced. So the server ingests the report
# orders of one slice while Python prices the next (instead of all of them after the pricing),
# in a number of statements that does not grow with the orders.
REPORT_SLICES = 8
SLICE_MIN_ORDERS = 1000

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
    pipeline: CopyPipeline,
    progress: Callable[[int], None] | None,
    every: int,
    orders: int,
    claim: ClaimedPairs | None = None,
) -> None:
    """Write the ReportLine and ReportOrder rows of `priced`, which has `orders` orders, with
    `pipeline` (open on the connection's cursor), and claim the pairs `claim` collects from it
    (claims.ClaimedPairs.collect), if given; `progress(processed)` every `every` orders and
    after the last one."""
    slices = REPORT_SLICES if orders >= REPORT_SLICES * SLICE_MIN_ORDERS else 1
    # The numbers of orders processed when a slice ends, but the last (it ends with the orders).
    cuts = [-(-orders * i // slices) for i in range(1, slices)]
    _write_rows(report, priced, line_info, pipeline, progress, every, cuts, claim)


def _order_spool() -> IO[bytes]:
    return tempfile.SpooledTemporaryFile(max_size=SPOOL_MEMORY_BYTES)


def _write_rows(
    report: BillingReport,
    priced: Iterable[PricedOrder],
    line_info: dict[int, LineInfo],
    pipeline: CopyPipeline,
    progress: Callable[[int], None] | None,
    every: int,
    cuts: list[int],
    claim: ClaimedPairs | None,
) -> None:
    key = str(report.pk)
    prefixes = {
        cs_id: f"{info.service_id}\t{copy_text(info.service_name)}\t{copy_text(info.charge_type)}\t"
        for cs_id, info in line_info.items()
    }
    line_statement = copy_statement(ReportLine, LINE_FIELDS)
    # What follows a slice's lines: its report orders, then its pairs.
    statements = (copy_statement(ReportOrder, REPORT_ORDER_FIELDS), copy_statement(BilledPair, PAIR_FIELDS))
    report_progress = _refusing_queries(progress) if progress is not None else None
    line_rows: list[str] = []
    order_rows: list[str] = []
    processed = 0
    add_line, add_order = line_rows.append, order_rows.append
    remaining_cuts = iter(cuts)
    cut = next(remaining_cuts, -1)
    spool = _order_spool()
    try:
        pipeline.start(line_statement)
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
                    add_line(
                        f"{head}{prefixes[cs_id]}{quantity!s}\t{unit_price!s}\t{amount!s}\t{explanation}\t{detail}\n"
                    )
            add_order(_order_row(key, order, order_total, bool(charges)))
            processed += 1
            if processed == cut:
                _end_slice(pipeline, line_rows, order_rows, spool, statements, claim)
                spool = _order_spool()
                pipeline.start(line_statement)
                cut = next(remaining_cuts, -1)
            elif processed % COPY_FLUSH_ORDERS == 0:
                _flush(pipeline, line_rows, order_rows, spool)
            if report_progress is not None and processed % every == 0:
                report_progress(processed)
        _end_slice(pipeline, line_rows, order_rows, spool, statements, claim)
    except BaseException:
        spool.close()  # not handed to the pipeline yet (closing twice is harmless)
        raise
    if report_progress is not None and processed % every:
        report_progress(processed)


def _flush(pipeline: CopyPipeline, line_rows: list[str], order_rows: list[str], spool: IO[bytes]) -> None:
    """Queue the lines formatted so far into the open line COPY, and spool the report orders."""
    if line_rows:
        pipeline.write("".join(line_rows))
        line_rows.clear()
    if order_rows:
        spool.write("".join(order_rows).encode())
        order_rows.clear()


def _end_slice(
    pipeline: CopyPipeline,
    line_rows: list[str],
    order_rows: list[str],
    spool: IO[bytes],
    statements: tuple[str, str],
    claim: ClaimedPairs | None,
) -> None:
    """End the slice's line COPY, then queue the COPY of its report orders from `spool` (which
    the pipeline then owns) and, with `claim`, of the pairs collected since the last slice."""
    _flush(pipeline, line_rows, order_rows, spool)
    pipeline.end()
    order_statement, pair_statement = statements
    pipeline.start(order_statement)
    pipeline.send_file(spool)
    pipeline.end()
    if claim is not None:
        pipeline.start(pair_statement)
        for block in claim.copy_blocks():
            pipeline.write(block)
        pipeline.end()


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
