"""CSV export of a report: one row per report line, then summary rows (layout in docs/exports.md).

Every row names the report, its statement number, customer, currency and period. Line rows
carry `quantity` and `amount`; the summary rows carry theirs in `total_quantity` and
`total_amount` instead, so summing the `amount` column gives the report total exactly.

Rows are streamed from billing.selectors.reports.iter_report_rows (one flat tuple per line; on
PostgreSQL the decimals as text) and written in chunks, so memory stays constant whatever the
size of the report; a line is assembled from pieces formatted once per distinct value. Text
cells a spreadsheet would run as a formula (first character = + - @ tab or CR) are prefixed
with a single quote; the numeric columns we produce ourselves (service_id, quantity,
unit_price, amount) are written as plain numbers and never altered.
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
    explanation_key,
    iter_report_rows,
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
# Distinct values a formatting memo keeps (_Memo).
MEMO_LIMIT = 20_000


def neutralise(text: str) -> str:
    """`text` made inert for spreadsheets: a leading = + - @ tab or CR gets a ' in front."""
    if text and text.startswith(FORMULA_TRIGGERS):
        return "'" + text
    return text


def _quantity_text(value: Decimal) -> str:
    return str(quantity_number(value))


class _Memo(dict):
    """text = memo[value]: computed once per distinct value (names, prices, amounts repeat a lot).

    Emptied when it holds MEMO_LIMIT values, so memory stays bounded when values do not repeat.
    """

    def __init__(self, function: Callable[[Any], str]) -> None:
        super().__init__()
        self.function = function

    def __missing__(self, key: Any) -> str:
        if len(self) >= MEMO_LIMIT:
            self.clear()
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
    charges = _Memo(lambda key: ",".join(_field(value) for value in charge(*key)))
    # (service id, name, charge type) -> "service_id,service_name,charge_type,charge_label,unit,"
    services = _Memo(lambda key: f"{_field(key[0])},{_field(neutralise(key[1]))},{charges[key[2], key[0]]},")
    # (quantity, unit_price, amount), as Decimals or as their text (iter_report_rows) -> their fields
    numbers = _Memo(lambda key: f"{_quantity_text(Decimal(key[0]))},{Decimal(key[1]):f},{money(Decimal(key[2])):f},,,")
    payloads = report_explanations(report=report)
    # Lines without a detail of their own share their explanation's text.
    shared = _Memo(lambda key: explanation_field(payloads, explanation_key(key), None) + "\r\n")
    dates = _Memo(lambda day: day if isinstance(day, str) else iso_date(day) or "")
    rows: list[str] = []
    order_key, order_part = None, ""
    for (
        order,
        transaction_id,
        day,
        service_id,
        name,
        charge_type,
        quantity,
        price,
        amount,
        key,
        detail,
    ) in iter_report_rows(report=report, chunk_size=ORDERS_PER_QUERY):
        if order != order_key:
            if len(rows) >= ROWS_PER_CHUNK:  # whole orders per chunk
                buffer.write("".join(rows))
                rows.clear()
                yield flush()
            order_key, order_part = order, f"{prefix}{_field(neutralise(transaction_id))},{dates[day]},"
        rows.append(
            order_part
            + services[service_id, name, charge_type]
            + numbers[quantity, price, amount]
            + (explanation_field(payloads, explanation_key(key), detail) + "\r\n" if detail else shared[key])
        )
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
