"""Small builders for pricing-engine tests (plain data, no database)."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal

from billing.pricing import (
    Charge,
    OrderData,
    OrderLineData,
    RateCard,
    RateLineData,
    RuleData,
    RuleGroupData,
    TierData,
    compile_rate_card,
)

_next_id = iter(range(1, 10**9))


def order(*, lines: tuple[tuple[str, int], ...] = (), **fields) -> OrderData:
    """An order; `lines` as (sku, quantity) pairs. order_id / transaction_id are unique unless given."""
    n = next(_next_id)
    fields.setdefault("order_id", n)
    fields.setdefault("transaction_id", f"T{n:08d}")
    return OrderData(lines=tuple(OrderLineData(sku, qty) for sku, qty in lines), **fields)


def line(charge_type: str = "per_order", unit_price: str = "1.0000", *, n: int = 1, **fields) -> RateLineData:
    return RateLineData(
        customer_service_id=fields.pop("customer_service_id", n),
        service_id=fields.pop("service_id", 100 + n),
        service_name=fields.pop("service_name", f"Service {n}"),
        charge_type=charge_type,
        unit_price=Decimal(unit_price),
        **fields,
    )


def tiers(*bands: tuple[str | None, str]) -> tuple[TierData, ...]:
    return tuple(TierData(None if up_to is None else Decimal(up_to), Decimal(price)) for up_to, price in bands)


def rule(field: str, operator: str, value: str, label: str = "") -> RuleData:
    return RuleData(field=field, operator=operator, value=value, label=label)


def group(logic: str, *rules: RuleData) -> RuleGroupData:
    return RuleGroupData(logic=logic, rules=tuple(rules))


def card(*lines: RateLineData, case_sizes: dict[str, int] | None = None, per_unit_skus=frozenset()) -> RateCard:
    return RateCard(lines=tuple(lines), case_sizes=dict(case_sizes or {}), per_unit_skus=frozenset(per_unit_skus))


def applies(groups: tuple[RuleGroupData, ...], the_order: OrderData) -> bool:
    """Whether a per_order line with these rule groups charges the order."""
    charges = compile_rate_card(card(line("per_order", rule_groups=groups))).price_order(the_order)
    return bool(charges)


def rule_holds(r: RuleData, the_order: OrderData) -> bool:
    return applies((group("AND", r),), the_order)


def price_one(rate_line: RateLineData, the_order: OrderData, **card_fields) -> list[Charge]:
    return compile_rate_card(card(rate_line, **card_fields)).price_order(the_order)


def at(day: int, hour: int = 0) -> dt.datetime:
    return dt.datetime(2025, 3, day, hour, tzinfo=dt.UTC)
