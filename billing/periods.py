"""Dates and billing periods: the one parser, the accepted range and the messages.

Every date a client sends (REST and GraphQL, a period to bill or a list filter) is parsed by
:func:`parse_date` (or :func:`parse_date_or_datetime` for creation-time filters) and checked
here, so an invalid date reads the same in every endpoint:

- a date is YYYY-MM-DD and lies within [EARLIEST_DATE, LATEST_DATE] (1970-01-01 to 2100-12-31);
  a date-time filter must fall on such a date;
- a period (a report, a report job, a billing run) ends on or after its start and spans at most
  MAX_PERIOD_DAYS days, both dates included (a leap year).

An order's close date falls on a day of a period in the billing time zone
(:func:`billing_time_zone`, settings.BILLING_TIME_ZONE).
"""

from __future__ import annotations

import datetime as dt
from typing import Any
from zoneinfo import ZoneInfo

from django.conf import settings
from django.utils.dateparse import parse_date as django_parse_date
from django.utils.dateparse import parse_datetime

EARLIEST_DATE = dt.date(1970, 1, 1)
LATEST_DATE = dt.date(2100, 12, 31)
MAX_PERIOD_DAYS = 366

INVALID_DATE = "Enter a valid date in YYYY-MM-DD format."
INVALID_DATE_OR_DATETIME = "Enter a valid date (YYYY-MM-DD) or ISO 8601 datetime."
DATE_OUT_OF_RANGE = f"Enter a date between {EARLIEST_DATE.isoformat()} and {LATEST_DATE.isoformat()}."
END_BEFORE_START = "End date must be on or after the start date."
PERIOD_TOO_LONG = f"A period can span at most {MAX_PERIOD_DAYS} days."

__all__ = [
    "DATE_OUT_OF_RANGE",
    "EARLIEST_DATE",
    "END_BEFORE_START",
    "INVALID_DATE",
    "INVALID_DATE_OR_DATETIME",
    "LATEST_DATE",
    "MAX_PERIOD_DAYS",
    "PERIOD_TOO_LONG",
    "date_errors",
    "filter_date_errors",
    "parse_date",
    "parse_date_or_datetime",
    "period_errors",
]


def parse_date(raw: Any) -> dt.date:
    """A YYYY-MM-DD string as a date; ValueError(INVALID_DATE) otherwise (range not checked)."""
    if isinstance(raw, str):
        try:
            day = django_parse_date(raw.strip())
        except ValueError:  # well-formed but impossible, e.g. 2025-02-30
            day = None
        if day is not None:
            return day
    raise ValueError(INVALID_DATE)


def parse_date_or_datetime(raw: Any) -> dt.date | dt.datetime:
    """A date (YYYY-MM-DD) or an ISO 8601 date-time (UTC when it has no offset);
    ValueError(INVALID_DATE_OR_DATETIME) otherwise (range not checked)."""
    if isinstance(raw, str):
        text = raw.strip()
        if len(text) == 10:
            try:
                return parse_date(text)
            except ValueError:
                pass
        else:
            # A "+" offset decoded from a query string arrives as a space.
            text = text.replace(" ", "+") if text.count(" ") == 1 and "T" in text else text
            try:
                moment = parse_datetime(text)
            except ValueError:
                moment = None
            if moment is not None:
                return moment if moment.tzinfo is not None else moment.replace(tzinfo=dt.UTC)
    raise ValueError(INVALID_DATE_OR_DATETIME)


def date_errors(value: Any) -> list[str]:
    """Why `value` is not an accepted date (or date-time, by its calendar date); [] when it is."""
    if not isinstance(value, dt.date):
        return [INVALID_DATE]
    day = value.date() if isinstance(value, dt.datetime) else value
    return [] if EARLIEST_DATE <= day <= LATEST_DATE else [DATE_OUT_OF_RANGE]


def filter_date_errors(**values: Any) -> dict[str, list[str]]:
    """Errors of the date filters given (None means not given), by filter name."""
    errors = {name: date_errors(value) for name, value in values.items() if value is not None}
    return {name: messages for name, messages in errors.items() if messages}


def period_errors(
    start_date: Any, end_date: Any, *, start_field: str = "start_date", end_field: str = "end_date"
) -> dict[str, list[str]]:
    """Errors of the billing period [start_date, end_date], by field name; {} when it is valid."""
    errors: dict[str, list[str]] = {}
    for name, value in ((start_field, start_date), (end_field, end_date)):
        if not isinstance(value, dt.date) or isinstance(value, dt.datetime):
            errors[name] = [INVALID_DATE]
        elif problems := date_errors(value):
            errors[name] = problems
    if errors:
        return errors
    if start_date > end_date:
        errors[end_field] = [END_BEFORE_START]
    elif (end_date - start_date).days + 1 > MAX_PERIOD_DAYS:
        errors[end_field] = [PERIOD_TOO_LONG]
    return errors


def billing_time_zone() -> ZoneInfo:
    """The zone in which close dates are read as calendar dates (settings.BILLING_TIME_ZONE)."""
    return ZoneInfo(settings.BILLING_TIME_ZONE)
