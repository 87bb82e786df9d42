"""manage.py revoke_api_token ID: revoke an API token at once."""

from __future__ import annotations

from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser

from billing.errors import NotFound
from billing.services.tokens import api_token_revoke


class Command(BaseCommand):
    help = "Revoke the API token with this id (see the admin's API token list); revoking twice is harmless."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("token_id", type=int, help="Id of the token.")

    def handle(self, *args: Any, **options: Any) -> None:
        try:
            token = api_token_revoke(token_id=options["token_id"])
        except NotFound as exc:
            raise CommandError(exc.message) from None
        self.stdout.write(f"Revoked API token #{token.pk} ({token.prefix}…) at {token.revoked_at:%Y-%m-%d %H:%M} UTC.")
