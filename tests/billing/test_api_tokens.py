import datetime as dt

import pytest
from django.contrib.auth.models import AnonymousUser
from django.http import HttpResponse
from django.test import RequestFactory
from django.utils import timezone

from accounts.authentication import BearerAuthenticationMiddleware as BearerTokenMiddleware
from billing.models import ApiToken
from billing.services.tokens import api_token_authenticate, api_token_create, api_token_revoke
from tests.factories import UserFactory

pytestmark = pytest.mark.django_db


def test_token_is_stored_hashed_and_authenticates_its_user():
    user = UserFactory()
    token, raw = api_token_create(user=user, name="wms")

    stored = ApiToken.objects.get(pk=token.pk)
    assert raw not in (stored.key_hash, stored.prefix)
    assert raw.startswith(stored.prefix)
    assert api_token_authenticate(raw) == user
    assert ApiToken.objects.get(pk=token.pk).last_used_at is not None


def test_revoked_expired_unknown_and_inactive_tokens_are_refused():
    user = UserFactory()
    revoked, revoked_raw = api_token_create(user=user)
    api_token_revoke(token_id=revoked.pk)
    expired, expired_raw = api_token_create(user=user, expires_in_days=1)
    ApiToken.objects.filter(pk=expired.pk).update(expires_at=timezone.now() - dt.timedelta(seconds=1))
    inactive_user = UserFactory(is_active=False)
    _, inactive_raw = api_token_create(user=inactive_user)

    assert api_token_authenticate(revoked_raw) is None
    assert api_token_authenticate(expired_raw) is None
    assert api_token_authenticate(inactive_raw) is None
    assert api_token_authenticate("llb_not-a-real-token") is None
    assert api_token_authenticate("") is None


def test_token_without_expiry_never_expires():
    token, raw = api_token_create(user=UserFactory(), expires_in_days=None)
    assert token.expires_at is None
    assert api_token_authenticate(raw) is not None


def _through_middleware(header: str | None):
    seen = {}

    def view(request):
        seen["user"] = request.user
        seen["csrf_exempt"] = getattr(request, "_dont_enforce_csrf_checks", False)
        return HttpResponse("ok")

    request = RequestFactory().get("/", **({"HTTP_AUTHORIZATION": header} if header else {}))
    request.user = AnonymousUser()
    BearerTokenMiddleware(view)(request)
    return seen


def test_middleware_sets_user_from_bearer_header_and_skips_csrf():
    user = UserFactory()
    _, raw = api_token_create(user=user)

    seen = _through_middleware(f"Bearer {raw}")

    assert seen["user"] == user
    assert seen["csrf_exempt"] is True


def test_middleware_leaves_invalid_token_anonymous_and_ignores_other_schemes():
    assert _through_middleware("Bearer llb_wrong")["user"].is_anonymous
    basic = _through_middleware("Basic dXNlcjpwYXNz")
    assert basic["user"].is_anonymous
    assert basic["csrf_exempt"] is False
