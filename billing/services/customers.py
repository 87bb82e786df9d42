"""Customers created with a given id: the importers of another system's data keep its customer ids."""

from __future__ import annotations

from collections.abc import Iterable

from django.core.management.color import no_style
from django.db import connection

from billing.models import Customer


def placeholder_name(customer_id: int) -> str:
    """The company name of a customer an import created only from its id (rename it later)."""
    return f"Customer {customer_id}"


def customers_create_with_ids(customers: Iterable[Customer]) -> None:
    """Insert customers whose `pk` is set, then move the id sequence past them.

    Without the second step, the next customer created without an id would collide with one
    of these on databases that number rows from a sequence (PostgreSQL).
    """
    created = Customer.objects.bulk_create(list(customers))
    if created:
        with connection.cursor() as cursor:
            for statement in connection.ops.sequence_reset_sql(no_style(), [Customer]):
                cursor.execute(statement)


def customers_create_missing(ids: Iterable[int]) -> set[int]:
    """Create a placeholder customer (placeholder_name) for each id that has none; returns those ids."""
    wanted = set(ids)
    missing = wanted - set(Customer.objects.filter(pk__in=wanted).values_list("pk", flat=True))
    customers_create_with_ids(Customer(pk=pk, company_name=placeholder_name(pk)) for pk in sorted(missing))
    return missing
