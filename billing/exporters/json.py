"""The JSON export of a report: the REST detail `data` object, streamed.

It equals billing.exporters.shapes.report_detail_data, written order by order so a
100,000-order report is written in constant memory (encoder: billing/jsonencoding.py).
"""

from __future__ import annotations

from collections.abc import Iterator

from billing.exporters import other_charges, shapes
from billing.jsonencoding import dumps
from billing.models import BillingReport
from billing.selectors.reports import (
    iter_report_values,
    report_explanations,
    report_not_closed_orders,
    report_service_totals,
)

# Bytes written per chunk of a streamed export.
CHUNK_BYTES = 64 * 1024
# Orders (with their lines) read from the database per query: this bounds the memory used.
ORDERS_PER_QUERY = 2000


def export_json(report: BillingReport) -> Iterator[bytes]:
    """The detail `data` object of `report` as UTF-8 JSON, in chunks, orders streamed in report order.

    Equal to shapes.report_detail_data over billing.selectors.reports.report_detail(billed=True)
    (the billed orders, each with its lines by service name), without holding the orders in memory.
    """
    head = dumps(shapes.report_data(report))
    buffer: list[str] = [head[:-1], ',"orders":[']
    size = 0
    first = True
    explanations = report_explanations(report=report)
    for order, lines in iter_report_values(report=report, chunk_size=ORDERS_PER_QUERY):
        text = dumps(shapes.order_data_from_values(order, lines, explanations))
        if first:
            first = False
        else:
            buffer.append(",")
        buffer.append(text)
        size += len(text)
        if size >= CHUNK_BYTES:
            yield "".join(buffer).encode()
            buffer.clear()
            size = 0
    buffer.append('],"service_totals":')
    buffer.append(dumps(shapes.service_totals_data(report_service_totals(report=report))))
    buffer.append(',"not_closed_orders":')
    buffer.append(dumps(shapes.not_closed_orders_data(report_not_closed_orders(report=report))))
    buffer.append(other_charges.json_part(report))
    buffer.append("}")
    yield "".join(buffer).encode()
