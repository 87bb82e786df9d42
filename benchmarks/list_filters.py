#!/usr/bin/env python
"""Benchmark: parsing the reports list's filters by hand (kept) against a django-filter FilterSet.

The FilterSet below is the library version that was tried: the same filters, messages and
semantics as billing.selectors.reports (text from REST's query string parsed, GraphQL's typed
values taken as they are). A request builds one per list call (the REST list two: its query
parsed, then the list filtered), and each instance deep-copies its filters and builds a Django
form. Prints the CPU time per parse, best of 5 rounds; no database is read.

    .venv/bin/python benchmarks/list_filters.py
"""

from __future__ import annotations

import datetime as dt
import os
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "backend.settings")
os.environ.setdefault("LOG_LEVEL", "WARNING")

import django

django.setup()

import django_filters  # noqa: E402
from django import forms  # noqa: E402
from django.http import QueryDict  # noqa: E402

from billing.models import LIVE_REPORT_STATUSES, BillingReport, ReportStatus  # noqa: E402
from billing.periods import date_errors, parse_date, parse_date_or_datetime  # noqa: E402
from billing.selectors.reports import parse_report_filters  # noqa: E402

QUERY = "customer_id=1&start_date=2025-01-01&end_date=2025-12-31&created_after=2025-01-01&order_by=-created_at"
MAX_ID = 2**63 - 1


def whole_id(text: str) -> int:
    try:
        number = int(text)
    except ValueError:
        raise ValueError("Enter a whole number.") from None
    if not 1 <= number <= MAX_ID:
        raise ValueError(f"Enter a customer id between 1 and {MAX_ID}.")
    return number


def report_status(text: str) -> str:
    if text not in ReportStatus.values:
        raise ValueError(f"Unknown status {text!r}. Allowed: {', '.join(ReportStatus.values)}.")
    return text


class FilterValue(forms.Field):
    """A typed value as it is, or text parsed by `parse` (trimmed; blank: not given)."""

    def __init__(self, *, parse: Callable[[str], Any] | None = None, **kwargs: Any) -> None:
        self.parse = parse
        super().__init__(**{**kwargs, "required": False})

    def to_python(self, value: Any) -> Any:
        if isinstance(value, str):
            value = value.strip()
            if not value:
                return None
            if self.parse is not None:
                try:
                    return self.parse(value)
                except ValueError as exc:
                    raise forms.ValidationError(str(exc)) from None
        return value


class DateValue(FilterValue):
    def validate(self, value: Any) -> None:
        if value is not None and (problems := date_errors(value)):
            raise forms.ValidationError(problems)


class Value(django_filters.Filter):
    field_class = FilterValue


class DateFilter(django_filters.Filter):
    field_class = DateValue


class ReportFilterSet(django_filters.FilterSet):
    customer_id = Value(field_name="customer_id", parse=whole_id)
    start_date = DateFilter(field_name="start_date", lookup_expr="gte", parse=parse_date)
    end_date = DateFilter(field_name="end_date", lookup_expr="lte", parse=parse_date)
    created_after = DateFilter(method="filter_created_after", parse=parse_date_or_datetime)
    created_before = DateFilter(method="filter_created_before", parse=parse_date_or_datetime)
    status = Value(field_name="status", parse=report_status)
    include_superseded = Value(method="filter_include_superseded")

    class Meta:
        model = BillingReport
        fields: list[str] = []

    def filter_created_after(self, queryset, name, value):
        lower = value if isinstance(value, dt.datetime) else dt.datetime.combine(value, dt.time.min, tzinfo=dt.UTC)
        return queryset.filter(created_at__gte=lower)

    def filter_created_before(self, queryset, name, value):
        upper = value if isinstance(value, dt.datetime) else dt.datetime.combine(value, dt.time.min, tzinfo=dt.UTC)
        return queryset.filter(created_at__lt=upper + dt.timedelta(days=0 if isinstance(value, dt.datetime) else 1))

    def filter_include_superseded(self, queryset, name, value):
        return queryset if value else queryset.filter(status__in=LIVE_REPORT_STATUSES)


def with_filterset(params: QueryDict) -> dict[str, Any]:
    names = ("customer_id", "start_date", "end_date", "created_after", "created_before", "status")
    filters = ReportFilterSet(data={name: params.get(name) for name in names})
    assert filters.is_valid(), filters.errors
    return {name: value for name, value in filters.form.cleaned_data.items() if value is not None}


def cpu_us(parse: Callable[[QueryDict], dict[str, Any]], params: QueryDict, rounds: int = 5, n: int = 2000) -> float:
    for _ in range(200):
        parse(params)
    best = []
    for _ in range(rounds):
        started = time.process_time()
        for _ in range(n):
            parse(params)
        best.append((time.process_time() - started) / n * 1e6)
    return min(best)


def main() -> None:
    params = QueryDict(QUERY)
    hand = {key: value for key, value in parse_report_filters(params).items() if key != "order_by"}
    assert with_filterset(params) == hand, (with_filterset(params), hand)
    print(f"reports list filters ({QUERY})")
    print(f"  hand-written parse_report_filters (kept): {cpu_us(parse_report_filters, params):8.1f} us CPU per parse")
    print(f"  django-filter FilterSet:                  {cpu_us(with_filterset, params):8.1f} us CPU per parse")


if __name__ == "__main__":
    main()
