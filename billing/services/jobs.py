"""Background report jobs, month-end billing runs and idempotent generation.

- report_job_submit: validate a generate request, persist a QUEUED ReportJob and hand it to
  Celery after the transaction commits (with no broker the job runs in-process right then).
- report_job_run: the task body. Report creation and the job's success marking are one
  transaction, so a job yields exactly one report however often it is delivered.
- billing_run_start: one job per customer for one period (month-end).
- report_generate_idempotent: synchronous generation guarded by an idempotency key.

Idempotency keys are arbitrated by the database: the IdempotencyKey row (unique per user and
key) is inserted first in the request's transaction; a concurrent request with the same key
waits on that insert and then replays the winner's result. See docs/background-jobs.md.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import json
import logging
import time
import uuid
from collections.abc import Callable, Sequence
from functools import partial
from typing import Any

from django.conf import settings
from django.db import DEFAULT_DB_ALIAS, IntegrityError, InterfaceError, OperationalError, connection, transaction
from django.db.models import F
from django.utils import timezone
from kombu.exceptions import OperationalError as BrokerUnavailable

from billing.errors import BillingError, IdempotencyConflict, PermissionDenied, ValidationFailed, error_text
from billing.models import (
    BillingReport,
    BillingRun,
    Customer,
    IdempotencyKey,
    Interface,
    JobStatus,
    OutputFormat,
    ReportJob,
    ReportStatus,
)
from billing.periods import period_errors
from billing.permissions import ALL, Actor, can_generate, is_authenticated, visible_customer_ids
from billing.services.reports import report_generate, report_request_validate

logger = logging.getLogger(__name__)

__all__ = [
    "billing_run_start",
    "idempotency_keys_delete_expired",
    "report_generate_idempotent",
    "report_job_run",
    "report_job_submit",
    "report_job_submit_replayable",
]

# Progress is written through this alias when it is configured (PostgreSQL): a separate
# connection whose updates commit at once, while the generation transaction stays open.
PROGRESS_DB_ALIAS = "progress"
# At most one progress write per interval (plus the first and the last one).
PROGRESS_WRITE_INTERVAL = 0.5  # seconds
IDEMPOTENCY_KEY_MAX_LENGTH = 255
ERROR_MAX_LENGTH = 2000
TRANSIENT_DB_ERRORS = (OperationalError, InterfaceError)

ProgressCallback = Callable[[int, int], None]


# --- submitting jobs --------------------------------------------------------------------


def report_job_submit(**arguments: Any) -> ReportJob:
    """Queue a report generation and return its job (the arguments of report_job_submit_replayable).

    Validates like report_generate (ValidationFailed / PermissionDenied, nothing written),
    then creates a QUEUED job that is sent to the workers once the transaction commits. With
    no broker (eager mode) the job runs in-process at that commit, so when this call is the
    outermost transaction the returned job is already finished. With an idempotency key the
    same key and parameters return the job of the first request; other parameters raise
    IdempotencyConflict.
    """
    job, _replayed = report_job_submit_replayable(**arguments)
    return job


def report_job_submit_replayable(
    *,
    actor: Actor,
    customer_id: int,
    start_date: dt.date,
    end_date: dt.date,
    output_format: str = OutputFormat.JSON,
    customer_service_ids: Sequence[int] | None = None,
    idempotency_key: str | None = None,
    interface: str,
    request_id: str = "",
    only_unbilled: bool = False,
) -> tuple[ReportJob, bool]:
    """report_job_submit, returning (job, replayed): replayed is True when an earlier request with
    the same idempotency key created the job (nothing new was queued). `interface` is required."""
    _validate_request(
        actor=actor,
        customer_id=customer_id,
        start_date=start_date,
        end_date=end_date,
        output_format=output_format,
        customer_service_ids=customer_service_ids,
        idempotency_key=idempotency_key,
    )
    job, replayed = _job_submit(
        actor=actor,
        customer_id=customer_id,
        start_date=start_date,
        end_date=end_date,
        output_format=output_format,
        customer_service_ids=customer_service_ids,
        idempotency_key=idempotency_key,
        interface=interface,
        request_id=request_id,
        only_unbilled=only_unbilled,
    )
    job.refresh_from_db()  # in eager mode the job has run at the commit above
    return job, replayed


@transaction.atomic
def _job_submit(
    *,
    actor: Actor,
    customer_id: int,
    start_date: dt.date,
    end_date: dt.date,
    output_format: str,
    customer_service_ids: Sequence[int] | None,
    idempotency_key: str | None,
    interface: str,
    request_id: str,
    only_unbilled: bool = False,
) -> tuple[ReportJob, bool]:
    key_row = None
    if idempotency_key is not None:
        request_hash = _request_hash(
            customer_id=customer_id,
            start_date=start_date,
            end_date=end_date,
            output_format=output_format,
            customer_service_ids=customer_service_ids,
            is_async=True,
            only_unbilled=only_unbilled,
        )
        key_row, created = _idempotency_key_claim(actor=actor, key=idempotency_key, request_hash=request_hash)
        if not created:
            if key_row.job is None:  # defensive: async requests always link their job
                raise _conflict(idempotency_key)
            return key_row.job, True
    job = ReportJob.objects.create(
        customer_id=customer_id,
        start_date=start_date,
        end_date=end_date,
        output_format=output_format,
        customer_service_ids=_canonical_ids(customer_service_ids),
        only_unbilled=only_unbilled,
        status=JobStatus.QUEUED,
        requested_by=_user_or_none(actor),
        interface=interface,
        request_id=request_id[:64],
    )
    if key_row is not None:
        key_row.job = job
        key_row.save(update_fields=["job"])
    transaction.on_commit(partial(_dispatch, [job.pk]))
    return job, False


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
    this process (eager mode); with a broker, poll billing_run_summary instead.
    """
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
        targets = ids
    else:
        customers = Customer.objects.filter(is_active=True)
        if visible is not ALL:
            customers = customers.filter(pk__in=visible)
        targets = list(customers.order_by("company_name", "pk").values_list("pk", flat=True))

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
    try:
        return job_id if isinstance(job_id, uuid.UUID) else uuid.UUID(str(job_id))
    except ValueError:
        logger.warning("Malformed report job id %r", job_id)
        return None


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
            customer_id=job.customer_id,
            start_date=job.start_date,
            end_date=job.end_date,
            output_format=job.output_format,
            customer_service_ids=job.customer_service_ids,
            only_unbilled=job.only_unbilled,
            interface=job.interface,
            request_id=job.request_id,
            progress=progress,
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


