"""Step 3: the pricing loop. Each order is priced once, added to the totals, and handed on.

`priced_orders` is the only place an order becomes charges and an order total; the writers
(copy_writer, bulk_writer) only format what it yields.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable, Iterator
from decimal import Decimal
from typing import Any, Protocol
from zoneinfo import ZoneInfo

from billing.errors import ValidationFailed
from billing.models import BillingReport, ReportExplanation, ReportServiceTotal
from billing.pricing import PricingError
from billing.pricing.types import ChargeRow, OrderFields
from billing.selectors.rate_cards import LineInfo
from billing.services.analytics import DayTotals

from .orders import OrderRecord

ZERO = Decimal("0")

# An order with its charges (one per rate-card line that applied, as PricingRun.price_rows gives
# them) and its total.
PricedOrder = tuple[OrderRecord, list[ChargeRow], Decimal]


class Pricer(Protocol):
    explanations: dict[int, dict]  # explanation key -> payload (billing.pricing.explain)
    explanation_lines: dict[int, int]  # explanation key -> customer_service_id

    def price_rows(self, order: OrderFields) -> list[ChargeRow]: ...


class Totals:
    """Running sums of the rounded line amounts: report, per service, per day, order counts.

    The engine gives at most one charge per rate-card line and order, so a service's
    order_count (distinct orders charged) is its number of charges. The per-day sums split the
    orders by the calendar day they closed on in `time_zone` (an order without a close date
    counts on `end_date`): what billing.services.analytics stores for the analytics.
    """

    def __init__(self, line_info: dict[int, LineInfo], time_zone: str, end_date: dt.date) -> None:
        self.line_info = line_info
        self.zone = ZoneInfo(time_zone or "UTC")
        self.end_date = end_date
        self.amount = ZERO
        self.lines = 0
        self.billed_orders = 0
        self.unbilled_orders = 0
        # customer_service_id -> [quantity, amount, order_count]
        self.per_service: dict[int, list] = {cs_id: [ZERO, ZERO, 0] for cs_id in line_info}
        # day -> [amount, billed orders, unbilled orders, lines, {customer_service_id -> [quantity,
        # amount, order_count]}]
        self.days: dict[dt.date, list] = {}

    def add_days(self, days: dict[dt.date | None, list]) -> None:
        """Add per-day sums (self.days' layout; None: no close date, counted on end_date) to the report's."""
        for local_day, (amount, billed, unbilled, lines, services) in days.items():
            day = self.end_date if local_day is None else local_day
            self.amount += amount
            self.billed_orders += billed
            self.unbilled_orders += unbilled
            self.lines += lines
            mine = self.days.get(day)
            if mine is None:
                mine = self.days[day] = [ZERO, 0, 0, 0, {cs_id: [ZERO, ZERO, 0] for cs_id in self.line_info}]
            mine[0] += amount
            mine[1] += billed
            mine[2] += unbilled
            mine[3] += lines
            for cs_id, (quantity, service_amount, orders) in services.items():
                for sums in (self.per_service[cs_id], mine[4][cs_id]):
                    sums[0] += quantity
                    sums[1] += service_amount
                    sums[2] += orders

    def day_totals(self) -> list[DayTotals]:
        """The per-day sums, by day: (day, amount, billed, unbilled, lines, {service id: (service name,
        amount, quantity, orders)}) for each day that has an order."""
        result = []
        for day, (amount, billed, unbilled, lines, services) in sorted(self.days.items()):
            per_service = {}
            for cs_id, (quantity, service_amount, orders) in services.items():
                if orders:
                    info = self.line_info[cs_id]
                    per_service[info.service_id] = (info.service_name, service_amount, quantity, orders)
            result.append(DayTotals(day, amount, billed, unbilled, lines, per_service))
        return result

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

    The order's total is the exact sum of its rounded lines. The sums are kept per day, in
    locals for the day of the orders being priced, and added to `totals` when the records run
    out (this loop runs once per order: half a million charges for a large report). The
    canonical order is by close date, so the day changes once per day of the period: an
    order's day is worked out only when its close date leaves the current day's interval.
    """
    price_rows = run.price_rows
    zone, line_info = totals.zone, totals.line_info
    days: dict[dt.date | None, list] = {}
    # The current day: its sums and the interval of instants [start, end) it holds so far.
    day_sums: list = []
    per_service: dict[int, list] = {}
    start = end = None
    try:
        for record in records:
            try:
                charges = price_rows(record)
            except PricingError as exc:
                # Stored data the engine cannot price (a rule it rejects, a tier cap exceeded): a 400, never a 500.
                raise ValidationFailed(str(exc), fields={"rate_card": [str(exc)]}) from exc
            close_date = record.close_date
            if close_date is None or start is None or not start <= close_date < end:  # type: ignore[operator]
                day_sums, start, end = _day_of(days, close_date, zone, line_info)
                per_service = day_sums[4]
            order_total = ZERO
            if charges:
                day_sums[1] += 1
                day_sums[3] += len(charges)
                for cs_id, quantity, _, line_amount, _, _, _ in charges:
                    order_total += line_amount
                    sums = per_service[cs_id]
                    sums[0] += quantity
                    sums[1] += line_amount
                    sums[2] += 1
                day_sums[0] += order_total
            else:
                day_sums[2] += 1
            yield record, charges, order_total
    finally:
        totals.add_days(days)


def _day_of(
    days: dict[dt.date | None, list], close_date: dt.datetime | None, zone: ZoneInfo, line_info: dict[int, LineInfo]
) -> tuple[list, dt.datetime | None, dt.datetime | None]:
    """The sums of the day `close_date` falls on in `zone` (None: no close date), and the
    interval of instants it is known to hold: from this close date to the next local midnight."""
    day = None if close_date is None else close_date.astimezone(zone).date()
    sums = days.get(day)
    if sums is None:
        sums = days[day] = [ZERO, 0, 0, 0, {cs_id: [ZERO, ZERO, 0] for cs_id in line_info}]
    if day is None:
        return sums, None, None
    end = dt.datetime.combine(day + dt.timedelta(days=1), dt.time.min, zone)
    return sums, close_date, end


class UnbilledOnly:
    """A compiled rate card that leaves out the charges of pairs already billed."""

    def __init__(self, run: Any, billed: set[tuple[int, int]], line_info: dict[int, LineInfo]) -> None:
        self.run = run
        self.explanations = run.explanations
        self.explanation_lines = run.explanation_lines
        self.billed = billed
        self.service_of = {cs_id: info.service_id for cs_id, info in line_info.items()}

    def price_rows(self, order: OrderFields) -> list[ChargeRow]:
        charges = self.run.price_rows(order)
        if not self.billed:
            return charges
        order_id, billed, service_of = order.order_id, self.billed, self.service_of
        return [c for c in charges if (order_id, service_of[c[0]]) not in billed]
