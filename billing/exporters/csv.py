"""CSV export of a report: one row per report line, then summary rows (layout in docs/exports.md).

Every row names the report, its statement number, customer, currency and period. Line rows
carry `quantity` and `amount`; the summary rows carry theirs in `total_quantity` and
`total_amount` instead, so summing the `amount` column gives the report total exactly.

Rows are streamed from billing.selectors.reports.iter_report_values and written in chunks, so
memory stays constant whatever the size of the report. Text cells a spreadsheet would run as
a formula (first character = + - @ tab or CR) are prefixed with a single quote; the numeric
columns we produce ourselves (service_id, quantity, unit_price, amount) are written as plain
numbers and never altered.
"""

from __future__ import annotations

import csv
import io
import re
from collections.abc import Callable, Iterator
from decimal import Decimal
from typing import Any

from billing.exporters import other_charges
from billing.exporters.shapes import (
    charge_label,
    charge_unit,
    iso_date,
    money,
    quantity_number,
    scope_text,
    statement_number,
)
from billing.models import BillingReport
from billing.selectors.reports import (
    iter_report_values,
    line_explanation,
    report_explanations,
    report_service_totals,
    report_tier_bases,
)

HEADER = (
    "row_type",
    "report_id",
    "statement_number",
    "report_status",
    "rate_card_lines",
    "customer",
    "currency",
    "period_start",
    "period_end",
    "transaction_id",
    "close_date",
    "service_id",
    "service_name",
    "charge_type",
    "charge_label",
    "unit",
    "quantity",
    "unit_price",
    "amount",
    "total_quantity",
    "total_amount",
    "explanation",
)
# Excel reads a CSV as UTF-8 only when it starts with a byte-order mark.
UTF8_BOM = "\ufeff".encode()
ROW_LINE = "line"
ROW_SERVICE_TOTAL = "service_total"
ROW_TOTAL = "total"

FORMULA_TRIGGERS = ("=", "+", "-", "@", "\t", "\r")
_NEEDS_QUOTING = re.compile(r'[,"\r\n]')
# Rows written to the buffer before it is flushed as one chunk (~100 KB).
ROWS_PER_CHUNK = 1000
# Orders (with their lines) read from the database per query: this bounds the memory used.
ORDERS_PER_QUERY = 2000


def neutralise(text: str) -> str:
    """`text` made inert for spreadsheets: a leading = + - @ tab or CR gets a ' in front."""
    if text and text.startswith(FORMULA_TRIGGERS):
        return "'" + text
    return text


def _quantity_text(value: Decimal) -> str:
    return str(quantity_number(value))


class _Memo(dict):
    """text = memo[value]: computed once per distinct value (names, prices, amounts repeat a lot)."""

    def __init__(self, function: Callable[[Any], str]) -> None:
        super().__init__()
        self.function = function

    def __missing__(self, key: Any) -> str:
        value = self[key] = self.function(key)
        return value


def _field(value: Any) -> str:
    """One CSV field exactly as csv.writer writes it (QUOTE_MINIMAL): quoted only when needed."""
    text = str(value)
    if not _NEEDS_QUOTING.search(text):
        return text
    buffer = io.StringIO()
    csv.writer(buffer).writerow((text,))
    return buffer.getvalue()[:-2]  # without the "\r\n" line terminator


def explanation_field(payloads: dict[int, dict[str, Any]], key: int | None, detail: str | None) -> str:
    """The explanation column of a line: its text (docs/explanations.md), empty on older reports."""
    data = line_explanation(payloads, key, detail)
    return _field(neutralise(data["text"])) if data is not None else ""


def chunk_writer() -> tuple[io.StringIO, Any, Callable[[], bytes]]:
    """An in-memory buffer, a csv writer over it, and `flush()`: what was written since the last
    flush as UTF-8 bytes, the buffer emptied (a streamed download yields one such chunk at a time)."""
    buffer = io.StringIO()

    def flush() -> bytes:
        data = buffer.getvalue().encode()
        buffer.seek(0)
        buffer.truncate()
        return data

    return buffer, csv.writer(buffer), flush


def export_csv(report: BillingReport, *, bom: bool = False) -> Iterator[bytes]:
    """The report as UTF-8 CSV chunks, `\r\n` line endings; with `bom`, a byte-order mark first (Excel).

    Line rows are assembled from fields quoted once per distinct value (_field, the csv
    module's own quoting), which is several times faster than csv.writer per row; the summary
    rows go through csv.writer.
    """
    report_id = str(report.id)
    customer = neutralise(report.customer.company_name)
    report_part = (
        report_id,
        statement_number(report),
        report.status,
        scope_text(report),
        customer,
        neutralise(report.currency),
        iso_date(report.start_date),
        iso_date(report.end_date),
    )
    bases = report_tier_bases(report=report)
    buffer, writer, flush = chunk_writer()

    def charge(charge_type: str, service_id: int) -> tuple[str, str, str]:
        unit = charge_unit(charge_type, bases.get(service_id, ""))
        return neutralise(charge_type), neutralise(charge_label(charge_type)), unit

    if bom:
        yield UTF8_BOM
    writer.writerow(HEADER)
    prefix = ",".join(_field(value) for value in (ROW_LINE, *report_part)) + ","
    texts = _Memo(lambda text: _field(neutralise(text)))
    numbers = _Memo(_field)
    charges = _Memo(lambda key: ",".join(_field(value) for value in charge(*key)))
    quantities = _Memo(_quantity_text)
    prices = _Memo(lambda price: format(price, "f"))
    amounts = _Memo(lambda amount: format(money(amount), "f"))
    payloads = report_explanations(report=report)
    # Lines without a detail of their own share their explanation's text.
    shared = _Memo(lambda key: explanation_field(payloads, key, None))
    rows: list[str] = []
    for order, lines in iter_report_values(report=report, chunk_size=ORDERS_PER_QUERY):
        order_part = f"{prefix}{_field(neutralise(order[1]))},{iso_date(order[2]) or ''},"
        for _, service_id, service_name, charge_type, quantity, unit_price, amount, key, detail in lines:
            why = shared[key] if detail is None else explanation_field(payloads, key, detail)
            rows.append(
                f"{order_part}{numbers[service_id]},{texts[service_name]},{charges[charge_type, service_id]},"
                f"{quantities[quantity]},{prices[unit_price]},{amounts[amount]},,,{why}\r\n"
            )
        if len(rows) >= ROWS_PER_CHUNK:
            buffer.write("".join(rows))
            rows.clear()
            yield flush()
    buffer.write("".join(rows))
    writer.writerows(other_charges.csv_rows(report, report_part, neutralise))

    for total in report_service_totals(report=report):
        writer.writerow(
            (
                ROW_SERVICE_TOTAL,
                *report_part,
                "",
                "",
                total.service_id,
                neutralise(total.service_name),
                *charge(total.charge_type, total.service_id),
                "",
                "",
                "",
                _quantity_text(total.quantity),
                format(money(total.amount), "f"),
                "",
            )
        )
    total_amount = format(money(report.total_amount), "f")
    writer.writerow((ROW_TOTAL, *report_part, *[""] * 11, total_amount, ""))
    yield flush()