# --- synchronous generation with an idempotency key -------------------------------------


def report_generate_idempotent(
    *,
    actor: Actor,
    idempotency_key: str,
    customer_id: int,
    start_date: dt.date,
    end_date: dt.date,
    output_format: str = OutputFormat.JSON,
    customer_service_ids: Sequence[int] | None = None,
    interface: str,
    request_id: str = "",
    only_unbilled: bool = False,
) -> tuple[BillingReport, bool]:
    """Generate a report once per (actor, key): returns (report, replayed).

    The first request with a key generates (report_generate) and remembers the key with a
    hash of its parameters, in the same transaction. Later requests with the same key and
    parameters get that report back (replayed=True, nothing written); different parameters
    raise IdempotencyConflict. A concurrent request with the same key waits for the first
    to commit, then replays it. A failed generation leaves no key behind.
    """
    _validate_request(
        actor=actor,
        customer_id=customer_id,
        start_date=start_date,
        end_date=end_date,
        output_format=output_format,
        customer_service_ids=customer_service_ids,
        idempotency_key=idempotency_key,
    )
    return _generate_with_key(
        actor=actor,
        idempotency_key=idempotency_key,
        customer_id=customer_id,
        start_date=start_date,
        end_date=end_date,
        output_format=output_format,
        customer_service_ids=customer_service_ids,
        interface=interface,
        request_id=request_id,
        only_unbilled=only_unbilled,
    )


@transaction.atomic
def _generate_with_key(
    *,
    actor: Actor,
    idempotency_key: str,
    customer_id: int,
    start_date: dt.date,
    end_date: dt.date,
    output_format: str,
    customer_service_ids: Sequence[int] | None,
    interface: str,
    request_id: str,
    only_unbilled: bool = False,
) -> tuple[BillingReport, bool]:
    request_hash = _request_hash(
        customer_id=customer_id,
        start_date=start_date,
        end_date=end_date,
        output_format=output_format,
        customer_service_ids=customer_service_ids,
        is_async=False,
        only_unbilled=only_unbilled,
    )
    key_row, created = _idempotency_key_claim(actor=actor, key=idempotency_key, request_hash=request_hash)
    if not created:
        if key_row.report is None:  # defensive: synchronous requests always link their report
            raise _conflict(idempotency_key)
        return key_row.report, True
    report = report_generate(
        actor=actor,
        customer_id=customer_id,
        start_date=start_date,
        end_date=end_date,
        output_format=output_format,
        customer_service_ids=customer_service_ids,
        interface=interface,
        request_id=request_id,
        only_unbilled=only_unbilled,
    )
    key_row.report = report
    key_row.save(update_fields=["report"])
    return report, False


# --- idempotency keys -------------------------------------------------------------------


