"""manage.py generate_report --customer ID --start YYYY-MM-DD --end YYYY-MM-DD [--format F] [--output FILE].

F is csv (default), json or pdf.
"""

from __future__ import annotations

import datetime as dt
from pathlib import Path
from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser

from billing.errors import BillingError, ValidationFailed
from billing.exporters import EXPORT_FORMATS, report_export_unchecked
from billing.management.progress import ProgressBar
from billing.models import Interface
from billing.services.reports import report_generate
from billing.services.users import user_named


def _date(value: str) -> dt.date:
    try:
        return dt.date.fromisoformat(value)
    except ValueError:
        raise CommandError(f"Not a date (YYYY-MM-DD): {value!r}") from None


def _validation_message(exc: ValidationFailed) -> str:
    lines = [exc.message]
    for field, messages in exc.fields.items():
        lines.extend(f"  {field}: {message}" for message in messages)
    return "\n".join(lines)


class Command(BaseCommand):
    help = (
        "Generate a customer's billing report for a period and write it as CSV, JSON or PDF, to "
        "--output or (CSV and JSON only) to standard output. A previous report of the same period "
        "becomes superseded. Exits with status 1 and the reasons on invalid input."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--customer", type=int, required=True, metavar="ID", help="Customer id.")
        parser.add_argument("--start", required=True, help="First day of the period (YYYY-MM-DD).")
        parser.add_argument("--end", required=True, help="Last day of the period (YYYY-MM-DD), inclusive.")
        parser.add_argument("--format", default="csv", choices=sorted(EXPORT_FORMATS), help="Output format (csv).")
        parser.add_argument("--output", metavar="FILE", help="Write here instead of standard output.")
        parser.add_argument("--no-progress", action="store_true", help="Never draw the progress bar.")
        parser.add_argument(
            "--user",
            metavar="NAME",
            help="Username recorded as the report's creator (default: the system user, BILLING_SYSTEM_USERNAME).",
        )

    def handle(self, *args: Any, **options: Any) -> None:
        start, end = _date(options["start"]), _date(options["end"])
        fmt: str = options["format"]
        output: str | None = options["output"]
        if fmt == "pdf" and not output:
            raise CommandError("A PDF needs --output FILE (it is not written to a terminal).")

        bar = ProgressBar(
            self.stderr, label="Pricing", unit="orders", enabled=False if options["no_progress"] else None
        )

        def progress(done: int, total: int) -> None:
            bar.total = total or None
            bar.update(done)

        try:
            created_by = user_named(options["user"]) if options["user"] is not None else None
            with bar:
                report = report_generate(
                    actor=None,
                    created_by=created_by,
                    customer_id=options["customer"],
                    start_date=start,
                    end_date=end,
                    output_format=fmt,
                    interface=Interface.COMMAND,
                    progress=progress,
                )
            result = report_export_unchecked(report=report, fmt=fmt, actor=None, interface=Interface.COMMAND)
        except ValidationFailed as exc:
            raise CommandError(_validation_message(exc)) from None
        except BillingError as exc:
            raise CommandError(exc.message) from None

        if output:
            with Path(output).open("wb") as target:
                for chunk in result.chunks:
                    target.write(chunk)
        else:
            # CSV and JSON chunks each hold whole UTF-8 characters, so they decode one by one.
            for chunk in result.chunks:
                self.stdout.write(chunk.decode(), ending="")
            self.stdout.flush()
        summary = (
            f"Report {report.id}: {report.order_count} orders, {report.line_count} lines, "
            f"total {report.total_amount} {report.currency}" + (f", written to {output}" if output else "")
        )
        self.stderr.write(summary)
