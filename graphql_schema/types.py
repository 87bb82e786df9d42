"""GraphQL object types mapping the billing models.

Types only map model fields; every list that grows with orders is a paginated connection
(first capped at 100). Relations are loaded by the DjangoOptimizerExtension (select_related /
prefetch_related from the selection); custom fields carry optimizer hints. Nested relations
are only reachable through an object the selectors already allowed the user to see.
"""

from __future__ import annotations

import datetime as dt
import uuid
from decimal import Decimal
from typing import Any

import strawberry
import strawberry_django
from django.contrib.auth import get_user_model
from django.db.models import QuerySet
from strawberry import relay
from strawberry.types import Info
from strawberry_django.relay import DjangoCursorConnection, DjangoListConnection

from billing import models
from billing.errors import ErrorCode as BillingErrorCode
from billing.permissions import can_generate, sees_all_reports
from billing.selectors import customers_visible_to, report_orders
from billing.selectors.audit import audit_event_list
from billing.selectors.jobs import billing_run_summary, jobs_for_run
from billing.selectors.reports import line_explanation, report_not_closed_orders
from graphql_schema.enums import (
    AuditAction,
    AuditInterface,
    ChargeType,
    JobStatus,
    OutputFormat,
    ReportStatus,
    TierScope,
)
from graphql_schema.errors import graphql_error
from graphql_schema.loaders import attach_charges_loader, charges_of, remember_report, stored_order_count
from graphql_schema.other_charges import OtherChargeType, UnbilledActivityType, other_charges_of, unbilled_activity_of
from graphql_schema.permissions import current_user
from graphql_schema.scalars import Money
from graphql_schema.strawberry_internals import check_cursor_offsets, model_type, page_without_window, row_field


def pagination_error(exc: Exception) -> Exception:
    """A readable VALIDATION_ERROR for bad pagination arguments (first/last out of range, bad cursor)."""
    message = str(exc) if str(exc).startswith("Argument") else "Invalid cursor"
    return graphql_error(BillingErrorCode.VALIDATION_ERROR, message)


@strawberry.type(name="Connection", description="A page of a list, with cursors and the total count.")
class CountedConnection(DjangoListConnection[relay.NodeType]):
    """DjangoListConnection with readable argument errors (first over 100, bad cursor) and a
    separate ``SELECT COUNT(*)`` for ``totalCount`` instead of a window on the page query
    (graphql_schema.strawberry_internals.page_without_window).
    """

    @classmethod
    def resolve_connection(
        cls, nodes: Any, *, info: Info, last: int | None = None, before: str | None = None, **kwargs: Any
    ) -> Any:
        try:
            check_cursor_offsets(kwargs.get("after"), before)
            page = page_without_window(cls, nodes, info=info, last=last, before=before, **kwargs)
            if page is not None:
                return page
            return super().resolve_connection(nodes, info=info, last=last, before=before, **kwargs)
        except (ValueError, TypeError) as exc:  # argument checks of the relay pagination (cursor, first, last)
            raise pagination_error(exc) from None


# --- catalogue and rate cards ---------------------------------------------------------------


@model_type(models.Service, name="Service", description="A billable service in the catalogue.")
class ServiceType:
    id: int
    name: str
    description: str
    charge_type: ChargeType


@model_type(models.Product, name="Product", description="A customer's SKU.")
class ProductType:
    id: int
    sku: str
    description: str
    case_size: int = strawberry_django.field(description="Units in a full case.")


@model_type(models.PriceTier, name="PriceTier", description="One band of a graduated price.")
class PriceTierType:
    up_to: Decimal | None = strawberry_django.field(description="Upper bound of the band; null for the last band.")
    unit_price: Decimal


@model_type(models.Rule, name="Rule", description="A condition on an order: field, operator, value.")
class RuleType:
    field: str
    operator: str
    value: str = strawberry_django.field(description="Several values are separated by ';'.")


