"""The one translation of billing errors into GraphQL.

Domain failures (billing.errors) keep their stable codes, the same the REST facade puts in its
envelope. Mutations return them as typed members of their result union (``ValidationError``,
``NotFoundError``, ...); a query field that fails raises a GraphQL error whose
``extensions.code`` carries the same code. Anything unexpected is masked: the client sees
"Internal server error." with code INTERNAL_ERROR, never a message or a stack trace from the
server; the original is logged.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from typing import Any, TypeVar

import strawberry
from django.core.exceptions import PermissionDenied as DjangoPermissionDenied
from graphql import GraphQLError, GraphQLSyntaxError
from strawberry.extensions import MaskErrors
from strawberry.utils.str_converters import to_camel_case

from billing.errors import (
    AlreadyBilled,
    BillingError,
    IdempotencyConflict,
    InvalidTransition,
    NotFound,
    PermissionDenied,
    RateLimited,
    ValidationFailed,
)
from billing.errors import ErrorCode as BillingErrorCode
from graphql_schema.enums import ErrorCode

logger = logging.getLogger("graphql_schema")

INTERNAL_ERROR_MESSAGE = "Internal server error."
# Codes of errors about the request itself rather than a field (no `path`): the document could
# not be parsed, is not valid against the schema (or its variables do not fit), or exceeds a limit
# (graphql_schema/limits.py sets QUERY_TOO_COMPLEX itself).
PARSE_FAILED = "GRAPHQL_PARSE_FAILED"
VALIDATION_FAILED = "GRAPHQL_VALIDATION_FAILED"
AUTHENTICATION_REQUIRED_MESSAGE = "Authentication required."


@strawberry.interface(description="A failure the client can act on. `code` is shared with the REST facade.")
class Error:
    code: ErrorCode
    message: str


@strawberry.type(description="Messages about one input field.")
class FieldError:
    field: str = strawberry.field(description="The input field, as named in the GraphQL input (camelCase).")
    messages: list[str]


@strawberry.type(description="The input was invalid; `fields` lists the messages per input field.")
class ValidationError(Error):
    fields: list[FieldError]


@strawberry.type(description="The object does not exist, or the current user may not see it.")
class NotFoundError(Error):
    pass


@strawberry.type(description="The current user may not perform this operation.")
class PermissionDeniedError(Error):
    pass


@strawberry.type(description="The request carries no valid session or API token.")
class AuthenticationRequiredError(Error):
    pass


@strawberry.type(description="The idempotency key was already used with different parameters.")
class IdempotencyConflictError(Error):
    pass


@strawberry.type(description="A live report that already bills some of the requested (order, rate-card line) pairs.")
class ConflictingReport:
    id: strawberry.ID
    status: str
    invoice_number: str | None
    start_date: str
    end_date: str
    pairs: int = strawberry.field(description="How many of the requested pairs it bills.")


@strawberry.type(
    description="The period would bill (order, rate-card line) pairs another live report bills; "
    "ask onlyUnbilled to bill the rest."
)
class AlreadyBilledError(Error):
    conflicting_reports: list[ConflictingReport]
    pair_count: int


@strawberry.type(description="The report's status does not allow this (finalize twice, void a draft, ...).")
class InvalidTransitionError(Error):
    pass


@strawberry.type(
    description="Too many generate requests: generateReport, startBillingRun and REST's generate draw on one "
    "budget per user (GENERATE_RATE_LIMIT). `code` is RATE_LIMITED, as in REST's 429."
)
class RateLimitedError(Error):
    retry_after: int | None = strawberry.field(
        description="Seconds until the next request is allowed (null when that cannot be said)."
    )


ERROR_TYPES: tuple[type, ...] = (
    ValidationError,
    NotFoundError,
    PermissionDeniedError,
    AuthenticationRequiredError,
    IdempotencyConflictError,
    AlreadyBilledError,
    InvalidTransitionError,
    RateLimitedError,
)


def graphql_field_name(name: str) -> str:
    """A service's field name (snake_case) as the client wrote it in the GraphQL input."""
    return to_camel_case(name)


def _field_errors(fields: dict[str, list[str]]) -> list[FieldError]:
    return [FieldError(field=graphql_field_name(name), messages=list(messages)) for name, messages in fields.items()]


def error_type_for(exc: BillingError) -> Error:
    """The typed GraphQL error for a domain error, with the same code and message."""
    code = ErrorCode(exc.code.value)
    if isinstance(exc, ValidationFailed):
        return ValidationError(code=code, message=exc.message, fields=_field_errors(exc.fields))
    if isinstance(exc, NotFound):
        return NotFoundError(code=code, message=exc.message)
    if isinstance(exc, PermissionDenied):
        return PermissionDeniedError(code=code, message=exc.message)
    if isinstance(exc, IdempotencyConflict):
        return IdempotencyConflictError(code=code, message=exc.message)
    if isinstance(exc, AlreadyBilled):
        reports = [
            ConflictingReport(
                id=strawberry.ID(item["id"]),
                status=item["status"],
                invoice_number=item["invoice_number"] or None,
                start_date=item["start_date"],
                end_date=item["end_date"],
                pairs=item["pairs"],
            )
            for item in exc.details["conflicting_reports"]
        ]
        return AlreadyBilledError(
            code=code, message=exc.message, conflicting_reports=reports, pair_count=exc.details["pair_count"]
        )
    if isinstance(exc, InvalidTransition):
        return InvalidTransitionError(code=code, message=exc.message)
    if isinstance(exc, RateLimited):
        return RateLimitedError(code=code, message=exc.message, retry_after=exc.retry_after)
    raise exc  # an unexpected domain error is an internal error: masked by the extension


