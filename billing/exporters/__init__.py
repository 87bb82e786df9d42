"""Downloads of a billing report (CSV, JSON, PDF): one service shared by REST, GraphQL and commands.

`report_export` looks the report up with the actor's visibility, validates the format, records
who downloaded what (an AuditEvent, committed on its own) and returns the body as an iterator
of byte chunks, so a caller can stream it (StreamingHttpResponse) or write it to a file.
The formatters themselves are in csv.py, json.py and pdf.py (layouts in docs/exports.md).
"""

from __future__ import annotations

import base64
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any

from django.conf import settings
from django.db import transaction

from billing.errors import NotFound, ValidationFailed
from billing.exporters.csv import export_csv
from billing.exporters.json import export_json
from billing.models import AuditAction, AuditEvent, BillingReport, CreditNote
from billing.permissions import Actor, is_authenticated
from billing.selectors.reports import report_credit_note, report_get

__all__ = [
    "EXPORT_FORMATS",
    "ExportResult",
    "InlineExport",
    "credit_note_export",
    "parse_flag",
    "report_export",
    "report_export_inline",
    "report_export_unchecked",
]


def _pdf(report: BillingReport) -> Iterator[bytes]:
    from billing.exporters.pdf import export_pdf  # reportlab is loaded only when a PDF is asked for

    return export_pdf(report)


# format -> (content type, body writer)
EXPORT_FORMATS: dict[str, tuple[str, Callable[[BillingReport], Iterator[bytes]]]] = {
    "csv": ("text/csv; charset=utf-8", export_csv),
    "json": ("application/json", export_json),
    "pdf": ("application/pdf", _pdf),
}


@dataclass(frozen=True)
class ExportResult:
    content_type: str
    filename: str
    chunks: Iterator[bytes]


def _validated_format(fmt: str | None) -> str:
    name = (fmt or "").strip().lower()
    if name not in EXPORT_FORMATS:
        allowed = ", ".join(EXPORT_FORMATS)
        raise ValidationFailed(
            "Invalid download format.", fields={"format": [f"Unknown format {fmt!r}. Allowed: {allowed}."]}
        )
    return name


_TRUE = frozenset({"1", "true", "yes", "on"})
_FALSE = frozenset({"", "0", "false", "no", "off"})


def parse_flag(name: str, raw: str | bool | None) -> bool:
    """A yes/no option as an API receives it (`1`/`true`/`yes`/`on` or `0`/`false`/`no`/`off`/empty).

    Raises ValidationFailed naming the option for any other value.
    """
    if raw is None or isinstance(raw, bool):
        return bool(raw)
    text = raw.strip().lower()
    if text in _TRUE or text in _FALSE:
        return text in _TRUE
    raise ValidationFailed(f"Invalid {name}.", fields={name: [f"Expected true or false, got {raw!r}."]})


def _validated_bom(fmt: str, bom: bool) -> bool:
    if bom and fmt != "csv":
        raise ValidationFailed("Invalid download options.", fields={"bom": ["A byte-order mark is only for CSV."]})
    return bom


def report_export(
    *, actor: Actor, report_id: str | uuid.UUID, fmt: str, interface: str, request_id: str = "", bom: bool = False
) -> ExportResult:
    """The report `report_id` in format `fmt` (csv, json or pdf), if the actor may see it.

    `bom` starts a CSV with a UTF-8 byte-order mark, which Excel needs to read it as UTF-8.
    Raises ValidationFailed (field "format" or "bom") for an unknown format or a BOM asked for
    another format, and NotFound for a malformed, unknown or invisible report id. Records an
    AuditEvent(action=downloaded).
    """
    name = _validated_format(fmt)
    _validated_bom(name, bom)
    report = report_get(actor=actor, report_id=report_id)
    return _export(report=report, fmt=name, actor=actor, interface=interface, request_id=request_id, bom=bom)