@model_type(models.RuleGroup, name="RuleGroup", description="Rules combined by one logic operator.")
class RuleGroupType:
    id: int
    name: str
    logic_operator: str = strawberry_django.field(description="AND, OR, NOT, XOR, NAND or NOR.")
    rules: list[RuleType]


@model_type(
    models.CustomerService,
    name="RateCardLine",
    description="What a customer pays for one service, and when it applies.",
)
class RateCardLineType:
    id: int
    service: ServiceType
    unit_price: Decimal = strawberry_django.field(description="Unit price, 4 decimal places.")
    is_active: bool
    tiers: list[PriceTierType]
    skus: list[ProductType] = strawberry_django.field(description="SKUs the line is restricted to (empty: all).")
    rule_groups: list[RuleGroupType] = strawberry_django.field(
        description="The line applies when it has no rule group or any group is true."
    )

    @strawberry_django.field(only=["tier_basis"], description="For tiered lines: the quantity the tiers grade.")
    def tier_basis(self) -> ChargeType | None:
        return self.tier_basis or None  # type: ignore[attr-defined]

    @strawberry_django.field(
        only=["tier_scope", "service__charge_type"],
        description="For tiered lines: whether the bands graduate over the period or restart for each order.",
    )
    def tier_scope(self) -> TierScope | None:
        if self.service.charge_type != models.ChargeType.TIERED:  # type: ignore[attr-defined]
            return None
        return TierScope(self.tier_scope)  # type: ignore[attr-defined]


@model_type(models.Customer, name="Customer", description="A merchant whose orders are billed.")
class CustomerType:
    id: int
    company_name: str
    legal_business_name: str
    email: str
    is_active: bool
    currency: str = strawberry_django.field(description="ISO 4217 code.")
    rate_card: list[RateCardLineType] = strawberry_django.field(description="The customer's rate-card lines.")
    products: CountedConnection[ProductType] = strawberry_django.connection(description="The customer's SKUs.")


# --- orders ---------------------------------------------------------------------------------


@model_type(models.OrderLine, name="OrderLine", description="One SKU line of an order.")
class OrderLineType:
    sku: str
    quantity: int


@model_type(models.Order, name="Order", description="An order the warehouse fulfilled.")
class OrderType:
    id: int
    transaction_id: str = strawberry_django.field(description="The WMS's id; unique.")
    customer: CustomerType
    reference_number: str
    close_date: dt.datetime | None
    status: str = strawberry_django.field(description="As the WMS gave it (free text, case kept).")
    priority: str
    ship_to_name: str
    ship_to_company: str
    ship_to_address: str
    ship_to_address2: str
    ship_to_city: str
    ship_to_state: str
    ship_to_zip: str
    ship_to_country: str
    carrier: str
    weight_lb: Decimal
    volume_cuft: Decimal
    packages: int
    line_items: int
    total_item_qty: int
    notes: str
    lines: list[OrderLineType] = strawberry_django.field(description="The order's SKU lines, by SKU.")


# --- reports --------------------------------------------------------------------------------


# Report orders, charges and service totals are plain strawberry types: snapshot rows read
# as they are (no relation to optimize), which also keeps large pages cheap to serialize.


@strawberry.type(
    name="Charge", description="What one service cost one order in a report (a snapshot of the price used)."
)
class ChargeType_:  # GraphQL name: Charge (ChargeType is the enum)
    service_id: int
    service_name: str
    charge_type: ChargeType
    quantity: Decimal
    unit_price: Decimal
    amount: Money

    @strawberry.field(
        description="Why it was charged, as recorded when the report was generated; null on reports "
        "generated before explanations were recorded."
    )
    def explanation(self) -> ChargeExplanationType | None:
        line: Any = self  # a ReportLine, its report's explanation payloads attached by the charges loader
        data = line_explanation(getattr(line, "explanation_payloads", {}), line.explanation, line.detail)
        return None if data is None else ChargeExplanationType.of(data)


