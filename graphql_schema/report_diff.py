"""reportDiff (a query) and previewReport (a mutation: it locks the customer and draws on the
generation rate limit, like generateReport), over billing.selectors.report_diff and
billing.services.preview, with the REST facade's error codes."""

from __future__ import annotations

import datetime as dt
import enum
import uuid
from decimal import Decimal
from typing import Annotated, Any

import strawberry
from strawberry.scalars import JSON
from strawberry.types import Info

from billing.errors import ValidationFailed
from billing.models import BillingReport, Interface, ReportLine, ReportOrder
from billing.permissions import GENERATE
from billing.selectors.report_diff import CAUSES, CHANGES, DiffLine, ReportDiff, diff_page_errors, report_diff
from billing.selectors.reports import line_explanation
from billing.services.preview import PREVIEW_ORDERS, Preview, PreviewRequest, report_preview
from graphql_schema.enums import ChargeType
from graphql_schema.errors import (
    AuthenticationRequiredError,
    NotFoundError,
    PermissionDeniedError,
    RateLimitedError,
    ValidationError,
    returning_errors,
)
from graphql_schema.permissions import HasPerm, IsAuthenticated, current_user
from graphql_schema.scalars import Money
from graphql_schema.types import (
    BillingReportType,
    ChargeExplanationType,
    CustomerType,
    Period,
    ReportTotals,
    ServiceTotalType,
)

DiffChange = strawberry.enum(
    enum.Enum("DiffChange", {name.upper(): name for name in CHANGES}),
    name="DiffChange",
    description="ADDED: only in the new report; REMOVED: only in the old one; CHANGED: in both, with other figures.",
)
DiffCause = strawberry.enum(
    enum.Enum("DiffCause", {name.upper(): name for name in CAUSES}),
    name="DiffCause",
    description=(
        "ORDER_NEW / ORDER_GONE: the order is only in the new / old report (new in the period, gone from it); "
        "RULE_NOW_MATCHES / RULE_NO_LONGER_MATCHES: the order is in both, the line only in the new / old one; "
        "ORDER_CHANGED: the quantity differs (the order's data changed); PRICE_CHANGED: the unit price or amount "
        "differs at the same quantity."
    ),
)


@strawberry.type(description="One side of a diff line: the charge as that report has it.")
class DiffSide:
    quantity: Decimal
    unit_price: Decimal
    amount: Money


@strawberry.type(description="An (order, rate-card line) pair whose charge differs between the two reports.")
class ReportDiffLine:
    transaction_id: str
    service_id: int
    service_name: str
    charge_type: ChargeType  # type: ignore[valid-type]
    change: DiffChange  # type: ignore[valid-type]
    cause: DiffCause  # type: ignore[valid-type]
    old: DiffSide | None = strawberry.field(description="In the old report (against); null when added.")
    new: DiffSide | None = strawberry.field(description="In the new report; null when removed.")
    amount_change: Money = strawberry.field(description="New amount minus old amount (an absent line counts 0).")

    @classmethod
    def of(cls, line: DiffLine) -> ReportDiffLine:
        def side(quantity: Decimal | None, unit_price: Decimal | None, amount: Decimal | None) -> DiffSide | None:
            if quantity is None or unit_price is None or amount is None:
                return None
            return DiffSide(quantity=quantity, unit_price=unit_price, amount=Money(amount))

        return cls(
            transaction_id=line.transaction_id,
            service_id=line.service_id,
            service_name=line.service_name,
            charge_type=ChargeType(line.charge_type),
            change=DiffChange(line.change),
            cause=DiffCause(line.cause),
            old=side(line.old_quantity, line.old_unit_price, line.old_amount),
            new=side(line.new_quantity, line.new_unit_price, line.new_amount),
            amount_change=Money(line.amount_change),
        )


@strawberry.type(description="Two amounts and their difference (new minus old).")
class AmountChange:
    old: Money
    new: Money
    change: Money


@strawberry.type(description="A service's total in each report.")
class ServiceTotalChange:
    service_id: int
    service_name: str
    old_amount: Money
    new_amount: Money
    change: Money


