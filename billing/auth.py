"""Authentication: bearer tokens as a Django middleware, so REST and GraphQL both see request.user,
and the permission backend.

A request carrying `Authorization: Bearer <token>` is authenticated by the token alone:
no session is consulted, and CSRF does not apply (the browser never sends the header on its
own). A bearer header with an invalid token yields an anonymous user, so the API answers 401.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from django.contrib.auth.backends import ModelBackend
from django.contrib.auth.models import AnonymousUser, Permission
from django.db.models import Q
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


class PermissionBackend(ModelBackend):
    """Django's model backend, reading a user's permissions in one query instead of two.

    Every API request checks a permission (see billing.permissions), so the user's own and group
    permissions are read together; the result is memoised on the user object for the request, as
    ModelBackend does. Superusers, inactive users and per-object checks behave as in ModelBackend.
    """

    def get_all_permissions(self, user_obj: Any, obj: Any = None) -> set[str]:
        if not user_obj.is_active or user_obj.is_anonymous or obj is not None:
            return set()
        if not hasattr(user_obj, "_perm_cache"):
            permissions = Permission.objects.all()
            if not user_obj.is_superuser:
                permissions = permissions.filter(Q(user=user_obj) | Q(group__user=user_obj))
            pairs = permissions.values_list("content_type__app_label", "codename").distinct()
            user_obj._perm_cache = {f"{app_label}.{codename}" for app_label, codename in pairs}
        return user_obj._perm_cache
