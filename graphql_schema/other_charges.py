"""GraphQL types of a report's other charges (storage, receiving, returns, extra work, adjustments)
and of its unbilled activity: the same rows and figures as the REST detail's `other_charges` and
`unbilled_activity` (billing.exporters.other_charges)."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal

import strawberry
from strawberry.scalars import JSON

from billing.models import BillingReport, ReportOtherCharge
from billing.pricing.activity import other_charge_text
from billing.selectors.reports import report_other_charges
from graphql_schema.scalars import Money

__all__ = ["OtherChargeType", "UnbilledActivityType", "other_charges_of", "unbilled_activity_of"]


@strawberry.type(name="OtherCharge", description="A charge that is not an order line: activity or an adjustment.")
class OtherChargeType:
    source: str = strawberry.field(description="storage, receiving, returns, extra_work or adjustment.")
    reference: str = strawberry.field(description="The record's reference; storage: the month (YYYY-MM).")
    date: dt.date = strawberry.field(description="The activity's day; storage: the month's last day billed.")
    service_id: int | None = strawberry.field(description="Null for adjustments over several services.")
    service_name: str
    charge_type: str = strawberry.field(description="An activity charge type, or minimum / surcharge / discount.")
    quantity: Decimal
    unit: str
    unit_price: Decimal = strawberry.field(description="Adjustments: the rate or the amount (negative: discount).")
    amount: Money = strawberry.field(description="quantity x unitPrice, rounded half-up to the cent.")
    explanation: str = strawberry.field(description="Why it was charged, in one sentence.")
    explanation_detail: JSON = strawberry.field(description="The figures it was computed from.")

    @classmethod
    def of(cls, row: ReportOtherCharge) -> OtherChargeType:
        return cls(
            source=row.source,
            reference=row.reference,
            date=row.date,
            service_id=row.service_id,
            service_name=row.service_name,
            charge_type=row.charge_type,
            quantity=row.quantity,
            unit=row.unit,
            unit_price=row.unit_price,
            amount=row.amount,
            explanation=other_charge_text(row),
            explanation_detail=row.explanation,
        )


@strawberry.type(name="UnbilledActivity", description="Activity of the report's period no rate-card line priced.")
class UnbilledActivityType:
    receipts: int
    returns: int
    extra_work: int
    snapshot_days: int = strawberry.field(description="Days with inventory snapshots no storage line counted.")


def other_charges_of(report: BillingReport) -> list[OtherChargeType]:
    return [OtherChargeType.of(row) for row in report_other_charges(report=report)]


def unbilled_activity_of(report: BillingReport) -> UnbilledActivityType:
    stored = report.unbilled_activity or {}
    return UnbilledActivityType(
        receipts=int(stored.get("receipts", 0)),
        returns=int(stored.get("returns", 0)),
        extra_work=int(stored.get("extra_work", 0)),
        snapshot_days=int(stored.get("snapshot_days", 0)),
    )
