"""manage.py generate_report --customer ID --start YYYY-MM-DD --end YYYY-MM-DD [--format F] [--output FILE] [--bom].

F is csv (default), json or pdf. --output is written atomically, and checked before anything is
generated (billing/management/files.py). --dry-run [--rate-card FILE] prices the period without
saving anything (billing.services.preview) and writes the preview as JSON.
"""

from __future__ import annotations

import datetime as dt
import sys
from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser

from billing.errors import BillingError, ValidationFailed, error_text
from billing.exporters import EXPORT_FORMATS, ExportResult, report_export_unchecked
from billing.exporters.report_diff import preview_data
from billing.jsonencoding import dumps
from billing.management.arguments import date_argument
from billing.management.files import AtomicOutput, read_document
from billing.management.progress import ProgressBar, count, say
from billing.models import BillingReport, Interface
from billing.report_request import ReportRequest
from billing.services.preview import Preview, PreviewRequest, report_preview
from billing.services.rate_cards import rate_card_loads
from billing.services.reports import report_generate
from billing.services.users import user_named


class Command(BaseCommand):
    help = (
        "Generate a customer's billing report for a period and write it as CSV, JSON or PDF, to "
        "--output or (CSV and JSON only) to standard output. A previous report of the same period "
        "becomes superseded. With --dry-run, price the period without saving anything and write the "
        "preview as JSON. Exits with status 1 and the reasons on invalid input."
    )
    stealth_options = ("stdin",)

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--customer", type=int, required=True, metavar="ID", help="Customer id.")
        parser.add_argument("--start", required=True, help="First day of the period (YYYY-MM-DD).")
        parser.add_argument("--end", required=True, help="Last day of the period (YYYY-MM-DD), inclusive.")
        parser.add_argument(
            "--format", choices=sorted(EXPORT_FORMATS), help="Output format (csv; with --dry-run only json)."
        )
        parser.add_argument(
            "--output", metavar="FILE", help="Write here instead of standard output (replaced only once complete)."
        )
        parser.add_argument("--bom", action="store_true", help="CSV: start with a UTF-8 byte-order mark (Excel).")
        parser.add_argument("--no-progress", action="store_true", help="Never draw the progress bar.")
        parser.add_argument(
            "--only-unbilled",
            action="store_true",
            help="Bill only the (order, rate-card line) pairs no live report bills yet (default: refuse them).",
        )
        parser.add_argument(
            "--dry-run",
            action="store_true",
            help="Save nothing: write what the report would be (totals, service totals, first orders, the diff "
            "against the live report of the period) as JSON.",
        )
        parser.add_argument(
            "--rate-card",
            metavar="FILE",
            help="With --dry-run: price under this draft rate-card document (import format; '-' for standard input).",
        )
        parser.add_argument(
            "--user",
            metavar="NAME",
            help="Username recorded as the report's creator (default: the system user, BILLING_SYSTEM_USERNAME).",
        )

    def handle(self, *args: Any, **options: Any) -> None:
        start, end = date_argument(options["start"]), date_argument(options["end"])
        if options["dry_run"]:
            self._dry_run(options, start, end)
            return
        if options["rate_card"] is not None:
            raise CommandError("--rate-card is only for --dry-run (import a rate card with import_rate_card).")
        fmt: str = options["format"] or "csv"
        output: str | None = options["output"]
        if fmt == "pdf" and not output:
            raise CommandError("A PDF needs --output FILE (it is not written to a terminal).")
        if options["bom"] and fmt != "csv":
            raise CommandError("--bom is only for CSV.")
        target = AtomicOutput.open(output) if output else None  # an unwritable path fails before any work
        try:
            report, result = self._generate(options, start, end, fmt)
            if target is not None:
                with target as handle:
                    for chunk in result.chunks:
                        handle.write(chunk)
            else:
                # CSV and JSON chunks each hold whole UTF-8 characters, so they decode one by one.
                for chunk in result.chunks:
                    self.stdout.write(chunk.decode(), ending="")
                self.stdout.flush()
        finally:
            if target is not None:
                target.discard()  # a no-op once the file is in place
        if report.order_count == 0:
            unbilled = report.unbilled_order_count
            reason = (
                f"{count(unbilled, 'billable order')} but no rate-card line applied to any"
                if unbilled
                else "no billable orders"
            )
            self.stderr.write(
                f"Warning: customer {report.customer_id} has {reason} from {start} to {end}; the report is empty.",
                style_func=self.style.WARNING,
            )
        summary = (
            f"Report {report.id}: {count(report.order_count, 'order')}, {count(report.line_count, 'line')}, "
            f"total {report.total_amount} {report.currency}" + (f", written to {output}" if output else "")
        )
        say(self.stderr, summary)

    def _dry_run(self, options: dict[str, Any], start: dt.date, end: dt.date) -> None:
        if options["format"] not in (None, "json") or options["bom"] or options["only_unbilled"]:
            raise CommandError(
                "--dry-run writes JSON: --format other than json, --bom and --only-unbilled do not apply."
            )
        document = None
        if options["rate_card"] is not None:
            text = read_document(options["rate_card"], options.get("stdin") or sys.stdin)
            try:
                document = rate_card_loads(text)
            except ValidationFailed as exc:
                raise CommandError(error_text(exc, separator="\n  ")) from None
        target = AtomicOutput.open(options["output"]) if options["output"] else None
        request = PreviewRequest(
            customer_id=options["customer"], start_date=start, end_date=end, rate_card_document=document
        )
        try:
            preview = report_preview(None, request)
        except ValidationFailed as exc:
            if target is not None:
                target.discard()
            raise CommandError(error_text(exc, separator="\n  ")) from None
        except BillingError as exc:
            if target is not None:
                target.discard()
            raise CommandError(exc.message) from None
        text = dumps(preview_data(preview)) + "\n"
        if target is not None:
            with target as handle:
                handle.write(text.encode())
        else:
            self.stdout.write(text, ending="")
        say(self.stderr, _preview_summary(preview))

    def _generate(
        self, options: dict[str, Any], start: dt.date, end: dt.date, fmt: str
    ) -> tuple[BillingReport, ExportResult]:
        bar = ProgressBar(
            self.stderr, label="Pricing", unit="orders", enabled=False if options["no_progress"] else None
        )

        def progress(done: int, total: int) -> None:
            bar.total = total or None
            bar.update(done)

        request = ReportRequest(
            customer_id=options["customer"],
            start_date=start,
            end_date=end,
            output_format=fmt,
            only_unbilled=options["only_unbilled"],
            interface=Interface.COMMAND,
        )
        try:
            created_by = user_named(options["user"]) if options["user"] is not None else None
            with bar:
                report = report_generate(
                    actor=None, created_by=created_by, progress=progress, **request.generate_arguments()
                )
            result = report_export_unchecked(
                report=report, fmt=fmt, actor=None, interface=Interface.COMMAND, bom=options["bom"]
            )
        except ValidationFailed as exc:
            raise CommandError(error_text(exc, separator="\n  ")) from None
        except BillingError as exc:
            raise CommandError(exc.message) from None
        return report, result


def _preview_summary(preview: Preview) -> str:
    report = preview.report
    text = (
        f"Preview (nothing saved): {count(report.order_count, 'order')}, {count(report.line_count, 'line')}, "
        f"total {report.total_amount} {report.currency}"
    )
    if preview.diff is not None and preview.live_report is not None:
        text += (
            f"; against live report {preview.live_report.id} ({preview.live_report.total_amount}): "
            f"{preview.diff.total_change:+} in {count(preview.diff.line_count, 'changed line')}"
        )
    if preview.already_billed_pairs:
        text += f"; {count(preview.already_billed_pairs, 'pair')} already billed by another live report"
    return text
