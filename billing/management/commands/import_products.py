"""manage.py import_products FILE: load the original LedgerLink products export (SKUs and case sizes)."""

from __future__ import annotations

import csv
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser

from billing.management.progress import count, say
from billing.management.textfiles import csv_header, csv_rows, open_text
from billing.services.order_rows import RowError
from billing.services.products import LABELING_UNITS, products_import

REQUIRED_COLUMNS = ("sku", "customer_id")
KNOWN_COLUMNS = (
    *REQUIRED_COLUMNS,
    *(f"labeling_{part}_{index}" for index in range(1, LABELING_UNITS + 1) for part in ("unit", "quantity")),
    "id",
    "created_at",
    "updated_at",
)


class Command(BaseCommand):
    help = (
        "Create or update products (SKUs and case sizes) from the LedgerLink products export "
        "(products_product.csv: sku, customer_id, labeling_unit_1..5, labeling_quantity_1..5). The case size "
        "is the quantity of the first labeling unit named 'Case' (1 when there is none). Products are matched "
        "by customer and normalised SKU, so importing the same file again changes nothing. Rejected rows are "
        "listed on stderr as 'row N (SKU): reason' (N: the line in the file, the header is line 1); the command "
        "then exits with status 1, the other rows being imported. See docs/import-orders-format.md."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("file", help="Path of the products export (CSV with a header row).")
        parser.add_argument(
            "--create-customers",
            action="store_true",
            help="Create a placeholder customer ('Customer N', id N) for each customer_id that does not exist.",
        )

    def handle(self, *args: Any, **options: Any) -> None:
        path = Path(options["file"])
        if not path.is_file():
            raise CommandError(f"No such file: {path}")
        parse_errors: list[RowError] = []
        with open_text(path) as handle:
            result = products_import(
                rows=self._rows(csv.reader(handle), parse_errors), create_customers=options["create_customers"]
            )
        if result.customers_created:
            say(self.stdout, f"Created {count(result.customers_created, 'placeholder customer')}.")
        errors = sorted([*parse_errors, *result.errors], key=lambda error: error.row_number)
        for error in errors:
            self.stderr.write(str(error))
        self.stdout.write(
            f"created {result.created}, updated {result.updated}, unchanged {result.unchanged}, rejected {len(errors)}"
        )
        if errors:
            raise CommandError(f"{count(len(errors), 'row')} rejected.", returncode=1)

    def _rows(self, reader: Any, errors: list[RowError]) -> Iterator[tuple[int, dict[str, str]]]:
        columns, _ = csv_header(reader, required=REQUIRED_COLUMNS, known=KNOWN_COLUMNS, what="products export")
        yield from csv_rows(reader, columns, key="sku", errors=errors)
