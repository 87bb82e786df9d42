"""Permission extensions declared on fields and mutations (the edge).

Access is decided in billing.permissions (row-level visibility by the selectors, permission
requirements by :class:`billing.permissions.Requirement`); these adapt its answer to a field
that may not run at all, and declare it in the schema (``@isAuthenticated``, ``@hasPerm``).
A refused field answers with the shared error codes:

- a mutation whose result union holds the typed errors gets AuthenticationRequiredError or
  PermissionDeniedError as its result;
- any other field raises a GraphQL error with ``extensions.code`` AUTHENTICATION_REQUIRED or
  PERMISSION_DENIED.
"""

from __future__ import annotations

from typing import Any
from urllib.parse import urlencode

from django.conf import settings
from django.shortcuts import resolve_url
from strawberry.types import Info
from strawberry.types.base import StrawberryOptional
from strawberry.types.union import StrawberryUnion
from strawberry_django.auth.utils import get_current_user
from strawberry_django.permissions import DjangoNoPermission
from strawberry_django.permissions import HasPerm as DjangoHasPerm
from strawberry_django.permissions import IsAuthenticated as DjangoIsAuthenticated

from billing.errors import ErrorCode
from billing.permissions import Actor, Requirement, is_authenticated
from graphql_schema.errors import (
    AUTHENTICATION_REQUIRED_MESSAGE,
    AuthenticationRequiredError,
    PermissionDeniedError,
    authentication_required,
    graphql_error,
    permission_denied,
)


def current_user(info: Info) -> Actor:
    """The request's user (session cookie or bearer token, see accounts.authentication)."""
    return info.context.request.user


def _union_members(info: Info) -> tuple[Any, ...]:
    return_type = info.return_type
    if isinstance(return_type, StrawberryOptional):
        return_type = return_type.of_type
    if isinstance(return_type, StrawberryUnion):
        return tuple(member for member in return_type.types if isinstance(member, type))
    return ()


class _CodedRefusal:
    """Answer a refused field with the shared codes instead of strawberry-django's defaults."""

    message: str

    def handle_no_permission(self, exception: BaseException, *, info: Info) -> Any:
        members = _union_members(info)
        if not is_authenticated(get_current_user(info)):
            if AuthenticationRequiredError in members:
                return authentication_required()
            raise graphql_error(
                ErrorCode.AUTHENTICATION_REQUIRED, AUTHENTICATION_REQUIRED_MESSAGE, loginUrl=login_url(info)
            ) from None
        if PermissionDeniedError in members:
            return permission_denied(self.message)
        raise graphql_error(ErrorCode.PERMISSION_DENIED, self.message) from None


class IsAuthenticated(_CodedRefusal, DjangoIsAuthenticated):
    """The field needs a signed-in, active user (session cookie or bearer token)."""

    DEFAULT_ERROR_MESSAGE = AUTHENTICATION_REQUIRED_MESSAGE


class HasPerm(_CodedRefusal, DjangoHasPerm):
    """The field needs a billing.permissions Requirement (a permission name is one on its own).

    Anonymous users are refused first (by IsAuthenticated before it). The schema's ``@hasPerm``
    lists the requirement's permissions; whether the user meets it is the requirement's answer.
    """

    DEFAULT_ERROR_MESSAGE = "You do not have permission to perform this action."

    def __init__(self, requirement: Requirement | str, *, message: str | None = None) -> None:
        self.requirement = requirement if isinstance(requirement, Requirement) else Requirement((requirement,))
        super().__init__(list(self.requirement.permissions), message=message, any_perm=False, fail_silently=True)

    def resolve_for_user_with_perms(self, resolver: Any, user: Any, *, info: Info, source: Any) -> Any:
        if not self.requirement.allows(user):
            raise DjangoNoPermission
        return resolver()


def login_url(info: Info) -> str:
    """The browser sign-in page (LOGIN_URL), coming back to this endpoint; shown in GraphiQL's answer."""
    request = info.context.request
    return f"{resolve_url(settings.LOGIN_URL)}?{urlencode({'next': request.path})}"


def request_id(info: Info) -> str:
    """The request id given to the request by the logging middleware ('' when there is none)."""
    return str(getattr(info.context.request, "request_id", "") or "")
