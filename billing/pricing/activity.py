"""Pricing billable activity beyond outbound orders: storage, receiving, returns, extra work,
and the adjustments applied after every line (docs/rate-card-format.md, "Activity charges").

Pure functions over plain data, like the order engine: no ORM, no Django settings. Each
priced thing is an `OtherCharge` (the future ReportOtherCharge row): a quantity at 4 decimal
places, the line's unit price, and the amount rounded half-up to the cent from those two, so
every line can be recomputed from what it shows.

Storage (a line per calendar month the period touches, dated on the month's last billed day):

- each day's stored quantity is the sum over that day's snapshots the line's rules accept of
  the pallets (storage_pallet) or cubic feet (storage_cuft), or the number of distinct
  non-blank locations among them (storage_location); a day without a snapshot stores nothing;
- the basis turns the days of the month inside the period into one figure: daily_sum (the sum
  of the daily quantities, in unit-days), average (that sum over the number of days billed),
  peak (the highest day), end_of_period (the last day that has a snapshot);
- the period turns that figure into the quantity charged: "day" prices unit-days (daily_sum
  as it is; average, peak and end_of_period times the days billed); "month" prices
  unit-months, the unit-days divided by the days of the calendar month, so a partial month
  is prorated by its days billed and a whole month of average, peak or end-of-period is the
  figure itself.

Receiving, returns and extra work give one line per record and rate-card line that applies
(quantity above zero): per receipt 1, pallets, cartons, units, labour minutes / 60; per
return 1, units (the sum of its lines when the return's units are 0); extra work the entry's
quantity at the price of the rate-card line of its service.

Adjustments (`apply_adjustments`) come after all lines, in this order, each kind in its
`position` order, each one explained line (zero lines are left out):

1. minimum: when the lines of the chosen services (all when none are chosen) come to less
   than the minimum amount, a true-up line of the difference;
2. surcharge: percent of the lines of the chosen services, only the lines dated inside the
   surcharge's date range when it has one;
3. discount: a percentage or a fixed amount, negative. With services chosen, of their lines;
   without, of the total so far (lines, true-ups, surcharges and earlier discounts). A
   discount never exceeds what it is taken from, nor what is left of the bill: a bill never
   goes below zero through discounts.
"""

from __future__ import annotations

import calendar
import datetime as dt
from collections import defaultdict
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from decimal import ROUND_HALF_UP, Decimal
from typing import Any

from .charges import (
    ACTIVITY_CHARGE_TYPES,
    CHARGE_TYPES,
    CHARGE_UNITS,
    DEFAULT_STORAGE_BASIS,
    DEFAULT_STORAGE_PERIOD,
)
from .errors import PricingError, RuleValidationError
from .fields import ACTIVITY_FIELD_KINDS, normalize_sku
from .money import CENT, EXACT, PRICE_PLACES, ROUNDING, quantize_price
from .rules import Predicate, compile_groups
from .types import RateLineData

__all__ = [
    "ADJUSTMENT_KINDS",
    "SOURCES",
    "ActivityPricing",
    "AdjustmentData",
    "ExtraWorkData",
    "OtherCharge",
    "ReceiptData",
    "ReturnData",
    "SnapshotData",
    "StorageDay",
    "apply_adjustments",
    "other_charge_text",
    "price_activity",
    "storage_day",
    "storage_quantity",
    "validate_adjustment",
]

ZERO = Decimal(0)
HUNDRED = Decimal(100)
QUANTITY_PLACES = PRICE_PLACES  # quantities are shown and stored at 4 decimal places

#: where an other charge comes from (ReportOtherCharge.source)
SOURCES = ("storage", "receiving", "returns", "extra_work", "adjustment")
#: adjustment kinds, in the order they are applied
ADJUSTMENT_KINDS = ("minimum", "surcharge", "discount")


@dataclass(frozen=True, slots=True)
class SnapshotData:
    snapshot_date: dt.date
    sku: str
    location: str = ""
    quantity: int = 0
    pallets: Decimal = ZERO
    cubic_feet: Decimal = ZERO


@dataclass(frozen=True, slots=True)
class ReceiptData:
    reference: str
    received_on: dt.date  # the day it was received, in the billing time zone
    pallets: int = 0
    cartons: int = 0
    units: int = 0
    labour_minutes: Decimal = ZERO
    notes: str = ""
    lines: tuple[tuple[str, int], ...] = ()  # (SKU as entered, quantity)


