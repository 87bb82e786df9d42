"""Idempotency keys: a request with a key is carried out once per (user, key).

Keys are arbitrated by the database: the IdempotencyKey row (unique per user and key) is inserted
first in the request's transaction; a concurrent request with the same key waits on that insert
and then replays the winner's result. See docs/background-jobs.md.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from typing import TypeVar

from django.conf import settings
from django.db import IntegrityError, transaction
from django.utils import timezone

from billing.errors import IdempotencyConflict, ValidationFailed
from billing.models import BillingReport, IdempotencyKey, ReportJob
from billing.permissions import Actor
from billing.report_request import ReportRequest

__all__ = ["idempotency_keys_delete_expired", "once_per_key"]

Result = TypeVar("Result", BillingReport, ReportJob)


@transaction.atomic
def once_per_key(*, actor: Actor, request: ReportRequest, make: Callable[[], Result]) -> tuple[Result, bool]:
    """`make()` in one transaction with the claim of the request's key: returns (result, replayed).

    Without a key, `make()` runs. The first request with a key runs it and remembers the key with
    the request's fingerprint, in the same transaction (a failure leaves no key behind). A later
    request with the same key and fingerprint gets that result back (replayed=True, nothing run);
    another fingerprint raises IdempotencyConflict. A synchronous request remembers its report,
    an asynchronous one its job.
    """
    key = request.idempotency_key
    if key is None:
        return make(), False
    row, created = _claim(actor=actor, key=key, request_hash=request.fingerprint())
    if not created:
        earlier = row.job if request.asynchronous else row.report
        if earlier is None:  # defensive: a request links its result in the transaction that claims the key
            raise _conflict(key)
        return earlier, True  # type: ignore[return-value]
    result = make()
    if isinstance(result, ReportJob):
        row.job = result
        row.save(update_fields=["job"])
    else:
        row.report = result
        row.save(update_fields=["report"])
    return result, False


def _claim(*, actor: Actor, key: str, request_hash: str) -> tuple[IdempotencyKey, bool]:
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


@transaction.atomic
def idempotency_keys_delete_expired(*, now: dt.datetime | None = None) -> int:
    """Delete every expired idempotency key; returns how many were deleted."""
    deleted, _ = IdempotencyKey.objects.filter(expires_at__lte=now or timezone.now()).delete()
    return deleted
