"""manage.py list_customers [--inactive]: the customers with their ids, for --customer ID options."""

from __future__ import annotations

from typing import Any

from django.core.management.base import BaseCommand, CommandParser
from django.db.models import Count

from billing.management.progress import count
from billing.models import Customer

COLUMNS = ("id", "company name", "legal name", "currency", "active", "orders")


class Command(BaseCommand):
    help = (
        "List the customers: id (what --customer ID of generate_report, billing_run and "
        "export_rate_card expects), company name, legal name, currency, active, number of orders. "
        "Only active customers unless --inactive."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--inactive", action="store_true", help="Include inactive customers.")

    def handle(self, *args: Any, **options: Any) -> None:
        customers = Customer.objects.order_by("id").annotate(orders_count=Count("orders"))
        if not options["inactive"]:
            customers = customers.filter(is_active=True)
        rows = [
            (
                str(customer.pk),
                customer.company_name,
                customer.legal_business_name,
                customer.currency,
                "yes" if customer.is_active else "no",
                f"{customer.orders_count:,}",
            )
            for customer in customers
        ]
        widths = [max(len(row[index]) for row in [COLUMNS, *rows]) for index in range(len(COLUMNS))]
        right = {0, 5}  # numbers

        def line(row: tuple[str, ...]) -> str:
            cells = (
                cell.rjust(width) if i in right else cell.ljust(width)
                for i, (cell, width) in enumerate(zip(row, widths, strict=True))
            )
            return "  ".join(cells).rstrip()

        self.stdout.write(line(COLUMNS))
        for row in rows:
            self.stdout.write(line(row))
        self.stdout.write(
            count(len(rows), "customer") + ("" if options["inactive"] else " (active only; --inactive for all)")
        )
