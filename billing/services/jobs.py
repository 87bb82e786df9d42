"""Background report jobs and month-end billing runs.

- report_job_queue: persist a QUEUED ReportJob for a validated request and hand it to Celery
  after the transaction commits (with no broker the job runs in-process right then); requests
  reach it through billing.services.generate.
- report_job_run: the task body. Report creation and the job's success marking are one
  transaction, so a job yields exactly one report however often it is delivered.
- billing_run_start: one job per customer for one period (month-end).
"""

from __future__ import annotations

import datetime as dt
import logging
import time
import uuid
from collections.abc import Callable, Sequence
from functools import partial
from typing import Any

from django.conf import settings
from django.db import DEFAULT_DB_ALIAS, InterfaceError, OperationalError, connection, transaction
from django.db.models import F
from django.utils import timezone
from kombu.exceptions import OperationalError as BrokerUnavailable

from billing.errors import BillingError, PermissionDenied, ValidationFailed, error_text
from billing.ids import parse_uuid
from billing.models import (
    BillingReport,
    BillingRun,
    Customer,
    Interface,
    JobStatus,
    OutputFormat,
    ReportJob,
    ReportStatus,
)
from billing.periods import period_errors
from billing.permissions import ALL, Actor, can_generate, is_authenticated, visible_customer_ids
from billing.report_request import ReportRequest
from billing.services.rate_limit import generation_rate_limit_take
from billing.services.reports import report_generate

logger = logging.getLogger(__name__)

__all__ = ["billing_run_start", "report_job_queue", "report_job_run"]

# Progress is written through this alias when it is configured (PostgreSQL): a separate
# connection whose updates commit at once, while the generation transaction stays open.
PROGRESS_DB_ALIAS = "progress"
# At most one progress write per interval (plus the first and the last one).
PROGRESS_WRITE_INTERVAL = 0.5  # seconds
ERROR_MAX_LENGTH = 2000
TRANSIENT_DB_ERRORS = (OperationalError, InterfaceError)

ProgressCallback = Callable[[int, int], None]


# --- submitting jobs --------------------------------------------------------------------


def report_job_queue(actor: Actor, request: ReportRequest) -> ReportJob:
    """Create a QUEUED job for a validated `request`, sent to the workers when the caller's
    transaction commits (billing.services.generate.report_job_submit validates and calls this)."""
    job = ReportJob.objects.create(
        customer_id=request.customer_id,
        start_date=request.start_date,
        end_date=request.end_date,
        output_format=request.output_format,
        customer_service_ids=request.canonical_service_ids(),
        only_unbilled=request.only_unbilled,
        status=JobStatus.QUEUED,
        requested_by=_user_or_none(actor),
        interface=request.interface,
        request_id=request.request_id[:64],
    )
    transaction.on_commit(partial(_dispatch, [job.pk]))
    return job


def _dispatch(job_ids: Sequence[uuid.UUID], progress: ProgressCallback | None = None) -> None:
    """Send the jobs to the workers (eager mode: run them here, one after the other)."""
    from billing.tasks import generate_report_job  # the task module imports this one

    eager = bool(generate_report_job.app.conf.task_always_eager)
    total = len(job_ids)
    for done, job_id in enumerate(job_ids, 1):
        try:
            if eager:
                generate_report_job.apply(args=[str(job_id)])
            else:
                generate_report_job.delay(str(job_id))
        except BrokerUnavailable as exc:
            logger.exception("Could not queue report job %s", job_id)
            ReportJob.objects.filter(pk=job_id, status=JobStatus.QUEUED).update(
                status=JobStatus.FAILED,
                error=f"The job could not be queued: the task broker is unavailable ({exc}).",
                finished_at=timezone.now(),
            )
        if eager and progress is not None:
            progress(done, total)


# --- billing runs -----------------------------------------------------------------------


def billing_run_start(
    *,
    actor: Actor,
    start_date: dt.date,
    end_date: dt.date,
    customer_ids: Sequence[int] | None = None,
    interface: str,
    request_id: str = "",
    progress: ProgressCallback | None = None,
    requested_by: Any = None,
) -> BillingRun:
    """Start a billing run: one report job per customer for [start_date, end_date].

    `requested_by` is the user recorded on the run, its jobs and their reports when the actor
    is the server (actor None: a command); by default the signed-in actor.

    `customer_ids` None or empty means every active customer the actor may see. The actor
    needs the generate permission and must see every listed customer (PermissionDenied);
    unknown or inactive ids raise ValidationFailed on customer_ids. Jobs are queued when the
    transaction commits. `progress(finished, total)` is called after each job that runs in
    this process (eager mode); with a broker, poll billing_run_summary instead. A signed-in
    actor's run takes one request from its generation budget (RateLimited when it is spent).
    """
    generation_rate_limit_take(actor)
    run, job_ids = _billing_run_create(
        actor=actor,
        start_date=start_date,
        end_date=end_date,
        customer_ids=customer_ids,
        interface=interface,
        request_id=request_id,
        requested_by=requested_by,
    )
    transaction.on_commit(partial(_dispatch, job_ids, progress))  # runs now unless inside a transaction
    return run


