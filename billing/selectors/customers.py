"""Read access to customers and their billing summaries."""

from __future__ import annotations

from decimal import Decimal

from django.db.models import (
    BigIntegerField,
    Count,
    DecimalField,
    ExpressionWrapper,
    F,
    Max,
    Min,
    Q,
    QuerySet,
    Sum,
    Value,
)
from django.db.models.functions import Cast, Coalesce, Greatest, Round

from billing.errors import NotFound, ValidationFailed
from billing.models import LIVE_REPORT_STATUSES, Customer, CustomerService
from billing.permissions import Actor, ensure_can_see_customer, visible_customer_ids

MONEY = DecimalField(max_digits=16, decimal_places=2)
WHOLE = DecimalField(max_digits=18, decimal_places=0)
CENTS_PER_UNIT = Value(Decimal(100), output_field=WHOLE)
ONE_CENT = Value(Decimal("0.01"), output_field=MONEY)


def customers_visible_to(actor: Actor) -> QuerySet[Customer]:
    ids = visible_customer_ids(actor)
    if ids is None:
        return Customer.objects.all()
    return Customer.objects.filter(id__in=ids)


def customer_list(*, actor: Actor, search: str = "") -> QuerySet[Customer]:
    """The customers the actor may see (a customer's user: its own), by name; `search` filters the name."""
    customers = customers_visible_to(actor)
    if search.strip():
        customers = customers.filter(company_name__icontains=search.strip())
    return customers.order_by("company_name", "id")


def customer_rate_card(*, actor: Actor, customer_id: int) -> QuerySet[CustomerService]:
    """The active rate-card lines of a customer the actor may see, by service name (`service` loaded).

    NotFound for an unknown customer and for one the actor may not see, alike.
    """
    ensure_can_see_customer(actor, customer_id)
    if not Customer.objects.filter(pk=customer_id).exists():
        raise NotFound(f"Customer {customer_id} does not exist.")
    return (
        CustomerService.objects.filter(customer_id=customer_id, is_active=True)
        .select_related("service")
        .order_by("service__name", "id")
    )


def check_customer_filter(*, actor: Actor, customer_id: int | None) -> None:
    """Refuse a customer filter naming no customer, for an actor who sees every customer.

    Staff asking for customer 999999 get ValidationFailed (field customer_id) rather than an
    empty list that looks like "no reports yet". For an actor limited to some customers, a
    customer it cannot see and one that does not exist look alike: both give empty results,
    so the filter reveals nothing about other tenants.
    """
    if customer_id is None or visible_customer_ids(actor) is not None:
        return
    if not Customer.objects.filter(pk=customer_id).exists():
        message = f"No customer with id {customer_id}."
        raise ValidationFailed(message, fields={"customer_id": [message]})


def _cents_to_money(cents) -> Cast:
    # A multiplication, not a division: SQLite would divide two integers as integers.
    return Cast(ExpressionWrapper(Cast(cents, WHOLE) * ONE_CENT, output_field=MONEY), MONEY)


def customer_summaries(*, actor: Actor, customer_id: int | None = None) -> QuerySet[Customer]:
    """Customers the actor may see, annotated from their CURRENT reports only (one query).

    Annotations: reports_count, total_billed, first_billing_date (earliest start_date),
    last_billing_date (latest end_date) and average_bill_amount (total_billed / reports_count
    rounded half-up to the cent; 0.00 without reports). Superseded reports never count, so
    regenerating a period does not double-count it.

    The money is summed and averaged in whole cents (integers), which is exact on every
    database, including SQLite where decimals are stored as floating point.

    Without customer_id only customers with at least one current report are listed; with a
    visible customer_id that customer is returned even with zero reports (an invisible or
    unknown id gives an empty result; for staff, an unknown id is ValidationFailed, see
    check_customer_filter).
    """
    check_customer_filter(actor=actor, customer_id=customer_id)
    current = Q(reports__status__in=LIVE_REPORT_STATUSES)
    cents = Cast(Round(F("reports__total_amount") * CENTS_PER_UNIT), BigIntegerField())
    queryset = customers_visible_to(actor).annotate(
        reports_count=Count("reports", filter=current),
        # SUM(bigint) is numeric on PostgreSQL: cast back so the division below is an integer one.
        total_cents=Cast(Coalesce(Sum(cents, filter=current), Value(0)), BigIntegerField()),
        first_billing_date=Min("reports__start_date", filter=current),
        last_billing_date=Max("reports__end_date", filter=current),
    )
    # Half-up integer division of non-negative cents: floor((2 * total + n) / (2 * n)).
    average_cents = ExpressionWrapper(
        (Value(2) * F("total_cents") + F("reports_count")) / (Value(2) * Greatest(F("reports_count"), Value(1))),
        output_field=BigIntegerField(),
    )
    queryset = queryset.annotate(
        total_billed=_cents_to_money(F("total_cents")),
        average_bill_amount=_cents_to_money(average_cents),
    )
    # Without customer_id: customers with reports only. With one: that customer, even without.
    only = Q(id=customer_id) if customer_id is not None else Q(reports_count__gt=0)
    return queryset.filter(only).order_by("company_name", "id")
