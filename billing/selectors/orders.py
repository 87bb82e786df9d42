"""Read access to orders: scoped to the actor, and the billing-period window (docs/architecture.md)."""

from __future__ import annotations

import datetime as dt
from zoneinfo import ZoneInfo

from django.db.models import Prefetch, Q, QuerySet
from django.db.models.functions import Lower, Trim

from billing.errors import ValidationFailed
from billing.models import Order, OrderLine
from billing.periods import billing_time_zone, filter_date_errors
from billing.permissions import Actor, visible_customer_ids
from billing.selectors.common import ordering_from
from billing.statuses import status_key, with_billable_status

ORDER_ORDERING_FIELDS: dict[str, str] = {
    "close_date": "close_date",
    "transaction_id": "transaction_id",
    "reference_number": "reference_number",
    "status": "status",
    "customer_name": "customer__company_name",
    "id": "id",
}
DEFAULT_ORDER_ORDERING = "close_date"


def billing_period_bounds(
    start_date: dt.date | None, end_date: dt.date | None, *, time_zone: ZoneInfo | None = None
) -> tuple[dt.datetime | None, dt.datetime | None]:
    """The UTC half-open instant range [start 00:00 local, (end + 1) 00:00 local).

    An order whose close_date falls in this range closed on a date in [start, end] in the
    billing time zone. Midnight is resolved by zoneinfo, so days of 23 or 25 hours (DST) and
    zones whose clocks jump at midnight get the right instants. Either bound may be None.
    """
    zone = time_zone or billing_time_zone()

    def local_midnight_utc(day: dt.date) -> dt.datetime:
        return dt.datetime.combine(day, dt.time.min, tzinfo=zone).astimezone(dt.UTC)

    lower = local_midnight_utc(start_date) if start_date is not None else None
    upper = local_midnight_utc(end_date + dt.timedelta(days=1)) if end_date is not None else None
    return lower, upper


def billable_orders(*, customer_id: int, start_date: dt.date, end_date: dt.date) -> QuerySet[Order]:
    """Orders billable in the period: closed on a date in [start, end] (billing zone), with a
    billable status (billing.statuses).

    Not scoped to an actor: services call it after their own permission check.
    """
    lower, upper = billing_period_bounds(start_date, end_date)
    orders = Order.objects.filter(customer_id=customer_id, close_date__gte=lower, close_date__lt=upper)
    return with_billable_status(orders).order_by()


def not_closed_orders(*, customer_id: int) -> QuerySet[Order]:
    """The customer's orders without a close date whose status would otherwise be billable.

    They are never billable; a report lists them apart, as "not closed".
    """
    return with_billable_status(Order.objects.filter(customer_id=customer_id, close_date__isnull=True)).order_by()


def orders_visible_to(actor: Actor) -> QuerySet[Order]:
    ids = visible_customer_ids(actor)
    queryset = Order.objects.select_related("customer")
    if ids is None:
        return queryset
    return queryset.filter(customer_id__in=ids)


def order_list(
    *,
    actor: Actor,
    customer_id: int | None = None,
    close_date_from: dt.date | None = None,
    close_date_to: dt.date | None = None,
    status: str | None = None,
    reference: str | None = None,
    order_by: str | None = None,
) -> QuerySet[Order]:
    """Orders the actor may see, filtered; lines prefetched (one extra query per page).

    close_date_from / close_date_to are dates in the billing time zone, both inclusive, within the
    range of billing.periods (ValidationFailed otherwise).
    status matches the status trimmed and case-insensitively (statuses are free text).
    reference matches reference_number (case-insensitive, contains) or transaction_id (exact).
    order_by is one of ORDER_ORDERING_FIELDS, optionally prefixed with '-'; id breaks ties.
    """
    errors: dict[str, list[str]] = {}
    ordering = ordering_from(order_by, ORDER_ORDERING_FIELDS, DEFAULT_ORDER_ORDERING, errors)
    errors.update(filter_date_errors(close_date_from=close_date_from, close_date_to=close_date_to))
    if errors:
        raise ValidationFailed("Invalid order filters.", fields=errors)

    queryset = orders_visible_to(actor).prefetch_related(Prefetch("lines", queryset=OrderLine.objects.order_by("sku")))
    if customer_id is not None:
        queryset = queryset.filter(customer_id=customer_id)
    lower, upper = billing_period_bounds(close_date_from, close_date_to)
    if lower is not None:
        queryset = queryset.filter(close_date__gte=lower)
    if upper is not None:
        queryset = queryset.filter(close_date__lt=upper)
    if status is not None and status.strip():
        queryset = queryset.alias(status_key=Lower(Trim("status"))).filter(status_key=status_key(status))
    if reference:
        reference = reference.strip()
        queryset = queryset.filter(Q(reference_number__icontains=reference) | Q(transaction_id=reference))
    return queryset.order_by(*ordering)
