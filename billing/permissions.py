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
- Importing orders needs ``billing.add_order`` and ``billing.change_order``; only a server-side
  import (no user) may create customers. Importing billable activity (inventory snapshots,
  receipts, returns, extra work) needs the add and change permissions of that kind's model
  (``billing.add_receipt`` and ``billing.change_receipt`` ...), for customers the user can see.
- The audit trail is for billing staff: ``billing.view_auditevent`` reads every event, anyone
  else (customer-linked users too) reads none.
- Superusers may do everything.

Selectors use :func:`visible_customer_ids` for row-level scoping; services call the
``ensure_*`` functions. The API layers declare "must be authenticated" at the edge, and a
GraphQL field that needs a permission names a :class:`Requirement` from here, which decides.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TypeGuard

from django.conf import settings
from django.contrib.auth.models import AnonymousUser, User

from billing.errors import NotFound, PermissionDenied
from billing.models import CustomerMembership

VIEW_PERMISSION = "billing.view_billingreport"
GENERATE_PERMISSION = "billing.generate_report"
FINALIZE_PERMISSION = "billing.finalize_report"
VOID_PERMISSION = "billing.void_report"
AUDIT_VIEW_PERMISSION = "billing.view_auditevent"
IMPORT_PERMISSIONS = ("billing.add_order", "billing.change_order")

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


@dataclass(frozen=True)
class Requirement:
    """An action that needs a signed-in, active user holding every one of these permissions.

    GraphQL declares it on the field (its ``@hasPerm`` directive lists `permissions`) and asks
    :meth:`allows`; services ask the ``can_*``/``ensure_*`` functions built on it.
    """

    permissions: tuple[str, ...]

    def allows(self, actor: Actor) -> bool:
        # Django's has_perm is True for an active superuser, so superusers pass.
        return is_authenticated(actor) and all(actor.has_perm(permission) for permission in self.permissions)


GENERATE = Requirement((GENERATE_PERMISSION,))
IMPORT_ORDERS = Requirement(IMPORT_PERMISSIONS)
# Billable activity, by kind (billing.services.activity_rows.KINDS): its model's add and change permissions.
IMPORT_ACTIVITY = {
    "inventory_snapshots": Requirement(("billing.add_inventorysnapshot", "billing.change_inventorysnapshot")),
    "receipts": Requirement(("billing.add_receipt", "billing.change_receipt")),
    "returns": Requirement(("billing.add_customerreturn", "billing.change_customerreturn")),
    "extra_work": Requirement(("billing.add_extraworkentry", "billing.change_extraworkentry")),
}
READ_AUDIT_TRAIL = Requirement((AUDIT_VIEW_PERMISSION,))


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
    return GENERATE.allows(actor)


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


def can_view_audit_trail(actor: Actor) -> bool:
    """True for an active superuser or a user with billing.view_auditevent."""
    return READ_AUDIT_TRAIL.allows(actor)


def ensure_can_import_activity(actor: Actor, kind: str, what: str, *, create_customers: bool = False) -> None:
    """Raise PermissionDenied unless the actor may create and update billable activity of `kind`
    (`what` names it in the message); as ensure_can_import_orders otherwise."""
    _ensure_can_import(actor, IMPORT_ACTIVITY[kind], what, create_customers=create_customers)


def ensure_can_import_orders(actor: Actor, *, create_customers: bool = False) -> None:
    """Raise PermissionDenied unless the actor may create and update orders.

    A command acting without a user (actor None) is trusted, and is the only one that may create
    customers on the way. Which customers' orders a user may import is checked per row
    (:func:`can_see_customer`).
    """
    _ensure_can_import(actor, IMPORT_ORDERS, "orders", create_customers=create_customers)


def _ensure_can_import(actor: Actor, requirement: Requirement, what: str, *, create_customers: bool) -> None:
    if actor is None:
        return
    if not is_authenticated(actor):
        raise PermissionDenied(f"You must be signed in to import {what}.")
    if not requirement.allows(actor):
        raise PermissionDenied(f"You do not have permission to import {what}.")
    if create_customers:
        raise PermissionDenied("Only a server-side import may create customers.")
