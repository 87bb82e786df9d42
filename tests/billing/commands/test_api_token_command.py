import datetime as dt
import io

import pytest
from django.core.management import CommandError, call_command
from django.utils import timezone

from billing.models import ApiToken
from billing.services.tokens import api_token_authenticate
from tests.factories import UserFactory

pytestmark = pytest.mark.django_db


def create(*args):
    out, err = io.StringIO(), io.StringIO()
    call_command("create_api_token", *args, stdout=out, stderr=err)
    return out.getvalue().strip(), err.getvalue()


def test_prints_the_token_once_and_stores_only_its_hash():
    user = UserFactory(username="robot")

    raw, err = create("robot", "--name", "finance dashboard")

    token = ApiToken.objects.get()
    assert token.user == user and token.name == "finance dashboard"
    assert raw.startswith(token.prefix) and raw not in token.key_hash
    assert "not shown again" in err and raw not in err
    assert api_token_authenticate(raw) == user
    expected = timezone.now() + dt.timedelta(days=90)
    assert abs(token.expires_at - expected) < dt.timedelta(minutes=1)


def test_expiry_options():
    UserFactory(username="robot")

    create("robot", "--expires-in-days", "7")
    create("robot", "--no-expiry")

    short, forever = ApiToken.objects.order_by("pk")
    assert abs(short.expires_at - (timezone.now() + dt.timedelta(days=7))) < dt.timedelta(minutes=1)
    assert forever.expires_at is None
    with pytest.raises(CommandError):
        create("robot", "--expires-in-days", "0")
    with pytest.raises(CommandError):
        call_command("create_api_token", "robot", "--no-expiry", "--expires-in-days", "3", stderr=io.StringIO())


def test_unknown_or_inactive_user_is_refused():
    UserFactory(username="gone", is_active=False)

    with pytest.raises(CommandError, match="No user named 'ghost'"):
        create("ghost")
    with pytest.raises(CommandError, match="inactive"):
        create("gone")
    assert not ApiToken.objects.exists()


def test_revoke_stops_the_token():
    UserFactory(username="robot")
    raw, _ = create("robot")
    token = ApiToken.objects.get()
    out = io.StringIO()

    call_command("revoke_api_token", str(token.pk), stdout=out)
    call_command("revoke_api_token", str(token.pk), stdout=io.StringIO())  # idempotent

    assert f"Revoked API token #{token.pk}" in out.getvalue()
    token.refresh_from_db()
    assert token.revoked_at is not None
    assert api_token_authenticate(raw) is None


def test_revoke_unknown_token():
    with pytest.raises(CommandError, match="does not exist"):
        call_command("revoke_api_token", "4242")
