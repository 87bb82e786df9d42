"""manage.py import_activity KIND FILE [--format csv|jsonl]: load billable activity beyond orders."""

from __future__ import annotations

import csv
from collections.abc import Iterator
from pathlib import Path
from typing import Any, TextIO

from django.core.management.base import CommandError, CommandParser

from billing.errors import BillingError
from billing.management.commands import import_orders
from billing.management.progress import ProgressBar, stream_is_tty
from billing.management.textfiles import csv_header, csv_rows, jsonl_rows
from billing.services.activity import NOUNS, activity_upsert
from billing.services.activity_rows import KINDS, SNAPSHOTS, SPECS
from billing.services.order_rows import RowError


class Command(import_orders.Command):
    help = (
        "Create or update billable activity of one kind (inventory_snapshots, receipts, returns, extra_work) "
        "from a CSV file with a header row or JSON Lines (one JSON object per line). Records are matched by "
        "their natural key within their customer (a snapshot's date, SKU and location; otherwise its "
        "reference); importing the same file again changes nothing. Rejected rows are listed on stderr as "
        "'row N (KEY): reason' (N: the physical line in the file; for CSV the header is line 1). Exits with "
        "status 1 when any row was rejected; the other rows are imported. See docs/activity-import-format.md."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("kind", choices=KINDS, help="What the file holds.")
        super().add_arguments(parser)

    def _import(self, handle: TextIO, fmt: str, path: Path | None, options: dict[str, Any]) -> None:
        kind: str = options["kind"]
        parse_errors: list[RowError] = []
        # CSV header errors surface before anything is written.
        rows = self._activity_csv_rows(kind, handle, parse_errors) if fmt == "csv" else jsonl_rows(handle, parse_errors)
        enabled = not options["no_progress"] and stream_is_tty(self.stdout)
        try:
            with ProgressBar(self.stdout, total=None, label=f"Importing {NOUNS[kind]}", enabled=enabled) as bar:
                result = activity_upsert(
                    kind,
                    rows=rows,
                    source="command",
                    batch_size=options["batch_size"],
                    create_customers=options["create_customers"],
                    on_progress=bar.update,
                )
        except BillingError as exc:
            raise CommandError(exc.message) from None
        self._report(result, parse_errors)

    def _activity_csv_rows(self, kind: str, handle: TextIO, errors: list[RowError]) -> Iterator[tuple[int, Any]]:
        spec = SPECS[kind]
        reader = csv.reader(handle)
        columns, unknown = csv_header(reader, required=spec.required, known=spec.fields, what=NOUNS[kind])
        if unknown:
            self.stderr.write(
                f"Ignoring unknown column{'' if len(unknown) == 1 else 's'}: {', '.join(unknown)}",
                style_func=self.style.WARNING,
            )
        key = "sku" if kind == SNAPSHOTS else "reference"
        return csv_rows(reader, columns, key=key, errors=errors, keep=spec.fields)
