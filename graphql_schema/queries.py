"""Root queries. Every field needs an authenticated user; resolvers call billing selectors,
which scope every result to what the user may see."""

from __future__ import annotations

import uuid
from typing import Annotated

import strawberry
import strawberry_django
from django.db.models import QuerySet
from strawberry.types import Info

from billing import models
from billing.errors import NotFound
from billing.permissions import READ_AUDIT_TRAIL
from billing.selectors import customer_summaries, customers_visible_to, order_list, report_get, report_list
from billing.selectors.audit import audit_event_list
from billing.selectors.jobs import billing_run_get, report_job_get
from graphql_schema.analytics import analytics_field, report_jobs_field
from graphql_schema.filters import AuditEventFilter, OrderFilter, OrderOrdering, ReportFilter, ReportOrdering
from graphql_schema.permissions import HasPerm, IsAuthenticated, current_user
from graphql_schema.report_diff import report_diff_field
from graphql_schema.types import (
    AuditEventType,
    BillingReportType,
    BillingRunType,
    CountedConnection,
    CustomerSummaryType,
    CustomerType,
    OrderType,
    ReportJobType,
    UserType,
)

FilterArgument = strawberry.argument(name="filter")


@strawberry.type
class Query:
    analytics = analytics_field
    report_jobs = report_jobs_field
    report_diff = report_diff_field

    @strawberry_django.field(extensions=[IsAuthenticated()], description="The signed-in user.")
    def me(self, info: Info) -> UserType | None:
        return current_user(info)  # type: ignore[return-value]

    @strawberry_django.connection(
        CountedConnection[BillingReportType],
        extensions=[IsAuthenticated()],
        description="Billing reports the user may see; filters and ordering as in the REST list.",
    )
    def reports(
        self,
        info: Info,
        filter_: Annotated[ReportFilter | None, FilterArgument] = None,
        order_by: ReportOrdering | None = None,
    ) -> QuerySet[models.BillingReport]:
        return report_list(
            actor=current_user(info),
            order_by=order_by.order_by() if order_by is not None else None,
            **(filter_.selector_kwargs() if filter_ is not None else {}),
        )

    @strawberry_django.field(
        extensions=[IsAuthenticated()],
        description="One report; null when it does not exist or the user may not see it.",
    )
    def report(self, info: Info, id: uuid.UUID) -> BillingReportType | None:
        try:
            return report_get(actor=current_user(info), report_id=id)  # type: ignore[return-value]
        except NotFound:
            return None

    @strawberry_django.connection(
        CountedConnection[OrderType],
        extensions=[IsAuthenticated()],
        description="Orders the user may see, with their SKU lines.",
    )
    def orders(
        self,
        info: Info,
        filter_: Annotated[OrderFilter | None, FilterArgument] = None,
        order_by: OrderOrdering | None = None,
    ) -> QuerySet[models.Order]:
        return order_list(
            actor=current_user(info),
            order_by=order_by.order_by() if order_by is not None else None,
            **(filter_.selector_kwargs() if filter_ is not None else {}),
        )

    @strawberry_django.connection(
        CountedConnection[CustomerType],
        extensions=[IsAuthenticated()],
        description="Customers the user may see, by company name.",
    )
    def customers(self, info: Info) -> QuerySet[models.Customer]:
        return customers_visible_to(current_user(info))

    @strawberry_django.field(
        extensions=[IsAuthenticated()],
        description=(
            "Billing summary per customer from CURRENT reports. Without customerId: every visible customer "
            "with at least one report; with it: that customer (empty when unknown or not visible)."
        ),
    )
    def customer_summaries(self, info: Info, customer_id: int | None = None) -> list[CustomerSummaryType]:
        return customer_summaries(actor=current_user(info), customer_id=customer_id)  # type: ignore[return-value]

    @strawberry_django.connection(
        CountedConnection[AuditEventType],
        extensions=[IsAuthenticated(), HasPerm(READ_AUDIT_TRAIL)],
        description=(
            "The audit trail, newest first: who generated, regenerated, superseded or downloaded which report. "
            "Billing staff only (billing.view_auditevent or superuser)."
        ),
    )
    def audit_events(
        self, info: Info, filter_: Annotated[AuditEventFilter | None, FilterArgument] = None
    ) -> QuerySet[models.AuditEvent]:
        return audit_event_list(actor=current_user(info), **(filter_.selector_kwargs() if filter_ is not None else {}))

    @strawberry_django.field(
        extensions=[IsAuthenticated()],
        description="A background report job; null when it does not exist or the user may not see it.",
    )
    def report_job(self, info: Info, id: uuid.UUID) -> ReportJobType | None:
        try:
            return report_job_get(actor=current_user(info), job_id=id)  # type: ignore[return-value]
        except NotFound:
            return None

    @strawberry_django.field(
        extensions=[IsAuthenticated()],
        description="A billing run with its job counts; null when it does not exist or the user may not see it.",
    )
    def billing_run(self, info: Info, id: uuid.UUID) -> BillingRunType | None:
        try:
            return billing_run_get(actor=current_user(info), run_id=id)  # type: ignore[return-value]
        except NotFound:
            return None