@transaction.atomic
def _billing_run_create(
    *,
    actor: Actor,
    start_date: dt.date,
    end_date: dt.date,
    customer_ids: Sequence[int] | None,
    interface: str,
    request_id: str,
    requested_by: Any = None,
) -> tuple[BillingRun, list[uuid.UUID]]:
    if actor is not None and not can_generate(actor):
        raise PermissionDenied("You do not have permission to generate billing reports.")
    errors = period_errors(start_date, end_date)
    ids = _customer_id_list(customer_ids, errors)
    if errors:
        raise ValidationFailed("Invalid billing run.", fields=errors)
    targets = _run_targets(actor, ids)

    user = requested_by or _user_or_none(actor)
    run = BillingRun.objects.create(start_date=start_date, end_date=end_date, customer_ids=list(ids), requested_by=user)
    # A customer whose period is already finalized is skipped: its job ends at once, saying why.
    finalized = dict(
        BillingReport.objects.filter(
            customer_id__in=targets,
            start_date=start_date,
            end_date=end_date,
            scope_key="",
            status=ReportStatus.FINALIZED,
        ).values_list("customer_id", "invoice_number")
    )
    now = timezone.now()
    jobs = ReportJob.objects.bulk_create(
        ReportJob(
            id=uuid.uuid4(),
            customer_id=customer_id,
            start_date=start_date,
            end_date=end_date,
            output_format=OutputFormat.JSON,
            status=JobStatus.FAILED if customer_id in finalized else JobStatus.QUEUED,
            error=_skipped_reason(finalized[customer_id]) if customer_id in finalized else "",
            finished_at=now if customer_id in finalized else None,
            billing_run=run,
            requested_by=user,
            interface=interface,
            request_id=request_id[:64],
        )
        for customer_id in targets
    )
    return run, [job.pk for job in jobs if job.status == JobStatus.QUEUED]


def _run_targets(actor: Actor, ids: list[int]) -> list[int]:
    """The customers a billing run bills: the ids asked for (each known, active and visible to
    the actor), or every active customer the actor sees."""
    visible = visible_customer_ids(actor) if actor is not None else ALL
    if ids:
        # As report_generate: a customer the actor cannot see is refused whether it exists or not.
        if visible is not ALL and any(i not in visible for i in ids):
            raise PermissionDenied("You may not generate billing reports for some of these customers.")
        found = dict(Customer.objects.filter(pk__in=ids).values_list("pk", "is_active"))
        unknown = [i for i in ids if i not in found]
        inactive = [i for i in ids if found.get(i) is False]
        messages = []
        if unknown:
            messages.append(f"Unknown customer ids: {_id_text(unknown)}.")
        if inactive:
            messages.append(f"Inactive customers: {_id_text(inactive)}.")
        if messages:
            raise ValidationFailed("Invalid billing run.", fields={"customer_ids": messages})
        return ids
    else:
        customers = Customer.objects.filter(is_active=True)
        if visible is not ALL:
            customers = customers.filter(pk__in=visible)
        return list(customers.order_by("company_name", "pk").values_list("pk", flat=True))


def _skipped_reason(invoice_number: str) -> str:
    return f"Skipped: this period is already finalized for the customer ({invoice_number}); void it to bill it again."


def _customer_id_list(customer_ids: Sequence[Any] | None, errors: dict[str, list[str]]) -> list[int]:
    ids: list[int] = []
    for value in customer_ids or ():
        if isinstance(value, bool) or not isinstance(value, int | str):
            errors["customer_ids"] = ["Customer ids must be integers."]
            return []
        try:
            number = int(value)
        except ValueError:
            errors["customer_ids"] = ["Customer ids must be integers."]
            return []
        if number not in ids:
            ids.append(number)
    return ids


def _id_text(ids: Sequence[int]) -> str:
    return ", ".join(str(i) for i in sorted(ids))


# --- running a job ----------------------------------------------------------------------


def report_job_run(*, job_id: uuid.UUID | str, worker: bool = True, final_attempt: bool = True) -> ReportJob | None:
    """Run one report job to completion: the body of the Celery task. Safe to repeat.

    A job that already succeeded (or failed) is left as it is. Otherwise it is marked
    running (attempts + 1) and its report is generated; the report and the job's success
    are committed in one transaction, under the customer's row lock, so a redelivered or
    concurrent duplicate finds the job succeeded and does nothing. A domain error or an
    unexpected exception marks the job failed with a readable message and leaves no report.
    Transient database errors propagate when `worker` (the task retries them with backoff)
    unless it is the task's `final_attempt`, which marks the job failed.
    Returns the job as it ends, or None when no such job exists.
    """
    pk = _job_pk(job_id)
    if pk is None:
        return None
    started = ReportJob.objects.filter(pk=pk, status__in=[JobStatus.QUEUED, JobStatus.RUNNING]).update(
        status=JobStatus.RUNNING,
        attempts=F("attempts") + 1,
        processed_orders=0,
        started_at=timezone.now(),
        finished_at=None,
        error="",
    )
    job = ReportJob.objects.select_related("requested_by").filter(pk=pk).first()
    if job is None:
        logger.warning("Report job %s does not exist; nothing to run.", job_id)
        return None
    if not started:
        return job  # already finished: a repeated delivery

    try:
        _job_generate(job)
    except BillingError as exc:
        _job_fail(job, error_text(exc))
    except TRANSIENT_DB_ERRORS as exc:
        if worker and not final_attempt:
            logger.warning("Report job %s hit a transient database error; it will be retried: %s", job.pk, exc)
            raise
        logger.exception("Report job %s failed on a database error", job.pk)
        _job_fail(job, f"The database was unavailable ({type(exc).__name__}: {exc}); the job gave up.")
    except Exception as exc:
        logger.exception("Report job %s failed unexpectedly", job.pk)
        _job_fail(job, f"Internal error while generating the report ({type(exc).__name__}); see the worker log.")
    job.refresh_from_db()
    return job


