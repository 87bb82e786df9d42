"""Celery tasks: thin wrappers over billing services (the app lives in backend/celery.py)."""

from __future__ import annotations

from celery import shared_task
from django.db import InterfaceError, OperationalError

from billing.services.idempotency import idempotency_keys_delete_expired
from billing.services.jobs import report_job_run


@shared_task(
    bind=True,
    acks_late=True,
    reject_on_worker_lost=True,
    autoretry_for=(OperationalError, InterfaceError),
    retry_backoff=True,
    retry_backoff_max=120,
    retry_jitter=True,
    max_retries=5,
    ignore_result=True,
)
def generate_report_job(self, job_id: str) -> str | None:
    """Run one report job. Late acknowledgement: a worker killed mid-job gets it redelivered.

    The body is idempotent (report_job_run): a redelivered job that already succeeded does
    nothing; one left running by a dead attempt runs again from scratch.
    """
    # Eager mode (no broker) has nothing to redeliver a retry: its one attempt is the last.
    final_attempt = bool(self.request.is_eager) or self.request.retries >= self.max_retries
    job = report_job_run(job_id=job_id, worker=True, final_attempt=final_attempt)
    return job.status if job is not None else None


@shared_task(ignore_result=True)
def cleanup_expired_idempotency_keys() -> int:
    """Delete expired idempotency keys (schedule it, e.g. hourly; expired keys are also
    replaced on use, so this only keeps the table small)."""
    return idempotency_keys_delete_expired()