@strawberry.type(name="ExplainedRule", description="A rule of the matched group, as it stood.")
class ExplainedRuleType:
    field: str
    operator: str
    value: str


@strawberry.type(name="MatchedRuleGroup", description="The rule group that made a line apply, as it stood.")
class MatchedRuleGroupType:
    position: int = strawberry.field(description="Its position among the line's rule groups (1 = first).")
    of: int = strawberry.field(description="How many rule groups the line had.")
    logic: str = strawberry.field(description="AND, OR, NOT, XOR, NAND or NOR.")
    rules: list[ExplainedRuleType]
    text: str = strawberry.field(description="e.g. 'ship_to_country eq CA AND weight_lb gt 50'.")


@strawberry.type(name="TierBand", description="The part of one tier band a tiered line's quantity occupied.")
class TierBandType:
    from_: Decimal = strawberry.field(name="from")
    to: Decimal
    quantity: Decimal
    unit_price: Decimal
    amount: Decimal = strawberry.field(description="Exact, before rounding; the bands add up to the line.")


@strawberry.type(name="SkuCount", description="A SKU a line counted: its units (and, for picks, the cases).")
class SkuCountType:
    sku: str = strawberry.field(description="As on the order.")
    units: int
    case_size: int | None = strawberry.field(description="Pick lines: units per case (null: no product).")
    cases: int | None = strawberry.field(description="Pick lines: full cases.")
    eaches: int | None = strawberry.field(description="Pick lines: units beyond the full cases.")


@strawberry.type(name="ChargeExplanation", description="Why a report line was charged (docs/explanations.md).")
class ChargeExplanationType:
    text: str
    applies_to_every_order: bool
    rule_group: MatchedRuleGroupType | None
    unit_price: Decimal | None = strawberry.field(description="The line's unit price; null for tiered lines.")
    tier_basis: ChargeType | None
    tier_scope: TierScope | None
    tier_bands: list[TierBandType] | None
    skus: list[SkuCountType] | None

    @classmethod
    def of(cls, data: dict[str, Any]) -> ChargeExplanationType:
        group = data["rule_group"]
        return cls(
            text=data["text"],
            applies_to_every_order=data["applies_to_every_order"],
            rule_group=None
            if group is None
            else MatchedRuleGroupType(
                position=group["position"],
                of=group["of"],
                logic=group["logic"],
                rules=[ExplainedRuleType(**rule) for rule in group["rules"]],
                text=group["text"],
            ),
            unit_price=data["unit_price"],
            tier_basis=ChargeType(data["tier_basis"]) if data["tier_basis"] else None,
            tier_scope=TierScope(data["tier_scope"]) if data["tier_scope"] else None,
            tier_bands=None
            if data["tier_bands"] is None
            else [
                TierBandType(
                    from_=Decimal(band["from"]),
                    to=Decimal(band["to"]),
                    quantity=Decimal(band["quantity"]),
                    unit_price=band["unit_price"],
                    amount=Decimal(band["amount"]),
                )
                for band in data["tier_bands"]
            ],
            skus=None
            if data["skus"] is None
            else [
                SkuCountType(
                    sku=sku["sku"],
                    units=sku["units"],
                    case_size=sku.get("case_size"),
                    cases=sku.get("cases"),
                    eaches=sku.get("eaches"),
                )
                for sku in data["skus"]
            ],
        )


@strawberry.type(
    name="ReportOrder",
    description="An order of a report, as it was when the report was generated, with its charges.",
)
class ReportOrderType:
    id: int
    order_id: int = strawberry.field(description="The id of the Order this row snapshots.")
    transaction_id: str
    reference_number: str
    close_date: dt.datetime | None
    status: str = strawberry.field(description="As the WMS gave it (free text, case kept).")
    ship_to_name: str
    ship_to_address: str
    total_items: int
    line_items: int
    total_amount: Money = strawberry.field(description="Sum of the order's charges.")
    is_billed: bool = strawberry.field(description="False when no rate-card line applied to the order.")

    @strawberry.field(description="The order's charges, one per service, by service name.")
    def charges(self, info: Info) -> list[ChargeType_]:
        return charges_of(self, info)  # type: ignore[arg-type,return-value]


