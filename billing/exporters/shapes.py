"""The report shapes the REST facade and the exports share (the /api/v2/ contract, docs/rest-api.md).

A report, its orders and service totals and a credit note are built by these functions for both
the REST bodies and the JSON export, so the two can never drift apart; shapes only REST answers
are in rest_compat/shapes.py. Values are plain JSON-ready Python: str, int, bool, None, lists,
dicts, and Decimal for money (always exactly two decimal places) and fractional quantities.
Decimal is written as a JSON number by billing.jsonencoding.dumps; never as a float.

`legacy=True` adds, beside the spec's fields and never instead of them, the names the legacy
frontend reads (served on /api/v1/billing-v2/, see docs/rest-api.md): `customer_id` and
`currency` on reports, `reference_number`, `order_date` and `service_costs` on orders,
`service_name` on service totals, `currency` on summaries and the progress names on jobs.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable, Mapping, Sequence
from decimal import ROUND_HALF_UP, Decimal
from functools import lru_cache
from typing import Any
from zoneinfo import ZoneInfo

from billing.jsonencoding import iso_datetime
from billing.models import (
    BillingReport,
    CreditNote,
    ReportLine,
    ReportNotClosedOrder,
    ReportOrder,
    ReportServiceTotal,
)
from billing.pricing import CHARGE_TYPES, CHARGE_UNITS, DEFAULT_TIER_BASIS
from billing.selectors.reports import line_explanation, report_explanations

CENT = Decimal("0.01")
QUANTITY_PLACES = Decimal("0.0001")


def money(value: Decimal | int | None) -> Decimal:
    """An amount with exactly two decimal places (half-up), e.g. Decimal('1500.00')."""
    if value is None:
        value = Decimal(0)
    if isinstance(value, float):
        raise TypeError("Money is never a float.")
    return Decimal(value).quantize(CENT, rounding=ROUND_HALF_UP)


def quantity_number(value: Decimal | int) -> int | Decimal:
    """An integral quantity as an int (3), a fractional one as a Decimal with at most 4 places (2.5)."""
    if isinstance(value, int):
        return value
    if value == value.to_integral_value():
        return int(value)
    return value.quantize(QUANTITY_PLACES, rounding=ROUND_HALF_UP).normalize()


def iso_date(value: dt.date | None) -> str | None:
    return value.isoformat() if value is not None else None


@lru_cache(maxsize=64)
def _zone(name: str) -> ZoneInfo:
    return ZoneInfo(name)


def local_day(value: dt.datetime | None, time_zone: str) -> dt.date | None:
    """The calendar date of a timestamp in the report's billing time zone."""
    if value is None:
        return None
    return value.astimezone(_zone(time_zone or "UTC")).date()


def local_date(value: dt.datetime | None, time_zone: str) -> str | None:
    """The calendar date (YYYY-MM-DD) of a timestamp in the report's billing time zone."""
    return iso_date(local_day(value, time_zone))


def statement_number(report: BillingReport) -> str:
    """The number printed on a report's statement: its invoice number once finalized, else period
    start, customer id and the first 8 hex digits of its id.

    e.g. 'INV-2026-000042', or 'ST-202608-0042-1A2B3C4D' for a draft. It names one report (a
    regenerated period gets a new number).
    """
    if report.invoice_number:
        return report.invoice_number
    return f"ST-{report.start_date:%Y%m}-{report.customer_id:04d}-{report.id.hex[:8].upper()}"


def scope_text(report: BillingReport) -> str:
    """'all' for a report of the whole rate card; else its rate-card line ids ('3;7'): a partial report."""
    return ";".join(str(i) for i in report.scope_line_ids) if report.is_partial else "all"


def credit_note_data(note: CreditNote) -> dict[str, Any]:
    """A credit note's representation (REST, JSON export); `report` must be loaded."""
    return {
        "id": str(note.id),
        "number": note.number,
        "report": str(note.report_id),
        "invoice_number": note.report.invoice_number,
        "reason": note.reason,
        "currency": note.currency,
        "amount": money(note.amount),
        "issued_at": iso_datetime(note.issued_at),
        "issued_by": username_or_none(note.issued_by),
    }


def charge_label(code: str) -> str:
    """The label of a charge type code: 'per_weight_lb' -> 'Per lb'."""
    return CHARGE_TYPES.get(code, code)


def charge_unit(code: str, tier_basis: str = "") -> str:
    """The unit a charge type counts ('lb', 'cu ft', 'cases'); a tiered line counts its basis's unit."""
    if code not in CHARGE_UNITS:  # tiered
        code = tier_basis or DEFAULT_TIER_BASIS
    return CHARGE_UNITS.get(code, "")


_INVARIABLE_UNITS = frozenset({"lb", "cu ft"})


def quantity_with_unit(value: Decimal | int, unit: str) -> str:
    """'1 order', '1,250 units', '2.5 lb': a quantity with thousands separators and its unit."""
    number = quantity_number(value)
    text = f"{number:,}" if isinstance(number, int) else f"{number:,f}"
    if unit and number != 1 and unit not in _INVARIABLE_UNITS:
        unit += "s"
    return f"{text} {unit}".strip()


def report_data(report: BillingReport, *, legacy: bool = False) -> dict[str, Any]:
    """A report's list/generate representation (`customer` and `created_by` must be loaded)."""
    data = report_row_data(
        report.id,
        report.customer_id,
        report.customer.company_name,
        report.start_date,
        report.end_date,
        report.total_amount,
        report.generated_at,
        report.output_format,
        report.created_at,
        username_or_none(report.created_by),
        report.status,
        report.invoice_number,
        report.scope_key,
    )
    return with_legacy_report_fields(data, report.currency) if legacy else data


