"""List filters and orderings. They only map GraphQL arguments onto selector arguments:
the selectors (billing.selectors) do the filtering, scoping and ordering."""

from __future__ import annotations

import datetime as dt
import uuid
from typing import Any

import strawberry

from graphql_schema.enums import (
    AuditAction,
    AuditInterface,
    OrderOrderField,
    ReportOrderField,
    SortDirection,
)
from graphql_schema.scalars import DateOrDateTime


def _order_by(field: Any, direction: SortDirection) -> str:
    """The selectors' order_by syntax: a whitelisted name, '-' prefixed for descending."""
    return ("-" if direction is SortDirection.DESC else "") + field.value


@strawberry.input(description="Filters of the reports list; the same as GET /api/v2/reports/.")
class ReportFilter:
    customer_id: int | None = strawberry.field(default=None, description="Only this customer's reports.")
    start_date: dt.date | None = strawberry.field(
        default=None, description="Reports whose period starts on or after this date."
    )
    end_date: dt.date | None = strawberry.field(
        default=None, description="Reports whose period ends on or before this date."
    )
    created_after: DateOrDateTime | None = strawberry.field(
        default=None, description="Created at or after this instant (a date means from 00:00 UTC that day)."
    )
    created_before: DateOrDateTime | None = strawberry.field(
        default=None, description="Created before this instant (a date includes that whole day, UTC)."
    )
    include_superseded: bool = strawberry.field(
        default=True, description="False: only CURRENT reports (not replaced by a regeneration)."
    )

    def selector_kwargs(self) -> dict[str, Any]:
        return {
            "customer_id": self.customer_id,
            "start_date": self.start_date,
            "end_date": self.end_date,
            "created_after": self.created_after,
            "created_before": self.created_before,
            "include_superseded": self.include_superseded,
        }


@strawberry.input(description="Ordering of the reports list (default: newest first, i.e. CREATED_AT DESC).")
class ReportOrdering:
    field: ReportOrderField
    direction: SortDirection = SortDirection.ASC

    def order_by(self) -> str:
        return _order_by(self.field, self.direction)


@strawberry.input(description="Filters of the orders list.")
class OrderFilter:
    customer_id: int | None = strawberry.field(default=None, description="Only this customer's orders.")
    close_date_from: dt.date | None = strawberry.field(
        default=None, description="Closed on or after this date (billing time zone)."
    )
    close_date_to: dt.date | None = strawberry.field(
        default=None, description="Closed on or before this date (billing time zone)."
    )
    status: str | None = strawberry.field(default=None, description="This status (trimmed, case-insensitive).")
    reference: str | None = strawberry.field(
        default=None,
        description="Reference number containing this text (case-insensitive), or this exact transaction id.",
    )

    def selector_kwargs(self) -> dict[str, Any]:
        return {
            "customer_id": self.customer_id,
            "close_date_from": self.close_date_from,
            "close_date_to": self.close_date_to,
            "status": self.status,
            "reference": self.reference,
        }


@strawberry.input(description="Ordering of the orders list (default: CLOSE_DATE ASC).")
class OrderOrdering:
    field: OrderOrderField
    direction: SortDirection = SortDirection.ASC

    def order_by(self) -> str:
        return _order_by(self.field, self.direction)


@strawberry.input(description="Filters of the audit trail (all optional, combined with AND).")
class AuditEventFilter:
    report_id: uuid.UUID | None = strawberry.field(default=None, description="Only this report's events.")
    action: AuditAction | None = None
    interface: AuditInterface | None = None
    actor_username: str | None = strawberry.field(
        default=None, description="Only events of the user with exactly this username."
    )

    def selector_kwargs(self) -> dict[str, Any]:
        return {
            "report_id": self.report_id,
            "action": self.action.value if self.action is not None else None,
            "interface": self.interface.value if self.interface is not None else None,
            "actor_username": self.actor_username,
        }
