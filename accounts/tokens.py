"""The SPA's JSON Web Tokens (djangorestframework-simplejwt), with access tokens that can be revoked.

simplejwt blacklists refresh tokens only. Here access tokens are blacklistable too, so that
`POST /api/v1/auth/logout/` ends the access token it was called with at once rather than when it
expires. Every JWT request checks the blacklist (one indexed query).
"""

from __future__ import annotations

from rest_framework_simplejwt.serializers import TokenObtainPairSerializer, TokenRefreshSerializer
from rest_framework_simplejwt.tokens import AccessToken, BlacklistMixin, RefreshToken


class RevocableAccessToken(BlacklistMixin["RevocableAccessToken"], AccessToken):
    """An access token that is refused once blacklisted (SIMPLE_JWT["AUTH_TOKEN_CLASSES"])."""


class SpaRefreshToken(RefreshToken):
    """A refresh token whose access tokens are RevocableAccessToken."""

    access_token_class = RevocableAccessToken  # type: ignore[assignment]


class SpaTokenObtainSerializer(TokenObtainPairSerializer):
    token_class = SpaRefreshToken


class SpaTokenRefreshSerializer(TokenRefreshSerializer):
    token_class = SpaRefreshToken