@strawberry.type(
    name="NotClosedOrder",
    description="An order without a close date when the report was made: never billable, so listed apart.",
)
class NotClosedOrderType:
    order_id: int = strawberry.field(description="The id of the Order this row snapshots.")
    transaction_id: str
    reference_number: str
    status: str = strawberry.field(description="As the WMS gave it.")


@strawberry.type(
    name="ReportOrderConnection",
    description=(
        "A page of a report's orders. Cursors are keyset positions, so a page deep in a large "
        "report costs the same as the first one."
    ),
)
class ReportOrderConnection(DjangoCursorConnection[ReportOrderType]):
    @classmethod
    def resolve_connection(cls, nodes: Any, *, info: Info, **kwargs: Any) -> Any:
        try:
            connection = super().resolve_connection(nodes, info=info, **kwargs)
        except (ValueError, TypeError) as exc:  # argument checks of the relay pagination
            raise pagination_error(exc) from None
        attach_charges_loader(info, [edge.node for edge in connection.edges])
        return connection

    @strawberry.field(description="Total quantity of existing nodes.")
    def total_count(self, info: Info) -> int:
        if self.edges:  # the report row knows how many orders of this kind it has
            known = stored_order_count(info, self.edges[0].node)  # type: ignore[arg-type]
            if known is not None:
                return known
        return super().total_count()


@strawberry.type(name="ServiceTotal", description="A service's totals in a report; always the sums of its charges.")
class ServiceTotalType:
    service_id: int
    service_name: str
    charge_type: ChargeType
    quantity: Decimal
    amount: Money
    order_count: int = strawberry.field(description="Orders the service charged.")


@strawberry.type(description="A billing period: both dates inclusive, in the billing time zone.")
class Period:
    start_date: dt.date
    end_date: dt.date


@strawberry.type(description="A report's totals.")
class ReportTotals:
    total_amount: Money = strawberry.field(description="Exact sum of every charge of the report.")
    currency: str
    order_count: int = strawberry.field(description="Billable orders at least one charge applied to.")
    line_count: int = strawberry.field(description="Charges (order x service) in the report.")
    unbilled_order_count: int = strawberry.field(description="Billable orders no rate-card line applied to.")
    not_closed_order_count: int = strawberry.field(
        description="The customer's orders without a close date (never billable), listed in notClosedOrders."
    )


@model_type(
    models.AuditEvent,
    name="AuditEvent",
    description="Who generated, regenerated, superseded or downloaded a report, when, and through which interface.",
)
class AuditEventType:
    id: int
    action: AuditAction
    interface: AuditInterface
    created_at: dt.datetime

    @strawberry_django.field(only=["report_id"], description="The report acted on.")
    def report_id(self) -> uuid.UUID:
        return self.report_id  # type: ignore[attr-defined]

    @strawberry_django.field(
        select_related=["actor"],
        only=["actor__username"],
        description="Username of who acted; null for the server (commands, runs without a user).",
    )
    def actor(self) -> str | None:
        user = self.actor  # type: ignore[attr-defined]
        return user.username if user is not None else None

    @strawberry_django.field(
        only=["format"],
        description="Generation: the report's output format; download: the format downloaded.",
    )
    def format(self) -> OutputFormat | None:
        return self.format or None  # type: ignore[attr-defined]

    @strawberry_django.field(only=["request_id"], description="X-Request-ID of the request that did it, if any.")
    def request_id(self) -> str | None:
        return self.request_id or None  # type: ignore[attr-defined]