@strawberry.type(description="How many lines of the diff have each change and each cause.")
class DiffCounts:
    added: int
    removed: int
    changed: int
    order_new: int
    rule_now_matches: int
    order_gone: int
    rule_no_longer_matches: int
    order_changed: int
    price_changed: int


@strawberry.type(
    description="What changed from one report (against, the old side) to another of the same customer. "
    "Lines are listed by order id, then service id."
)
class ReportDiffType:
    report: BillingReportType | None = strawberry.field(description="The new side; null in a preview (not saved).")
    against: BillingReportType
    currency: str
    total_amount: AmountChange
    service_totals: list[ServiceTotalChange] = strawberry.field(description="Per service, by name.")
    counts: DiffCounts
    line_count: int = strawberry.field(description="Every line of the diff; `lines` holds the page asked for.")
    lines: list[ReportDiffLine]

    @classmethod
    def of(cls, diff: ReportDiff, lines: list[DiffLine], *, saved: bool = True) -> ReportDiffType:
        return cls(
            report=diff.report if saved else None,  # type: ignore[arg-type]
            against=diff.against,  # type: ignore[arg-type]
            currency=diff.report.currency,
            total_amount=AmountChange(
                old=Money(diff.old_total), new=Money(diff.new_total), change=Money(diff.total_change)
            ),
            service_totals=[
                ServiceTotalChange(
                    service_id=total.service_id,
                    service_name=total.service_name,
                    old_amount=Money(total.old_amount),
                    new_amount=Money(total.new_amount),
                    change=Money(total.change),
                )
                for total in diff.service_totals
            ],
            counts=DiffCounts(**diff.change_counts, **diff.counts),
            line_count=diff.line_count,
            lines=[ReportDiffLine.of(line) for line in lines],
        )


ReportDiffResult = Annotated[
    ReportDiffType | ValidationError | NotFoundError | AuthenticationRequiredError,
    strawberry.union("ReportDiffResult", description="The diff, or why it cannot be given."),
]


def resolve_report_diff(
    info: Info,
    id: uuid.UUID,
    against: uuid.UUID | None = None,
    offset: int = 0,
    limit: int = 100,
) -> ReportDiffResult:
    def call() -> ReportDiffType:
        errors = diff_page_errors(offset=offset, limit=limit)
        if errors:
            raise ValidationFailed("Invalid page of diff lines.", fields=errors)
        diff = report_diff(actor=current_user(info), report_id=id, against_id=against)
        return ReportDiffType.of(diff, diff.lines(offset=offset, limit=limit))

    return returning_errors(call)  # type: ignore[return-value]


report_diff_field = strawberry.field(
    resolver=resolve_report_diff,
    description=(
        "What changed from report `against` to report `id` (same customer; default against: the report `id` "
        "superseded): lines added, removed or changed with their cause, totals per service and overall. "
        "`offset` / `limit` (1 to 1000) page the lines."
    ),
    extensions=[IsAuthenticated()],
)


# --- previewReport ----------------------------------------------------------------------------


@strawberry.input(description="A period to price without saving anything.")
class PreviewReportInput:
    customer_id: int
    start_date: dt.date
    end_date: dt.date
    customer_service_ids: list[int] | None = strawberry.field(
        default=None, description="Only these rate-card lines of the customer (default: all of them)."
    )
    rate_card_document: JSON | None = strawberry.field(
        default=None,
        description="A draft rate-card document in the import format, describing only this customer; the period is "
        "priced as if it were imported. Default: the current rate card.",
    )
    orders_limit: int = strawberry.field(default=PREVIEW_ORDERS, description="How many first orders (1 to 1000).")


def _explanation(explanations: dict[int, dict[str, Any]], line: ReportLine) -> ChargeExplanationType | None:
    data = line_explanation(explanations, line.explanation, line.detail)
    return None if data is None else ChargeExplanationType.of(data)


