"""Read access to report jobs and billing runs, scoped to the actor.

A job is visible to whoever may see its customer (billing.permissions.visible_customer_ids).
A billing run is visible when every customer it has a job for is visible to the actor.
"""

from __future__ import annotations

import datetime as dt
import uuid
from dataclasses import dataclass, field
from decimal import Decimal

from django.db.models import Count, Exists, OuterRef, Q, QuerySet, Sum

from billing.errors import NotFound, ValidationFailed
from billing.ids import parse_uuid
from billing.models import BillingRun, JobStatus, ReportJob, ReportStatus
from billing.periods import filter_date_errors
from billing.permissions import ALL, Actor, visible_customer_ids

__all__ = [
    "BillingRunSummary",
    "billing_run_get",
    "billing_run_summary",
    "billing_runs_visible_to",
    "jobs_for_run",
    "report_job_get",
    "report_job_latest",
    "report_job_list",
    "report_jobs_visible_to",
]

JOB_NOT_FOUND = "Report job not found."
RUN_NOT_FOUND = "Billing run not found."
CENT = Decimal("0.01")
ZERO = Decimal("0.00")


def report_jobs_visible_to(actor: Actor) -> QuerySet[ReportJob]:
    ids = visible_customer_ids(actor)
    queryset = ReportJob.objects.select_related("customer", "report", "requested_by")
    if ids is ALL:
        return queryset
    return queryset.filter(customer_id__in=ids)


def report_job_list(*, actor: Actor, customer_id: int | None = None) -> QuerySet[ReportJob]:
    """Jobs the actor may see, newest first; with customer_id only that customer's."""
    queryset = report_jobs_visible_to(actor)
    if customer_id is not None:
        queryset = queryset.filter(customer_id=customer_id)
    return queryset.order_by("-created_at", "-pk")


def report_job_get(*, actor: Actor, job_id: uuid.UUID | str) -> ReportJob:
    """The job, or NotFound when the id is malformed, unknown or not visible to the actor."""
    pk = parse_uuid(job_id)
    job = report_jobs_visible_to(actor).filter(pk=pk).first() if pk is not None else None
    if job is None:
        raise NotFound(JOB_NOT_FOUND)
    return job


def report_job_latest(*, actor: Actor, customer_id: int, start_date: dt.date, end_date: dt.date) -> ReportJob:
    """The most recently created job for this customer and period (NotFound when none).

    A date outside the accepted range (billing.periods) raises ValidationFailed."""
    errors = filter_date_errors(start_date=start_date, end_date=end_date)
    if errors:
        raise ValidationFailed("Invalid period.", fields=errors)
    job = (
        report_jobs_visible_to(actor)
        .filter(customer_id=customer_id, start_date=start_date, end_date=end_date)
        .order_by("-created_at", "-pk")
        .first()
    )
    if job is None:
        raise NotFound("No report job for this customer and period.")
    return job


def billing_runs_visible_to(actor: Actor) -> QuerySet[BillingRun]:
    ids = visible_customer_ids(actor)
    queryset = BillingRun.objects.select_related("requested_by")
    if ids is ALL:
        return queryset
    hidden_job = ReportJob.objects.filter(billing_run=OuterRef("pk")).exclude(customer_id__in=ids)
    return queryset.filter(~Exists(hidden_job))


def billing_run_get(*, actor: Actor, run_id: uuid.UUID | str) -> BillingRun:
    """The run, or NotFound when the id is malformed, unknown or not visible to the actor."""
    pk = parse_uuid(run_id)
    run = billing_runs_visible_to(actor).filter(pk=pk).first() if pk is not None else None
    if run is None:
        raise NotFound(RUN_NOT_FOUND)
    return run


def jobs_for_run(*, run: BillingRun) -> QuerySet[ReportJob]:
    """The run's jobs, by customer name."""
    return (
        ReportJob.objects.filter(billing_run=run)
        .select_related("customer", "report")
        .order_by("customer__company_name", "customer_id", "pk")
    )


@dataclass(frozen=True)
class BillingRunSummary:
    """Where a billing run stands: jobs per status and what its reports bill."""

    run: BillingRun
    total_jobs: int
    queued: int
    running: int
    succeeded: int
    failed: int
    processed_orders: int
    total_orders: int
    total_billed: Decimal
    """Sum of the succeeded jobs' report totals (customers may use different currencies)."""
    billed_by_currency: dict[str, Decimal] = field(default_factory=dict)
    superseded: int = 0
    """Succeeded jobs whose report has since been superseded by a newer one."""

    @property
    def finished(self) -> bool:
        return self.queued == 0 and self.running == 0

    @property
    def counts(self) -> dict[str, int]:
        return {
            JobStatus.QUEUED: self.queued,
            JobStatus.RUNNING: self.running,
            JobStatus.SUCCEEDED: self.succeeded,
            JobStatus.FAILED: self.failed,
        }


def billing_run_summary(*, run: BillingRun) -> BillingRunSummary:
    """Counts and totals of a run, in two queries whatever its size."""
    jobs = ReportJob.objects.filter(billing_run=run).order_by()
    succeeded = Q(status=JobStatus.SUCCEEDED, report__isnull=False)
    row = jobs.aggregate(
        total_jobs=Count("pk"),
        queued=Count("pk", filter=Q(status=JobStatus.QUEUED)),
        running=Count("pk", filter=Q(status=JobStatus.RUNNING)),
        succeeded=Count("pk", filter=Q(status=JobStatus.SUCCEEDED)),
        failed=Count("pk", filter=Q(status=JobStatus.FAILED)),
        superseded=Count("pk", filter=succeeded & Q(report__status=ReportStatus.SUPERSEDED)),
        processed_orders=Sum("processed_orders"),
        total_orders=Sum("total_orders"),
        total_billed=Sum("report__total_amount", filter=succeeded),
    )
    by_currency = {
        currency: amount.quantize(CENT)
        for currency, amount in jobs.filter(succeeded)
        .values_list("report__currency")
        .annotate(amount=Sum("report__total_amount"))
        .order_by("report__currency")
        .values_list("report__currency", "amount")
    }
    return BillingRunSummary(
        run=run,
        total_jobs=row["total_jobs"],
        queued=row["queued"],
        running=row["running"],
        succeeded=row["succeeded"],
        failed=row["failed"],
        processed_orders=row["processed_orders"] or 0,
        total_orders=row["total_orders"] or 0,
        total_billed=row["total_billed"].quantize(CENT) if row["total_billed"] is not None else ZERO,
        billed_by_currency=by_currency,
        superseded=row["superseded"],
    )
