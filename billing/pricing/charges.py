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
from .money import EXACT
from .types import OrderData

__all__ = [
    "CHARGE_TYPES",
    "CHARGE_UNITS",
    "DEFAULT_TIER_BASIS",
    "PICK_CHARGE_TYPES",
    "SKU_RESTRICTABLE",
    "TIERED",
    "TIER_BASES",
    "Band",
    "QuantityFunction",
    "graduated_cost",
    "quantity_function",
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
    }
)
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
#: charge models whose quantity is limited to the line's assigned SKUs (tiered: through its basis)
SKU_RESTRICTABLE: Final = frozenset({"per_unit", "per_sku", "case_pick", "each_pick"})

QuantityFunction = Callable[[OrderData, dict[str, int], int], "int | Decimal"]

# Order attribute each simple charge model reads.
_ATTRIBUTE_MODELS = {
    "per_line": "line_items",
    "per_package": "packages",
    "per_weight_lb": "weight_lb",
    "per_volume_cuft": "volume_cuft",
}


def _per_order(order: OrderData, units: dict[str, int], total: int) -> int:
    return 1


def _per_unit(order: OrderData, units: dict[str, int], total: int) -> int:
    return total


def _per_sku(order: OrderData, units: dict[str, int], total: int) -> int:
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

        def per_unit_of(order: OrderData, units: dict[str, int], total: int) -> int:
            n = 0
            for sku, qty in units.items():
                if sku in skus:
                    n += qty
            return n

        return per_unit_of, ""
    if charge_type == "per_sku":
        if not skus:
            return _per_sku, ""

        def per_sku_of(order: OrderData, units: dict[str, int], total: int) -> int:
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

        def case_pick(order: OrderData, units: dict[str, int], total: int) -> int:
            n = 0
            for sku, qty in units.items():
                if sku in excluded or (only and sku not in only):
                    continue
                size = sizes.get(sku)
                if size:
                    n += qty // size
            return n

        return case_pick

    def each_pick(order: OrderData, units: dict[str, int], total: int) -> int:
        n = 0
        for sku, qty in units.items():
            if sku in excluded or (only and sku not in only):
                continue
            size = sizes.get(sku)
            n += qty % size if size else qty
        return n

    return each_pick


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
    end = EXACT.add(start, quantity)
    cost = Decimal(0)
    for lower, upper, price in bands:
        if upper is not None and upper <= start:
            continue
        if lower >= end:
            break
        low = lower if lower > start else start
        high = end if upper is None or upper > end else upper
        cost = EXACT.add(cost, EXACT.multiply(EXACT.subtract(high, low), price))
    last_upper = bands[-1][1]
    if last_upper is not None and end > last_upper:
        raise PricingError(
            f"cumulative quantity {end} exceeds the last tier bound {last_upper}; "
            "give the last tier no upper bound to price any quantity"
        )
    return cost
