"""The pure pricing engine: rules and charge models over plain data (no ORM, no Django).

It is the reference definition of what an order costs. Typical use:

    run = compile_rate_card(card)               # validate + precompile once
    for order in orders:                        # in canonical_order_key sequence
        charges = run.price_order(order)

or `price_orders(card, orders)`, which sorts into the canonical sequence itself.
"""

from .charges import (
    CHARGE_TYPES,
    CHARGE_UNITS,
    DEFAULT_TIER_BASIS,
    ORDER_CHARGE_TYPES,
    TIER_BASES,
    graduated_cost,
    tier_bands,
)
from .engine import PricingRun, canonical_order_key, compile_rate_card, price_orders, validate_rate_line
from .errors import PricingError, RuleValidationError
from .fields import (
    FIELD_KINDS,
    FIELDS,
    LOGIC_OPERATORS,
    NUMERIC_FIELDS,
    NUMERIC_OPERATORS,
    OPERATORS,
    SKU_FIELD,
    SKU_OPERATORS,
    TEXT_FIELDS,
    TEXT_OPERATORS,
    normalize_sku,
    split_values,
)
from .money import quantize_price, round_money
from .rules import validate_group, validate_rule
from .types import Charge, OrderData, OrderLineData, RateCard, RateLineData, RuleData, RuleGroupData, TierData

__all__ = [
    "CHARGE_TYPES",
    "CHARGE_UNITS",
    "DEFAULT_TIER_BASIS",
    "FIELDS",
    "FIELD_KINDS",
    "LOGIC_OPERATORS",
    "NUMERIC_FIELDS",
    "NUMERIC_OPERATORS",
    "OPERATORS",
    "ORDER_CHARGE_TYPES",
    "SKU_FIELD",
    "SKU_OPERATORS",
    "TEXT_FIELDS",
    "TEXT_OPERATORS",
    "TIER_BASES",
    "Charge",
    "OrderData",
    "OrderLineData",
    "PricingError",
    "PricingRun",
    "RateCard",
    "RateLineData",
    "RuleData",
    "RuleGroupData",
    "RuleValidationError",
    "TierData",
    "canonical_order_key",
    "compile_rate_card",
    "graduated_cost",
    "normalize_sku",
    "price_orders",
    "quantize_price",
    "round_money",
    "split_values",
    "tier_bands",
    "validate_group",
    "validate_rate_line",
    "validate_rule",
]
