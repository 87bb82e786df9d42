"""Upserts of billable activity beyond orders: inventory snapshots, receipts, returns, extra work.

One mutation per kind, each the service behind `manage.py import_activity`
(billing.services.activity.activity_upsert), which checks the permissions and every value.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
from collections.abc import Callable
from decimal import Decimal
from typing import Annotated, Any

import strawberry
from strawberry.types import Info

from billing.services.activity import ActivityResult, activity_upsert
from billing.services.activity_rows import EXTRA_WORK, RECEIPTS, RETURNS, SNAPSHOTS
from graphql_schema.errors import (
    AuthenticationRequiredError,
    PermissionDeniedError,
    ValidationError,
    returning_errors,
    validation_error,
)
from graphql_schema.inputs import OrderLineInput
from graphql_schema.mutations.upsert_orders import MAX_ORDERS_PER_CALL
from graphql_schema.permissions import IsAuthenticated, current_user

MAX_ROWS_PER_CALL = MAX_ORDERS_PER_CALL


def _row(item: Any) -> dict[str, Any]:
    """An input as the import row the activity service reads (the file columns' names)."""
    row = {field.name: getattr(item, field.name) for field in dataclasses.fields(item) if field.name != "lines"}
    if hasattr(item, "lines"):
        row["sku_quantity"] = [{"sku": line.sku, "quantity": line.quantity} for line in item.lines or []]
    return row


@strawberry.input(
    description="What a customer had in store on one day: one SKU at one location. Matched by "
    "(customerId, snapshotDate, SKU normalised, location)."
)
class InventorySnapshotInput:
    customer_id: int
    snapshot_date: dt.date
    sku: str
    quantity: int
    location: str | None = None
    pallets: Decimal | None = strawberry.field(default=None, description="Default 0.")
    cubic_feet: Decimal | None = strawberry.field(default=None, description="Default 0.")


@strawberry.input(description="The fields receipts and returns share.")
class _ReceivedInput:
    customer_id: int
    reference: str
    received_at: dt.datetime = strawberry.field(description="Without an offset: billing time zone.")


@strawberry.input(description="An inbound shipment received for a customer. Matched by (customerId, reference).")
class ReceiptInput(_ReceivedInput):
    pallets: int | None = None
    cartons: int | None = None
    units: int | None = strawberry.field(default=None, description="Default: the sum of the lines.")
    labour_minutes: Decimal | None = None
    notes: str | None = None
    lines: list[OrderLineInput] | None = None


@strawberry.input(description="A return received from a customer's buyer. Matched by (customerId, reference).")
class ReturnInput(_ReceivedInput):
    original_order_reference: str | None = None
    units: int | None = strawberry.field(default=None, description="Default: the sum of the lines.")
    notes: str | None = None
    lines: list[OrderLineInput] | None = None


@strawberry.input(
    description="Work staff did for a customer beyond fulfilment, billed at the rate-card price of its "
    "service. Matched by (customerId, reference); entered by the signed-in user."
)
class ExtraWorkInput:
    customer_id: int
    work_date: dt.date
    service: str = strawberry.field(description="The service's name: an active line of the customer's rate card.")
    quantity: Decimal = strawberry.field(description="Greater than 0 (hours, pieces ...).")
    reference: str | None = strawberry.field(
        default=None,
        description="Natural key; when omitted one is generated (returned in generatedReferences). "
        "Give one to make a retry safe.",
    )
    description: str | None = None


@strawberry.type(description="A row that was rejected, and why; the other rows were still written.")
class ActivityRowError:
    index: int = strawberry.field(description="Position of the row in the input list, from 0.")
    reference: str = strawberry.field(description="The row's reference (a snapshot: date, SKU and location).")
    reason: str


@strawberry.type(description="A reference generated for an extra-work entry given none.")
class GeneratedReference:
    index: int = strawberry.field(description="Position of the row in the input list, from 0.")
    reference: str


@strawberry.type(description="What an activity upsert did. Sending the same rows again changes nothing.")
class UpsertActivityPayload:
    created: int
    updated: int
    unchanged: int
    rejected: int
    errors: list[ActivityRowError]
    generated_references: list[GeneratedReference] = strawberry.field(
        description="Extra work only: the references generated for rows given none."
    )

    @classmethod
    def from_result(cls, result: ActivityResult) -> UpsertActivityPayload:
        errors = [
            ActivityRowError(index=e.row_number - 1, reference=e.transaction_id, reason=e.reason) for e in result.errors
        ]
        generated = [GeneratedReference(index=row - 1, reference=ref) for row, ref in sorted(result.generated.items())]
        counts = {name: getattr(result, name) for name in ("created", "updated", "unchanged", "rejected")}
        return cls(**counts, errors=errors, generated_references=generated)


UpsertActivityResult = Annotated[
    UpsertActivityPayload | ValidationError | PermissionDeniedError | AuthenticationRequiredError,
    strawberry.union("UpsertActivityResult", description="Counts and per-row errors, or why nothing was done."),
]


def _upsert(kind: str, info: Info, items: list[Any]) -> UpsertActivityResult:
    if len(items) > MAX_ROWS_PER_CALL:
        return validation_error(
            "Too many rows in one call.",
            fields={"input": [f"Send at most {MAX_ROWS_PER_CALL} rows per call; got {len(items)}."]},
        )
    result = returning_errors(
        lambda: activity_upsert(
            kind,
            rows=[_row(item) for item in items],
            actor=current_user(info),
            source="graphql",
            generate_references=True,
        )
    )
    if isinstance(result, ActivityResult):
        return UpsertActivityPayload.from_result(result)
    return result  # type: ignore[return-value]


def upsert_inventory_snapshots(info: Info, input: list[InventorySnapshotInput]) -> UpsertActivityResult:
    return _upsert(SNAPSHOTS, info, input)


def upsert_receipts(info: Info, input: list[ReceiptInput]) -> UpsertActivityResult:
    return _upsert(RECEIPTS, info, input)


def upsert_returns(info: Info, input: list[ReturnInput]) -> UpsertActivityResult:
    return _upsert(RETURNS, info, input)


def upsert_extra_work(info: Info, input: list[ExtraWorkInput]) -> UpsertActivityResult:
    return _upsert(EXTRA_WORK, info, input)


def _field(resolver: Callable[..., UpsertActivityResult], what: str, key: str, model: str) -> Any:
    return strawberry.mutation(
        resolver=resolver,
        description=(
            f"Create or update up to {MAX_ROWS_PER_CALL} {what}, matched by {key} (idempotent). "
            "Invalid rows are listed in `errors` and skipped; the valid ones are written. "
            f"Needs the add and change {model} permissions, for customers you can see."
        ),
        extensions=[IsAuthenticated()],
    )


upsert_inventory_snapshots_field = _field(
    upsert_inventory_snapshots,
    "inventory snapshots",
    "(customerId, snapshotDate, normalised SKU, location)",
    "inventory snapshot",
)
upsert_receipts_field = _field(upsert_receipts, "receipts", "(customerId, reference)", "receipt")
upsert_returns_field = _field(upsert_returns, "returns", "(customerId, reference)", "return")
upsert_extra_work_field = _field(upsert_extra_work, "extra-work entries", "(customerId, reference)", "extra-work")
