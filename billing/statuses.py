"""What an order's status means for billing: one rule, read from two settings.

Statuses are stored and shown exactly as the WMS gave them ("draft", "Delivered", ...). They are
compared trimmed and case-insensitively:

- BILLING_NEVER_BILLABLE_STATUSES (default: cancelled, canceled): an order with one of these
  statuses is never billed;
- BILLING_BILLABLE_STATUSES (default: empty): when set, only these statuses are billable.

An order without a close date is never billable whatever its status (a report lists such orders
as "not closed").
"""

from __future__ import annotations

from django.conf import settings
from django.db.models import Q, QuerySet
from django.db.models.functions import Lower, Trim

from billing.models import Order


def status_key(status: str) -> str:
    """The form statuses are compared in: trimmed, lower case ("  Cancelled " -> "cancelled")."""
    return status.strip().lower()


def _keys(values: object) -> frozenset[str]:
    items = values.split(",") if isinstance(values, str) else list(values or ())  # type: ignore[call-overload]
    return frozenset(status_key(str(item)) for item in items if str(item).strip())


def never_billable_statuses() -> frozenset[str]:
    return _keys(settings.BILLING_NEVER_BILLABLE_STATUSES)


def billable_statuses() -> frozenset[str] | None:
    """The only billable statuses, or None when every status not never-billable is billable."""
    return _keys(settings.BILLING_BILLABLE_STATUSES) or None


def is_billable_status(status: str) -> bool:
    key = status_key(status)
    only = billable_statuses()
    return key not in never_billable_statuses() and (only is None or key in only)


def with_billable_status(queryset: QuerySet[Order], field: str = "status") -> QuerySet[Order]:
    """The rows of `queryset` whose status is billable (the same rule as is_billable_status)."""
    condition = ~Q(_status_key__in=never_billable_statuses())
    only = billable_statuses()
    if only is not None:
        condition &= Q(_status_key__in=only)
    return queryset.alias(_status_key=Lower(Trim(field))).filter(condition)
