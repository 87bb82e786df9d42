"""Preview: price a period as generation would, and keep nothing.

report_preview runs the real generation (billing.generation.generate_report through
report_generate) and, for a draft rate-card document, the real import first
(billing.services.rate_cards.rate_card_import), inside a transaction that is always rolled
back. The answer (totals, service totals, the first orders, the diff against the live report
of the same scope) is read from the rows the generation wrote, before the rollback. So a
preview prices with the same code as a generation and writes no row; database sequences
(the ids the rows would have had) are the only trace, as with any rolled-back transaction.

What differs from a generation: no (order, rate-card line) pair is claimed, so a pair another
live report bills is counted (`already_billed_pairs`) instead of refused; a finalized report of
the scope is no refusal either (the preview says what the period would cost). Permissions are
generate's (billing.permissions.ensure_can_generate_for); a preview draws on the generation rate
limit (it costs as much as one); no audit event is kept.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
from collections.abc import Sequence
from typing import Any

from django.db import transaction
from django.db.models import Exists, OuterRef

from billing.errors import ValidationFailed
from billing.generation.claims import scope_key
from billing.models import (
    LIVE_REPORT_STATUSES,
    BilledPair,
    BillingReport,
    Interface,
    ReportLine,
    ReportOrder,
    ReportServiceTotal,
    ReportStatus,
)
from billing.periods import period_errors
from billing.permissions import Actor, ensure_can_generate_for
from billing.selectors.report_diff import DiffLine, ReportDiff, report_diff_between
from billing.selectors.reports import (
    report_explanations,
    report_lines_by_order,
    report_orders,
    report_service_totals,
    reports_visible_to,
)
from billing.services.rate_card_document import rate_card_plan
from billing.services.rate_cards import rate_card_import
from billing.services.rate_limit import generation_rate_limit_take
from billing.services.reports import report_generate

__all__ = ["DOCUMENT_FIELD", "PREVIEW_MAX_ORDERS", "Preview", "PreviewRequest", "report_preview"]

DOCUMENT_FIELD = "rate_card_document"
PREVIEW_ORDERS = 100
PREVIEW_MAX_ORDERS = 1000
PREVIEW_DIFF_LINES = 100


@dataclasses.dataclass(frozen=True, kw_only=True)
class PreviewRequest:
    """A period to price: the customer's current rate card, or it after importing `rate_card_document`."""

    customer_id: int
    start_date: dt.date
    end_date: dt.date
    customer_service_ids: Sequence[int] | None = None
    rate_card_document: Any = None
    orders_limit: int = PREVIEW_ORDERS
    diff_limit: int = PREVIEW_DIFF_LINES


@dataclasses.dataclass(frozen=True)
class Preview:
    """What the report would be. `report` and the rows are in memory only (never saved):
    `report.id` names nothing. `diff` compares it with `live_report` (None without one), and
    `diff_lines` is its first page."""

    report: BillingReport
    service_totals: list[ReportServiceTotal]
    orders: list[tuple[ReportOrder, list[ReportLine]]]
    already_billed_pairs: int
    # explanation key -> payload, for the lines of `orders` (billing.selectors.reports.line_explanation)
    explanations: dict[int, dict[str, Any]] = dataclasses.field(default_factory=dict)
    live_report: BillingReport | None = None
    diff: ReportDiff | None = None
    diff_lines: list[DiffLine] = dataclasses.field(default_factory=list)


class _RolledBack(Exception):
    """Not an error: carries the answer out of the transaction it rolls back."""

    def __init__(self, preview: Preview) -> None:
        super().__init__("preview rolled back")
        self.preview = preview


def report_preview(actor: Actor, request: PreviewRequest, *, interface: str = Interface.COMMAND) -> Preview:
    """The report `request` would generate now, with nothing written.

    Raises PermissionDenied (as generate), RateLimited (the generation budget), then
    ValidationFailed with every field error at once: the period, the customer and the lines as
    generate reports them, and the document's own errors under `rate_card_document.<path>`
    (a document may describe only the previewed customer).
    """
    ensure_can_generate_for(actor, request.customer_id)
    generation_rate_limit_take(actor)
    try:
        with transaction.atomic():
            raise _RolledBack(_preview(actor, request, interface))
    except _RolledBack as done:
        return done.preview


def _preview(actor: Actor, request: PreviewRequest, interface: str) -> Preview:
    errors = period_errors(request.start_date, request.end_date)
    if not 1 <= request.orders_limit <= PREVIEW_MAX_ORDERS:
        errors["orders_limit"] = [f"Ask for 1 to {PREVIEW_MAX_ORDERS} orders."]
    if request.rate_card_document is not None:
        errors.update(_imported(request.rate_card_document, request.customer_id))
    if errors:
        raise ValidationFailed("Invalid preview request.", fields=errors)
    live = _live_report(actor, request)
    report = report_generate(
        actor=actor,
        customer_id=request.customer_id,
        start_date=request.start_date,
        end_date=request.end_date,
        customer_service_ids=request.customer_service_ids,
        interface=interface,
        preview=True,
    )
    orders = list(report_orders(report=report, billed=True)[: request.orders_limit])
    lines = report_lines_by_order(report=report, order_ids=[order.order_id for order in orders])
    diff = report_diff_between(report, live) if live is not None else None
    return Preview(
        report=report,
        service_totals=list(report_service_totals(report=report)),
        orders=[(order, lines[order.order_id]) for order in orders],
        explanations=report_explanations(report=report),
        already_billed_pairs=_already_billed(report),
        live_report=live,
        diff=diff,
        diff_lines=diff.lines(limit=request.diff_limit) if diff is not None else [],
    )


def _imported(document: Any, customer_id: int) -> dict[str, list[str]]:
    """Import the draft document (in the preview's transaction); its errors by path, or {}."""
    try:
        _, customers = rate_card_plan(document)
        others = {
            f"customers[{index}]": [f"A preview document describes only the previewed customer ({customer_id})."]
            for index, plan in enumerate(customers)
            if plan.existing is None or plan.existing.pk != customer_id
        }
        if others:
            raise ValidationFailed("The document describes other customers.", fields=others)
        rate_card_import(document=document)
    except ValidationFailed as exc:
        return {
            DOCUMENT_FIELD if path == "document" else f"{DOCUMENT_FIELD}.{path}": messages
            for path, messages in exc.fields.items()
        }
    return {}


def _live_report(actor: Actor, request: PreviewRequest) -> BillingReport | None:
    """The live report of the same scope the actor may see: the draft a generation would
    supersede, else the finalized one."""
    reports = BillingReport.objects.all() if actor is None else reports_visible_to(actor)
    candidates = reports.select_related("customer", "created_by").filter(
        customer_id=request.customer_id,
        start_date=request.start_date,
        end_date=request.end_date,
        scope_key=scope_key(request.customer_service_ids),
        status__in=LIVE_REPORT_STATUSES,
    )
    by_status = {report.status: report for report in candidates}
    return by_status.get(ReportStatus.DRAFT) or by_status.get(ReportStatus.FINALIZED)


def _already_billed(report: BillingReport) -> int:
    """Pairs of the preview another live report bills (the superseded draft's were released)."""
    mine = ReportLine.objects.filter(
        report_id=report.pk, order_id=OuterRef("order_id"), service_id=OuterRef("service_id")
    )
    return BilledPair.objects.filter(Exists(mine)).count()
