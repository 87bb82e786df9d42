"""The invoice lifecycle: draft -> finalized (numbered invoice) -> voided (numbered credit note).

Generation (billing.services.reports) makes drafts. report_finalize issues a draft: it takes the
next number of the issuer's gapless invoice sequence, inside the finalizing transaction (the
sequence row is locked until commit, so concurrent finalizations wait in turn and a rolled-back
one gives its number back). A finalized report never changes again and is never superseded.
report_void cancels a finalized report with a reason: it releases the report's (order, line)
pairs for billing again and issues a credit note for the full amount, numbered from its own
sequence. Each transition is audited; a refused one raises and changes nothing.
"""

from __future__ import annotations

import datetime as dt
import uuid

from django.conf import settings
from django.db import transaction
from django.utils import timezone

from billing.errors import InvalidTransition, NotFound, ValidationFailed
from billing.generation.claims import release_pairs
from billing.ids import uuid_or_not_found
from billing.models import (
    AuditAction,
    AuditEvent,
    BillingReport,
    CreditNote,
    Interface,
    NumberSequence,
    ReportStatus,
)
from billing.permissions import FINALIZE_PERMISSION, VOID_PERMISSION, Actor, ensure_can_transition, is_authenticated
from billing.selectors.reports import REPORT_NOT_FOUND, reports_visible_to

__all__ = ["next_number", "report_finalize", "report_void"]

INVOICE = "invoice"
CREDIT_NOTE = "credit_note"
VOID_REASON_MAX_LENGTH = 2000


def next_number(kind: str, number_format: str, when: dt.datetime) -> str:
    """The next number of the issuer's `kind` sequence, formatted. Call inside a transaction: the
    sequence row stays locked until it ends, which keeps the numbers gapless."""
    issuer = settings.BILLING_ISSUER_ID
    NumberSequence.objects.get_or_create(issuer=issuer, kind=kind)
    sequence = NumberSequence.objects.select_for_update().get(issuer=issuer, kind=kind)
    sequence.last_value += 1
    sequence.save(update_fields=["last_value"])
    return number_format.format(year=when.year, number=sequence.last_value, issuer=issuer)


def _locked_report(actor: Actor, report_id: uuid.UUID | str) -> BillingReport:
    key = uuid_or_not_found(report_id, REPORT_NOT_FOUND)
    # A command acting without a user (actor None) is trusted, as for generation.
    reports = BillingReport.objects.all() if actor is None else reports_visible_to(actor)
    report = reports.select_for_update().filter(pk=key).first()
    if report is None:
        raise NotFound(REPORT_NOT_FOUND)
    return report


def _audit(report: BillingReport, action: str, actor: Actor, interface: str, request_id: str) -> None:
    AuditEvent.objects.create(
        action=action,
        report=report,
        actor=actor if is_authenticated(actor) else None,
        interface=interface,
        format=report.output_format,
        request_id=request_id,
    )


@transaction.atomic
def report_finalize(
    *, actor: Actor, report_id: uuid.UUID | str, interface: str = Interface.COMMAND, request_id: str = ""
) -> BillingReport:
    """Issue a draft: number it from the invoice sequence (BILLING_INVOICE_NUMBER_FORMAT).

    Raises NotFound (unknown or invisible), PermissionDenied (no billing.finalize_report, or a
    customer-linked user), InvalidTransition (not a draft)."""
    report = _locked_report(actor, report_id)
    ensure_can_transition(actor, report.customer_id, FINALIZE_PERMISSION, "finalize")
    if report.status != ReportStatus.DRAFT:
        raise InvalidTransition(
            f"Only a draft can be finalized; this report is {report.status}.", details={"status": report.status}
        )
    now = timezone.now()
    report.invoice_number = next_number(INVOICE, settings.BILLING_INVOICE_NUMBER_FORMAT, now)
    report.status = ReportStatus.FINALIZED
    report.finalized_at = now
    report.finalized_by = actor if is_authenticated(actor) else None
    report.save(update_fields=["invoice_number", "status", "finalized_at", "finalized_by"])
    _audit(report, AuditAction.FINALIZED, actor, interface, request_id)
    return report


@transaction.atomic
def report_void(
    *,
    actor: Actor,
    report_id: uuid.UUID | str,
    reason: str,
    interface: str = Interface.COMMAND,
    request_id: str = "",
) -> CreditNote:
    """Void a finalized report and issue its credit note (BILLING_CREDIT_NOTE_NUMBER_FORMAT).

    Its (order, line) pairs may be billed again. Raises NotFound, PermissionDenied (no
    billing.void_report, or a customer-linked user), ValidationFailed(reason) for a blank or
    too long reason, InvalidTransition (not finalized)."""
    report = _locked_report(actor, report_id)
    ensure_can_transition(actor, report.customer_id, VOID_PERMISSION, "void")
    reason = (reason or "").strip()
    if not reason:
        raise ValidationFailed.for_field("reason", "A reason is required to void a report.")
    if len(reason) > VOID_REASON_MAX_LENGTH:
        raise ValidationFailed.for_field("reason", f"At most {VOID_REASON_MAX_LENGTH} characters.")
    if report.status != ReportStatus.FINALIZED:
        raise InvalidTransition(
            f"Only a finalized report can be voided; this report is {report.status}.",
            details={"status": report.status},
        )
    now = timezone.now()
    user = actor if is_authenticated(actor) else None
    report.status = ReportStatus.VOIDED
    report.voided_at = now
    report.voided_by = user
    report.void_reason = reason
    report.save(update_fields=["status", "voided_at", "voided_by", "void_reason"])
    release_pairs(report.pk)
    note = CreditNote.objects.create(
        report=report,
        number=next_number(CREDIT_NOTE, settings.BILLING_CREDIT_NOTE_NUMBER_FORMAT, now),
        reason=reason,
        currency=report.currency,
        amount=report.total_amount,
        issued_at=now,
        issued_by=user,
    )
    _audit(report, AuditAction.VOIDED, actor, interface, request_id)
    return note
