"""Dashboard queries: `analytics` (billing series, period comparison, top customers/services)
and `reportJobs` (the latest background jobs).

The resolvers map billing.selectors.analytics results onto GraphQL types; the selectors do
the scoping (live reports the user may see), the aggregation and the validation. Each of
`series`, `comparison` and `top` runs one SQL statement.
"""

from __future__ import annotations

import datetime as dt
from decimal import Decimal
from typing import Annotated

import strawberry
import strawberry_django
from django.db.models import QuerySet
from strawberry.types import Info

from billing import models
from billing.selectors import analytics as selectors
from billing.selectors.jobs import report_job_list
from graphql_schema.permissions import IsAuthenticated, current_user
from graphql_schema.scalars import Money
from graphql_schema.types import CountedConnection, Period, ReportJobType

AnalyticsBucket = strawberry.enum(
    selectors.Bucket,
    name="AnalyticsBucket",
    description="Calendar buckets of a series: days, ISO weeks (from Monday), months, quarters.",
)
AnalyticsDimension = strawberry.enum(
    selectors.Dimension, name="AnalyticsDimension", description="What figures can be grouped or ranked by."
)


@strawberry.input(description="The range (both dates inclusive) and scope of the analytics.")
class AnalyticsFilter:
    start_date: dt.date
    end_date: dt.date
    customer_id: int | None = strawberry.field(default=None, description="Only this customer.")
    service_id: int | None = strawberry.field(
        default=None, description="Only this service (then unbilledOrderCount is null: unbilled orders have none)."
    )


def _period(range_: selectors.DateRange) -> Period:
    return Period(start_date=range_.start, end_date=range_.end)


@strawberry.type(description="What a series, comparison or ranking entry is about; null fields are not grouped.")
class AnalyticsKey:
    currency: str = strawberry.field(description="ISO 4217 code: figures in different currencies are never added.")
    customer_id: int | None
    customer_name: str | None
    service_id: int | None
    service_name: str | None

    @classmethod
    def of(cls, key: selectors.Key) -> AnalyticsKey:
        return cls(
            currency=key.currency,
            customer_id=key.customer_id,
            customer_name=key.customer_name,
            service_id=key.service_id,
            service_name=key.service_name,
        )


@strawberry.type(description="Billed figures from live reports.")
class BillingFigures:
    billed_amount: Money
    order_count: int = strawberry.field(description="Billed orders (grouped by service: orders it charged).")
    unbilled_order_count: int | None = strawberry.field(
        description="Billable orders no rate-card line applied to; null per service."
    )
    line_count: int = strawberry.field(description="Charges (order x service).")

    @classmethod
    def of(cls, figures: selectors.Figures) -> BillingFigures:
        return cls(
            billed_amount=figures.billed_amount,  # type: ignore[arg-type]
            order_count=figures.order_count,
            unbilled_order_count=figures.unbilled_order_count,
            line_count=figures.line_count,
        )


@strawberry.type(description="One bucket of a series.")
class BillingPoint:
    start: dt.date = strawberry.field(description="First day of the bucket inside the range.")
    end: dt.date = strawberry.field(description="Last day of the bucket inside the range.")
    figures: BillingFigures


@strawberry.type(description="Figures per bucket for one key; every bucket of the range is present.")
class BillingSeries:
    key: AnalyticsKey
    points: list[BillingPoint]


@strawberry.type(description="Change from the previous period to the range.")
class BillingChange:
    billed_amount: Money
    billed_amount_percent: Decimal | None = strawberry.field(description="Null when the previous amount is 0.")
    order_count: int
    order_count_percent: Decimal | None = strawberry.field(description="Null when the previous count is 0.")


@strawberry.type(description="The range against the previous period of the same length, for one key.")
class BillingComparison:
    key: AnalyticsKey
    current: BillingFigures
    previous: BillingFigures
    change: BillingChange