@model_type(
    models.BillingReport,
    name="BillingReport",
    description="An immutable snapshot of what a customer owes for a period.",
)
class BillingReportType:
    id: uuid.UUID
    customer: CustomerType
    status: ReportStatus
    output_format: OutputFormat
    generated_at: dt.datetime
    created_at: dt.datetime
    billing_time_zone: str = strawberry_django.field(description="Zone in which close dates were read as dates.")

    @strawberry_django.field(prefetch_related=["service_totals"], description="Per-service totals, by service name.")
    def service_totals(self) -> list[ServiceTotalType]:
        return list(self.service_totals.all())  # type: ignore[attr-defined]

    @row_field(only=["start_date", "end_date"])
    def period(self) -> Period:
        return Period(start_date=self.start_date, end_date=self.end_date)  # type: ignore[attr-defined]

    @row_field(
        only=["total_amount", "currency", "order_count", "line_count", "unbilled_order_count", "not_closed_order_count"]
    )
    def totals(self) -> ReportTotals:
        return ReportTotals(
            total_amount=self.total_amount,  # type: ignore[attr-defined]
            currency=self.currency,  # type: ignore[attr-defined]
            order_count=self.order_count,  # type: ignore[attr-defined]
            line_count=self.line_count,  # type: ignore[attr-defined]
            unbilled_order_count=self.unbilled_order_count,  # type: ignore[attr-defined]
            not_closed_order_count=self.not_closed_order_count,  # type: ignore[attr-defined]
        )

    @row_field(
        select_related=["created_by"],
        only=["created_by__username"],
        description="Who made the report (commands: --user, default the system user); null only for older reports.",
    )
    def created_by(self) -> str | None:
        user = self.created_by  # type: ignore[attr-defined]
        return user.username if user is not None else None

    @strawberry_django.field(only=["superseded_by_id"], description="The report that replaced this one, if any.")
    def superseded_by_id(self) -> uuid.UUID | None:
        return self.superseded_by_id  # type: ignore[attr-defined]

    @strawberry_django.field(only=["invoice_number"], description="The invoice number once finalized, else null.")
    def invoice_number(self) -> str | None:
        return self.invoice_number or None  # type: ignore[attr-defined]

    @strawberry_django.field(only=["finalized_at"], description="When the report was finalized (its issue date).")
    def finalized_at(self) -> dt.datetime | None:
        return self.finalized_at  # type: ignore[attr-defined]

    @strawberry_django.field(
        only=["scope_key"], description="True when the report prices only some rate-card lines (a partial report)."
    )
    def is_partial(self) -> bool:
        return bool(self.scope_key)  # type: ignore[attr-defined]

    @strawberry_django.field(
        only=["scope_key"], description="The rate-card line ids of a partial report; null for the whole rate card."
    )
    def customer_service_ids(self) -> list[int] | None:
        return self.scope_line_ids or None  # type: ignore[attr-defined]

    @strawberry_django.connection(
        ReportOrderConnection,
        disable_optimization=True,
        description="The billed orders with their charges, in generation order; paginate with first/after.",
    )
    def orders(self, info: Info) -> QuerySet[models.ReportOrder]:
        remember_report(info, self)  # type: ignore[arg-type]
        return report_orders(report=self, billed=True)  # type: ignore[arg-type]

    @strawberry_django.connection(
        ReportOrderConnection,
        disable_optimization=True,
        description="Billable orders of the period that no rate-card line applied to (no charges).",
    )
    def unbilled_orders(self, info: Info) -> QuerySet[models.ReportOrder]:
        remember_report(info, self)  # type: ignore[arg-type]
        return report_orders(report=self, billed=False)  # type: ignore[arg-type]

    @strawberry_django.field(
        disable_optimization=True,
        description="The customer's orders that had no close date when the report was made: never billable.",
    )
    def not_closed_orders(self) -> list[NotClosedOrderType]:
        return list(report_not_closed_orders(report=self))  # type: ignore[arg-type,arg-type]

    @strawberry_django.field(
        disable_optimization=True,
        description="Storage, receiving, returns, extra work and adjustments, in position order; "
        "totals.totalAmount includes them.",
    )
    def other_charges(self) -> list[OtherChargeType]:
        return other_charges_of(self)  # type: ignore[arg-type]

    @row_field(only=["unbilled_activity"], description="Activity of the period no rate-card line priced.")
    def unbilled_activity(self) -> UnbilledActivityType:
        return unbilled_activity_of(self)  # type: ignore[arg-type]

    @strawberry_django.connection(
        CountedConnection[AuditEventType],
        description=(
            "The report's audit trail, newest first. Empty unless the user may read the audit trail "
            "(billing.view_auditevent or superuser)."
        ),
    )
    def audit_events(self, info: Info) -> QuerySet[models.AuditEvent]:
        return audit_event_list(actor=current_user(info), report_id=self.pk)  # type: ignore[attr-defined]