@dataclass(frozen=True)
class InlineExport:
    """A whole export in one value, for APIs that cannot stream a file (GraphQL)."""

    content_type: str
    filename: str
    encoding: str  # "utf-8" for CSV and JSON, "base64" for PDF
    content: str


def report_export_inline(
    *, actor: Actor, report_id: str | uuid.UUID, fmt: str, interface: str, request_id: str = ""
) -> InlineExport:
    """report_export, read into memory: refused (ValidationFailed on "report_id") for reports
    with more than settings.INLINE_EXPORT_MAX_LINES lines, which should be streamed instead."""
    name = _validated_format(fmt)
    report = report_get(actor=actor, report_id=report_id)
    limit = settings.INLINE_EXPORT_MAX_LINES
    if report.line_count > limit:
        raise ValidationFailed(
            "The report is too large to export inline.",
            fields={
                "report_id": [
                    f"The report has {report.line_count} lines (more than {limit}); "
                    f"download it from /api/v2/reports/{report.id}/download/?format={name} instead."
                ]
            },
        )
    result = _export(report=report, fmt=name, actor=actor, interface=interface, request_id=request_id)
    body = b"".join(result.chunks)
    if name == "pdf":
        encoding, content = "base64", base64.b64encode(body).decode("ascii")
    else:
        encoding, content = "utf-8", body.decode("utf-8")
    return InlineExport(result.content_type, result.filename, encoding, content)


def report_export_unchecked(
    *, report: BillingReport, fmt: str, actor: Actor, interface: str, request_id: str = "", bom: bool = False
) -> ExportResult:
    """Export a report the caller already holds, without a visibility check.

    For trusted server-side callers only (management commands, workers) that just produced
    or loaded the report themselves; API layers use report_export.
    """
    name = _validated_format(fmt)
    bom = _validated_bom(name, bom)
    return _export(report=report, fmt=name, actor=actor, interface=interface, request_id=request_id, bom=bom)


def _export(
    *, report: BillingReport, fmt: str, actor: Actor, interface: str, request_id: str, bom: bool = False
) -> ExportResult:
    content_type, writer = EXPORT_FORMATS[fmt]
    _audit_download(report, fmt, actor, interface, request_id)
    chunks = export_csv(report, bom=True) if bom else writer(report)
    return ExportResult(content_type=content_type, filename=f"billing-report-{report.id}.{fmt}", chunks=chunks)


def _credit_note_writers() -> dict[str, tuple[str, Callable[[CreditNote], Iterator[bytes]]]]:
    from billing.exporters import credit_note as writers  # reportlab is loaded only on demand

    return {
        "csv": ("text/csv; charset=utf-8", writers.credit_note_csv),
        "json": ("application/json", writers.credit_note_json),
        "pdf": ("application/pdf", writers.credit_note_pdf),
    }


def credit_note_export(
    *, actor: Actor, report_id: str | uuid.UUID, fmt: str, interface: str, request_id: str = ""
) -> ExportResult:
    """The credit note of the voided report `report_id` as csv, json or pdf, if the actor may see
    the report. NotFound when the report has no credit note (it was not voided); audited as a download."""
    name = _validated_format(fmt)
    report = report_get(actor=actor, report_id=report_id)
    note = report_credit_note(report=report)
    if note is None:
        raise NotFound("This report has no credit note: only a voided report has one.")
    content_type, writer = _credit_note_writers()[name]
    _audit_download(report, name, actor, interface, request_id)
    return ExportResult(content_type=content_type, filename=f"credit-note-{note.number}.{name}", chunks=writer(note))


def _audit_download(report: BillingReport, fmt: str, actor: Actor, interface: str, request_id: str) -> None:
    """Record who downloaded what, committed on its own."""
    user: Any = actor if is_authenticated(actor) else None
    with transaction.atomic():
        AuditEvent.objects.create(
            action=AuditAction.DOWNLOADED,
            report=report,
            actor=user,
            interface=interface,
            format=fmt,
            request_id=request_id[:64],
        )
