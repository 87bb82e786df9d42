"""DRF authentication for the facade: bearer tokens first (so a missing credential is a 401
with `WWW-Authenticate: Bearer`), then the session cookie with CSRF enforced."""

from __future__ import annotations

from rest_framework import authentication, exceptions
from rest_framework.request import Request

from billing.auth import bearer_token
from billing.services.tokens import api_token_authenticate


class BearerTokenAuthentication(authentication.BaseAuthentication):
    www_authenticate_realm = "api"

    def authenticate(self, request: Request):
        django_request = request._request
        method = getattr(django_request, "auth_method", None)
        if method == "token":  # already resolved by billing.auth.BearerTokenMiddleware
            return (django_request.user, None)
        raw = bearer_token(django_request)
        if raw is None:
            return None
        user = api_token_authenticate(raw) if raw and method is None else None
        if user is None:
            raise exceptions.AuthenticationFailed("Invalid, expired or revoked token.")
        return (user, None)

    def authenticate_header(self, request: Request) -> str:
        return f'Bearer realm="{self.www_authenticate_realm}"'
