"""A report diff as JSON-ready data (the REST body) and as a streamed CSV file; a preview as data.

The diff itself is billing.selectors.report_diff, the preview billing.services.preview; the
CSV layout is in docs/exports.md ("Report diff").
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from decimal import Decimal
from typing import TYPE_CHECKING, Any

from billing.exporters.csv import UTF8_BOM, chunk_writer, neutralise
from billing.exporters.shapes import (
    iso_date,
    money,
    order_data_from_models,
    quantity_number,
    report_data,
    service_totals_data,
)
from billing.selectors.report_diff import DiffLine, ReportDiff

if TYPE_CHECKING:
    from billing.services.preview import Preview

__all__ = ["DIFF_CSV_HEADER", "diff_data", "diff_line_data", "diff_summary_data", "export_diff_csv", "preview_data"]

DIFF_CSV_HEADER = (
    "row_type",
    "transaction_id",
    "service_id",
    "service_name",
    "cost_type",
    "change",
    "cause",
    "old_quantity",
    "new_quantity",
    "old_unit_price",
    "new_unit_price",
    "old_amount",
    "new_amount",
    "amount_change",
)
ROWS_PER_CHUNK = 1000


def _side(quantity: Decimal | None, unit_price: Decimal | None, amount: Decimal | None) -> dict[str, Any] | None:
    if quantity is None or unit_price is None:
        return None
    return {"quantity": quantity_number(quantity), "unit_price": unit_price, "amount": money(amount)}


def diff_line_data(line: DiffLine) -> dict[str, Any]:
    """One diff line: the order's transaction id (`order_id`, as in a report's orders), the
    rate-card line, what changed and why, and each side (null where the line is absent)."""
    return {
        "order_id": line.transaction_id,
        "service_id": line.service_id,
        "service_name": line.service_name,
        "cost_type": line.charge_type,
        "change": line.change,
        "cause": line.cause,
        "old": _side(line.old_quantity, line.old_unit_price, line.old_amount),
        "new": _side(line.new_quantity, line.new_unit_price, line.new_amount),
        "amount_change": money(line.amount_change),
    }


def diff_summary_data(diff: ReportDiff) -> dict[str, Any]:
    """The totals and counts of a diff (no lines, no reports)."""
    return {
        "currency": diff.report.currency,
        "total_amount": {
            "old": money(diff.old_total),
            "new": money(diff.new_total),
            "change": money(diff.total_change),
        },
        "service_totals": [
            {
                "service_id": total.service_id,
                "service_name": total.service_name,
                "old_amount": money(total.old_amount),
                "new_amount": money(total.new_amount),
                "change": money(total.change),
            }
            for total in diff.service_totals
        ],
        "counts": {**diff.change_counts, "by_cause": dict(diff.counts)},
        "line_count": diff.line_count,
    }


def diff_data(diff: ReportDiff, lines: Iterable[DiffLine], *, legacy: bool = False) -> dict[str, Any]:
    """The diff `data` object: both reports (report_data), the summary, and a page of lines."""
    return {
        "report": report_data(diff.report, legacy=legacy),
        "against": report_data(diff.against, legacy=legacy),
        **diff_summary_data(diff),
        "lines": [diff_line_data(line) for line in lines],
    }


def preview_data(preview: Preview, *, legacy: bool = False) -> dict[str, Any]:
    """The preview `data` object: what the report would hold (no id: nothing was saved), its first
    orders, the pairs another live report bills, and the diff against the live report (or null)."""
    report = preview.report
    diff = preview.diff
    return {
        "customer": report.customer_id,
        "customer_name": report.customer.company_name,
        "start_date": iso_date(report.start_date),
        "end_date": iso_date(report.end_date),
        "currency": report.currency,
        "is_partial": bool(report.scope_key),
        "total_amount": money(report.total_amount),
        "order_count": report.order_count,
        "unbilled_order_count": report.unbilled_order_count,
        "line_count": report.line_count,
        "orders": [
            order_data_from_models(
                order, lines, time_zone=report.billing_time_zone, explanations=preview.explanations, legacy=legacy
            )
            for order, lines in preview.orders
        ],
        "service_totals": service_totals_data(preview.service_totals, legacy=legacy),
        "already_billed_pairs": preview.already_billed_pairs,
        "live_report": report_data(preview.live_report, legacy=legacy) if preview.live_report is not None else None,
        "diff": (
            {**diff_summary_data(diff), "lines": [diff_line_data(line) for line in preview.diff_lines]}
            if diff is not None
            else None
        ),
    }


def _number(value: Decimal | None, *, amount: bool = False) -> str:
    if value is None:
        return ""
    return format(money(value), "f") if amount else format(value, "f")


def export_diff_csv(diff: ReportDiff, *, bom: bool = False) -> Iterator[bytes]:
    """The diff as UTF-8 CSV chunks: one `line` row per diff line (by order id, then service id),
    a `service_total` row per service (old and new amounts), then a `total` row."""
    _, writer, flush = chunk_writer()

    if bom:
        yield UTF8_BOM
    writer.writerow(DIFF_CSV_HEADER)
    for index, line in enumerate(diff.iter_lines(), start=1):
        writer.writerow(
            (
                "line",
                neutralise(line.transaction_id),
                line.service_id,
                neutralise(line.service_name),
                line.charge_type,
                line.change,
                line.cause,
                "" if line.old_quantity is None else quantity_number(line.old_quantity),
                "" if line.new_quantity is None else quantity_number(line.new_quantity),
                _number(line.old_unit_price),
                _number(line.new_unit_price),
                _number(line.old_amount, amount=True),
                _number(line.new_amount, amount=True),
                _number(line.amount_change, amount=True),
            )
        )
        if index % ROWS_PER_CHUNK == 0:
            yield flush()
    for total in diff.service_totals:
        writer.writerow(
            (
                "service_total",
                "",
                total.service_id,
                neutralise(total.service_name),
                *[""] * 7,
                _number(total.old_amount, amount=True),
                _number(total.new_amount, amount=True),
                _number(total.change, amount=True),
            )
        )
    writer.writerow(
        (
            "total",
            *[""] * 10,
            _number(diff.old_total, amount=True),
            _number(diff.new_total, amount=True),
            _number(diff.total_change, amount=True),
        )
    )
    yield flush()