# --- customer summaries and the current user --------------------------------------------------


@model_type(
    models.Customer,
    name="CustomerSummary",
    description="A customer's billing from its CURRENT reports (superseded reports never count).",
)
class CustomerSummaryType:
    @strawberry_django.field(only=["id"])
    def customer_id(self) -> int:
        return self.id  # type: ignore[attr-defined]

    @strawberry_django.field(only=["company_name"])
    def customer_name(self) -> str:
        return self.company_name  # type: ignore[attr-defined]

    @strawberry.field
    def reports_count(self) -> int:
        return self.reports_count  # type: ignore[attr-defined]

    @strawberry.field
    def total_billed(self) -> Money:
        return self.total_billed  # type: ignore[attr-defined]

    @strawberry.field(description="Earliest period start among its current reports.")
    def first_billing_date(self) -> dt.date | None:
        return self.first_billing_date  # type: ignore[attr-defined]

    @strawberry.field(description="Latest period end among its current reports.")
    def last_billing_date(self) -> dt.date | None:
        return self.last_billing_date  # type: ignore[attr-defined]

    @strawberry.field(description="total_billed / reports_count, rounded half-up to the cent.")
    def average_bill_amount(self) -> Money:
        return self.average_bill_amount  # type: ignore[attr-defined]


@strawberry.type(description="What the current user may do.")
class UserPermissions:
    can_view_all_reports: bool = strawberry.field(description="Sees every customer's reports (billing staff).")
    can_generate_reports: bool


@model_type(get_user_model(), name="User", description="The signed-in user.")
class UserType:
    username: str
    is_staff: bool

    @strawberry_django.field
    def permissions(self) -> UserPermissions:
        return UserPermissions(
            can_view_all_reports=sees_all_reports(self),  # type: ignore[arg-type]
            can_generate_reports=can_generate(self),  # type: ignore[arg-type]
        )

    @strawberry_django.connection(CountedConnection[CustomerType], description="Customers this user may see.")
    def customers(self) -> QuerySet[models.Customer]:
        return customers_visible_to(self)  # type: ignore[arg-type]


# --- background jobs and billing runs ------------------------------------------------------


@model_type(
    models.ReportJob,
    name="ReportJob",
    description="A report generation running in the background; poll it with reportJob(id).",
)
class ReportJobType:
    id: uuid.UUID
    customer: CustomerType
    output_format: OutputFormat
    status: JobStatus
    processed_orders: int = strawberry_django.field(description="Orders priced so far.")
    total_orders: int = strawberry_django.field(description="Orders to price (0 until the job starts).")
    report: BillingReportType | None = strawberry_django.field(description="The report, once SUCCEEDED.")
    attempts: int
    created_at: dt.datetime
    started_at: dt.datetime | None
    finished_at: dt.datetime | None

    @row_field(only=["start_date", "end_date"])
    def period(self) -> Period:
        return Period(start_date=self.start_date, end_date=self.end_date)  # type: ignore[attr-defined]

    @strawberry_django.field(only=["error"], description="Why the job FAILED; null otherwise.")
    def error(self) -> str | None:
        return self.error or None  # type: ignore[attr-defined]

    @strawberry_django.field(only=["billing_run_id"], description="The billing run the job belongs to, if any.")
    def billing_run_id(self) -> uuid.UUID | None:
        return self.billing_run_id  # type: ignore[attr-defined]


