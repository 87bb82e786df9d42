"""Billing analytics: what was billed, over time, per customer and per service.

Read from live reports only (billing.models.LIVE_REPORT_STATUSES) and scoped like every other
read (billing.permissions.visible_customer_ids). The figures come from the per-day and
per-month totals written with each report (billing.services.analytics), aggregated by the
database: every function here runs one statement (plus the actor's visibility look-up,
memoised per request), whatever the number of reports, lines or buckets. A range of whole
calendar months reads the per-month rows, any other range the per-day rows.

Bucketing rule: an order counts on the day it closed, in the billing time zone of its report
(the reading that put it in the report's period). A report whose period straddles two buckets
is therefore split between them by its orders' close dates, as revenue is recognised when the
work was done; a monthly report always falls in its month.

Money is never added across currencies: every series, comparison row and ranking is per
currency (the report's currency).
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from dataclasses import dataclass
from decimal import ROUND_HALF_UP, Decimal
from enum import StrEnum
from typing import Any

from django.db.models import DateField, F, Max, Q, QuerySet, Sum, Window
from django.db.models.functions import Coalesce, RowNumber, Trunc

from billing.errors import ValidationFailed
from billing.models import LIVE_REPORT_STATUSES, ReportDay, ReportDayService, ReportMonth, ReportMonthService
from billing.permissions import Actor, visible_customer_ids

ZERO = Decimal("0.00")
MAX_BUCKETS = 400  # a year of days, seven years of weeks
MAX_TOP = 100
FIRST_DAY = dt.date(1900, 1, 1)  # with its previous period, a range must lie in these years
LAST_DAY = dt.date(9998, 12, 31)


class Bucket(StrEnum):
    DAY = "day"
    WEEK = "week"  # ISO weeks, from Monday
    MONTH = "month"
    QUARTER = "quarter"


class Dimension(StrEnum):
    CUSTOMER = "customer"
    SERVICE = "service"


@dataclass(frozen=True)
class DateRange:
    """Both dates inclusive."""

    start: dt.date
    end: dt.date

    @property
    def days(self) -> int:
        return (self.end - self.start).days + 1

    def previous(self) -> DateRange:
        """The period just before, of the same length: as many whole calendar months when the
        range is whole months (March -> February, Q2 -> Q1), otherwise as many days."""
        months = _whole_months(self)
        if months:
            start = _add_months(self.start, -months)
            return DateRange(start, self.start - dt.timedelta(days=1))
        return DateRange(self.start - dt.timedelta(days=self.days), self.start - dt.timedelta(days=1))


@dataclass(frozen=True)
class AnalyticsFilter:
    range: DateRange
    customer_id: int | None = None
    service_id: int | None = None


@dataclass(frozen=True)
class Key:
    """What a series, comparison row or ranking entry is about. None: not grouped by it."""

    currency: str
    customer_id: int | None = None
    customer_name: str | None = None
    service_id: int | None = None
    service_name: str | None = None


@dataclass(frozen=True)
class Figures:
    billed_amount: Decimal = ZERO
    order_count: int = 0
    line_count: int = 0
    unbilled_order_count: int | None = 0
    """None when the figures are per service: an unbilled order has no service."""


@dataclass(frozen=True)
class Point:
    start: dt.date
    """First day of the bucket within the range."""
    end: dt.date
    """Last day of the bucket within the range."""
    figures: Figures


@dataclass(frozen=True)
class Series:
    key: Key
    points: list[Point]


@dataclass(frozen=True)
class Comparison:
    key: Key
    current: Figures
    previous: Figures

    @property
    def billed_amount_change(self) -> Decimal:
        return self.current.billed_amount - self.previous.billed_amount

    @property
    def billed_amount_change_percent(self) -> Decimal | None:
        return percent_change(self.current.billed_amount, self.previous.billed_amount)

    @property
    def order_count_change(self) -> int:
        return self.current.order_count - self.previous.order_count

    @property
    def order_count_change_percent(self) -> Decimal | None:
        return percent_change(Decimal(self.current.order_count), Decimal(self.previous.order_count))


@dataclass(frozen=True)
class Ranked:
    rank: int
    key: Key
    figures: Figures


def percent_change(current: Decimal, previous: Decimal) -> Decimal | None:
    """(current - previous) / previous in percent, half-up to 0.1; None when previous is 0."""
    if not previous:
        return None
    return ((current - previous) * 100 / previous).quantize(Decimal("0.1"), rounding=ROUND_HALF_UP)


def analytics_filter(
    *, start_date: Any, end_date: Any, customer_id: int | None = None, service_id: int | None = None
) -> AnalyticsFilter:
    """Validate the common arguments; ValidationFailed lists every bad field."""
    errors: dict[str, list[str]] = {}
    for name, value in (("start_date", start_date), ("end_date", end_date)):
        if not isinstance(value, dt.date) or isinstance(value, dt.datetime):
            errors[name] = ["Enter a date (YYYY-MM-DD)."]
    if not errors and start_date > end_date:
        errors["end_date"] = ["The end date must be on or after the start date."]
    if not errors and not (start_date >= FIRST_DAY and end_date <= LAST_DAY):
        errors["start_date" if start_date < FIRST_DAY else "end_date"] = [
            f"Enter a date between {FIRST_DAY} and {LAST_DAY}."
        ]
    if not errors and start_date.toordinal() - (end_date - start_date).days - 1 < FIRST_DAY.toordinal():
        errors["start_date"] = [f"The period before this range would start before {FIRST_DAY}."]
    if errors:
        raise ValidationFailed("Invalid analytics filter.", fields=errors)
    return AnalyticsFilter(range=DateRange(start_date, end_date), customer_id=customer_id, service_id=service_id)


# --- the queries ----------------------------------------------------------------------------


def billing_series(
    *, actor: Actor, filter: AnalyticsFilter, bucket: Bucket, group_by: Sequence[Dimension] = ()
) -> list[Series]:
    """One series per key (currency, plus customer and/or service when grouped), each with a
    point for every bucket of the range (zeros where nothing was billed). One statement."""
    starts = _bucket_starts(filter.range, bucket)
    rows, per_service, date = _rows(actor, filter, group_by, months=bucket in (Bucket.MONTH, Bucket.QUARTER))
    grouped = (
        rows.annotate(bucket=Trunc(date, bucket.value, output_field=DateField()))
        .values("bucket", *_key_columns(group_by))
        .annotate(**_figure_sums(per_service), **_name_columns(group_by))
        .order_by()
    )
    found: dict[Key, dict[dt.date, Figures]] = {}
    for row in grouped:
        found.setdefault(_key(row, group_by), {})[row["bucket"]] = _figures(row, per_service)
    empty = Figures(unbilled_order_count=None if per_service else 0)
    bounds = [
        (max(start, filter.range.start), min(_next_bucket(start, bucket) - dt.timedelta(days=1), filter.range.end))
        for start in starts
    ]
    return [
        Series(
            key=key,
            points=[
                Point(start=low, end=high, figures=by_bucket.get(start, empty))
                for start, (low, high) in zip(starts, bounds, strict=True)
            ],
        )
        for key, by_bucket in sorted(found.items(), key=lambda item: _sort_key(item[0]))
    ]


def billing_comparison(
    *, actor: Actor, filter: AnalyticsFilter, group_by: Sequence[Dimension] = ()
) -> list[Comparison]:
    """The range against the previous period of the same length (DateRange.previous), per key.
    One statement over both periods."""
    current, previous = filter.range, filter.range.previous()
    widened = AnalyticsFilter(DateRange(previous.start, current.end), filter.customer_id, filter.service_id)
    rows, per_service, date = _rows(actor, widened, group_by)
    in_current = Q(**{f"{date}__gte": current.start})
    in_previous = Q(**{f"{date}__lte": previous.end})
    grouped = (
        rows.values(*_key_columns(group_by))
        .annotate(
            **_figure_sums(per_service, filter=in_current, prefix="now_"),
            **_figure_sums(per_service, filter=in_previous, prefix="before_"),
            **_name_columns(group_by),
        )
        .order_by()
    )
    comparisons = [
        Comparison(
            key=_key(row, group_by),
            current=_figures(row, per_service, prefix="now_"),
            previous=_figures(row, per_service, prefix="before_"),
        )
        for row in grouped
    ]
    return sorted(comparisons, key=lambda item: _sort_key(item.key))


def billing_top(*, actor: Actor, filter: AnalyticsFilter, by: Dimension, limit: int = 10) -> list[Ranked]:
    """The `limit` customers or services billed the most over the range, ranked within each
    currency (amounts in different currencies are not comparable). One statement."""
    if not 1 <= limit <= MAX_TOP:
        raise ValidationFailed.for_field("limit", f"Enter a limit between 1 and {MAX_TOP}.")
    group_by = (by,)
    rows, per_service, _ = _rows(actor, filter, group_by)
    key_columns = _key_columns(group_by)
    ranked = (
        rows.values(*key_columns)
        .annotate(**_figure_sums(per_service), **_name_columns(group_by))
        .annotate(
            rank=Window(
                RowNumber(),
                partition_by=[F("report__currency")],
                order_by=[F("billed_amount").desc(), F(key_columns[-1]).asc()],
            )
        )
        .filter(rank__lte=limit)
        .order_by()
    )
    entries = [Ranked(rank=row["rank"], key=_key(row, group_by), figures=_figures(row, per_service)) for row in ranked]
    return sorted(entries, key=lambda item: (item.key.currency, item.rank))


# --- building blocks ------------------------------------------------------------------------


def _rows(
    actor: Actor, filter: AnalyticsFilter, group_by: Sequence[Dimension], *, months: bool = True
) -> tuple[QuerySet[Any], bool, str]:
    """The stored totals of live, visible reports in the range: (rows, per service?, date field).

    A range of whole calendar months reads the per-month rows (when `months`: the buckets are
    months or quarters), any other range the per-day rows; both give the same sums.
    """
    per_service = Dimension.SERVICE in group_by or filter.service_id is not None
    model: Any
    if months and _whole_months(filter.range):
        model, date = (ReportMonthService if per_service else ReportMonth), "month"
    else:
        model, date = (ReportDayService if per_service else ReportDay), "day"
    rows = model.objects.filter(
        report__status__in=LIVE_REPORT_STATUSES,
        **{f"{date}__gte": filter.range.start, f"{date}__lte": filter.range.end},
    )
    visible = visible_customer_ids(actor)
    if visible is not None:
        rows = rows.filter(report__customer_id__in=visible)
    if filter.customer_id is not None:
        rows = rows.filter(report__customer_id=filter.customer_id)
    if filter.service_id is not None:
        rows = rows.filter(service_id=filter.service_id)
    return rows, per_service, date


def _key_columns(group_by: Sequence[Dimension]) -> list[str]:
    columns = ["report__currency"]
    if Dimension.CUSTOMER in group_by:
        columns.append("report__customer_id")
    if Dimension.SERVICE in group_by:
        columns.append("service_id")
    return columns


def _name_columns(group_by: Sequence[Dimension]) -> dict[str, Any]:
    # Names are aggregated rather than grouped: a renamed service stays one series.
    names: dict[str, Any] = {}
    if Dimension.CUSTOMER in group_by:
        names["customer_name"] = Max("report__customer__company_name")
    if Dimension.SERVICE in group_by:
        names["service_name"] = Max("service_name")
    return names


def _figure_sums(per_service: bool, *, filter: Q | None = None, prefix: str = "") -> dict[str, Any]:
    def total(column: str, zero: Any = 0) -> Coalesce:
        return Coalesce(Sum(column, filter=filter), zero)

    sums = {
        f"{prefix}billed_amount": total("amount", ZERO),
        f"{prefix}order_count": total("order_count"),
        f"{prefix}line_count": total("line_count"),
    }
    if not per_service:
        sums[f"{prefix}unbilled_order_count"] = total("unbilled_order_count")
    return sums


def _figures(row: dict[str, Any], per_service: bool, *, prefix: str = "") -> Figures:
    return Figures(
        billed_amount=Decimal(row[f"{prefix}billed_amount"]).quantize(Decimal("0.01")),
        order_count=int(row[f"{prefix}order_count"]),
        line_count=int(row[f"{prefix}line_count"]),
        unbilled_order_count=None if per_service else int(row[f"{prefix}unbilled_order_count"]),
    )


def _key(row: dict[str, Any], group_by: Sequence[Dimension]) -> Key:
    return Key(
        currency=row["report__currency"],
        customer_id=row.get("report__customer_id"),
        customer_name=row.get("customer_name"),
        service_id=row.get("service_id") if Dimension.SERVICE in group_by else None,
        service_name=row.get("service_name"),
    )


def _sort_key(key: Key) -> tuple[Any, ...]:
    return (key.currency, key.customer_name or "", key.customer_id or 0, key.service_name or "", key.service_id or 0)


def _bucket_start(day: dt.date, bucket: Bucket) -> dt.date:
    if bucket is Bucket.DAY:
        return day
    if bucket is Bucket.WEEK:
        return day - dt.timedelta(days=day.weekday())
    if bucket is Bucket.MONTH:
        return day.replace(day=1)
    return day.replace(month=(day.month - 1) // 3 * 3 + 1, day=1)


def _next_bucket(start: dt.date, bucket: Bucket) -> dt.date:
    if bucket is Bucket.DAY:
        return start + dt.timedelta(days=1)
    if bucket is Bucket.WEEK:
        return start + dt.timedelta(days=7)
    return _add_months(start, 1 if bucket is Bucket.MONTH else 3)


def _bucket_starts(range_: DateRange, bucket: Bucket) -> list[dt.date]:
    starts = []
    start = _bucket_start(range_.start, bucket)
    while start <= range_.end:
        starts.append(start)
        if len(starts) > MAX_BUCKETS:
            raise ValidationFailed.for_field(
                "bucket", f"The range has more than {MAX_BUCKETS} {bucket.value} buckets: choose a larger bucket."
            )
        start = _next_bucket(start, bucket)
    return starts


def _add_months(day: dt.date, months: int) -> dt.date:
    """The first of the month `months` after day's month (day must be a first of month when used
    to shift a whole-month range)."""
    index = day.year * 12 + day.month - 1 + months
    return dt.date(index // 12, index % 12 + 1, 1)


def _whole_months(range_: DateRange) -> int:
    """The number of calendar months the range covers exactly, or 0."""
    if range_.start.day != 1 or (range_.end + dt.timedelta(days=1)).day != 1:
        return 0
    after = range_.end + dt.timedelta(days=1)
    return (after.year - range_.start.year) * 12 + after.month - range_.start.month
