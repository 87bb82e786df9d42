"""Step 5, the use case: one report generated in one transaction.

Lock the customer, check the request against its rate card, compile the card, supersede the
draft of the same scope, stream the orders through the pricing loop into a writer, then store
the totals, the not-closed orders, the per-day totals, the claim of billed pairs and the audit
events. On any error nothing is written.
"""

from __future__ import annotations

import datetime as dt
import gc
import uuid
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from typing import Any

from django.conf import settings
from django.contrib.auth.models import User
from django.db import IntegrityError, connection, transaction
from django.db.models import QuerySet, UUIDField, Value
from django.db.models.functions import Collate
from django.utils import timezone

from billing.db_copy import column_of
from billing.errors import InvalidTransition, ValidationFailed
from billing.models import (
    LIVE_REPORT_STATUSES,
    AuditAction,
    AuditEvent,
    BillingReport,
    Customer,
    Order,
    ReportExplanation,
    ReportNotClosedOrder,
    ReportServiceTotal,
    ReportStatus,
)
from billing.permissions import Actor, is_authenticated
from billing.pricing import RuleValidationError, compile_rate_card
from billing.report_request import customer_problem
from billing.selectors.orders import billable_orders, not_closed_orders
from billing.selectors.rate_cards import LoadedRateCard, load_rate_card
from billing.services.analytics import report_days_store
from billing.services.users import system_user

from .activity import bill_activity
from .bulk_writer import bulk_write
from .claims import ClaimedPairs, any_billed, billed_pairs, claim_pairs, release_pairs, scope_key
from .copy_pipeline import CopyPipeline
from .copy_writer import copy_report
from .orders import chunked_records, streamed_records, tx_collation
from .pricing import Pricer, Totals, UnbilledOnly, explanation_rows, priced_orders


@transaction.atomic
def generate_report(
    *,
    actor: Actor,
    customer_id: int,
    start_date: dt.date,
    end_date: dt.date,
    output_format: str,
    customer_service_ids: Sequence[int] | None,
    interface: str,
    request_id: str,
    progress: Callable[[int, int], None] | None,
    errors: dict[str, list[str]],
    created_by: User | None,
    only_unbilled: bool = False,
    preview: bool = False,
) -> BillingReport:
    """billing.services.reports.report_generate once the actor and the arguments are checked:
    `errors` holds the argument errors found so far, raised with the customer's and the card's.

    `preview` (billing.services.preview, always rolled back): a finalized report of the scope is
    no refusal and no pair is claimed; everything else is what a generation does."""
    customer, card = _locked_customer_and_card(customer_id, customer_service_ids, errors)
    compiled = _compiled(card)  # a card that does not compile is refused before anything is written
    orders = billable_orders(customer_id=customer.pk, start_date=start_date, end_date=end_date)
    total = orders.count() if progress is not None else 0
    scope = scope_key(customer_service_ids)
    previous = _free_the_scope(customer, start_date, end_date, scope, only_unbilled=only_unbilled or preview)
    billed = billed_pairs(orders) if only_unbilled else None

    # No order this report bills can be deleted or renumbered before the transaction ends.
    # PostgreSQL: the order table's trigger locks the order's customer first (migration 0014), so
    # the customer lock above waited for any deletion under way, and a later one waits for this
    # transaction and is then refused. SQLite: this row is written before the orders are read
    # for pricing, so the transaction holds the database's one write lock (BEGIN IMMEDIATE takes
    # it even earlier) and no other transaction can commit a deletion before this one ends.
    report = BillingReport.objects.create(
        id=uuid.uuid4(),
        customer=customer,
        start_date=start_date,
        end_date=end_date,
        currency=customer.currency,
        output_format=output_format,
        status=ReportStatus.DRAFT,
        scope_key=scope,
        billing_time_zone=settings.BILLING_TIME_ZONE,
        generated_at=timezone.now(),
        created_by=created_by or (actor if is_authenticated(actor) else None) or system_user(),
    )
    on_progress = (lambda done: progress(done, total)) if progress is not None else None

    def snapshot(run: Pricer, claim: bool) -> tuple[Totals, ClaimedPairs | None]:
        """Price the orders with an unused run of the card (tiers from zero) and write the snapshot."""
        if billed is not None:
            run = UnbilledOnly(run, billed, card.line_info)
        totals = Totals(card.line_info, report.billing_time_zone, report.end_date)
        with _cyclic_gc_paused():
            return totals, _write_snapshot(report, run, orders, totals, on_progress, claim=claim)

    # On PostgreSQL the pairs are claimed as they are written, unless a live report bills one of
    # them (or only unbilled pairs are priced): then after the report is written, so that the
    # refusal can name the reports holding them.
    claim_while_writing = (
        not preview
        and connection.vendor == "postgresql"
        and (only_unbilled or not any_billed(orders, (line.service_id for line in card.selected)))
    )
    try:
        with transaction.atomic(savepoint=claim_while_writing):
            totals, pairs = snapshot(compiled, claim_while_writing)
    except IntegrityError:
        if not claim_while_writing:
            raise
        # A pair was claimed by another transaction after any_billed looked, which the customer's
        # lock rules out: the snapshot is rolled back and written again, claimed afterwards, so
        # that the refusal names the reports holding the pairs.
        claim_while_writing = False
        totals, pairs = snapshot(_compiled(card), claim_while_writing)
    _store_totals(report, totals)
    bill_activity(report, card, only_unbilled=only_unbilled)  # storage, receiving, returns, extra work, adjustments
    if not preview and not claim_while_writing:
        claim_pairs(report, pairs)
    # The audit trail names who acted: a signed-in actor, or the user a command named; None for the server.
    acting = actor if is_authenticated(actor) else created_by
    _audit(
        report,
        previous,
        actor_id=acting.pk if acting is not None else None,
        interface=interface,
        output_format=output_format,
        request_id=request_id,
    )
    return report


