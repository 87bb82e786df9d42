"""Custom scalars: Money (a Decimal amount as a string) and DateOrDateTime (list filters).

They are registered through ``StrawberryConfig.scalar_map`` in schema.py.
"""

from __future__ import annotations

import datetime as dt
from decimal import ROUND_HALF_UP, Decimal, InvalidOperation
from typing import Any, NewType

import strawberry
from django.utils.dateparse import parse_date, parse_datetime

CENT = Decimal("0.01")

Money = NewType("Money", Decimal)
DateOrDateTime = NewType("DateOrDateTime", object)


def serialize_money(value: Any) -> str:
    # Amounts are stored to the cent; quantizing only normalises the representation ("1500.00").
    return format(Decimal(value).quantize(CENT, rounding=ROUND_HALF_UP), "f")


def parse_money(value: Any) -> Decimal:
    if isinstance(value, float | bool):
        raise ValueError('Money must be given as a decimal string, e.g. "12.50".')
    try:
        amount = Decimal(str(value))
    except InvalidOperation:
        raise ValueError(f"{value!r} is not a decimal amount.") from None
    if not amount.is_finite():
        raise ValueError(f"{value!r} is not a decimal amount.")
    return amount


def parse_date_or_datetime(value: Any) -> dt.date | dt.datetime:
    """A date (YYYY-MM-DD) or an ISO 8601 date-time; a date-time without an offset is UTC."""
    if not isinstance(value, str):
        raise ValueError("Expected a date (YYYY-MM-DD) or an ISO 8601 date-time string.")
    raw = value.strip()
    try:
        if len(raw) == 10:
            day = parse_date(raw)
            if day is not None:
                return day
        else:
            moment = parse_datetime(raw)
            if moment is not None:
                return moment if moment.tzinfo is not None else moment.replace(tzinfo=dt.UTC)
    except ValueError:
        pass
    raise ValueError(f"{value!r} is not a valid date (YYYY-MM-DD) or ISO 8601 date-time.")


def serialize_date_or_datetime(value: dt.date | dt.datetime) -> str:
    return value.isoformat()


SCALAR_MAP = {
    Money: strawberry.scalar(
        name="Money",
        description='A monetary amount: a decimal string with two places, e.g. "1500.00". Never a float.',
        serialize=serialize_money,
        parse_value=parse_money,
    ),
    DateOrDateTime: strawberry.scalar(
        name="DateOrDateTime",
        description=(
            "A calendar date (YYYY-MM-DD) or an ISO 8601 date-time. In list filters a date means "
            "the whole day in UTC, as in the REST list; a date-time without an offset is UTC."
        ),
        serialize=serialize_date_or_datetime,
        parse_value=parse_date_or_datetime,
    ),
}
