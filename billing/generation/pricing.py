"""Step 3: the pricing loop. Each order is priced once, added to the totals, and handed on.

`priced_orders` is the only place an order becomes charges and an order total; the writers
(copy_writer, bulk_writer) only format what it yields.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from decimal import Decimal
from typing import Any, Protocol

from billing.errors import ValidationFailed
from billing.models import BillingReport, ReportExplanation, ReportServiceTotal
from billing.pricing import PricingError
from billing.pricing.types import Charge, OrderData
from billing.selectors.rate_cards import LineInfo

from .orders import OrderRecord

ZERO = Decimal("0")

# An order with its charges (one per rate-card line that applied) and its total.
PricedOrder = tuple[OrderRecord, list[Charge], Decimal]


class Pricer(Protocol):
    explanations: dict[int, dict]  # explanation key -> payload (billing.pricing.explain)
    explanation_lines: dict[int, int]  # explanation key -> customer_service_id

    def price_order(self, order: OrderData) -> list[Charge]: ...


class Totals:
    """Running sums of the rounded line amounts: report, per service, order counts.

    The engine gives at most one charge per rate-card line and order, so a service's
    order_count (distinct orders charged) is its number of charges.
    """

    def __init__(self, line_info: dict[int, LineInfo]) -> None:
        self.line_info = line_info
        self.amount = ZERO
        self.lines = 0
        self.billed_orders = 0
        self.unbilled_orders = 0
        # customer_service_id -> [quantity, amount, order_count]
        self.per_service: dict[int, list] = {cs_id: [ZERO, ZERO, 0] for cs_id in line_info}

    def service_totals(self, report: BillingReport) -> list[ReportServiceTotal]:
        totals = []
        for cs_id, (quantity, amount, order_count) in self.per_service.items():
            if not order_count:
                continue
            info = self.line_info[cs_id]
            totals.append(
                ReportServiceTotal(
                    report=report,
                    service_id=info.service_id,
                    service_name=info.service_name,
                    charge_type=info.charge_type,
                    quantity=quantity,
                    amount=amount,
                    order_count=order_count,
                )
            )
        return totals


def explanation_rows(report: BillingReport, run: Pricer, totals: Totals) -> list[ReportExplanation]:
    """The report's explanations: one row per key of the rate-card lines that charged something."""
    charged = {cs_id for cs_id, (_, _, order_count) in totals.per_service.items() if order_count}
    lines = run.explanation_lines
    return [
        ReportExplanation(report=report, key=key, payload=payload)
        for key, payload in run.explanations.items()
        if lines[key] in charged
    ]


def priced_orders(run: Pricer, records: Iterable[OrderRecord], totals: Totals) -> Iterator[PricedOrder]:
    """Price each record in turn (the canonical order the tiers need), add it to `totals`, yield it.

    The order's total is the exact sum of its rounded lines. The sums are kept in locals and
    added to `totals` when the records run out (this loop runs once per order: half a million
    charges for a large report).
    """
    price_order = run.price_order
    per_service = totals.per_service
    amount = ZERO
    billed = unbilled = lines = 0
    try:
        for record in records:
            try:
                charges = price_order(record)
            except PricingError as exc:
                # Stored data the engine cannot price (a rule it rejects, a tier cap exceeded): a 400, never a 500.
                raise ValidationFailed(str(exc), fields={"rate_card": [str(exc)]}) from exc
            order_total = ZERO
            if charges:
                billed += 1
                lines += len(charges)
                for charge in charges:
                    order_total += charge.amount
                    sums = per_service[charge.customer_service_id]
                    sums[0] += charge.quantity
                    sums[1] += charge.amount
                    sums[2] += 1
                amount += order_total
            else:
                unbilled += 1
            yield record, charges, order_total
    finally:
        totals.amount += amount
        totals.billed_orders += billed
        totals.unbilled_orders += unbilled
        totals.lines += lines


class UnbilledOnly:
    """A compiled rate card that leaves out the charges of pairs already billed."""

    def __init__(self, run: Any, billed: set[tuple[int, int]], line_info: dict[int, LineInfo]) -> None:
        self.run = run
        self.explanations = run.explanations
        self.explanation_lines = run.explanation_lines
        self.billed = billed
        self.service_of = {cs_id: info.service_id for cs_id, info in line_info.items()}

    def price_order(self, order: OrderData) -> list[Charge]:
        charges = self.run.price_order(order)
        if not self.billed:
            return charges
        order_id, billed, service_of = order.order_id, self.billed, self.service_of
        return [c for c in charges if (order_id, service_of[c.customer_service_id]) not in billed]