def with_legacy_report_fields(data: dict[str, Any], currency: str) -> dict[str, Any]:
    data["customer_id"] = data["customer"]
    data["currency"] = currency
    return data


def username_or_none(user: Any) -> str | None:
    return user.get_username() if user is not None else None


def report_row_data(
    report_id: Any,
    customer_id: int,
    customer_name: str,
    start_date: dt.date,
    end_date: dt.date,
    total_amount: Decimal,
    generated_at: dt.datetime,
    output_format: str,
    created_at: dt.datetime,
    created_by: str | None,
    status: str,
    invoice_number: str,
    scope_key: str,
) -> dict[str, Any]:
    return {
        "id": str(report_id),
        "customer": customer_id,
        "customer_name": customer_name,
        "start_date": iso_date(start_date),
        "end_date": iso_date(end_date),
        "total_amount": money(total_amount),
        "generated_at": iso_datetime(generated_at),
        "output_format": output_format,
        "created_at": iso_datetime(created_at),
        "created_by": created_by,
        "status": status,
        "invoice_number": invoice_number or None,
        "is_partial": bool(scope_key),
    }


def service_line_data(
    *,
    service_id: int,
    service_name: str,
    amount: Decimal,
    quantity: Decimal,
    charge_type: str,
    explanation: dict[str, Any] | None = None,
) -> dict[str, Any]:
    """One charged service of an order (a report line) and why it was charged (docs/explanations.md)."""
    return {
        "service_id": service_id,
        "service_name": service_name,
        "amount": money(amount),
        "quantity": quantity_number(quantity),
        "cost_type": charge_type,
        "explanation": explanation,
    }


def order_data(
    *,
    transaction_id: str,
    transaction_date: dt.date | None,
    status: str,
    ship_to_name: str,
    ship_to_address: str,
    total_items: int,
    line_items: int,
    total_amount: Decimal,
    services: list[dict[str, Any]],
) -> dict[str, Any]:
    """One order of the detail: its snapshot fields and its charged services (service_line_data).

    transaction_date is the close date as a calendar date in the report's billing time zone.
    """
    return {
        "order_id": transaction_id,
        "transaction_date": iso_date(transaction_date),
        "status": status,  # as the WMS gave it
        "ship_to_name": ship_to_name,
        "ship_to_address": ship_to_address,
        "total_items": total_items,
        "line_items": line_items,
        "services": services,
        "total_amount": money(total_amount),
    }


def order_data_from_models(
    order: ReportOrder,
    lines: Iterable[ReportLine],
    *,
    time_zone: str,
    explanations: Mapping[int, dict[str, Any]],
    legacy: bool = False,
) -> dict[str, Any]:
    """order_data of a ReportOrder and its ReportLine rows (`explanations`: report_explanations)."""
    data = order_data(
        transaction_id=order.transaction_id,
        transaction_date=local_day(order.close_date, time_zone),
        status=order.status,
        ship_to_name=order.ship_to_name,
        ship_to_address=order.ship_to_address,
        total_items=order.total_items,
        line_items=order.line_items,
        total_amount=order.total_amount,
        services=[
            service_line_data(
                service_id=line.service_id,
                service_name=line.service_name,
                amount=line.amount,
                quantity=line.quantity,
                charge_type=line.charge_type,
                explanation=line_explanation(explanations, line.explanation, line.detail),
            )
            for line in lines
        ],
    )
    if legacy:
        data["reference_number"] = order.reference_number
        data["order_date"] = data["transaction_date"]
        data["service_costs"] = data["services"]
    return data


def service_totals_data(totals: Iterable[ReportServiceTotal], *, legacy: bool = False) -> dict[str, dict[str, Any]]:
    """Per-service totals keyed by the service id as a string."""
    data = {
        str(total.service_id): {
            "name": total.service_name,
            "amount": money(total.amount),
            "order_count": total.order_count,
        }
        for total in totals
    }
    if legacy:
        for total in data.values():
            total["service_name"] = total["name"]
    return data


def not_closed_orders_data(orders: Iterable[ReportNotClosedOrder]) -> list[dict[str, Any]]:
    """The customer's orders without a close date when the report was made (never billable)."""
    return [
        {"order_id": order.transaction_id, "reference_number": order.reference_number, "status": order.status}
        for order in orders
    ]


def report_detail_data(
    report: BillingReport,
    *,
    service_totals: Iterable[ReportServiceTotal],
    orders: Sequence[tuple[ReportOrder, Sequence[ReportLine]]],
    legacy: bool = False,
    not_closed_orders: Iterable[ReportNotClosedOrder] = (),
) -> dict[str, Any]:
    """The detail `data` object: the report, its orders with their services, the service totals,
    and apart from them the orders that were not closed (no close date, so never billable).

    The key order (report fields, then `orders`, `service_totals`, `not_closed_orders`,
    `other_charges`, `unbilled_activity`) is part of the shape: the streaming JSON export writes
    the same keys in the same order.
    """
    from billing.exporters import other_charges  # here: it imports this module's helpers

    time_zone = report.billing_time_zone
    explanations = report_explanations(report=report)
    return {
        **report_data(report, legacy=legacy),
        "orders": [
            order_data_from_models(order, lines, time_zone=time_zone, explanations=explanations, legacy=legacy)
            for order, lines in orders
        ],
        "service_totals": service_totals_data(service_totals, legacy=legacy),
        "not_closed_orders": not_closed_orders_data(not_closed_orders),
        **other_charges.detail_part(report),  # storage, receiving, returns, extra work, adjustments
    }
