"""Signing in and out: the SPA's JSON endpoints (simplejwt) and the browser pages.

- ``POST /api/v1/auth/token/`` ``{username, password}`` -> ``{access, refresh}``, and the browser
  also gets a Django session (and a fresh ``csrftoken`` cookie), so the SPA's cookie-only calls
  (``window.open`` downloads, CSV generation by ``fetch``) work after the same sign-in.
- ``POST /api/v1/auth/token/refresh/`` ``{refresh}`` -> ``{access, refresh}``: refresh tokens rotate,
  the one presented is blacklisted (a used one is renewed only for the session of its user, see
  :func:`session_vouched_pair`).
- ``POST /api/v1/auth/logout/`` ``{refresh?}``: blacklists that refresh token and the access token
  of the `Authorization` header, and ends the session.
- ``/accounts/login/`` and ``/accounts/logout/`` (POST): Django's sign-in page for everyone,
  including users who are not staff (``/admin/login/`` refuses them).

Failed sign-ins are limited by accounts.throttling.FailedLoginThrottleMiddleware.
"""

from __future__ import annotations

from typing import Any

from django.contrib.auth import get_user, login, logout
from django.contrib.auth import views as auth_views
from django.core.exceptions import ObjectDoesNotExist
from drf_spectacular.utils import extend_schema
from rest_framework import permissions, serializers
from rest_framework.parsers import JSONParser
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView
from rest_framework_simplejwt.exceptions import InvalidToken, TokenBackendError, TokenError
from rest_framework_simplejwt.views import TokenViewBase

from accounts.authentication import CredentialKind, bearer_value
from accounts.tokens import RevocableAccessToken, SpaRefreshToken, SpaTokenObtainSerializer, SpaTokenRefreshSerializer
from rest_compat import openapi
from rest_compat.renderers import FacadeJSONRenderer, JSONOnlyNegotiation
from rest_compat.serializers import JWTField, LoginRequestSerializer, RefreshRequestSerializer, TokenPairSerializer

LOGIN_ERRORS = openapi.error_responses(400, 415, 429, legacy=True)


class _TokenView(TokenViewBase):
    """JSON in, JSON out; errors in the facade's envelope (with `detail` and `message`)."""

    parser_classes = [JSONParser]
    renderer_classes = [FacadeJSONRenderer]
    content_negotiation_class = JSONOnlyNegotiation

    def validated(self, request: Request) -> Any:
        serializer = self.get_serializer(data=request.data)
        try:
            serializer.is_valid(raise_exception=True)
        except TokenError as exc:
            raise InvalidToken(str(exc)) from exc
        except ObjectDoesNotExist as exc:  # the token's user was deleted
            raise InvalidToken("No active account found for the given token.") from exc
        return serializer


class TokenObtainView(_TokenView):
    serializer_class = SpaTokenObtainSerializer

    @extend_schema(
        operation_id="auth_token",
        summary="Sign in: a JWT pair, and a session cookie for the same browser",
        request=LoginRequestSerializer,
        responses={200: TokenPairSerializer, **LOGIN_ERRORS},
        auth=[],
    )
    def post(self, request: Request, *args: Any, **kwargs: Any) -> Response:
        serializer = self.validated(request)
        login(request._request, serializer.user)  # the session for cookie-only calls; rotates the CSRF token
        return Response(serializer.validated_data)


class TokenRefreshView(_TokenView):
    serializer_class = SpaTokenRefreshSerializer

    @extend_schema(
        operation_id="auth_token_refresh",
        summary="A new access token; the refresh token rotates (the one sent is used up)",
        request=RefreshRequestSerializer,
        responses={200: TokenPairSerializer, **openapi.error_responses(400, 415, legacy=True)},
        auth=[],
    )
    def post(self, request: Request, *args: Any, **kwargs: Any) -> Response:
        try:
            return Response(self.validated(request).validated_data)
        except InvalidToken:
            pair = session_vouched_pair(request)
            if pair is None:
                raise
            return Response(pair)


def session_vouched_pair(request: Request) -> dict[str, str] | None:
    """A new pair for a refresh token that is genuine and unexpired but already used, when the same
    browser's session of the same user vouches for it; None otherwise.

    The legacy frontend keeps the first refresh token it got and refreshes several calls at once,
    so with rotation its second refresh would always fail. The browser holds a session from the
    same sign-in (the stronger credential: it may call every API by itself), and a sign-out ends
    both, so a session of the token's user may renew it. Without that session a used refresh token
    is refused (401).
    """
    user = get_user(request._request)  # the session's (DRF has set request.user to anonymous here)
    raw = request.data.get("refresh") if isinstance(request.data, dict) else None
    if not user.is_authenticated or not isinstance(raw, str):
        return None
    try:
        token = SpaRefreshToken(raw, verify=False)  # type: ignore[arg-type]  # simplejwt's stubs say Token
        payload = token.token_backend.decode(raw, verify=True)  # type: ignore[arg-type]  # signature, expiry
    except (TokenError, TokenBackendError):
        return None
    if payload.get("token_type") != "refresh" or payload.get("user_id") != str(user.pk):
        return None
    renewed = SpaRefreshToken.for_user(user)
    return {"access": str(renewed.access_token), "refresh": str(renewed)}


class LogoutRequestSerializer(serializers.Serializer):
    refresh = JWTField(required=False, help_text="The refresh token to invalidate.")


class LogoutView(APIView):
    """Ends the session and invalidates the tokens given. Signing out twice is not an error."""

    permission_classes = [permissions.AllowAny]
    parser_classes = [JSONParser]
    renderer_classes = [FacadeJSONRenderer]
    content_negotiation_class = JSONOnlyNegotiation

    @extend_schema(
        operation_id="auth_logout",
        summary="Sign out: end the session and invalidate the refresh token (and the bearer access token)",
        request=LogoutRequestSerializer,
        responses={
            200: openapi.envelope("LogoutResponse", serializers.DictField()),
            **openapi.error_responses(400, 415, legacy=True),
        },
    )
    def post(self, request: Request) -> Response:
        serializer = LogoutRequestSerializer(data=request.data)  # no body is {}; a JSON null is refused
        serializer.is_valid(raise_exception=True)
        refresh = serializer.validated_data.get("refresh")
        if refresh:
            _blacklist(SpaRefreshToken, refresh)
        if request.auth == CredentialKind.JWT:
            _blacklist(RevocableAccessToken, bearer_value(request._request) or "")
        logout(request._request)
        return Response({"success": True, "data": {}})


def _blacklist(token_class: type[SpaRefreshToken] | type[RevocableAccessToken], raw: str) -> None:
    try:
        token = token_class(raw)  # type: ignore[arg-type]
    except TokenError:
        return  # expired, malformed or already blacklisted: nothing left to end
    token.blacklist()


class LoginPageView(auth_views.LoginView):
    template_name = "accounts/login.html"


class LogoutPageView(auth_views.LogoutView):
    """POST only (Django's rule): a link cannot sign anybody out."""
