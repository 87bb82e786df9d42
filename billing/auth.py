"""Bearer-token authentication as a Django middleware, so REST and GraphQL both see request.user.

A request carrying `Authorization: Bearer <token>` is authenticated by the token alone:
no session is consulted, and CSRF does not apply (the browser never sends the header on its
own). A bearer header with an invalid token yields an anonymous user, so the API answers 401.
"""

from __future__ import annotations

from collections.abc import Callable

from django.contrib.auth.models import AnonymousUser
from django.http import HttpRequest, HttpResponse

from billing.services.tokens import api_token_authenticate


def bearer_token(request: HttpRequest) -> str | None:
    """The raw token of an `Authorization: Bearer` header, '' for a malformed one, None if absent."""
    header = request.META.get("HTTP_AUTHORIZATION", "")
    scheme, _, value = header.partition(" ")
    if scheme.lower() != "bearer":
        return None
    return value.strip()


class BearerTokenMiddleware:
    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        raw = bearer_token(request)
        if raw is not None:
            user = api_token_authenticate(raw) if raw else None
            request.user = user or AnonymousUser()
            request.auth_method = "token" if user else "invalid-token"  # type: ignore[attr-defined]
            # Token requests carry no ambient credential: CSRF protection is for cookies.
            request._dont_enforce_csrf_checks = True  # type: ignore[attr-defined]
        return self.get_response(request)
