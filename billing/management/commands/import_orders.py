"""manage.py import_orders FILE [--format csv|jsonl]: load a LedgerLink orders export."""

from __future__ import annotations

import csv
import logging
from collections.abc import Iterator
from pathlib import Path
from typing import Any, TextIO

from django.core.management.base import BaseCommand, CommandError, CommandParser

from billing.errors import BillingError
from billing.management.progress import ProgressBar, count, say, stream_is_tty
from billing.management.textfiles import csv_header, csv_records, jsonl_rows, open_text, stdin_text
from billing.services.order_rows import (
    DEFAULT_BATCH_SIZE,
    ORDER_FIELDS,
    REQUIRED_FIELDS,
    RowError,
)
from billing.services.order_worker import WorkerFailed
from billing.services.orders import UpsertResult, orders_upsert

FORMATS = {".csv": "csv", ".jsonl": "jsonl", ".ndjson": "jsonl"}

logger = logging.getLogger(__name__)


def _count_lines(path: Path) -> int:
    count = 0
    with path.open("rb") as handle:
        while chunk := handle.read(1 << 20):
            count += chunk.count(b"\n")
    return count


class Command(BaseCommand):
    help = (
        "Create or update orders from a LedgerLink orders export (CSV with a header row, or JSON Lines: "
        "one JSON object per line). Orders are matched by transaction_id; importing the same file again "
        "changes nothing. Rejected rows are listed on stderr as 'row N (TRANSACTION_ID): reason', where N is "
        "the physical line number in the file (for CSV the header is line 1, so the first order is line 2; "
        "for JSON Lines the first line is 1). Exits with status 1 when any row was rejected; the other rows "
        "are imported. Only transaction_id and customer_id are required columns. "
        "See docs/import-orders-format.md."
    )
    stealth_options = ("stdin",)

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("file", help="Path of the export, or '-' to read standard input (needs --format).")
        parser.add_argument(
            "--format",
            choices=["csv", "jsonl"],
            help="File format; guessed from the extension (.csv, .jsonl, .ndjson) when omitted.",
        )
        parser.add_argument(
            "--batch-size",
            type=int,
            default=DEFAULT_BATCH_SIZE,
            help=f"Rows written per transaction (default {DEFAULT_BATCH_SIZE}).",
        )
        parser.add_argument("--no-progress", action="store_true", help="Never draw the progress bar.")
        parser.add_argument(
            "--create-customers",
            action="store_true",
            help="Create a placeholder customer ('Customer N', id N) for each customer_id that does not exist.",
        )

    def handle(self, *args: Any, **options: Any) -> None:
        name: str = options["file"]
        fmt: str | None = options["format"]
        if options["batch_size"] < 1:
            raise CommandError("--batch-size must be at least 1.")
        if name == "-":
            if fmt is None:
                raise CommandError("Reading standard input needs --format csv or --format jsonl.")
            self._import(options.get("stdin") or stdin_text(), fmt, None, options)
            return
        path = Path(name)
        if fmt is None:
            fmt = FORMATS.get(path.suffix.lower())
            if fmt is None:
                raise CommandError(f"Cannot tell the format of {name!r} from its extension: pass --format csv|jsonl.")
        if not path.is_file():
            raise CommandError(f"No such file: {name}")
        with open_text(path) as handle:
            self._import(handle, fmt, path, options)

    def _import(self, handle: TextIO, fmt: str, path: Path | None, options: dict[str, Any]) -> None:
        parse_errors: list[RowError] = []
        rows: Iterator[tuple[int, Any]]
        columns: list[str] | None = None
        if fmt == "csv":
            columns, rows = self._csv_records(handle, parse_errors)  # header errors surface before anything is written
        else:
            rows = self._jsonl_rows(handle, parse_errors)

        enabled = not options["no_progress"] and stream_is_tty(self.stdout)
        total = None
        if enabled and path is not None:
            total = max(_count_lines(path) - (1 if fmt == "csv" else 0), 0)
        try:
            with ProgressBar(self.stdout, total=total, label="Importing orders", enabled=enabled) as bar:
                result = orders_upsert(
                    rows=rows,
                    columns=columns,
                    read_errors=parse_errors,
                    source="command",
                    on_progress=bar.update,
                    batch_size=options["batch_size"],
                    create_customers=options["create_customers"],
                )
        except BillingError as exc:
            raise CommandError(exc.message) from None
        except WorkerFailed as exc:
            logger.error("orders import stopped: %s", exc)  # the worker's traceback, for whoever investigates
            raise CommandError(
                f"The import stopped: the process reading the file failed ({exc.reason}). The batches "
                "written before it stay imported; importing the file again completes it (orders "
                "already imported are left unchanged). The details are in the log."
            ) from None

        self._report(result, parse_errors)

    def _report(self, result: UpsertResult, parse_errors: list[RowError]) -> None:
        """Placeholder customers, the rejected rows (stderr) and the summary; exit status 1 when any was rejected."""
        if result.customers_created:
            say(self.stdout, f"Created {count(result.customers_created, 'placeholder customer')}.")

        errors = sorted([*parse_errors, *result.errors], key=lambda error: error.row_number)
        for error in errors:
            self.stderr.write(str(error))
        rejected = len(errors)
        self.stdout.write(
            f"created {result.created}, updated {result.updated}, unchanged {result.unchanged}, rejected {rejected}"
        )
        if rejected:
            raise CommandError(f"{count(rejected, 'row')} rejected.", returncode=1)

    # --- readers: (physical line number, row) ---------------------------------------------

    def _csv_records(self, handle: TextIO, errors: list[RowError]) -> tuple[list[str], Iterator[tuple[int, list[str]]]]:
        """The header's columns (checked now) and the records after it, as values in header order."""
        reader = csv.reader(handle)
        columns, unknown = csv_header(reader, required=REQUIRED_FIELDS, known=ORDER_FIELDS, what="orders export")
        if unknown:
            self.stderr.write(
                f"Ignoring unknown column{'' if len(unknown) == 1 else 's'}: {', '.join(unknown)}",
                style_func=self.style.WARNING,
            )

        return columns, csv_records(reader, columns, key="transaction_id", errors=errors)

    def _jsonl_rows(self, handle: TextIO, errors: list[RowError]) -> Iterator[tuple[int, dict[str, Any]]]:
        return jsonl_rows(handle, errors)
