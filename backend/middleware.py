"""Project-wide HTTP middleware."""

from __future__ import annotations

import re
import uuid
from collections.abc import Callable

from django.http import HttpRequest, HttpResponse

from rest_compat.errors import not_found

REQUEST_ID_HEADER = "X-Request-ID"
_SANE_REQUEST_ID = re.compile(r"[A-Za-z0-9._-]{1,64}")


def new_request_id() -> str:
    return uuid.uuid4().hex


class RequestIdMiddleware:
    """Give every request an id: the caller's `X-Request-ID` when it is a sane token, else a new one.

    The id is available as ``request.request_id`` (logs, audit events, error bodies) and is sent
    back in the `X-Request-ID` response header, so a client can quote it when reporting a problem.
    """

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        supplied = request.headers.get(REQUEST_ID_HEADER, "")
        request_id = supplied if _SANE_REQUEST_ID.fullmatch(supplied) else new_request_id()
        request.request_id = request_id  # type: ignore[attr-defined]
        response = self.get_response(request)
        response[REQUEST_ID_HEADER] = request_id
        return response


class ApiNotFoundMiddleware:
    """An unknown path under /api/ answers the JSON error envelope, with DEBUG on too.

    handler404 already does this with DEBUG off; with DEBUG on Django answers its HTML debug
    page instead, which API clients (and the SPA) cannot read.
    """

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        response = self.get_response(request)
        if (
            response.status_code == 404
            and request.path.startswith("/api/")
            and response.get("Content-Type", "").startswith("text/html")
        ):
            return not_found(request)
        return response
