"""Plain data the pricing engine works on. No ORM, no Django settings.

Services build these from the database; tests build them directly.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Protocol

from .fields import normalize_sku


@dataclass(frozen=True, slots=True)
class OrderLineData:
    sku: str
    quantity: int


@dataclass(frozen=True, slots=True)
class OrderData:
    order_id: int
    transaction_id: str
    close_date: dt.datetime | None = None
    reference_number: str = ""
    ship_to_name: str = ""
    ship_to_company: str = ""
    ship_to_city: str = ""
    ship_to_state: str = ""
    ship_to_country: str = ""
    carrier: str = ""
    notes: str = ""
    weight_lb: Decimal = Decimal("0")
    volume_cuft: Decimal = Decimal("0")
    packages: int = 0
    line_items: int = 0
    total_item_qty: int = 0
    lines: tuple[OrderLineData, ...] = ()


class OrderFields(Protocol):
    """What the engine reads of an order: OrderData, or any record with the same attributes
    (report generation prices tuples of its own, billing.generation.orders.OrderRecord)."""

    @property
    def order_id(self) -> int: ...
    @property
    def transaction_id(self) -> str: ...
    @property
    def close_date(self) -> dt.datetime | None: ...
    @property
    def reference_number(self) -> str: ...
    @property
    def ship_to_name(self) -> str: ...
    @property
    def ship_to_company(self) -> str: ...
    @property
    def ship_to_city(self) -> str: ...
    @property
    def ship_to_state(self) -> str: ...
    @property
    def ship_to_country(self) -> str: ...
    @property
    def carrier(self) -> str: ...
    @property
    def notes(self) -> str: ...
    @property
    def weight_lb(self) -> Decimal: ...
    @property
    def volume_cuft(self) -> Decimal: ...
    @property
    def packages(self) -> int: ...
    @property
    def line_items(self) -> int: ...
    @property
    def total_item_qty(self) -> int: ...
    @property
    def lines(self) -> tuple[OrderLineData, ...]: ...


@dataclass(frozen=True, slots=True)
class RuleData:
    field: str
    operator: str
    value: str
    label: str = ""  # how error messages name the rule, e.g. "Rule #12" or "rate_card[3].rule_groups[0].rules[1]"


@dataclass(frozen=True, slots=True)
class RuleGroupData:
    logic: str  # AND, OR, NOT, XOR, NAND, NOR
    rules: tuple[RuleData, ...] = ()


@dataclass(frozen=True, slots=True)
class TierData:
    up_to: Decimal | None  # upper bound of the band, None for the last (open) band
    unit_price: Decimal


@dataclass(frozen=True, slots=True)
class RateLineData:
    customer_service_id: int
    service_id: int
    service_name: str
    charge_type: str
    unit_price: Decimal
    tier_basis: str = ""  # tiered only: the charge model whose quantity the tiers graduate (default per_unit)
    tier_scope: str = "period"  # tiered only: "period" (cumulative over the period) or "order" (restart per order)
    tiers: tuple[TierData, ...] = ()
    skus: frozenset[str] = frozenset()  # assigned SKUs (normalised)
    rule_groups: tuple[RuleGroupData, ...] = ()
    storage_period: str = ""  # storage lines only: "day" or "month" ("" = month)
    storage_basis: str = ""  # storage lines only: daily_sum, average, peak, end_of_period ("" = average)

    @classmethod
    def build(
        cls,
        *,
        service_name: str,
        charge_type: str,
        unit_price: Decimal,
        tier_basis: str = "",
        tier_scope: str = "period",
        tiers: Iterable[tuple[Decimal | None, Decimal]] = (),
        skus: Iterable[str] = (),
        rule_groups: Iterable[RuleGroupData] = (),
        customer_service_id: int = 0,
        service_id: int = 0,
        open_band_last: bool = False,
        storage_period: str = "",
        storage_basis: str = "",
    ) -> RateLineData:
        """A line from plain values: tiers as (up_to, unit_price) pairs, SKUs as entered (normalised here).

        A line not stored yet (a document being imported, a form) has ids 0. `open_band_last`
        sorts the tiers by bound, the open band (None) last, for tiers whose order means nothing
        (database rows, admin forms); a rate-card document's tiers are checked in its order.
        """
        bands = [TierData(up_to=up_to, unit_price=price) for up_to, price in tiers]
        if open_band_last:
            bands.sort(key=lambda tier: (tier.up_to is None, tier.up_to or Decimal(0)))
        return cls(
            customer_service_id=customer_service_id,
            service_id=service_id,
            service_name=service_name,
            charge_type=charge_type,
            unit_price=unit_price,
            tier_basis=tier_basis,
            tier_scope=tier_scope,
            tiers=tuple(bands),
            skus=frozenset(normalize_sku(sku) for sku in skus),
            rule_groups=tuple(rule_groups),
            storage_period=storage_period,
            storage_basis=storage_basis,
        )


@dataclass(frozen=True, slots=True)
class RateCard:
    lines: tuple[RateLineData, ...]
    case_sizes: dict[str, int] = field(default_factory=dict)  # normalised SKU -> units per case
    # SKUs assigned to any per_unit line of the customer's whole rate card: excluded from case/each pick.
    per_unit_skus: frozenset[str] = frozenset()


@dataclass(frozen=True, slots=True)
class Charge:
    """One priced (order, rate-card line): the future report line."""

    order_id: int
    customer_service_id: int
    service_id: int
    service_name: str
    charge_type: str
    quantity: Decimal
    unit_price: Decimal  # 4 dp; for tiered lines the effective price (amount / quantity)
    amount: Decimal  # rounded to the cent, ROUND_HALF_UP
    # Why (docs/explanations.md): the key of the run's explanation (PricingRun.explanations) the
    # line shares with others, and the line's own detail, None or a dict: "bands" (tiered: each
    # band touched as (from, to or None, quantity, unit price, exact amount)) and "skus" (lines
    # restricted to assigned SKUs and the pick models: (SKU as on the order, units[, case size
    # or None, full cases]) per SKU considered). Not compared: two charges are equal when they
    # charge the same.
    explanation: int = field(default=0, compare=False)
    detail: dict | None = field(default=None, compare=False)


# A charge as report generation reads it (PricingRun.price_rows): customer_service_id, quantity,
# unit_price, amount, explanation, detail, then (service_id, service_name, charge_type) of its line.
ChargeRow = tuple[int, Decimal, Decimal, Decimal, int, "dict | None", tuple[int, str, str]]