@dataclass(frozen=True, slots=True)
class ReturnData:
    reference: str
    received_on: dt.date
    original_order_reference: str = ""
    units: int = 0
    notes: str = ""
    lines: tuple[tuple[str, int], ...] = ()


@dataclass(frozen=True, slots=True)
class ExtraWorkData:
    reference: str
    work_date: dt.date
    service_id: int
    quantity: Decimal
    description: str = ""


@dataclass(frozen=True, slots=True)
class AdjustmentData:
    adjustment_id: int
    kind: str  # minimum, surcharge, discount
    percent: Decimal | None = None
    amount: Decimal | None = None
    customer_service_ids: frozenset[int] = frozenset()  # empty: every line
    start_date: dt.date | None = None  # surcharges only
    end_date: dt.date | None = None
    description: str = ""
    position: int = 0


@dataclass(frozen=True, slots=True)
class OtherCharge:
    """One priced piece of activity or one adjustment: the future ReportOtherCharge row."""

    source: str
    reference: str
    date: dt.date
    customer_service_id: int | None
    service_id: int | None
    service_name: str
    charge_type: str
    quantity: Decimal
    unit: str
    unit_price: Decimal
    amount: Decimal
    explanation: dict[str, Any] = field(default_factory=dict, compare=False)


def _money(value: Decimal) -> Decimal:
    return value.quantize(CENT, ROUND_HALF_UP, ROUNDING)


def _quantity(value: Decimal) -> Decimal:
    return value.quantize(QUANTITY_PLACES, ROUND_HALF_UP, ROUNDING)


def _priced(line: RateLineData, quantity: Decimal) -> tuple[Decimal, Decimal, Decimal]:
    """(quantity at 4 dp, unit price at 4 dp, amount to the cent of those two)."""
    qty = _quantity(quantity)
    price = quantize_price(line.unit_price)
    return qty, price, _money(EXACT.multiply(qty, price))


def _rules_text(line: RateLineData) -> list[dict[str, Any]]:
    return [
        {"logic": g.logic, "rules": [{"field": r.field, "operator": r.operator, "value": r.value} for r in g.rules]}
        for g in line.rule_groups
    ]


# --- storage --------------------------------------------------------------------------------


def _month_buckets(start: dt.date, end: dt.date) -> list[tuple[dt.date, dt.date, int]]:
    """(first day billed, last day billed, days in the calendar month) per month the period touches."""
    buckets = []
    day = start
    while day <= end:
        days_in_month = calendar.monthrange(day.year, day.month)[1]
        month_end = day.replace(day=days_in_month)
        last = min(month_end, end)
        buckets.append((day, last, days_in_month))
        day = last + dt.timedelta(days=1)
    return buckets


def storage_quantity(
    daily: Mapping[dt.date, Decimal],
    first: dt.date,
    last: dt.date,
    days_in_month: int,
    *,
    period: str = DEFAULT_STORAGE_PERIOD,
    basis: str = DEFAULT_STORAGE_BASIS,
) -> tuple[Decimal, dict[str, Any]]:
    """The exact quantity one month's storage charges, and how it was found (see the module docs).

    `daily` maps days (those in [first, last] count) to the quantity stored that day."""
    billed = (last - first).days + 1
    days = {day: qty for day, qty in daily.items() if first <= day <= last}
    unit_days = sum(days.values(), ZERO)
    if basis == "daily_sum":
        figure = unit_days
        quantity_days = unit_days
    elif basis == "average":
        figure = ROUNDING.divide(unit_days, Decimal(billed))
        quantity_days = unit_days
    elif basis == "peak":
        figure = max(days.values(), default=ZERO)
        quantity_days = EXACT.multiply(figure, Decimal(billed))
    elif basis == "end_of_period":
        figure = days[max(days)] if days else ZERO
        quantity_days = EXACT.multiply(figure, Decimal(billed))
    else:
        raise PricingError(f"unknown storage basis {basis!r}")
    if period == "day":
        quantity = quantity_days
    elif period == "month":
        quantity = ROUNDING.divide(quantity_days, Decimal(days_in_month))
    else:
        raise PricingError(f"unknown storage period {period!r}")
    how = {
        "period": period,
        "basis": basis,
        "from": first.isoformat(),
        "to": last.isoformat(),
        "days_billed": billed,
        "days_in_month": days_in_month,
        "days_with_snapshots": len(days),
        # Written without the trailing zeros a database sum carries (649.6500000000000 is 649.65).
        "unit_days": f"{unit_days.normalize():f}" if unit_days else "0",
        "basis_figure": str(_quantity(figure)),
    }
    return quantity, how