@strawberry.type(description="An amount in one currency.")
class CurrencyAmount:
    currency: str
    amount: Money


@strawberry.type(description="Where a billing run stands: its jobs per status and what their reports bill.")
class BillingRunSummaryType:
    total_jobs: int
    queued: int
    running: int
    succeeded: int
    failed: int
    superseded: int = strawberry.field(description="Succeeded jobs whose report a later one has superseded.")
    processed_orders: int
    total_orders: int
    total_billed: Money = strawberry.field(description="Sum of the succeeded jobs' report totals.")
    billed_by_currency: list[CurrencyAmount]
    finished: bool = strawberry.field(description="No job is queued or running.")


@model_type(
    models.BillingRun,
    name="BillingRun",
    description="A month-end run: one report job per customer for one period.",
)
class BillingRunType:
    id: uuid.UUID
    created_at: dt.datetime

    @row_field(only=["start_date", "end_date"])
    def period(self) -> Period:
        return Period(start_date=self.start_date, end_date=self.end_date)  # type: ignore[attr-defined]

    @strawberry_django.field(only=["customer_ids"], description="The customers asked for; empty: every active one.")
    def customer_ids(self) -> list[int]:
        return list(self.customer_ids or [])  # type: ignore[attr-defined]

    @strawberry_django.field(
        select_related=["requested_by"], only=["requested_by__username"], description="Username of who started it."
    )
    def requested_by(self) -> str | None:
        user = self.requested_by  # type: ignore[attr-defined]
        return user.username if user is not None else None

    @strawberry_django.field(description="Job counts per status and the total billed (two queries).")
    def summary(self) -> BillingRunSummaryType:
        summary = billing_run_summary(run=self)  # type: ignore[arg-type]
        return BillingRunSummaryType(
            total_jobs=summary.total_jobs,
            queued=summary.queued,
            running=summary.running,
            succeeded=summary.succeeded,
            failed=summary.failed,
            superseded=summary.superseded,
            processed_orders=summary.processed_orders,
            total_orders=summary.total_orders,
            total_billed=summary.total_billed,
            billed_by_currency=[
                CurrencyAmount(currency=currency, amount=amount)
                for currency, amount in summary.billed_by_currency.items()
            ],
            finished=summary.finished,
        )

    @strawberry_django.connection(CountedConnection[ReportJobType], description="The run's jobs, by customer name.")
    def jobs(self) -> QuerySet[models.ReportJob]:
        return jobs_for_run(run=self)  # type: ignore[arg-type]


@strawberry.type(
    name="CreditNote", description="The credit issued when a finalized report is voided (its full amount)."
)
class CreditNoteType:
    id: uuid.UUID
    number: str
    report_id: uuid.UUID = strawberry.field(description="The voided report.")
    invoice_number: str = strawberry.field(description="The number of the invoice this note credits.")
    reason: str
    currency: str
    amount: Money = strawberry.field(description="The amount credited: the invoice's full total.")
    issued_at: dt.datetime

    @classmethod
    def of(cls, note: models.CreditNote) -> CreditNoteType:
        return cls(
            id=note.id,
            number=note.number,
            report_id=note.report_id,
            invoice_number=note.report.invoice_number,
            reason=note.reason,
            currency=note.currency,
            amount=note.amount,
            issued_at=note.issued_at,
        )