def _idempotency_key_claim(*, actor: Actor, key: str, request_hash: str) -> tuple[IdempotencyKey, bool]:
    """Insert the key row first; on a unique violation replay or refuse the existing one.

    Must run inside the caller's transaction. The insert is attempted in a savepoint: when
    another transaction holds the same (user, key), PostgreSQL makes this insert wait for it
    and then raise IntegrityError; the row it committed is then read (and locked) here.
    """
    user_id = getattr(actor, "pk", None)
    if user_id is None:  # callers validate this first
        raise ValidationFailed.for_field("idempotency_key", "Idempotency keys need an authenticated user.")
    now = timezone.now()
    expires_at = now + dt.timedelta(hours=settings.IDEMPOTENCY_KEY_TTL_HOURS)
    for _ in range(3):
        try:
            with transaction.atomic():
                row = IdempotencyKey.objects.create(
                    user_id=user_id, key=key, request_hash=request_hash, expires_at=expires_at
                )
            return row, True
        except IntegrityError:
            pass
        existing = (
            IdempotencyKey.objects.select_for_update(of=("self",))
            .select_related("report", "job")
            .filter(user_id=user_id, key=key)
            .first()
        )
        if existing is None:
            continue  # removed meanwhile (expired): claim it again
        if existing.expires_at <= now:
            existing.delete()
            continue
        if existing.request_hash != request_hash:
            raise _conflict(key)
        return existing, False
    raise IdempotencyConflict(
        f"Idempotency key {key!r} is being used by another request; retry it.",
        details={"idempotency_key": [key]},
    )


def _conflict(key: str) -> IdempotencyConflict:
    message = f"Idempotency key {key!r} was used with different parameters."
    return IdempotencyConflict(message, details={"idempotency_key": [message]})


def _idempotency_key_errors(*, actor: Actor, key: str | None) -> dict[str, list[str]]:
    if key is None:
        return {}
    if not is_authenticated(actor):
        return {"idempotency_key": ["Idempotency keys need an authenticated user."]}
    if not isinstance(key, str) or not key:
        return {"idempotency_key": ["Idempotency key must be a non-empty string."]}
    if len(key) > IDEMPOTENCY_KEY_MAX_LENGTH:
        return {"idempotency_key": [f"Idempotency key must be at most {IDEMPOTENCY_KEY_MAX_LENGTH} characters."]}
    if not all(" " <= char <= "~" for char in key):
        return {"idempotency_key": ["Idempotency key must contain printable ASCII characters only."]}
    return {}


def _validate_request(
    *,
    actor: Actor,
    customer_id: int,
    start_date: dt.date,
    end_date: dt.date,
    output_format: str,
    customer_service_ids: Sequence[int] | None,
    idempotency_key: str | None,
) -> None:
    """report_generate's validation plus the key's, every field error at once."""
    key_errors = _idempotency_key_errors(actor=actor, key=idempotency_key)
    try:
        report_request_validate(
            actor=actor,
            customer_id=customer_id,
            start_date=start_date,
            end_date=end_date,
            output_format=output_format,
            customer_service_ids=customer_service_ids,
        )
    except ValidationFailed as exc:
        if key_errors:
            raise ValidationFailed(exc.message, fields={**exc.fields, **key_errors}) from exc
        raise
    if key_errors:
        raise ValidationFailed("Invalid report request.", fields=key_errors)


def _canonical_ids(ids: Sequence[int] | None) -> list[int] | None:
    return None if ids is None else sorted({int(i) for i in ids})


def _request_hash(
    *,
    customer_id: int,
    start_date: dt.date,
    end_date: dt.date,
    output_format: str,
    customer_service_ids: Sequence[int] | None,
    is_async: bool,
    only_unbilled: bool = False,
) -> str:
    """SHA-256 of the request's parameters as canonical JSON (only_unbilled only when set, so
    keys stored before it existed keep their hash)."""
    payload: dict[str, Any] = {
        "async": is_async,
        "customer_id": int(customer_id),
        "customer_service_ids": _canonical_ids(customer_service_ids),
        "end_date": end_date.isoformat(),
        "output_format": str(output_format),
        "start_date": start_date.isoformat(),
    }
    if only_unbilled:
        payload["only_unbilled"] = True
    canonical = json.dumps(payload, sort_keys=True, separators=(",", ":"))
    return hashlib.sha256(canonical.encode()).hexdigest()


@transaction.atomic
def idempotency_keys_delete_expired(*, now: dt.datetime | None = None) -> int:
    """Delete every expired idempotency key; returns how many were deleted."""
    deleted, _ = IdempotencyKey.objects.filter(expires_at__lte=now or timezone.now()).delete()
    return deleted


def _user_or_none(actor: Actor) -> Any:
    return actor if is_authenticated(actor) else None