def _storage_measure(charge_type: str, rows: list[SnapshotData]) -> Decimal:
    if charge_type == "storage_pallet":
        return sum((r.pallets for r in rows), ZERO)
    if charge_type == "storage_cuft":
        return sum((r.cubic_feet for r in rows), ZERO)
    # Locations compare trimmed and lower-cased, as the database counts them (Lower(Trim(location))).
    return Decimal(len({r.location.strip().lower() for r in rows if r.location.strip()}))


def _price_storage(
    line: RateLineData,
    applies: Predicate | None,
    snapshots: Sequence[SnapshotData],
    storage_days: Mapping[dt.date, StorageDay] | None,
    start: dt.date,
    end: dt.date,
    counted: set[dt.date],
) -> list[OtherCharge]:
    if storage_days is not None and applies is None:
        index = _STORAGE_DAY_INDEX[line.charge_type]
        daily = {day: Decimal(figures[index]) for day, figures in storage_days.items() if start <= day <= end}
    else:
        by_day: dict[dt.date, list[SnapshotData]] = defaultdict(list)
        for snap in snapshots:
            if start <= snap.snapshot_date <= end and (applies is None or applies(snap, _sku_units(snap))):
                by_day[snap.snapshot_date].append(snap)
        daily = {day: _storage_measure(line.charge_type, rows) for day, rows in by_day.items()}
    daily = {day: qty for day, qty in daily.items() if qty}
    counted.update(daily)
    period = line.storage_period or DEFAULT_STORAGE_PERIOD
    basis = line.storage_basis or DEFAULT_STORAGE_BASIS
    charges = []
    for first, last, days_in_month in _month_buckets(start, end):
        exact, how = storage_quantity(daily, first, last, days_in_month, period=period, basis=basis)
        if not exact:
            continue
        qty, price, amount = _priced(line, exact)
        unit = f"{CHARGE_UNITS[line.charge_type]}-{period}"
        charges.append(_charge(line, "storage", f"{first:%Y-%m}", last, qty, unit, price, amount, {"storage": how}))
    return charges


# A day's stored figures over all of a customer's snapshots (what SQL can sum when a storage line
# has no rules): (pallets, cubic feet, distinct non-blank locations).
StorageDay = tuple[Decimal, Decimal, int]
_STORAGE_DAY_INDEX = {"storage_pallet": 0, "storage_cuft": 1, "storage_location": 2}


def storage_day(rows: Iterable[SnapshotData]) -> StorageDay:
    """The figures of one day's snapshots, as `price_activity` takes them in `storage_days`."""
    rows = list(rows)
    return (
        _storage_measure("storage_pallet", rows),
        _storage_measure("storage_cuft", rows),
        int(_storage_measure("storage_location", rows)),
    )


def _sku_units(snap: SnapshotData) -> dict[str, int]:
    key = normalize_sku(snap.sku)
    return {key: snap.quantity} if key and snap.quantity else {}


# --- receiving, returns, extra work -------------------------------------------------------------


def _line_units(lines: Iterable[tuple[str, int]]) -> dict[str, int]:
    units: dict[str, int] = {}
    for sku, qty in lines:
        key = normalize_sku(sku)
        if key and qty:
            units[key] = units.get(key, 0) + qty
    return units


_RECEIVING_QUANTITY = {
    "receiving_receipt": lambda r: Decimal(1),
    "receiving_pallet": lambda r: Decimal(r.pallets),
    "receiving_carton": lambda r: Decimal(r.cartons),
    "receiving_unit": lambda r: Decimal(r.units),
    "receiving_hour": lambda r: ROUNDING.divide(r.labour_minutes, Decimal(60)),
}


def _return_units(record: ReturnData, units: dict[str, int]) -> Decimal:
    return Decimal(record.units or sum(units.values()))


