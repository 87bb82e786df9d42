"""Mutation inputs."""

from __future__ import annotations

import datetime as dt
import uuid
from decimal import Decimal
from typing import Any

import strawberry

from graphql_schema.enums import OutputFormat


@strawberry.input(description="What to generate: one customer's report for a period.")
class GenerateReportInput:
    customer_id: int
    start_date: dt.date = strawberry.field(description="First day of the period (inclusive).")
    end_date: dt.date = strawberry.field(description="Last day of the period (inclusive).")
    output_format: OutputFormat = OutputFormat.JSON  # type: ignore[attr-defined]
    customer_service_ids: list[int] | None = strawberry.field(
        default=None, description="Only these rate-card lines of the customer (default: all of them)."
    )
    only_unbilled: bool = strawberry.field(
        default=False,
        description="Bill only the (order, rate-card line) pairs no live report bills yet, instead of refusing.",
    )
    async_: bool = strawberry.field(
        name="async",
        default=False,
        description="True: queue the generation and return its ReportJob at once (poll reportJob(id)).",
    )
    idempotency_key: str | None = strawberry.field(
        default=None,
        description=(
            "Makes the request safe to retry: the same key with the same parameters returns the first "
            "result (report or job) instead of generating again; with other parameters it is refused."
        ),
    )


@strawberry.input(description="Void a finalized report: the reason is printed on its credit note.")
class VoidReportInput:
    report_id: uuid.UUID
    reason: str


@strawberry.input(description="A month-end billing run: one report job per customer for one period.")
class StartBillingRunInput:
    start_date: dt.date
    end_date: dt.date
    customer_ids: list[int] | None = strawberry.field(
        default=None, description="The customers to bill (default: every active customer you may see)."
    )


@strawberry.input(description="One SKU line of an order.")
class OrderLineInput:
    sku: str
    quantity: int


@strawberry.input(
    description=(
        "An order as exported by the WMS; the same fields as `manage.py import_orders`. Matched by "
        "transactionId: a new id creates the order, a known one updates it and replaces its lines."
    )
)
class OrderInput:
    transaction_id: str
    customer_id: int
    close_date: dt.datetime | None = strawberry.field(
        default=None,
        description="Without an offset: billing time zone. An order without a close date is never billable.",
    )
    status: str | None = strawberry.field(
        default=None,
        description="Free text, stored as given (BILLING_NEVER_BILLABLE_STATUSES says which are never billed).",
    )
    reference_number: str | None = None
    priority: str | None = None
    ship_to_name: str | None = None
    ship_to_company: str | None = None
    ship_to_address: str | None = None
    ship_to_address2: str | None = None
    ship_to_city: str | None = None
    ship_to_state: str | None = None
    ship_to_zip: str | None = None
    ship_to_country: str | None = None
    carrier: str | None = None
    weight_lb: Decimal | None = None
    volume_cuft: Decimal | None = None
    packages: int | None = None
    line_items: int | None = strawberry.field(default=None, description="Default: the number of lines.")
    total_item_qty: int | None = strawberry.field(default=None, description="Default: the sum of the lines.")
    notes: str | None = None
    lines: list[OrderLineInput] | None = None

    def as_row(self) -> dict[str, Any]:
        """The import row the orders service reads (the LedgerLink export's field names)."""
        row: dict[str, Any] = {
            "transaction_id": self.transaction_id,
            "customer_id": self.customer_id,
            "close_date": self.close_date,
            "status": self.status,
            "reference_number": self.reference_number,
            "priority": self.priority,
            "ship_to_name": self.ship_to_name,
            "ship_to_company": self.ship_to_company,
            "ship_to_address": self.ship_to_address,
            "ship_to_address2": self.ship_to_address2,
            "ship_to_city": self.ship_to_city,
            "ship_to_state": self.ship_to_state,
            "ship_to_zip": self.ship_to_zip,
            "ship_to_country": self.ship_to_country,
            "carrier": self.carrier,
            "weight_lb": self.weight_lb,
            "volume_cuft": self.volume_cuft,
            "packages": self.packages,
            "line_items": self.line_items,
            "total_item_qty": self.total_item_qty,
            "notes": self.notes,
            "sku_quantity": [{"sku": line.sku, "quantity": line.quantity} for line in self.lines or []],
        }
        return row


@strawberry.input(description="Which report to export, and in which format.")
class ExportReportInput:
    report_id: uuid.UUID
    format: OutputFormat = strawberry.field(description="CSV, JSON or PDF (PDF content is base64).")
