"""Charge models: what quantity of an order a rate-card line charges, and graduated tiers.

A quantity function has the signature `quantity(order, units, total_units)`, where `units`
maps the order's normalised SKUs to their quantity (> 0) and `total_units` is the sum of the
order's line quantities (the order's total_item_qty when it has no lines). It returns an
int or a Decimal, never negative.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from decimal import Decimal
from operator import attrgetter
from types import MappingProxyType
from typing import Final

from .errors import PricingError
from .fields import normalize_sku
from .money import EXACT
from .types import OrderFields

__all__ = [
    "ACTIVITY_CHARGE_TYPES",
    "CHARGE_TYPES",
    "CHARGE_UNITS",
    "DEFAULT_STORAGE_BASIS",
    "DEFAULT_STORAGE_PERIOD",
    "DEFAULT_TIER_BASIS",
    "ORDER_CHARGE_TYPES",
    "PICK_CHARGE_TYPES",
    "SKU_RESTRICTABLE",
    "STORAGE_BASES",
    "STORAGE_PERIODS",
    "TIERED",
    "TIER_BASES",
    "TIER_SCOPES",
    "Band",
    "QuantityFunction",
    "SkusFunction",
    "graduated_bands",
    "graduated_cost",
    "quantity_function",
    "skus_function",
    "tier_bands",
]

#: charge type -> label (the same codes as billing.models.ChargeType)
CHARGE_TYPES: Final = MappingProxyType(
    {
        "per_order": "Per order",
        "per_unit": "Per unit",
        "per_sku": "Per distinct SKU",
        "per_line": "Per order line",
        "per_package": "Per package",
        "per_weight_lb": "Per lb",
        "per_volume_cuft": "Per cubic foot",
        "case_pick": "Case pick",
        "each_pick": "Each pick",
        "tiered": "Tiered (graduated)",
        # Activity beyond outbound orders (billing.pricing.activity): these lines price no order.
        "storage_pallet": "Storage per pallet",
        "storage_location": "Storage per location",
        "storage_cuft": "Storage per cubic foot",
        "receiving_receipt": "Receiving per receipt",
        "receiving_pallet": "Receiving per pallet",
        "receiving_carton": "Receiving per carton",
        "receiving_unit": "Receiving per unit",
        "receiving_hour": "Receiving per labour hour",
        "return_order": "Returns per return",
        "return_unit": "Returns per unit",
        "extra_work": "Extra work",
    }
)
#: charge type -> the unit its quantity counts, singular (a tiered line counts the unit of its basis)
CHARGE_UNITS: Final = MappingProxyType(
    {
        "per_order": "order",
        "per_unit": "unit",
        "per_sku": "SKU",
        "per_line": "line",
        "per_package": "package",
        "per_weight_lb": "lb",
        "per_volume_cuft": "cu ft",
        "case_pick": "case",
        "each_pick": "unit",
        "storage_pallet": "pallet",
        "storage_location": "location",
        "storage_cuft": "cu ft",
        "receiving_receipt": "receipt",
        "receiving_pallet": "pallet",
        "receiving_carton": "carton",
        "receiving_unit": "unit",
        "receiving_hour": "hour",
        "return_order": "return",
        "return_unit": "unit",
        "extra_work": "unit",
    }
)
#: activity charge type -> the activity it prices (a key of fields.ACTIVITY_FIELD_KINDS)
ACTIVITY_CHARGE_TYPES: Final = MappingProxyType(
    {
        "storage_pallet": "storage",
        "storage_location": "storage",
        "storage_cuft": "storage",
        "receiving_receipt": "receiving",
        "receiving_pallet": "receiving",
        "receiving_carton": "receiving",
        "receiving_unit": "receiving",
        "receiving_hour": "receiving",
        "return_order": "returns",
        "return_unit": "returns",
        "extra_work": "extra_work",
    }
)
#: storage lines: the price is per unit and day or per unit and month (default month)
STORAGE_PERIODS: Final = MappingProxyType(
    {"day": "price per unit per day", "month": "price per unit per month (a month's unit-days over its days)"}
)
#: storage lines: how each day's stored quantity becomes the quantity charged (default average)
STORAGE_BASES: Final = MappingProxyType(
    {
        "daily_sum": "the sum of the daily quantities (unit-days)",
        "average": "the average daily quantity over the days billed",
        "peak": "the highest daily quantity",
        "end_of_period": "the quantity of the last day with a snapshot",
    }
)
DEFAULT_STORAGE_PERIOD: Final = "month"
#: the charge types that price orders (every one but the activity's)
ORDER_CHARGE_TYPES: Final = tuple(code for code in CHARGE_TYPES if code not in ACTIVITY_CHARGE_TYPES)
DEFAULT_STORAGE_BASIS: Final = "average"
TIERED: Final = "tiered"
PICK_CHARGE_TYPES: Final = frozenset({"case_pick", "each_pick"})
#: the charge models a tiered line may graduate over (tier_basis); "" means per_unit
TIER_BASES: Final = (
    "per_order",
    "per_unit",
    "per_sku",
    "per_line",
    "per_package",
    "per_weight_lb",
    "per_volume_cuft",
)
DEFAULT_TIER_BASIS: Final = "per_unit"
#: over what a tiered line's bands graduate: the period's cumulative quantity (the default), or each order alone
TIER_SCOPES: Final = MappingProxyType(
    {
        "period": "graduated over the period's cumulative quantity",
        "order": "restart for each order",
    }
)
DEFAULT_TIER_SCOPE: Final = "period"
#: charge models whose quantity is limited to the line's assigned SKUs (tiered: through its basis)
SKU_RESTRICTABLE: Final = frozenset({"per_unit", "per_sku", "case_pick", "each_pick"})

QuantityFunction = Callable[[OrderFields, dict[str, int], int], "int | Decimal"]

# Order attribute each simple charge model reads.
_ATTRIBUTE_MODELS = {
    "per_line": "line_items",
    "per_package": "packages",
    "per_weight_lb": "weight_lb",
    "per_volume_cuft": "volume_cuft",
}


def _per_order(order: OrderFields, units: dict[str, int], total: int) -> int:
    return 1


def _per_unit(order: OrderFields, units: dict[str, int], total: int) -> int:
    return total


def _per_sku(order: OrderFields, units: dict[str, int], total: int) -> int:
    return len(units)


def quantity_function(
    charge_type: str,
    *,
    skus: frozenset[str] = frozenset(),
    case_sizes: Mapping[str, int] | None = None,
    excluded_skus: frozenset[str] = frozenset(),
) -> tuple[QuantityFunction, str]:
    """The quantity function of a (non-tiered) charge model and the order attribute it reads ("" if none).

    `skus` (normalised) restricts per_unit, per_sku and the pick models to those SKUs.
    For case_pick/each_pick, `case_sizes` maps normalised SKUs to units per case (a SKU
    without a case size has no full cases: all its units are eaches) and `excluded_skus`
    (the SKUs of per_unit lines) are never picked.
    """
    if charge_type == "per_order":
        return _per_order, ""
    if charge_type == "per_unit":
        if not skus:
            return _per_unit, ""

        def per_unit_of(order: OrderFields, units: dict[str, int], total: int) -> int:
            n = 0
            for sku, qty in units.items():
                if sku in skus:
                    n += qty
            return n

        return per_unit_of, ""
    if charge_type == "per_sku":
        if not skus:
            return _per_sku, ""

        def per_sku_of(order: OrderFields, units: dict[str, int], total: int) -> int:
            n = 0
            for sku in units:
                if sku in skus:
                    n += 1
            return n

        return per_sku_of, ""
    if charge_type in _ATTRIBUTE_MODELS:
        attr = _ATTRIBUTE_MODELS[charge_type]
        get = attrgetter(attr)
        return (lambda order, units, total: get(order)), attr
    if charge_type in PICK_CHARGE_TYPES:
        return _pick_function(charge_type == "case_pick", skus, dict(case_sizes or {}), excluded_skus), ""
    raise PricingError(f"no quantity function for charge type {charge_type!r}")


def _pick_function(
    cases: bool, only: frozenset[str], sizes: dict[str, int], excluded: frozenset[str]
) -> QuantityFunction:
    if cases:

        def case_pick(order: OrderFields, units: dict[str, int], total: int) -> int:
            n = 0
            for sku, qty in units.items():
                if sku in excluded or (only and sku not in only):
                    continue
                size = sizes.get(sku)
                if size:
                    n += qty // size
            return n

        return case_pick

    def each_pick(order: OrderFields, units: dict[str, int], total: int) -> int:
        n = 0
        for sku, qty in units.items():
            if sku in excluded or (only and sku not in only):
                continue
            size = sizes.get(sku)
            n += qty % size if size else qty
        return n

    return each_pick


# --- which SKUs a line counted (explanations) -----------------------------------------------

# (order, units, normalised SKU of each SKU as entered) -> one entry per SKU the line considered
SkusFunction = Callable[[OrderFields, dict[str, int], dict[str, str]], list[tuple]]


def skus_function(
    charge_type: str,
    *,
    skus: frozenset[str] = frozenset(),
    case_sizes: Mapping[str, int] | None = None,
    excluded_skus: frozenset[str] = frozenset(),
) -> SkusFunction | None:
    """The per-SKU detail of a line whose quantity depends on which SKUs it counts, else None.

    per_unit and per_sku lines with assigned SKUs give (SKU, units) per assigned SKU of the
    order; case_pick and each_pick give (SKU, units, case size or None, full cases) per SKU
    they pick (not excluded, among the assigned ones if any). A SKU is given as on the
    order's first line of it; entries follow the order's lines (which generation reads in SKU
    order).
    """
    picks = charge_type in PICK_CHARGE_TYPES
    if not picks and not (skus and charge_type in ("per_unit", "per_sku")):
        return None
    sizes = dict(case_sizes or {})

    def counted(order: OrderFields, units: dict[str, int], normalised: dict[str, str]) -> list[tuple]:
        entries: list[tuple] = []
        seen: set[str] = set()
        for line in order.lines:
            sku = normalised.get(line.sku) or normalize_sku(line.sku)
            if sku in seen or sku not in units:
                continue
            seen.add(sku)
            if (skus and sku not in skus) or (picks and sku in excluded_skus):
                continue
            qty = units[sku]
            if picks:
                size = sizes.get(sku)
                entries.append((line.sku, qty, size, qty // size if size else 0))
            else:
                entries.append((line.sku, qty))
        return entries

    return counted


# --- graduated tiers ----------------------------------------------------------------------

# (lower bound, upper bound or None for open, unit price): the band [lower, upper)
Band = tuple[Decimal, "Decimal | None", Decimal]


def tier_bands(tiers: Sequence[tuple[Decimal | None, Decimal]]) -> tuple[Band, ...]:
    """(up_to, unit_price) pairs, already validated and in order, as contiguous bands from 0."""
    bands = []
    lower = Decimal(0)
    for up_to, price in tiers:
        bands.append((lower, up_to, price))
        if up_to is not None:
            lower = up_to
    return tuple(bands)


def graduated_cost(bands: Sequence[Band], start: Decimal | int, quantity: Decimal | int) -> Decimal:
    """Exact (unrounded) price of the quantity occupying [start, start + quantity) of the bands.

    Raises PricingError if the quantity reaches beyond a finite last bound: nothing is priced
    at a price the rate card does not state.
    """
    return graduated_bands(bands, start, quantity)[0]


def graduated_bands(
    bands: Sequence[Band], start: Decimal | int, quantity: Decimal | int
) -> tuple[Decimal, list[tuple[Decimal | int, Decimal, Decimal, Decimal, Decimal]]]:
    """graduated_cost and the part of each band the quantity occupies: (from, to, quantity,
    unit price, exact amount), where [from, to) is the occupied part; the amounts add up to the cost.
    """
    end = EXACT.add(start, quantity)
    cost = Decimal(0)
    touched = []
    for lower, upper, price in bands:
        if upper is not None and upper <= start:
            continue
        if lower >= end:
            break
        low = lower if lower > start else start
        high = end if upper is None or upper > end else upper
        part = EXACT.subtract(high, low)
        band_cost = EXACT.multiply(part, price)
        touched.append((low, high, part, price, band_cost))
        cost = EXACT.add(cost, band_cost)
    last_upper = bands[-1][1]
    if last_upper is not None and end > last_upper:
        raise PricingError(
            f"cumulative quantity {end} exceeds the last tier bound {last_upper}; "
            "give the last tier no upper bound to price any quantity"
        )
    return cost, touched
