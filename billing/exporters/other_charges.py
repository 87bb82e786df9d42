"""A report's other charges (storage, receiving, returns, extra work, adjustments) in every output:
the REST detail and JSON export (`other_charges`, `unbilled_activity`), CSV rows
(row_type "other_charge"), and the PDF's "Other charges" section (docs/exports.md).

Each output reads the rows through billing.selectors.reports.report_other_charges and shapes
them here, so the four agree; the exporters call these functions from one line each.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from typing import Any

from billing.exporters.shapes import charge_label, iso_date, money, quantity_number
from billing.jsonencoding import dumps
from billing.models import BillingReport, ReportOtherCharge
from billing.pricing.activity import ADJUSTMENT_LABELS, SOURCE_LABELS, other_charge_text
from billing.selectors.reports import report_other_charges

__all__ = [
    "ROW_OTHER_CHARGE",
    "UNBILLED_ACTIVITY_KEYS",
    "csv_rows",
    "detail_part",
    "json_part",
    "other_charges_data",
    "pdf_rows",
    "unbilled_activity_data",
]

ROW_OTHER_CHARGE = "other_charge"
UNBILLED_ACTIVITY_KEYS = ("receipts", "returns", "extra_work", "snapshot_days")


def other_charges_data(charges: Iterable[ReportOtherCharge]) -> list[dict[str, Any]]:
    """The `other_charges` list of the REST detail and the JSON export, in position order."""
    return [
        {
            "source": c.source,
            "reference": c.reference,
            "date": iso_date(c.date),
            "service_id": c.service_id,
            "service_name": c.service_name,
            "charge_type": c.charge_type,
            "quantity": c.quantity,
            "unit": c.unit,
            "unit_price": c.unit_price,
            "amount": money(c.amount),
            "explanation": {"text": other_charge_text(c), "detail": c.explanation},
        }
        for c in charges
    ]


def unbilled_activity_data(report: BillingReport) -> dict[str, int]:
    """What of the period's activity no rate-card line priced (zeros on reports made before)."""
    stored = report.unbilled_activity or {}
    return {key: int(stored.get(key, 0)) for key in UNBILLED_ACTIVITY_KEYS}


def detail_part(report: BillingReport) -> dict[str, Any]:
    """The keys the REST detail adds after its others."""
    return {
        "other_charges": other_charges_data(report_other_charges(report=report)),
        "unbilled_activity": unbilled_activity_data(report),
    }


def json_part(report: BillingReport) -> str:
    """`detail_part` as the JSON text the streamed export appends (with its leading comma)."""
    return "," + dumps(detail_part(report))[1:-1]


def csv_rows(report: BillingReport, report_part: Sequence[Any], neutralise: Any) -> list[tuple[Any, ...]]:
    """One CSV row per other charge, in the line rows' columns: the reference in transaction_id,
    the date in close_date, the amount in amount (so the column still sums to the report total)."""
    return [
        (
            ROW_OTHER_CHARGE,
            *report_part,
            neutralise(c.reference),
            iso_date(c.date),
            "" if c.service_id is None else c.service_id,
            neutralise(c.service_name),
            c.charge_type,
            neutralise(charge_label(c.charge_type) if c.source != "adjustment" else ADJUSTMENT_LABELS[c.charge_type]),
            c.unit,
            str(quantity_number(c.quantity)),
            format(c.unit_price, "f"),
            format(money(c.amount), "f"),
            "",
            "",
            neutralise(other_charge_text(c)),
        )
        for c in report_other_charges(report=report)
    ]


def pdf_rows(report: BillingReport) -> list[tuple[str, str, str, str, str, str, str]]:
    """(date, what, reference, service, quantity and unit, unit price, amount) per other charge."""
    rows = []
    for c in report_other_charges(report=report):
        number = quantity_number(c.quantity)
        quantity = f"{number:,}" if isinstance(number, int) else f"{number:,f}"
        what = SOURCE_LABELS[c.source] if c.source != "adjustment" else ADJUSTMENT_LABELS[c.charge_type]
        rows.append(
            (
                iso_date(c.date) or "",
                what,
                c.reference,
                c.service_name or "all services",
                f"{quantity} {c.unit}",
                f"{c.unit_price:f}",
                f"{money(c.amount):,.2f}",
            )
        )
    return rows