def _locked_customer_and_card(
    customer_id: int, customer_service_ids: Sequence[int] | None, errors: dict[str, list[str]]
) -> tuple[Customer, LoadedRateCard]:
    """The customer, locked until the transaction ends (generations for one customer are
    serialised; deleting, renumbering or moving one of its orders waits: migration 0014), and
    its rate card restricted to the requested lines; ValidationFailed with every error otherwise."""
    customer = Customer.objects.select_for_update().filter(pk=customer_id).first()
    card: LoadedRateCard | None = None
    problem = customer_problem(customer, customer_id)
    if problem or customer is None:  # no problem means the customer exists
        errors["customer_id"] = [problem]
    else:
        card = load_rate_card(customer_id=customer.pk)
        if customer_service_ids is not None:
            problem = card.select(customer_service_ids)
            if problem:
                errors["customer_service_ids"] = [problem]
    if errors:
        raise ValidationFailed("Invalid report request.", fields=errors)
    assert customer is not None and card is not None
    return customer, card


def _compiled(card: LoadedRateCard) -> Any:
    try:
        return compile_rate_card(card.rate_card)
    except RuleValidationError as exc:
        message = card.describe(str(exc))
        raise ValidationFailed(message, fields={"rate_card": [message]}) from exc


def _free_the_scope(
    customer: Customer, start_date: dt.date, end_date: dt.date, scope: str, *, only_unbilled: bool
) -> BillingReport | None:
    """Supersede the draft of this scope and release its pairs; returns it. A finalized report
    of the scope is never replaced (InvalidTransition), unless only unbilled pairs are wanted."""
    same_scope = BillingReport.objects.filter(
        customer=customer, start_date=start_date, end_date=end_date, scope_key=scope
    )
    live = {
        other.status: other
        for other in same_scope.filter(status__in=LIVE_REPORT_STATUSES).only("id", "status", "invoice_number")
    }
    finalized = live.get(ReportStatus.FINALIZED)
    if finalized is not None and not only_unbilled:
        raise InvalidTransition(
            f"This period is finalized for the customer ({finalized.invoice_number}): void it first, "
            "or bill only what is not yet billed.",
            details={"report_id": str(finalized.pk), "invoice_number": finalized.invoice_number},
        )
    previous = live.get(ReportStatus.DRAFT)
    if previous is not None:
        # Free the draft's slot and release the pairs it billed before the new report takes them.
        BillingReport.objects.filter(pk=previous.pk).update(status=ReportStatus.SUPERSEDED)
        release_pairs(previous.pk)
    return previous


