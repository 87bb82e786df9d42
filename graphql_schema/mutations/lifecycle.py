"""finalizeReport and voidReport: the invoice lifecycle (billing.services.lifecycle), with the
REST facade's error codes."""

from __future__ import annotations

import uuid
from typing import Annotated

import strawberry
from strawberry.types import Info

from billing.models import Interface
from billing.services.lifecycle import report_finalize, report_void
from graphql_schema.errors import (
    AuthenticationRequiredError,
    InvalidTransitionError,
    NotFoundError,
    PermissionDeniedError,
    ValidationError,
    returning_errors,
)
from graphql_schema.inputs import VoidReportInput
from graphql_schema.permissions import IsAuthenticated, current_user, request_id
from graphql_schema.types import BillingReportType, CreditNoteType

FinalizeReportResult = Annotated[
    BillingReportType | NotFoundError | PermissionDeniedError | AuthenticationRequiredError | InvalidTransitionError,
    strawberry.union("FinalizeReportResult", description="The finalized report, or why it was not finalized."),
]
VoidReportResult = Annotated[
    CreditNoteType
    | ValidationError
    | NotFoundError
    | PermissionDeniedError
    | AuthenticationRequiredError
    | InvalidTransitionError,
    strawberry.union("VoidReportResult", description="The credit note of the voided report, or why it was not voided."),
]


def finalize_report(info: Info, report_id: uuid.UUID) -> FinalizeReportResult:
    return returning_errors(  # type: ignore[return-value]
        lambda: report_finalize(
            actor=current_user(info), report_id=report_id, interface=Interface.GRAPHQL, request_id=request_id(info)
        )
    )


def void_report(info: Info, input: VoidReportInput) -> VoidReportResult:
    def call() -> CreditNoteType:
        note = report_void(
            actor=current_user(info),
            report_id=input.report_id,
            reason=input.reason,
            interface=Interface.GRAPHQL,
            request_id=request_id(info),
        )
        return CreditNoteType.of(note)

    return returning_errors(call)  # type: ignore[return-value]


finalize_report_field = strawberry.mutation(
    resolver=finalize_report,
    description=(
        "Issue a DRAFT report: it gets the next invoice number and never changes again "
        "(needs billing.finalize_report; INVALID_REPORT_TRANSITION unless it is a draft)."
    ),
    extensions=[IsAuthenticated()],
)
void_report_field = strawberry.mutation(
    resolver=void_report,
    description=(
        "Void a FINALIZED report with a reason: its orders may be billed again and a numbered credit note "
        "is issued for the full amount (needs billing.void_report)."
    ),
    extensions=[IsAuthenticated()],
)
