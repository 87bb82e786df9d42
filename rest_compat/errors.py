"""Every error of the facade in one envelope: {"success": false, "error": {code, message, details}}.

`exception_handler` is DRF's EXCEPTION_HANDLER: it translates billing errors (billing.errors,
the codes GraphQL uses too) and DRF/Django exceptions. What DRF never sees is covered by
`not_found` / `server_error` (handler404 / handler500 for /api/ paths) and `csrf_failure`
(CSRF_FAILURE_VIEW). Unexpected exceptions become a 500 INTERNAL_ERROR whose body carries
only the request id; the exception itself is logged with that id.
"""

from __future__ import annotations

import logging
from typing import Any

from django.core.exceptions import PermissionDenied as DjangoPermissionDenied
from django.http import Http404, HttpRequest, HttpResponse
from django.views import defaults as django_defaults
from django.views.csrf import csrf_failure as django_csrf_failure
from rest_framework import exceptions as drf
from rest_framework.response import Response
from rest_framework.settings import api_settings
from rest_framework.views import set_rollback

from billing.errors import BillingError, ErrorCode, RateLimited
from billing.jsonencoding import dumps

logger = logging.getLogger("rest_compat")

API_PREFIX = "/api/"
# The legacy frontend's paths (/api/v1/billing-v2/reports/..., /api/v1/customers/, /api/v1/auth/...).
LEGACY_PREFIX = "/api/v1/"

INTERNAL_ERROR_MESSAGE = "An unexpected error occurred. Quote the request id when reporting it."

_CODE_BY_STATUS: dict[int, ErrorCode] = {
    400: ErrorCode.VALIDATION_ERROR,
    401: ErrorCode.AUTHENTICATION_REQUIRED,
    403: ErrorCode.PERMISSION_DENIED,
    404: ErrorCode.NOT_FOUND,
    405: ErrorCode.METHOD_NOT_ALLOWED,
    409: ErrorCode.IDEMPOTENCY_CONFLICT,
    415: ErrorCode.UNSUPPORTED_MEDIA_TYPE,
    429: ErrorCode.RATE_LIMITED,
}


def is_api_path(path: str) -> bool:
    return path.startswith(API_PREFIX)


def is_legacy_path(path: str) -> bool:
    return path.startswith(LEGACY_PREFIX)


def error_body(code: ErrorCode | str, message: str, details: dict[str, Any] | None = None) -> dict[str, Any]:
    return {"success": False, "error": {"code": str(code), "message": message, "details": details or {}}}


def for_path(body: dict[str, Any], path: str) -> dict[str, Any]:
    """The error envelope as sent on `path`: on the legacy prefix also with `message` and `detail`
    at the top level, where the legacy frontend (and simplejwt's clients) read an error's text."""
    if is_legacy_path(path):
        body["message"] = body["detail"] = body["error"]["message"]
    return body


def request_id_of(request: Any) -> str:
    return getattr(request, "request_id", "") or ""


def field_errors(detail: Any, prefix: str = "") -> dict[str, list[str]]:
    """DRF ValidationError detail as {field: [messages]}; nested fields become 'field.0.sub'."""
    errors: dict[str, list[str]] = {}
    if isinstance(detail, dict):
        for key, value in detail.items():
            name = f"{prefix}.{key}" if prefix else str(key)
            if key == api_settings.NON_FIELD_ERRORS_KEY and prefix:
                name = prefix
            for field, messages in field_errors(value, name).items():
                errors.setdefault(field, []).extend(messages)
    elif isinstance(detail, list):
        if all(not isinstance(item, dict | list) for item in detail):
            errors[prefix or api_settings.NON_FIELD_ERRORS_KEY] = [str(item) for item in detail]
        else:
            for index, item in enumerate(detail):
                for field, messages in field_errors(item, f"{prefix}.{index}" if prefix else str(index)).items():
                    errors.setdefault(field, []).extend(messages)
    else:
        errors[prefix or api_settings.NON_FIELD_ERRORS_KEY] = [str(detail)]
    return errors


def _is_csrf_failure(exc: drf.PermissionDenied) -> bool:
    # DRF's SessionAuthentication.enforce_csrf raises PermissionDenied("CSRF Failed: <reason>").
    return str(exc.detail).startswith("CSRF Failed")