def _price_records(
    line: RateLineData, applies: Predicate | None, source: str, records: Iterable[Any], start: dt.date, end: dt.date
) -> list[OtherCharge]:
    charges = []
    unit = CHARGE_UNITS[line.charge_type]
    for record in records:
        day = record.work_date if source == "extra_work" else record.received_on
        if not start <= day <= end:
            continue
        if source == "extra_work":
            if record.service_id != line.service_id:
                continue
            units: dict[str, int] = {}
        else:
            units = _line_units(record.lines)
        if applies is not None and not applies(record, units):
            continue
        if source == "receiving":
            exact = _RECEIVING_QUANTITY[line.charge_type](record)
        elif source == "returns":
            exact = Decimal(1) if line.charge_type == "return_order" else _return_units(record, units)
        else:
            exact = record.quantity
        if not exact:
            continue
        qty, price, amount = _priced(line, exact)
        what: dict[str, Any] = {}
        if source == "receiving" and line.charge_type == "receiving_hour":
            what["labour_minutes"] = str(record.labour_minutes)
        charges.append(_charge(line, source, record.reference, day, qty, unit, price, amount, what))
    return charges


def _charge(
    line: RateLineData,
    source: str,
    reference: str,
    day: dt.date,
    qty: Decimal,
    unit: str,
    price: Decimal,
    amount: Decimal,
    detail: dict[str, Any],
) -> OtherCharge:
    # What the row does not say itself: the rules that let the line apply, and the figures used.
    explanation = {"rule_groups": _rules_text(line), **detail} if line.rule_groups else detail
    return OtherCharge(
        source=source,
        reference=reference,
        date=day,
        customer_service_id=line.customer_service_id,
        service_id=line.service_id,
        service_name=line.service_name,
        charge_type=line.charge_type,
        quantity=qty,
        unit=unit,
        unit_price=price,
        amount=amount,
        explanation=explanation,
    )


@dataclass
class ActivityPricing:
    """What `price_activity` found: the charges, and what no line priced (the unbilled warning)."""

    charges: list[OtherCharge]
    # receipts, returns and extra-work entries of the period no line charged; days with
    # snapshots on which no storage line counted anything
    unbilled: dict[str, int]


def price_activity(
    lines: Sequence[RateLineData],
    *,
    start: dt.date,
    end: dt.date,
    snapshots: Sequence[SnapshotData] = (),
    storage_days: Mapping[dt.date, StorageDay] | None = None,
    receipts: Sequence[ReceiptData] = (),
    returns: Sequence[ReturnData] = (),
    extra_work: Sequence[ExtraWorkData] = (),
) -> ActivityPricing:
    """The other charges of a period [start, end]: per activity line of the card (order lines are
    ignored), in the card's order, each line's charges by date then reference.

    Storage lines without rules may read `storage_days` (every snapshot's figures summed per
    day) instead of the snapshots; lines with rules need the snapshots. RuleValidationError
    when a line's rules do not fit its activity."""
    records: dict[str, Sequence[Any]] = {"receiving": receipts, "returns": returns, "extra_work": extra_work}
    charged: dict[str, set[str]] = {"receiving": set(), "returns": set(), "extra_work": set()}
    counted_days: set[dt.date] = set()
    charges: list[OtherCharge] = []
    for index, line in enumerate(lines):
        activity = ACTIVITY_CHARGE_TYPES.get(line.charge_type)
        if activity is None:
            continue
        applies, _ = compile_groups(line.rule_groups, f"rate_card[{index}]", ACTIVITY_FIELD_KINDS[activity])
        try:
            if activity == "storage":
                priced = _price_storage(line, applies, snapshots, storage_days, start, end, counted_days)
            else:
                priced = _price_records(line, applies, activity, records[activity], start, end)
                charged[activity].update(c.reference for c in priced)
        except (TypeError, AttributeError, ValueError, ArithmeticError, KeyError) as exc:
            raise PricingError(f"Cannot price {activity} for '{line.service_name}': {exc}") from exc
        priced.sort(key=lambda c: (c.date, c.reference))
        charges += priced
    snapshot_days = set(storage_days or ()) | {s.snapshot_date for s in snapshots}
    unbilled = {
        "receipts": sum(
            1 for r in receipts if start <= r.received_on <= end and r.reference not in charged["receiving"]
        ),
        "returns": sum(1 for r in returns if start <= r.received_on <= end and r.reference not in charged["returns"]),
        "extra_work": sum(
            1 for e in extra_work if start <= e.work_date <= end and e.reference not in charged["extra_work"]
        ),
        "snapshot_days": sum(1 for day in snapshot_days if start <= day <= end and day not in counted_days),
    }
    return ActivityPricing(charges, unbilled)


