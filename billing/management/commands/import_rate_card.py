"""manage.py import_rate_card FILE: load services, customers, products and rate cards from JSON."""

from __future__ import annotations

import sys
from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser

from billing.errors import ValidationFailed
from billing.management.files import read_document
from billing.services.rate_cards import rate_card_import, rate_card_loads


class Command(BaseCommand):
    help = (
        "Import a rate-card document (the format written by export_rate_card, described in "
        "docs/rate-card-format.md). The whole document is checked first and every problem is listed "
        "with its path; nothing is written unless the document is entirely valid."
    )
    stealth_options = ("stdin",)

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("file", help="Path of the JSON document, or '-' for standard input.")

    def handle(self, *args: Any, **options: Any) -> None:
        text = read_document(options["file"], options.get("stdin") or sys.stdin)
        try:
            summary = rate_card_import(document=rate_card_loads(text))
        except ValidationFailed as exc:
            for path, messages in exc.fields.items():
                for message in messages:
                    self.stderr.write(f"{path}: {message}")
            raise CommandError(exc.message) from None
        if summary.changed:
            self.stdout.write(f"Imported. {summary}")
        else:
            self.stdout.write(f"Unchanged: the database already holds this rate card. {summary}")