def _write_snapshot(
    report: BillingReport,
    run: Pricer,
    orders: QuerySet[Order],
    totals: Totals,
    progress: Callable[[int], None] | None,
    *,
    claim: bool,
) -> ClaimedPairs | None:
    """Price the orders and write the report's orders and lines: COPY on PostgreSQL (a constant
    number of statements), bulk_create elsewhere, then the explanations the lines refer to.
    `progress` runs every BILLING_GENERATION_CHUNK_SIZE orders and after the last one. On
    PostgreSQL, `claim` claims the (order, line) pairs of the lines as they are written (no
    live report bills one of them); otherwise they are returned, for claim_pairs."""
    every = max(1, int(settings.BILLING_GENERATION_CHUNK_SIZE))
    if connection.vendor == "postgresql":
        pairs = ClaimedPairs(totals.line_info)
        with connection.wrap_database_errors, connection.cursor() as cursor, CopyPipeline(cursor) as pipeline:
            records = streamed_records(orders, pipeline)
            priced = pairs.collect(priced_orders(run, records, totals))
            copy_report(
                report, priced, totals.line_info, pipeline, progress, every, records.count, pairs if claim else None
            )
    else:
        pairs = None
        chunks = (priced_orders(run, records, totals) for records in chunked_records(orders, every))
        bulk_write(report, chunks, totals.line_info, progress)
    ReportExplanation.objects.bulk_create(explanation_rows(report, run, totals))
    return pairs


def _store_totals(report: BillingReport, totals: Totals) -> None:
    ReportServiceTotal.objects.bulk_create(totals.service_totals(report))
    report.total_amount = totals.amount
    report.order_count = totals.billed_orders
    report.unbilled_order_count = totals.unbilled_orders
    report.line_count = totals.lines
    report.not_closed_order_count = _snapshot_not_closed(report)
    report.save(
        update_fields=["total_amount", "order_count", "unbilled_order_count", "line_count", "not_closed_order_count"]
    )
    report_days_store(report_id=report.pk, days=totals.day_totals())


def _snapshot_not_closed(report: BillingReport) -> int:
    """Copy the customer's not-closed orders (no close date) into the report, in one statement.

    Returns how many there are. They are listed by transaction id (code point order).
    """
    rows = (
        not_closed_orders(customer_id=report.customer_id)
        .annotate(snapshot_report=Value(report.pk, output_field=UUIDField()))
        .order_by(Collate("transaction_id", tx_collation()), "id")
        .values_list("snapshot_report", "id", "transaction_id", "reference_number", "status")
    )
    select_sql, params = rows.query.sql_with_params()
    quote = connection.ops.quote_name
    fields = ("report", "order_id", "transaction_id", "reference_number", "status")
    columns = ", ".join(quote(column_of(ReportNotClosedOrder, name)) for name in fields)
    with connection.cursor() as cursor:
        cursor.execute(f"INSERT INTO {quote(ReportNotClosedOrder._meta.db_table)} ({columns}) {select_sql}", params)
        return max(cursor.rowcount, 0)


def _audit(
    report: BillingReport,
    previous: BillingReport | None,
    *,
    actor_id: int | None,
    interface: str,
    output_format: str,
    request_id: str,
) -> None:
    """GENERATED (REGENERATED when a draft was superseded) and the draft's SUPERSEDED."""
    common = {"actor_id": actor_id, "interface": interface, "format": output_format, "request_id": request_id}
    action = AuditAction.REGENERATED if previous is not None else AuditAction.GENERATED
    events = [AuditEvent(action=action, report=report, **common)]
    if previous is not None:
        BillingReport.objects.filter(pk=previous.pk).update(superseded_by=report)
        events.append(AuditEvent(action=AuditAction.SUPERSEDED, report_id=previous.pk, **common))
    AuditEvent.objects.bulk_create(events)


@contextmanager
def _cyclic_gc_paused() -> Iterator[None]:
    """Pause the cyclic garbage collector while orders are streamed.

    Pricing allocates millions of short-lived, acyclic objects (rows, order data, charges),
    which reference counting frees; the cyclic collector would repeatedly traverse every live
    chunk for nothing (about 20% of the CPU time at 100k orders). It is re-enabled afterwards,
    even on error, and left alone if it was already disabled.
    """
    was_enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if was_enabled:
            gc.enable()
