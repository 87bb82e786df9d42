"""Command-line arguments the management commands share."""

from __future__ import annotations

import datetime as dt

from django.core.management.base import CommandError


def date_argument(value: str) -> dt.date:
    """A YYYY-MM-DD argument; anything else is a CommandError naming the value (the range is billing's)."""
    try:
        return dt.date.fromisoformat(value)
    except ValueError:
        raise CommandError(f"Not a date (YYYY-MM-DD): {value!r}") from None
