"""manage.py export_rate_card [--customer ID ...] [--output FILE]: write rate cards as JSON."""

from __future__ import annotations

import json
from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser

from billing.errors import NotFound
from billing.management.files import AtomicOutput
from billing.management.progress import count, say
from billing.services.rate_cards import rate_card_export


class Command(BaseCommand):
    help = (
        "Export the services catalogue and customers' rate cards (products, rate-card lines with tiers, "
        "assigned SKUs and rules) as one JSON document, the format import_rate_card reads "
        "(docs/rate-card-format.md)."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument(
            "--customer",
            dest="customers",
            type=int,
            action="append",
            metavar="ID",
            help="Export only this customer (repeatable); default: every customer.",
        )
        parser.add_argument("--output", "-o", metavar="FILE", help="Write to FILE instead of standard output.")

    def handle(self, *args: Any, **options: Any) -> None:
        try:
            document = rate_card_export(customer_ids=options["customers"])
        except NotFound as exc:
            raise CommandError(exc.message) from None
        text = json.dumps(document, indent=2, ensure_ascii=False) + "\n"
        if options["output"]:
            with AtomicOutput.open(options["output"]) as handle:
                handle.write(text.encode())
            say(
                self.stderr,
                f"Wrote {count(len(document['customers']), 'customer')} and "
                f"{count(len(document['services']), 'service')} to {options['output']}.",
            )
        else:
            self.stdout.write(text, ending="")