def _detail_text(detail: Any) -> str:
    """The human text of an exception's detail; simplejwt's token errors carry a dict of detail and code."""
    if isinstance(detail, dict) and "detail" in detail:
        return str(detail["detail"])
    return str(detail)


def exception_handler(exc: Exception, context: dict[str, Any]) -> Response:
    """DRF EXCEPTION_HANDLER: always a Response with the error envelope, never None."""
    request = context.get("request")
    headers: dict[str, str] = {}

    if isinstance(exc, Http404):
        exc = drf.NotFound()
    elif isinstance(exc, DjangoPermissionDenied):
        exc = drf.PermissionDenied()

    if isinstance(exc, BillingError):
        status, body = exc.http_status, error_body(exc.code, exc.message, exc.details)
        if isinstance(exc, RateLimited) and exc.retry_after is not None:
            headers["Retry-After"] = str(exc.retry_after)
    elif isinstance(exc, drf.ValidationError):
        status, body = 400, error_body(ErrorCode.VALIDATION_ERROR, "Invalid input.", field_errors(exc.detail))
    elif isinstance(exc, drf.ParseError):
        status, body = (
            400,
            error_body(ErrorCode.VALIDATION_ERROR, "Malformed request body.", {"body": [str(exc.detail)]}),
        )
    elif isinstance(exc, drf.NotAuthenticated | drf.AuthenticationFailed):
        status = exc.status_code
        code = ErrorCode.AUTHENTICATION_REQUIRED if status == 401 else ErrorCode.PERMISSION_DENIED
        body = error_body(code, _detail_text(exc.detail))
        auth_header = getattr(exc, "auth_header", None)
        if auth_header:
            headers["WWW-Authenticate"] = auth_header
    elif isinstance(exc, drf.PermissionDenied) and _is_csrf_failure(exc):
        status, body = 403, error_body(ErrorCode.CSRF_FAILED, str(exc.detail))
    elif isinstance(exc, drf.APIException) and exc.status_code < 500:
        status = exc.status_code
        body = error_body(_CODE_BY_STATUS.get(status, ErrorCode.VALIDATION_ERROR), str(exc.detail))
    else:
        request_id = request_id_of(request)
        view = context.get("view")
        logger.error(
            "Unhandled error in %s (request id %s)",
            type(view).__name__ if view is not None else "view",
            request_id,
            exc_info=(type(exc), exc, exc.__traceback__),
            extra={"request_id": request_id},
        )
        status, body = 500, error_body(ErrorCode.INTERNAL_ERROR, INTERNAL_ERROR_MESSAGE, {"request_id": request_id})

    if request is not None:
        body = for_path(body, request.path)
    set_rollback()
    return Response(body, status=status, headers=headers)


def json_error(
    request: HttpRequest, status: int, code: ErrorCode, message: str, details: dict[str, Any] | None = None
) -> HttpResponse:
    """The envelope as a plain Django response, for code paths outside DRF."""
    body = for_path(error_body(code, message, details), request.path)
    return HttpResponse(dumps(body), status=status, content_type="application/json")


def _is_api(request: HttpRequest) -> bool:
    return is_api_path(request.path)


def not_found(request: HttpRequest, exception: Exception | None = None) -> HttpResponse:
    """handler404: the envelope under /api/, Django's page elsewhere."""
    if _is_api(request):
        return json_error(request, 404, ErrorCode.NOT_FOUND, "Not found.")
    return django_defaults.page_not_found(request, exception)


def server_error(request: HttpRequest) -> HttpResponse:
    """handler500: the envelope under /api/ (Django has already logged the exception)."""
    if _is_api(request):
        request_id = request_id_of(request)
        return json_error(request, 500, ErrorCode.INTERNAL_ERROR, INTERNAL_ERROR_MESSAGE, {"request_id": request_id})
    return django_defaults.server_error(request)


def csrf_failure(request: HttpRequest, reason: str = "") -> HttpResponse:
    """CSRF_FAILURE_VIEW: 403 CSRF_FAILED in the envelope under /api/, Django's page elsewhere."""
    if _is_api(request):
        return json_error(request, 403, ErrorCode.CSRF_FAILED, f"CSRF Failed: {reason}" if reason else "CSRF Failed.")
    return django_csrf_failure(request, reason=reason)
