"""Custom scalars: Money (a Decimal amount as a string), DateOrDateTime (list filters) and Date.

Dates are parsed by billing.periods, as the REST facade parses them, so an invalid date reads the
same in both APIs (the range of accepted dates is checked by the services and selectors).

They are registered through ``StrawberryConfig.scalar_map`` in schema.py.
"""

from __future__ import annotations

import datetime as dt
from decimal import ROUND_HALF_UP, Decimal, InvalidOperation
from typing import Any, NewType

import strawberry

from billing.periods import parse_date, parse_date_or_datetime

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


def serialize_date_or_datetime(value: dt.date | dt.datetime) -> str:
    return value.isoformat()


def serialize_date(value: dt.date) -> str:
    return value.isoformat()


SCALAR_MAP = {
    dt.date: strawberry.scalar(
        name="Date", description="Date (isoformat)", serialize=serialize_date, parse_value=parse_date
    ),
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