def _job_pk(job_id: uuid.UUID | str) -> uuid.UUID | None:
    key = parse_uuid(job_id)
    if key is None:
        logger.warning("Malformed report job id %r", job_id)
    return key


def _job_generate(job: ReportJob) -> None:
    progress = _ProgressWriter(
        job.pk, separate=_progress_alias() != DEFAULT_DB_ALIAS and not connection.in_atomic_block
    )
    with transaction.atomic():
        # Serialise with every other generation for this customer (report_generate takes the
        # same lock), then make sure no other delivery of this job finished meanwhile.
        list(Customer.objects.select_for_update().filter(pk=job.customer_id).values_list("pk", flat=True))
        status, report_id = ReportJob.objects.filter(pk=job.pk).values_list("status", "report_id").get()
        if report_id is not None:  # its report exists: link it, never generate a second one
            if status != JobStatus.SUCCEEDED:
                ReportJob.objects.filter(pk=job.pk).update(
                    status=JobStatus.SUCCEEDED, finished_at=timezone.now(), error=""
                )
            return
        if status != JobStatus.RUNNING:
            return
        # A job a command queued runs as the server (trusted, like the command) and only records
        # its user; one queued through an API runs as the user who asked for it.
        server_side = job.interface == Interface.COMMAND
        report = report_generate(
            actor=None if server_side else job.requested_by,
            created_by=job.requested_by if server_side else None,
            progress=progress,
            **_request_of(job).generate_arguments(),
        )
        total = progress.total if progress.calls else report.order_count + report.unbilled_order_count
        ReportJob.objects.filter(pk=job.pk).update(
            status=JobStatus.SUCCEEDED,
            report=report,
            processed_orders=total,
            total_orders=total,
            finished_at=timezone.now(),
            error="",
        )


def _request_of(job: ReportJob) -> ReportRequest:
    """What the job was asked to make (its row stores the request's fields)."""
    return ReportRequest(
        customer_id=job.customer_id,
        start_date=job.start_date,
        end_date=job.end_date,
        output_format=job.output_format,
        customer_service_ids=job.customer_service_ids,
        only_unbilled=job.only_unbilled,
        interface=job.interface,
        request_id=job.request_id,
    )


def _job_fail(job: ReportJob, message: str) -> None:
    ReportJob.objects.filter(pk=job.pk).exclude(status=JobStatus.SUCCEEDED).update(
        status=JobStatus.FAILED, error=message[:ERROR_MAX_LENGTH], finished_at=timezone.now()
    )


def _progress_alias() -> str:
    return PROGRESS_DB_ALIAS if PROGRESS_DB_ALIAS in settings.DATABASES else DEFAULT_DB_ALIAS


class _ProgressWriter:
    """report_generate's progress callback: stores processed/total on the job row.

    `separate`: write through the progress alias, a second connection in autocommit, so the
    numbers are visible to every process while the generation transaction is open. Otherwise
    (SQLite, or a job run inside a caller's transaction whose job row other connections may
    not see) only remember them: a write on the generation's own connection would become
    visible only at commit, where _job_generate stores the final numbers anyway, and on
    PostgreSQL that connection is busy streaming the report while this is called.
    """

    def __init__(self, job_id: uuid.UUID, *, separate: bool) -> None:
        self.job_id = job_id
        self.alias = _progress_alias() if separate else None
        self.processed = 0
        self.total = 0
        self.calls = 0
        self._last_write = 0.0
        self.delay = float(getattr(settings, "BILLING_JOB_PROGRESS_DELAY", 0.0) or 0.0)

    def __call__(self, processed: int, total: int) -> None:
        self.calls += 1
        self.processed, self.total = processed, total
        now = time.monotonic()
        if self.alias is not None and (
            self.calls == 1 or processed >= total or now - self._last_write >= PROGRESS_WRITE_INTERVAL
        ):
            self._last_write = now
            ReportJob.objects.using(self.alias).filter(pk=self.job_id).update(
                processed_orders=processed, total_orders=total
            )
        if self.delay > 0:
            time.sleep(self.delay)  # debug hook (BILLING_JOB_PROGRESS_DELAY), off by default


def _user_or_none(actor: Actor) -> Any:
    return actor if is_authenticated(actor) else None