# --- how an other charge reads ---------------------------------------------------------------------

SOURCE_LABELS = {
    "storage": "Storage",
    "receiving": "Receiving",
    "returns": "Returns",
    "extra_work": "Extra work",
    "adjustment": "Adjustment",
}
ADJUSTMENT_LABELS = {"minimum": "Minimum true-up", "surcharge": "Surcharge", "discount": "Discount"}


def _number(value: Decimal) -> str:
    """A quantity without trailing zeros, with thousands separators: 1,250 or 2.5."""
    number = value.normalize() if value != value.to_integral_value() else value.to_integral_value()
    return f"{number:,f}"


def other_charge_text(charge: Any) -> str:
    """Why an other charge (a ReportOtherCharge, or anything with its attributes) was made, in one
    sentence (docs/explanations.md, "Other charges"), from what the row stores."""
    why = charge.explanation or {}
    if charge.source == "adjustment":
        services = why.get("services", "all")
        over = "all services" if services == "all" else ", ".join(services)
        dates = ""
        if why.get("from") or why.get("to"):
            dates = f", lines dated {why.get('from') or 'any day'} to {why.get('to') or 'any day'}"
        base = f"{Decimal(why.get('base', '0')):,.2f}"
        if charge.charge_type == "minimum":
            minimum = f"{Decimal(why['minimum']):,.2f}"
            return f"Minimum {minimum} over {over}: the lines came to {base}, true-up {charge.amount:,.2f}."
        if "percent" in why:
            return f"{ADJUSTMENT_LABELS[charge.charge_type]} {why['percent']}% of {base} ({over}{dates})."
        return f"Discount of {Decimal(why['amount']):,.2f} on {over} (at most the {base} it is taken from)."
    rules = why.get("rule_groups") or []
    rule_text = ""
    if rules:
        groups = [
            f" {group['logic']} ".join(f"{r['field']} {r['operator']} {r['value']}" for r in group["rules"]) or "always"
            for group in rules
        ]
        rule_text = f" where {' or '.join(groups)}"
    label = CHARGE_TYPES.get(charge.charge_type, charge.charge_type)
    price = f"{charge.unit_price:f}"
    if charge.source == "storage":
        how = why.get("storage", {})
        return (
            f"{label}{rule_text}, {how.get('basis')} over {how.get('from')} to {how.get('to')} "
            f"({how.get('days_billed')} of {how.get('days_in_month')} days, {how.get('days_with_snapshots')} "
            f"with stock, {how.get('unit_days')} unit-days, basis {how.get('basis_figure')}), priced per "
            f"{how.get('period')}: {_number(charge.quantity)} {charge.unit} at {price}."
        )
    return f"{label}{rule_text}: {charge.reference}, {_number(charge.quantity)} {charge.unit} at {price}."


# --- adjustments ----------------------------------------------------------------------------------


def validate_adjustment(adjustment: AdjustmentData, label: str = "adjustment") -> None:
    """RuleValidationError unless the adjustment can be applied: a minimum has an amount > 0; a
    surcharge a percent > 0; a discount either a percent in (0, 100] or an amount > 0 (percents
    and amounts with at most 2 decimal places); only a surcharge has dates, the start not after
    the end."""

    def fail(reason: str) -> RuleValidationError:
        return RuleValidationError(f"Adjustment '{label}': {reason}", label=label, reason=reason)

    kind, percent, amount = adjustment.kind, adjustment.percent, adjustment.amount
    if kind not in ADJUSTMENT_KINDS:
        raise fail(f"unknown kind {kind!r} (use one of: {', '.join(ADJUSTMENT_KINDS)})")
    for name, value in (("percent", percent), ("amount", amount)):
        if value is not None and (not isinstance(value, Decimal) or not value.is_finite() or value <= 0):
            raise fail(f"{name} must be a number greater than 0, got {value}")
    if kind == "minimum" and (amount is None or percent is not None):
        raise fail("a minimum needs an amount, and no percent")
    if kind == "surcharge" and (percent is None or amount is not None):
        raise fail("a surcharge needs a percent, and no amount")
    if kind == "discount" and (percent is None) == (amount is None):
        raise fail("a discount needs either a percent or an amount")
    if percent is not None and percent != percent.quantize(CENT, context=ROUNDING):
        raise fail(f"percent has at most 2 decimal places, got {percent}")
    if amount is not None and amount != amount.quantize(CENT, context=ROUNDING):
        raise fail(f"amount has at most 2 decimal places (cents), got {amount}")
    if percent is not None and kind == "discount" and percent > HUNDRED:
        raise fail(f"a discount's percent is at most 100, got {percent}")
    if kind != "surcharge" and (adjustment.start_date or adjustment.end_date):
        raise fail("only a surcharge is limited to a date range")
    if adjustment.start_date and adjustment.end_date and adjustment.start_date > adjustment.end_date:
        raise fail("the start date is after the end date")


