"""The JSON export of a report: the REST detail `data` object, streamed.

It equals billing.exporters.shapes.report_detail_data, written order by order so a
100,000-order report is written in constant memory (encoder: billing/jsonencoding.py).
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from decimal import Decimal
from typing import Any

from billing.exporters import other_charges, shapes
from billing.exporters.csv import _Memo
from billing.exporters.shapes import money, quantity_number
from billing.jsonencoding import _escape, dumps
from billing.models import BillingReport
from billing.selectors.reports import (
    explanation_key,
    iter_report_rows,
    line_explanation,
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
    (the billed orders, each with its lines by service name), without holding the orders in
    memory. The orders are written from iter_report_rows by _OrderWriter: the same text as
    dumps(shapes.order_data(...)), assembled from pieces computed once per distinct
    value instead of a dict per order and per line.
    """
    head = dumps(shapes.report_data(report))
    buffer: list[str] = [head[:-1], ',"orders":[']
    size = 0
    writer = _OrderWriter(report_explanations(report=report))
    order_key: Any = None
    for row in iter_report_rows(report=report, chunk_size=ORDERS_PER_QUERY, order_details=True):
        if row[0] != order_key:
            if order_key is None:
                buffer.append(writer.order_head(row))
            else:
                buffer.append(writer.order_tail)
                if size >= CHUNK_BYTES:
                    yield "".join(buffer).encode()
                    buffer.clear()
                    size = 0
                buffer.append(",")
                buffer.append(writer.order_head(row))
            order_key = row[0]
        else:
            buffer.append(",")
        text = writer.line(row)
        buffer.append(text)
        size += len(text)
    if order_key is not None:
        buffer.append(writer.order_tail)
    buffer.append('],"service_totals":')
    buffer.append(dumps(shapes.service_totals_data(report_service_totals(report=report))))
    buffer.append(',"not_closed_orders":')
    buffer.append(dumps(shapes.not_closed_orders_data(report_not_closed_orders(report=report))))
    buffer.append(other_charges.json_part(report))
    buffer.append("}")
    yield "".join(buffer).encode()


def _date_text(value: Any) -> str:
    if value is None:
        return "null"
    return _escape(value if isinstance(value, str) else value.isoformat())


class _OrderWriter:
    """The JSON text of shapes.order_data / service_line_data from iter_report_rows rows
    (order_details=True), the repeated pieces memoised (bounded, as in the CSV writer)."""

    def __init__(self, explanations: dict[int, dict[str, Any]]) -> None:
        self.explanations = explanations
        self.order_tail = ""
        self.services = _Memo(lambda key: f'{{"service_id":{dumps(key[0])},"service_name":{_escape(key[1])},"amount":')
        self.numbers = _Memo(
            lambda key: f'{money(Decimal(key[0])):f},"quantity":{dumps(quantity_number(Decimal(key[1])))},"cost_type":'
        )
        self.shared = _Memo(
            lambda key: (
                f'{_escape(key[0])},"explanation":'
                f"{dumps(line_explanation(explanations, explanation_key(key[1]), None))}}}"
            )
        )
        self.dates = _Memo(_date_text)
        self.statuses = _Memo(_escape)
        self.counts = _Memo(dumps)  # total_items, line_items: a few small numbers
        self.totals = _Memo(lambda total: f'],"total_amount":{money(Decimal(total)):f}}}')

    def order_head(self, row: Sequence[Any]) -> str:
        _, transaction_id, day, status, ship_to_name, ship_to_address, total_items, line_items, total = row[:9]
        self.order_tail = self.totals[total]
        return (
            f'{{"order_id":{_escape(transaction_id)},"transaction_date":{self.dates[day]},'
            f'"status":{self.statuses[status]},"ship_to_name":{_escape(ship_to_name)},'
            f'"ship_to_address":{_escape(ship_to_address)},"total_items":{self.counts[total_items]},'
            f'"line_items":{self.counts[line_items]},"services":['
        )

    def line(self, row: Sequence[Any]) -> str:
        service_id, service_name, charge_type, quantity, _, amount, key, detail = row[9:]
        if detail:
            explanation = dumps(line_explanation(self.explanations, explanation_key(key), detail))
            why = f'{_escape(charge_type)},"explanation":{explanation}}}'
        else:
            why = self.shared[charge_type, key]
        return self.services[service_id, service_name] + self.numbers[amount, quantity] + why
