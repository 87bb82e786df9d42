"""generateReport: price a customer's orders for a period and store the report.

Synchronous by default (the new report is returned); with `async: true` the generation is
queued and its ReportJob returned. An idempotency key makes either safe to retry. Both count
against the user's generation rate limit (RateLimitedError), shared with REST.
"""

from __future__ import annotations

from typing import Annotated

import strawberry
from strawberry.types import Info

from billing.models import BillingReport, Interface, ReportJob
from billing.permissions import GENERATE
from billing.report_request import ReportRequest
from billing.services.generate import report_request_submit
from graphql_schema.errors import (
    AlreadyBilledError,
    AuthenticationRequiredError,
    IdempotencyConflictError,
    InvalidTransitionError,
    NotFoundError,
    PermissionDeniedError,
    RateLimitedError,
    ValidationError,
    returning_errors,
)
from graphql_schema.inputs import GenerateReportInput
from graphql_schema.permissions import HasPerm, IsAuthenticated, current_user, request_id
from graphql_schema.types import BillingReportType, ReportJobType

GenerateReportResult = Annotated[
    BillingReportType
    | ReportJobType
    | ValidationError
    | NotFoundError
    | PermissionDeniedError
    | AuthenticationRequiredError
    | IdempotencyConflictError
    | AlreadyBilledError
    | InvalidTransitionError
    | RateLimitedError,
    strawberry.union(
        "GenerateReportResult",
        description="The new report (or, with async, its job), or why nothing was generated.",
    ),
]


def _generate(info: Info, data: GenerateReportInput) -> BillingReport | ReportJob:
    request = ReportRequest(
        customer_id=data.customer_id,
        start_date=data.start_date,
        end_date=data.end_date,
        output_format=data.output_format.value,
        customer_service_ids=data.customer_service_ids,
        only_unbilled=data.only_unbilled,
        asynchronous=data.async_,
        idempotency_key=data.idempotency_key,
        interface=Interface.GRAPHQL,
        request_id=request_id(info),
    )
    return report_request_submit(current_user(info), request).result


def generate_report(info: Info, input: GenerateReportInput) -> GenerateReportResult:
    return returning_errors(lambda: _generate(info, input))  # type: ignore[return-value]


generate_report_field = strawberry.mutation(
    resolver=generate_report,
    description=(
        "Generate a billing report (needs the generate permission, and visibility of the customer). "
        "The report is a DRAFT; regenerating the same scope (period and rate-card lines) supersedes it. "
        "Pairs another live report bills are refused (ALREADY_BILLED) unless onlyUnbilled. Nothing is written on error."
    ),
    extensions=[IsAuthenticated(), HasPerm(GENERATE)],
)