def apply_adjustments(
    adjustments: Sequence[AdjustmentData],
    daily_amounts: Iterable[tuple[int, dt.date, Decimal]],
    *,
    end: dt.date,
    services: Mapping[int, tuple[int, str]] | None = None,
) -> list[OtherCharge]:
    """The adjustment lines (see the module docs for the order), dated `end`.

    `daily_amounts` are the report's line amounts, order lines and other charges, as
    (customer_service_id, day, amount); they may repeat a (line, day). `services` maps a
    rate-card line to its (service id, service name), for the lines' names. Each line's amount
    is its quantity times its unit price, rounded to the cent: a percentage is charged as the
    base (quantity) at the rate (unit price, the percent / 100), a fixed amount as 1 at the amount."""
    known = services or {}
    amounts = list(daily_amounts)
    per_line: dict[int, Decimal] = defaultdict(lambda: ZERO)
    for cs_id, _, amount in amounts:
        per_line[cs_id] += amount
    running = sum(per_line.values(), ZERO)
    ordered = sorted(adjustments, key=lambda a: (ADJUSTMENT_KINDS.index(a.kind), a.position, a.adjustment_id))
    charges = []
    for adjustment in ordered:
        validate_adjustment(adjustment, f"#{adjustment.adjustment_id}")
        scope = adjustment.customer_service_ids
        base = sum((v for k, v in per_line.items() if not scope or k in scope), ZERO)
        how: dict[str, Any] = {"kind": adjustment.kind, "description": adjustment.description}
        if adjustment.kind == "surcharge" and (adjustment.start_date or adjustment.end_date):
            since = adjustment.start_date or dt.date.min
            until = adjustment.end_date or dt.date.max
            base = sum((v for k, day, v in amounts if (not scope or k in scope) and since <= day <= until), ZERO)
            how["from"] = adjustment.start_date.isoformat() if adjustment.start_date else None
            how["to"] = adjustment.end_date.isoformat() if adjustment.end_date else None
        elif adjustment.kind == "discount" and not scope:
            base = running  # a discount on the total: of everything so far
        how["base"] = str(base)
        sign = -1 if adjustment.kind == "discount" else 1
        if adjustment.percent is not None:
            quantity, price = base, sign * ROUNDING.divide(adjustment.percent, HUNDRED)
            how["percent"] = str(adjustment.percent)
        elif adjustment.kind == "minimum":
            assert adjustment.amount is not None
            quantity, price = Decimal(1), max(adjustment.amount - base, ZERO)
            how["minimum"] = str(adjustment.amount)
        else:
            assert adjustment.amount is not None
            quantity, price = Decimal(1), -min(adjustment.amount, max(base, ZERO))
            how["amount"] = str(adjustment.amount)
        amount = _money(EXACT.multiply(quantity, price))
        if adjustment.kind == "discount" and -amount > running:
            # never below zero: what is left of the bill, as a fixed amount
            quantity, price = Decimal(1), -max(running, ZERO)
            amount = _money(price)
            how["capped_at"] = str(-price)
        if not amount:
            continue
        running += amount
        how["services"] = sorted(known.get(cs_id, (0, str(cs_id)))[1] for cs_id in scope) or "all"
        only = next(iter(scope)) if len(scope) == 1 else None
        service_id, service_name = known.get(only, (None, "")) if only is not None else (None, "")
        charges.append(
            OtherCharge(
                source="adjustment",
                reference=adjustment.description or adjustment.kind,
                date=end,
                customer_service_id=only,
                service_id=service_id,
                service_name=service_name,
                charge_type=adjustment.kind,
                quantity=quantity,
                unit="amount" if adjustment.percent is not None else "adjustment",
                unit_price=price,
                amount=amount,
                explanation=how,
            )
        )
    return charges
