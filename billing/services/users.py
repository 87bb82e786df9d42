"""The users reports are recorded as made by: a named user, or the system user for server-side work."""

from __future__ import annotations

from django.conf import settings
from django.contrib.auth.models import User

from billing.errors import ValidationFailed


def system_user() -> User:
    """The user recorded for reports made without a signed-in user (commands, scripts, workers).

    Named by BILLING_SYSTEM_USERNAME (default "system"); created on first use, inactive and
    without a usable password, so nobody can sign in as it.
    """
    user, created = User.objects.get_or_create(username=settings.BILLING_SYSTEM_USERNAME, defaults={"is_active": False})
    if created:
        user.set_unusable_password()
        user.save(update_fields=["password"])
    return user


def user_named(username: str) -> User:
    """The user with this username (BILLING_SYSTEM_USERNAME names the system user).

    Raises ValidationFailed (field "user") for a name no user has.
    """
    if username.strip() == settings.BILLING_SYSTEM_USERNAME:
        return system_user()
    user = User.objects.filter(username=username.strip()).first()
    if user is None:
        raise ValidationFailed(f"No user named {username!r}.", fields={"user": [f"No user named {username!r}."]})
    return user
