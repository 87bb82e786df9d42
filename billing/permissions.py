"""Who may see and do what. The single place where access decisions are made.

- Billing staff act through Django permissions: ``billing.view_billingreport`` to see every
  customer's reports, orders and summaries; ``billing.generate_report`` to generate.
- A user linked to customers (CustomerMembership) sees only those customers' data, and may
  generate (with ``billing.generate_report``) only for them.
- ``billing.finalize_report`` issues a draft (invoice number), ``billing.void_report`` voids a
  finalized report (credit note); both are staff actions: a customer-linked user never holds
  them for its own reports (they are refused whatever its permissions).
- A customer-linked user sees finalized and voided reports and credit notes of its customers,
  and drafts only when BILLING_CUSTOMERS_SEE_DRAFTS is true.
- Superusers may do everything.

Selectors use :func:`visible_customer_ids` for row-level scoping; services call the
``ensure_*`` functions. The API layers declare "must be authenticated" at the edge.
"""

from __future__ import annotations

from typing import TypeGuard

from django.conf import settings
from django.contrib.auth.models import AnonymousUser, User

from billing.errors import NotFound, PermissionDenied
from billing.models import CustomerMembership

VIEW_PERMISSION = "billing.view_billingreport"
GENERATE_PERMISSION = "billing.generate_report"
FINALIZE_PERMISSION = "billing.finalize_report"
VOID_PERMISSION = "billing.void_report"

# The project uses Django's default user model (AUTH_USER_MODEL is not swapped).
Actor = User | AnonymousUser | None

ALL = None  # sentinel: every customer is visible


def _membership_ids(user: User) -> frozenset[int]:
    cached = getattr(user, "_billing_customer_ids", None)
    if cached is None:
        cached = frozenset(CustomerMembership.objects.filter(user=user).values_list("customer_id", flat=True))
        user._billing_customer_ids = cached  # type: ignore[attr-defined]  # per-request memo
    return cached


def is_authenticated(actor: Actor) -> TypeGuard[User]:
    """True for a signed-in, active user (and then the actor is a User)."""
    return actor is not None and bool(getattr(actor, "is_authenticated", False)) and actor.is_active


def visible_customer_ids(actor: Actor) -> frozenset[int] | None:
    """None means every customer; otherwise the ids this actor may see (possibly empty)."""
    if not is_authenticated(actor):
        return frozenset()
    if actor.is_superuser or actor.has_perm(VIEW_PERMISSION):
        return ALL
    return _membership_ids(actor)


def can_see_customer(actor: Actor, customer_id: int) -> bool:
    ids = visible_customer_ids(actor)
    return ids is ALL or customer_id in ids


def ensure_can_see_customer(actor: Actor, customer_id: int) -> None:
    """Raise NotFound unless the actor may see this customer: another customer's id reads as unknown."""
    if not can_see_customer(actor, customer_id):
        raise NotFound(f"Customer {customer_id} does not exist.")


def can_generate(actor: Actor) -> bool:
    return is_authenticated(actor) and actor.has_perm(GENERATE_PERMISSION)


def ensure_can_generate_for(actor: Actor, customer_id: int) -> None:
    """Raise PermissionDenied unless the actor may generate reports for this customer.

    A command or worker acting without a user (actor None) is trusted: it runs on the server.
    """
    if actor is None:
        return
    if not can_generate(actor):
        raise PermissionDenied("You do not have permission to generate billing reports.")
    if not can_see_customer(actor, customer_id):
        raise PermissionDenied("You may not generate billing reports for this customer.")


def sees_all_reports(actor: Actor) -> bool:
    """Staff (every customer visible) see every status; customer-linked users see drafts by setting."""
    return visible_customer_ids(actor) is ALL


def customers_see_drafts() -> bool:
    return bool(settings.BILLING_CUSTOMERS_SEE_DRAFTS)


def ensure_can_transition(actor: Actor, customer_id: int, permission: str, verb: str) -> None:
    """Raise unless the actor may finalize/void this customer's reports (staff holding `permission`).

    A command acting without a user (actor None) is trusted. A user who may not see the customer
    gets NotFound (its reports read as unknown); one who sees it without the permission, or who is
    only linked to the customer, gets PermissionDenied.
    """
    if actor is None:
        return
    ensure_can_see_customer(actor, customer_id)
    if not is_authenticated(actor) or not (
        actor.is_superuser or (actor.has_perm(permission) and sees_all_reports(actor))
    ):
        raise PermissionDenied(f"You do not have permission to {verb} billing reports.")
