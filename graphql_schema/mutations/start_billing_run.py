"""startBillingRun: queue one report job per customer for a period (month-end)."""

from __future__ import annotations

from typing import Annotated

import strawberry
from strawberry.types import Info

from billing.models import Interface
from billing.permissions import GENERATE
from billing.services.jobs import billing_run_start
from graphql_schema.errors import (
    AuthenticationRequiredError,
    PermissionDeniedError,
    RateLimitedError,
    ValidationError,
    returning_errors,
)
from graphql_schema.inputs import StartBillingRunInput
from graphql_schema.permissions import HasPerm, IsAuthenticated, current_user, request_id
from graphql_schema.types import BillingRunType

StartBillingRunResult = Annotated[
    BillingRunType | ValidationError | PermissionDeniedError | AuthenticationRequiredError | RateLimitedError,
    strawberry.union("StartBillingRunResult", description="The run (poll billingRun(id)), or why it was refused."),
]


def start_billing_run(info: Info, input: StartBillingRunInput) -> StartBillingRunResult:
    return returning_errors(  # type: ignore[return-value]
        lambda: billing_run_start(
            actor=current_user(info),
            start_date=input.start_date,
            end_date=input.end_date,
            customer_ids=input.customer_ids,
            interface=Interface.GRAPHQL,
            request_id=request_id(info),
        )
    )


start_billing_run_field = strawberry.mutation(
    resolver=start_billing_run,
    description="Start a billing run: one background report job per customer (needs the generate permission).",
    extensions=[IsAuthenticated(), HasPerm(GENERATE)],
)
