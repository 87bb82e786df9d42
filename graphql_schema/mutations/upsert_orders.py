"""upsertOrders: warehouse systems push orders in bulk (the service behind import_orders)."""

from __future__ import annotations

from typing import Annotated

import strawberry
from strawberry.types import Info

from billing.permissions import IMPORT_ORDERS
from billing.services.orders import UpsertResult, orders_upsert
from graphql_schema.errors import (
    AuthenticationRequiredError,
    PermissionDeniedError,
    ValidationError,
    returning_errors,
    validation_error,
)
from graphql_schema.inputs import OrderInput
from graphql_schema.permissions import HasPerm, IsAuthenticated, current_user

MAX_ORDERS_PER_CALL = 1000


@strawberry.type(description="An order that was rejected, and why; the other orders were still written.")
class OrderRowError:
    index: int = strawberry.field(description="Position of the order in the input list, from 0.")
    transaction_id: str
    reason: str


@strawberry.type(description="What upsertOrders did. Sending the same orders again changes nothing.")
class UpsertOrdersPayload:
    created: int
    updated: int
    unchanged: int
    rejected: int
    errors: list[OrderRowError]

    @classmethod
    def from_result(cls, result: UpsertResult) -> UpsertOrdersPayload:
        return cls(
            created=result.created,
            updated=result.updated,
            unchanged=result.unchanged,
            rejected=result.rejected,
            errors=[
                OrderRowError(index=error.row_number - 1, transaction_id=error.transaction_id, reason=error.reason)
                for error in result.errors
            ],
        )


UpsertOrdersResult = Annotated[
    UpsertOrdersPayload | ValidationError | PermissionDeniedError | AuthenticationRequiredError,
    strawberry.union("UpsertOrdersResult", description="Counts and per-order errors, or why nothing was done."),
]


def upsert_orders(info: Info, input: list[OrderInput]) -> UpsertOrdersResult:
    if len(input) > MAX_ORDERS_PER_CALL:
        return validation_error(
            "Too many orders in one call.",
            fields={"input": [f"Send at most {MAX_ORDERS_PER_CALL} orders per call; got {len(input)}."]},
        )
    result = returning_errors(
        lambda: orders_upsert(rows=[order.as_row() for order in input], actor=current_user(info), source="graphql")
    )
    if isinstance(result, UpsertResult):
        return UpsertOrdersPayload.from_result(result)
    return result  # type: ignore[return-value]


upsert_orders_field = strawberry.mutation(
    resolver=upsert_orders,
    description=(
        f"Create or update up to {MAX_ORDERS_PER_CALL} orders, matched by transactionId (idempotent). "
        "Invalid orders are listed in `errors` and skipped; the valid ones are written. "
        "Needs the add and change order permissions."
    ),
    extensions=[IsAuthenticated(), HasPerm(IMPORT_ORDERS)],
)