def validation_error(message: str, *, fields: dict[str, list[str]]) -> ValidationError:
    """A ValidationError raised at the API edge (e.g. a batch too large), built like the domain's."""
    return error_type_for(ValidationFailed(message, fields=fields))  # type: ignore[return-value]


def authentication_required() -> AuthenticationRequiredError:
    return AuthenticationRequiredError(
        code=ErrorCode(BillingErrorCode.AUTHENTICATION_REQUIRED.value), message=AUTHENTICATION_REQUIRED_MESSAGE
    )


def permission_denied(message: str) -> PermissionDeniedError:
    return PermissionDeniedError(code=ErrorCode(BillingErrorCode.PERMISSION_DENIED.value), message=message)


T = TypeVar("T")


def returning_errors(call: Callable[[], T]) -> T | Error:
    """Run a service call; a domain error becomes the typed error a mutation's union returns."""
    try:
        return call()
    except BillingError as exc:
        return error_type_for(exc)


# --- errors raised from query fields ------------------------------------------------------


def graphql_error(code: BillingErrorCode, message: str, **extra: Any) -> GraphQLError:
    """A GraphQL error a query field raises deliberately; shown to the client as is."""
    return GraphQLError(message, extensions={"code": code.value, **extra})


def _translated(error: GraphQLError) -> GraphQLError:
    original = error.original_error
    if isinstance(original, BillingError):
        extensions: dict[str, Any] = {"code": original.code.value}
        if isinstance(original, ValidationFailed):
            extensions["fields"] = [
                {"field": item.field, "messages": item.messages} for item in _field_errors(original.fields)
            ]
        message = original.message
    elif isinstance(original, DjangoPermissionDenied):
        extensions = {"code": BillingErrorCode.PERMISSION_DENIED.value}
        message = str(original) or "Permission denied."
    else:
        extensions = {"code": BillingErrorCode.INTERNAL_ERROR.value}
        message = INTERNAL_ERROR_MESSAGE
    return _rewritten(error, message, extensions, None)


def _with_document_code(error: GraphQLError) -> GraphQLError:
    code = PARSE_FAILED if isinstance(error, GraphQLSyntaxError) else VALIDATION_FAILED
    return _rewritten(error, error.message, {**(error.extensions or {}), "code": code}, error.original_error)


def _rewritten(
    error: GraphQLError, message: str, extensions: dict[str, Any], original_error: Exception | None
) -> GraphQLError:
    """`error` at the same place in the document and the result, with another message and extensions."""
    return GraphQLError(
        message=message,
        nodes=error.nodes,
        source=error.source,
        positions=error.positions,
        path=error.path,
        original_error=original_error,
        extensions=extensions,
    )


def _is_request_error(error: GraphQLError) -> bool:
    """An error about the document or its variables (no path): the GraphQL machinery's own, or a
    scalar refusing a value (a ValueError or TypeError of its parser, whose message it carries)."""
    return error.path is None and (
        error.original_error is None or isinstance(error.original_error, GraphQLError | ValueError | TypeError)
    )


def _is_uncoded_document_error(error: GraphQLError) -> bool:
    return _is_request_error(error) and not (error.extensions or {}).get("code")


def is_expected(error: GraphQLError) -> bool:
    """Errors meant for the client: document errors, deliberate GraphQL errors, domain errors."""
    original = error.original_error
    return (
        original is None
        or isinstance(original, GraphQLError | BillingError | DjangoPermissionDenied)
        or _is_request_error(error)
    )


def _needs_translation(error: GraphQLError) -> bool:
    original = error.original_error
    return original is not None and not isinstance(original, GraphQLError) and not _is_request_error(error)


def with_codes(errors: list[GraphQLError] | None) -> list[GraphQLError] | None:
    """`errors` where each document error (syntax, validation, variables: no path) has its code."""
    if not errors:
        return errors
    return [_with_document_code(error) if _is_uncoded_document_error(error) else error for error in errors]


class BillingErrorsExtension(MaskErrors):
    """Translate domain errors to coded GraphQL errors and mask every unexpected one."""

    def __init__(self) -> None:
        super().__init__(should_mask_error=_needs_translation, error_message=INTERNAL_ERROR_MESSAGE)

    def anonymise_error(self, error: GraphQLError) -> GraphQLError:
        return _translated(error)


__all__ = [
    "ERROR_TYPES",
    "AuthenticationRequiredError",
    "BillingErrorsExtension",
    "Error",
    "FieldError",
    "IdempotencyConflictError",
    "NotFoundError",
    "PermissionDeniedError",
    "RateLimitedError",
    "ValidationError",
    "authentication_required",
    "error_type_for",
    "graphql_error",
    "is_expected",
    "permission_denied",
    "returning_errors",
    "validation_error",
    "with_codes",
]
