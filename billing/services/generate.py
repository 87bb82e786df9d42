"""The one entry point of a generate request from an API (docs/architecture.md, "The request path").

report_request_submit applies the generation rate limit, then makes the report now (plain, or
once per idempotency key) or queues a report job (asynchronous). REST's POST .../generate/ and
GraphQL's generateReport each make this one call with the ReportRequest they built.
"""

from __future__ import annotations

import dataclasses

from billing.errors import ValidationFailed
from billing.models import BillingReport, Customer, ReportJob
from billing.permissions import Actor, ensure_can_generate_for, is_authenticated
from billing.report_request import ReportRequest, customer_problem
from billing.services.idempotency import once_per_key
from billing.services.jobs import report_job_queue
from billing.services.rate_limit import generation_rate_limit_take
from billing.services.reports import load_rate_card, report_generate

__all__ = ["ReportSubmission", "report_job_submit", "report_request_submit", "report_request_validate"]


@dataclasses.dataclass(frozen=True)
class ReportSubmission:
    """The new report (or, asynchronous, its job); `replayed` when an earlier request with the
    same idempotency key made it and nothing new was done."""

    result: BillingReport | ReportJob
    replayed: bool = False


def report_request_submit(actor: Actor, request: ReportRequest) -> ReportSubmission:
    """Carry out an API's generate request as `actor`.

    Raises RateLimited when the actor's generation budget is spent (nothing else is checked),
    then what report_generate raises (PermissionDenied, ValidationFailed with every field error
    at once, AlreadyBilled, InvalidTransition) and IdempotencyConflict; nothing is written on
    error. A request with a key or an asynchronous one is validated before anything is locked.
    """
    generation_rate_limit_take(actor)
    if request.asynchronous:
        return _job_submit(actor, request)
    if request.idempotency_key is None:
        return ReportSubmission(report_generate(actor=actor, **request.generate_arguments()))
    report_request_validate(actor, request)
    report, replayed = once_per_key(
        actor=actor, request=request, make=lambda: report_generate(actor=actor, **request.generate_arguments())
    )
    return ReportSubmission(report, replayed)


def report_job_submit(actor: Actor, request: ReportRequest) -> ReportJob:
    """Queue `request` as a report job, without the rate limit (the server's own callers).

    Validates like report_generate (nothing written on error), then creates a QUEUED job sent to
    the workers once the transaction commits. With no broker (eager mode) the job runs in-process
    at that commit, so when this call is the outermost transaction the returned job is already
    finished. With an idempotency key the same key and request return the job of the first one.
    """
    submission = _job_submit(actor, dataclasses.replace(request, asynchronous=True))
    return submission.result  # type: ignore[return-value]


def _job_submit(actor: Actor, request: ReportRequest) -> ReportSubmission:
    report_request_validate(actor, request)
    job, replayed = once_per_key(actor=actor, request=request, make=lambda: report_job_queue(actor, request))
    job.refresh_from_db()  # in eager mode the job has run at the commit above
    return ReportSubmission(job, replayed)


def report_request_validate(actor: Actor, request: ReportRequest) -> None:
    """report_generate's checks and the key's, without generating (nothing locked or written).

    PermissionDenied first, so a user who may not generate for the customer learns nothing else;
    then ValidationFailed with every field error at once.
    """
    ensure_can_generate_for(actor, request.customer_id)
    errors = request.field_errors()
    key_errors = errors.pop("idempotency_key", None)
    if request.idempotency_key is not None and not is_authenticated(actor):
        key_errors = ["Idempotency keys need an authenticated user."]
    problem = customer_problem(Customer.objects.filter(pk=request.customer_id).first(), request.customer_id)
    if problem:
        errors["customer_id"] = [problem]
    elif request.customer_service_ids is not None:
        problem = load_rate_card(customer_id=request.customer_id).select(request.customer_service_ids)
        if problem:
            errors["customer_service_ids"] = [problem]
    if key_errors:
        errors["idempotency_key"] = key_errors
    if errors:
        raise ValidationFailed("Invalid report request.", fields=errors)
