"""Who is calling: the Authorization header first, then the session cookie.

`Authorization: Bearer <value>` is read once per request (:func:`bearer_credential`) and the
result shared by the Django middleware (so GraphQL, which only sees ``request.user``, gets the
same user) and the DRF authentication class. The value decides:

- an API token (``llb_...``, billing.services.tokens) or a JSON Web Token (three base64url
  parts, accounts.tokens): the request is authenticated by it alone, without CSRF (a browser
  never adds this header on its own). If it is unknown, expired, revoked or its user inactive,
  the request is anonymous and the API answers 401: a bad credential never falls back;
- anything else (the legacy frontend sends ``Bearer development_token`` when it holds no
  token): not a credential of ours, so it counts as absent. The session cookie decides, with
  CSRF enforced on unsafe methods as for any cookie request.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass
from enum import StrEnum

from django.contrib.auth.models import AnonymousUser, User
from django.http import HttpRequest, HttpResponse
from rest_framework import authentication, exceptions
from rest_framework.request import Request
from rest_framework_simplejwt.authentication import JWTAuthentication
from rest_framework_simplejwt.exceptions import InvalidToken, TokenError

from billing.services.tokens import TOKEN_PREFIX, api_token_authenticate

# header.payload.signature, each part base64url without padding.
JWT_SHAPE = re.compile(r"[A-Za-z0-9_-]+\.[A-Za-z0-9_-]+\.[A-Za-z0-9_-]+")


class CredentialKind(StrEnum):
    NONE = "none"  # no Authorization: Bearer header, or a value in no format of ours
    API_TOKEN = "api-token"  # noqa: S105 - a kind name, not a secret
    JWT = "jwt"


@dataclass(frozen=True)
class BearerCredential:
    kind: CredentialKind
    user: User | None  # None with a kind other than NONE: invalid, expired or revoked

    @property
    def present(self) -> bool:
        return self.kind is not CredentialKind.NONE


ABSENT = BearerCredential(CredentialKind.NONE, None)


def bearer_value(request: HttpRequest) -> str | None:
    """The value of an `Authorization: Bearer` header, None without one."""
    scheme, _, value = request.META.get("HTTP_AUTHORIZATION", "").partition(" ")
    return value.strip() if scheme.lower() == "bearer" else None


def credential_kind(value: str) -> CredentialKind:
    if value.startswith(TOKEN_PREFIX):
        return CredentialKind.API_TOKEN
    if JWT_SHAPE.fullmatch(value):
        return CredentialKind.JWT
    return CredentialKind.NONE


def jwt_user(value: str) -> User | None:
    """The active user of a valid, unexpired, not blacklisted access token; None otherwise."""
    jwt = JWTAuthentication()
    try:
        user = jwt.get_user(jwt.get_validated_token(value.encode()))
    except (InvalidToken, TokenError, exceptions.AuthenticationFailed):
        return None
    return user if isinstance(user, User) else None


def bearer_credential(request: HttpRequest) -> BearerCredential:
    """The request's bearer credential, resolved once and remembered on the request."""
    cached = getattr(request, "_bearer_credential", None)
    if cached is not None:
        return cached
    value = bearer_value(request)
    kind = credential_kind(value) if value is not None else CredentialKind.NONE
    if kind is CredentialKind.API_TOKEN:
        credential = BearerCredential(kind, api_token_authenticate(value or ""))
    elif kind is CredentialKind.JWT:
        credential = BearerCredential(kind, jwt_user(value or ""))
    else:
        credential = ABSENT
    request._bearer_credential = credential  # type: ignore[attr-defined]
    return credential


class BearerAuthenticationMiddleware:
    """Sets request.user from a bearer credential (after Django's AuthenticationMiddleware)."""

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        credential = bearer_credential(request)
        if credential.present:
            request.user = credential.user or AnonymousUser()
            # A header credential is not ambient: CSRF protection is for cookies.
            request._dont_enforce_csrf_checks = True  # type: ignore[attr-defined]
        return self.get_response(request)


class BearerAuthentication(authentication.BaseAuthentication):
    """DRF: API token or JWT. First in DEFAULT_AUTHENTICATION_CLASSES, so a missing credential
    is a 401 with `WWW-Authenticate: Bearer`; a value in no format of ours defers to the session."""

    www_authenticate_realm = "api"

    def authenticate(self, request: Request):
        credential = bearer_credential(request._request)
        if not credential.present:
            return None
        if credential.user is None:
            raise exceptions.AuthenticationFailed("Invalid, expired or revoked token.")
        return (credential.user, credential.kind)

    def authenticate_header(self, request: Request) -> str:
        return f'Bearer realm="{self.www_authenticate_realm}"'