@strawberry.type(description="A customer or service in a top list, ranked within its currency.")
class BillingRank:
    rank: int = strawberry.field(description="1 for the most billed of its currency.")
    key: AnalyticsKey
    figures: BillingFigures


GroupBy = Annotated[
    list[AnalyticsDimension] | None,  # type: ignore[valid-type]
    strawberry.argument(description="Group by customer and/or service (default: per currency only)."),
]


@strawberry.type(
    description=(
        "Billing analytics over a date range, from live reports the user may see. An order counts on "
        "the day it closed (in its report's billing time zone), so a report straddling two buckets is "
        "split by its orders' close dates."
    )
)
class BillingAnalytics:
    filter: strawberry.Private[selectors.AnalyticsFilter]

    @strawberry.field(description="The range.")
    def period(self) -> Period:
        return _period(self.filter.range)

    @strawberry.field(
        description="The period compared against: as many whole months before when the range is whole months, "
        "otherwise as many days before."
    )
    def previous_period(self) -> Period:
        return _period(self.filter.range.previous())

    @strawberry.field(description="Figures per bucket, one series per currency (and per group).")
    def series(
        self,
        info: Info,
        bucket: AnalyticsBucket = selectors.Bucket.MONTH,  # type: ignore[valid-type]
        group_by: GroupBy = None,
    ) -> list[BillingSeries]:
        found = selectors.billing_series(
            actor=current_user(info), filter=self.filter, bucket=bucket, group_by=group_by or ()
        )
        return [
            BillingSeries(
                key=AnalyticsKey.of(series.key),
                points=[
                    BillingPoint(start=point.start, end=point.end, figures=BillingFigures.of(point.figures))
                    for point in series.points
                ],
            )
            for series in found
        ]

    @strawberry.field(description="The range against the previous period, per currency (and per group).")
    def comparison(self, info: Info, group_by: GroupBy = None) -> list[BillingComparison]:
        found = selectors.billing_comparison(actor=current_user(info), filter=self.filter, group_by=group_by or ())
        return [
            BillingComparison(
                key=AnalyticsKey.of(item.key),
                current=BillingFigures.of(item.current),
                previous=BillingFigures.of(item.previous),
                change=BillingChange(
                    billed_amount=item.billed_amount_change,  # type: ignore[arg-type]
                    billed_amount_percent=item.billed_amount_change_percent,
                    order_count=item.order_count_change,
                    order_count_percent=item.order_count_change_percent,
                ),
            )
            for item in found
        ]

    @strawberry.field(description="The customers or services billed the most over the range, per currency.")
    def top(
        self,
        info: Info,
        by: AnalyticsDimension,  # type: ignore[valid-type]
        limit: Annotated[int, strawberry.argument(description="Entries per currency, 1 to 100.")] = 10,
    ) -> list[BillingRank]:
        found = selectors.billing_top(actor=current_user(info), filter=self.filter, by=by, limit=limit)
        return [
            BillingRank(rank=item.rank, key=AnalyticsKey.of(item.key), figures=BillingFigures.of(item.figures))
            for item in found
        ]


def analytics(info: Info, filter: AnalyticsFilter) -> BillingAnalytics | None:
    return BillingAnalytics(
        filter=selectors.analytics_filter(
            start_date=filter.start_date,
            end_date=filter.end_date,
            customer_id=filter.customer_id,
            service_id=filter.service_id,
        )
    )


analytics_field = strawberry.field(
    resolver=analytics,
    extensions=[IsAuthenticated()],
    description="Billing analytics for dashboards: series, period comparison and top lists from live reports.",
)


def report_jobs(info: Info, customer_id: int | None = None) -> QuerySet[models.ReportJob]:
    return report_job_list(actor=current_user(info), customer_id=customer_id)


report_jobs_field = strawberry_django.connection(
    CountedConnection[ReportJobType],
    resolver=report_jobs,
    extensions=[IsAuthenticated()],
    description="Background report jobs the user may see, newest first; customerId: only that customer's.",
)
