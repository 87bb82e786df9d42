"""Failed sign-ins are limited, on every sign-in form and endpoint.

`LOGIN_FAILURE_LIMIT` (default ``10/min``, DRF rate syntax ``N/s|min|hour|day``; empty turns it
off) failed attempts are allowed per client IP and per username within the period; the next
POST is refused with 429 and `Retry-After`, even with the right password, until the period
that began with the first failure is over. A successful sign-in clears the username's count.

It applies to the views named in :data:`LOGIN_VIEWS`: the SPA's token endpoint, the browser
sign-in page and the Django admin's. A sign-in succeeded when the view issued a new session
(``django.contrib.auth.login`` always does), so the three are judged alike. Counters live in the
Django cache: set CACHE_URL (Redis) so that several processes share them.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from django.conf import settings
from django.core.cache import cache
from django.http import HttpRequest, HttpResponse
from django.shortcuts import render

from billing.errors import ErrorCode
from rest_compat.errors import is_api_path, json_error

JSON_LOGIN_VIEWS = frozenset({"accounts_api:token"})
LOGIN_VIEWS = frozenset({"accounts:login", "admin:login", *JSON_LOGIN_VIEWS})
_PERIODS = {"s": 1, "m": 60, "h": 3600, "d": 86400}


@dataclass(frozen=True)
class Rate:
    limit: int
    seconds: int


def login_failure_rate() -> Rate | None:
    raw = (getattr(settings, "LOGIN_FAILURE_LIMIT", "") or "").strip()
    if not raw:
        return None
    count, _, period = raw.partition("/")
    return Rate(int(count), _PERIODS[period.strip()[0]])


def _username(request: HttpRequest, view_name: str) -> str:
    if view_name in JSON_LOGIN_VIEWS:  # never request.POST there: it would consume a multipart body
        if request.content_type != "application/json":
            return ""
        try:
            body = json.loads(request.body or b"{}")
        except ValueError:
            return ""
        value = body.get("username") if isinstance(body, dict) else None
    else:
        value = request.POST.get("username")
    return value.strip().lower() if isinstance(value, str) else ""


def _key(kind: str, value: str) -> str:
    return "login-failures:" + kind + ":" + hashlib.sha256(value.encode()).hexdigest()


@dataclass
class LoginAttempt:
    keys: list[str]
    username_key: str | None
    session_key: str | None


class FailedLoginThrottleMiddleware:
    """Refuses sign-in POSTs after too many failures; counts the outcome of each one."""

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        response = self.get_response(request)
        attempt: LoginAttempt | None = getattr(request, "_login_attempt", None)
        rate = login_failure_rate()
        if attempt is not None and rate is not None:
            session_key = request.session.session_key
            if session_key is not None and session_key != attempt.session_key:  # signed in
                if attempt.username_key:
                    cache.delete(attempt.username_key)
            else:
                for key in attempt.keys:
                    cache.add(key, 0, timeout=rate.seconds)
                    try:
                        cache.incr(key)
                    except ValueError:  # expired in between
                        cache.set(key, 1, timeout=rate.seconds)
        return response

    def process_view(self, request: HttpRequest, view: Any, args: Any, kwargs: Any) -> HttpResponse | None:
        match = request.resolver_match
        rate = login_failure_rate()
        if request.method != "POST" or rate is None or match is None or match.view_name not in LOGIN_VIEWS:
            return None
        username = _username(request, match.view_name)
        username_key = _key("user", username) if username else None
        keys = [_key("ip", request.META.get("REMOTE_ADDR", "")), *([username_key] if username_key else [])]
        if any((cache.get(key) or 0) >= rate.limit for key in keys):
            return refusal(request, rate.seconds)
        request._login_attempt = LoginAttempt(keys, username_key, request.session.session_key)  # type: ignore[attr-defined]
        return None


def refusal(request: HttpRequest, retry_after: int) -> HttpResponse:
    message = f"Too many failed sign-in attempts. Try again in {retry_after} seconds."
    if is_api_path(request.path):
        response = json_error(request, 429, ErrorCode.RATE_LIMITED, message, {"retry_after": retry_after})
    else:
        response = render(request, "accounts/login_throttled.html", {"message": message}, status=429)
    response["Retry-After"] = str(retry_after)
    return response
