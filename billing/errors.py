"""The one list of billing errors, with stable codes shared by REST and GraphQL.

Services raise these; the DRF exception handler (rest_compat/errors.py) and the GraphQL
error types (graphql_schema/errors.py) are the only two places that translate them.
"""

from __future__ import annotations

from enum import StrEnum
from typing import Any


class ErrorCode(StrEnum):
    VALIDATION_ERROR = "VALIDATION_ERROR"
    NOT_FOUND = "NOT_FOUND"
    PERMISSION_DENIED = "PERMISSION_DENIED"
    AUTHENTICATION_REQUIRED = "AUTHENTICATION_REQUIRED"
    CSRF_FAILED = "CSRF_FAILED"
    METHOD_NOT_ALLOWED = "METHOD_NOT_ALLOWED"
    UNSUPPORTED_MEDIA_TYPE = "UNSUPPORTED_MEDIA_TYPE"
    RATE_LIMITED = "RATE_LIMITED"
    IDEMPOTENCY_CONFLICT = "IDEMPOTENCY_CONFLICT"
    ALREADY_BILLED = "ALREADY_BILLED"
    INVALID_REPORT_TRANSITION = "INVALID_REPORT_TRANSITION"
    INTERNAL_ERROR = "INTERNAL_ERROR"


class BillingError(Exception):
    """Base of every domain error: a stable code, a readable message, optional details."""

    code: ErrorCode = ErrorCode.INTERNAL_ERROR
    http_status: int = 500

    def __init__(self, message: str, *, details: dict[str, Any] | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.details = details or {}


class ValidationFailed(BillingError):
    """Bad input. `details` maps a field name to a list of messages."""

    code = ErrorCode.VALIDATION_ERROR
    http_status = 400

    def __init__(self, message: str = "Invalid input.", *, fields: dict[str, list[str]] | None = None) -> None:
        super().__init__(message, details=dict(fields or {}))

    @property
    def fields(self) -> dict[str, list[str]]:
        return self.details

    @classmethod
    def for_field(cls, field: str, message: str) -> ValidationFailed:
        return cls(message, fields={field: [message]})


class NotFound(BillingError):
    code = ErrorCode.NOT_FOUND
    http_status = 404


class PermissionDenied(BillingError):
    code = ErrorCode.PERMISSION_DENIED
    http_status = 403


class IdempotencyConflict(BillingError):
    code = ErrorCode.IDEMPOTENCY_CONFLICT
    http_status = 409


class AlreadyBilled(BillingError):
    """The generation would bill (order, rate-card line) pairs that another live report bills.

    details: {"conflicting_reports": [{"id", "status", "invoice_number", "start_date", "end_date",
    "pairs"}], "pair_count": total pairs}.
    """

    code = ErrorCode.ALREADY_BILLED
    http_status = 409


class InvalidTransition(BillingError):
    """The report's status does not allow this change (finalize twice, void a draft, ...)."""

    code = ErrorCode.INVALID_REPORT_TRANSITION
    http_status = 409


class RateLimited(BillingError):
    """Too many requests of one kind from one user; `retry_after` (seconds, or None when unknown)
    says when the next one is allowed. details: {"retry_after": seconds} when known."""

    code = ErrorCode.RATE_LIMITED
    http_status = 429

    def __init__(self, retry_after: int | None) -> None:
        message = "Too many requests." + (f" Retry in {retry_after} seconds." if retry_after is not None else "")
        super().__init__(message, details={"retry_after": retry_after} if retry_after is not None else {})
        self.retry_after = retry_after


def error_text(exc: BillingError, *, separator: str = " ") -> str:
    """An error as text for a log, a job row or a terminal: its message, then `field: messages`
    for each detail that says more than the message, parts joined by `separator`."""
    parts = [exc.message]
    for field, messages in exc.details.items():
        text = "; ".join(str(m) for m in messages) if isinstance(messages, list | tuple) else str(messages)
        if text and text != exc.message:
            parts.append(f"{field}: {text}")
    return separator.join(parts)
