"""manage.py create_api_token USER: issue a bearer token for a machine client."""

from __future__ import annotations

from typing import Any

from django.contrib.auth import get_user_model
from django.core.management.base import BaseCommand, CommandError, CommandParser

from billing.management.progress import say
from billing.services.tokens import api_token_create

DEFAULT_EXPIRY_DAYS = 90


class Command(BaseCommand):
    help = (
        "Create an API token for USER (a username) and print it once on standard output. Only a hash is "
        "stored: the token cannot be shown again. Clients send it as 'Authorization: Bearer <token>'."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("user", help="Username of the account the token acts as.")
        parser.add_argument("--name", default="", help="A label to recognise the token (e.g. 'finance dashboard').")
        expiry = parser.add_mutually_exclusive_group()
        expiry.add_argument(
            "--expires-in-days",
            type=int,
            default=DEFAULT_EXPIRY_DAYS,
            metavar="D",
            help=f"Days until the token expires (default {DEFAULT_EXPIRY_DAYS}).",
        )
        expiry.add_argument("--no-expiry", action="store_true", help="The token never expires (revoke it instead).")

    def handle(self, *args: Any, **options: Any) -> None:
        username: str = options["user"]
        user = get_user_model()._default_manager.filter(**{get_user_model().USERNAME_FIELD: username}).first()
        if user is None:
            raise CommandError(f"No user named {username!r}.")
        if not user.is_active:
            raise CommandError(f"User {username!r} is inactive: a token for it would not authenticate.")
        days = None if options["no_expiry"] else options["expires_in_days"]
        if days is not None and days < 1:
            raise CommandError("--expires-in-days must be at least 1 (or use --no-expiry).")
        if len(options["name"]) > 100:
            raise CommandError("--name must be at most 100 characters.")
        token, raw = api_token_create(user=user, name=options["name"], expires_in_days=days)
        expiry = f"expires {token.expires_at:%Y-%m-%d %H:%M} UTC" if token.expires_at else "never expires"
        say(
            self.stderr,
            f"Created API token #{token.pk} ({token.prefix}…) for {username}, {expiry}. "
            "Store it now: it is not shown again.",
        )
        self.stdout.write(raw)