@strawberry.type(description="A charge of a previewed order.")
class PreviewCharge:
    service_id: int
    service_name: str
    charge_type: ChargeType  # type: ignore[valid-type]
    quantity: Decimal
    unit_price: Decimal
    amount: Money
    explanation: ChargeExplanationType | None = strawberry.field(
        description="Why it would be charged, as generation records it (docs/explanations.md)."
    )


@strawberry.type(description="A previewed order with its charges.")
class PreviewOrder:
    transaction_id: str
    close_date: dt.datetime | None
    total_items: int
    line_items: int
    total_amount: Money
    charges: list[PreviewCharge]

    @classmethod
    def of(cls, order: ReportOrder, lines: list[ReportLine], explanations: dict[int, dict[str, Any]]) -> PreviewOrder:
        return cls(
            transaction_id=order.transaction_id,
            close_date=order.close_date,
            total_items=order.total_items,
            line_items=order.line_items,
            total_amount=Money(order.total_amount),
            charges=[
                PreviewCharge(
                    service_id=line.service_id,
                    service_name=line.service_name,
                    charge_type=ChargeType(line.charge_type),
                    quantity=line.quantity,
                    unit_price=line.unit_price,
                    amount=Money(line.amount),
                    explanation=_explanation(explanations, line),
                )
                for line in lines
            ],
        )


@strawberry.type(description="The report a generation would write now, from the same pricing code; nothing was saved.")
class ReportPreview:
    customer: CustomerType
    period: Period
    is_partial: bool
    totals: ReportTotals
    service_totals: list[ServiceTotalType]
    orders: list[PreviewOrder] = strawberry.field(description="The first billed orders (ordersLimit).")
    already_billed_pairs: int = strawberry.field(
        description="(order, rate-card line) pairs another live report bills: generateReport would refuse them "
        "(ALREADY_BILLED) unless onlyUnbilled."
    )
    live_report: BillingReportType | None = strawberry.field(description="The live report of the same scope, if any.")
    diff: ReportDiffType | None = strawberry.field(description="Against liveReport (null without one).")

    @classmethod
    def of(cls, preview: Preview) -> ReportPreview:
        report: BillingReport = preview.report
        return cls(
            customer=report.customer,  # type: ignore[arg-type]
            period=Period(start_date=report.start_date, end_date=report.end_date),
            is_partial=bool(report.scope_key),
            totals=ReportTotals(
                total_amount=Money(report.total_amount),
                currency=report.currency,
                order_count=report.order_count,
                line_count=report.line_count,
                unbilled_order_count=report.unbilled_order_count,
                not_closed_order_count=report.not_closed_order_count,
            ),
            service_totals=preview.service_totals,  # type: ignore[arg-type]
            orders=[PreviewOrder.of(order, lines, preview.explanations) for order, lines in preview.orders],
            already_billed_pairs=preview.already_billed_pairs,
            live_report=preview.live_report,  # type: ignore[arg-type]
            diff=ReportDiffType.of(preview.diff, preview.diff_lines, saved=False) if preview.diff is not None else None,
        )


PreviewReportResult = Annotated[
    ReportPreview | ValidationError | PermissionDeniedError | AuthenticationRequiredError | RateLimitedError,
    strawberry.union("PreviewReportResult", description="The preview, or why the period cannot be priced."),
]


def preview_report(info: Info, input: PreviewReportInput) -> PreviewReportResult:
    def call() -> ReportPreview:
        document: Any = input.rate_card_document
        request = PreviewRequest(
            customer_id=input.customer_id,
            start_date=input.start_date,
            end_date=input.end_date,
            customer_service_ids=input.customer_service_ids,
            rate_card_document=document,
            orders_limit=input.orders_limit,
        )
        return ReportPreview.of(report_preview(current_user(info), request, interface=Interface.GRAPHQL))

    return returning_errors(call)  # type: ignore[return-value]


preview_report_field = strawberry.mutation(
    resolver=preview_report,
    description=(
        "Price a period as generateReport would, optionally under a draft rate-card document, and save nothing "
        "(the generation runs in a transaction that is rolled back). Needs the generate permission; counts against "
        "the generation rate limit."
    ),
    extensions=[IsAuthenticated(), HasPerm(GENERATE)],
)
