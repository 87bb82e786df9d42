"""Reading billable activity: inventory snapshots, receipts, returns and extra-work entries.

Scoped to what an actor may see (billing.permissions.visible_customer_ids), as the other selectors.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Collection

from django.db.models import Model, QuerySet

from billing.models import (
    CustomerReturn,
    CustomerService,
    ExtraWorkEntry,
    InventorySnapshot,
    Receipt,
    Service,
)
from billing.periods import billing_time_zone
from billing.permissions import Actor, visible_customer_ids

#: The model of each kind (billing.services.activity_rows.KINDS).
ACTIVITY_MODELS: dict[str, type[Model]] = {
    "inventory_snapshots": InventorySnapshot,
    "receipts": Receipt,
    "returns": CustomerReturn,
    "extra_work": ExtraWorkEntry,
}
#: The field each kind is dated by.
DATE_FIELDS = {
    "inventory_snapshots": "snapshot_date",
    "receipts": "received_at",
    "returns": "received_at",
    "extra_work": "work_date",
}


def activity_in_period(
    kind: str, *, customer_id: int, start: dt.date, end: dt.date, actor: Actor = None
) -> QuerySet[Model]:
    """A customer's activity of `kind` dated from `start` to `end` (inclusive; receipts and returns by
    their received_at day in the billing time zone). Empty for a customer the actor may not see
    (actor None: a server-side caller, who sees every customer)."""
    model = ACTIVITY_MODELS[kind]
    queryset = model._default_manager.filter(customer_id=customer_id)
    if actor is not None:
        visible = visible_customer_ids(actor)
        if visible is not None and customer_id not in visible:
            return queryset.none()
    name = DATE_FIELDS[kind]
    if name == "received_at":
        zone = billing_time_zone()
        after = dt.datetime.combine(start, dt.time(), tzinfo=zone)
        before = dt.datetime.combine(end + dt.timedelta(days=1), dt.time(), tzinfo=zone)
        return queryset.filter(received_at__gte=after, received_at__lt=before)
    return queryset.filter(**{f"{name}__gte": start, f"{name}__lte": end})


def services_by_name(names: Collection[str]) -> dict[str, Service]:
    """The services named (exactly, else case-insensitively when only one matches), by the name given."""
    found = {service.name: service for service in Service.objects.filter(name__in=names)}
    for name in set(names) - found.keys():
        matches = list(Service.objects.filter(name__iexact=name)[:2])
        if len(matches) == 1:
            found[name] = matches[0]
    return found


def rate_card_pairs(customer_ids: Collection[int], service_ids: Collection[int]) -> set[tuple[int, int]]:
    """(customer id, service id) of the active rate-card lines among these customers and services."""
    return set(
        CustomerService.objects.filter(customer_id__in=customer_ids, service_id__in=service_ids, is_active=True)
        .order_by()
        .values_list("customer_id", "service_id")
    )
