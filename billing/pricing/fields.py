"""The order fields rules can test, the operators each supports, and SKU normalisation.

These tables are the single description of the rule language: the engine compiles from
them, importers and the admin validate with them, and documentation lists them.
"""

from __future__ import annotations

from types import MappingProxyType
from typing import Final

__all__ = [
    "FIELDS",
    "FIELD_KINDS",
    "LOGIC_OPERATORS",
    "MULTI_VALUE_OPERATORS",
    "NUMERIC",
    "NUMERIC_FIELDS",
    "NUMERIC_OPERATORS",
    "OPERATORS",
    "ORDER_DECIMAL_FIELDS",
    "ORDER_INT_FIELDS",
    "SINGLE_VALUE_OPERATORS",
    "SKU",
    "SKU_FIELD",
    "SKU_OPERATORS",
    "TEXT",
    "TEXT_FIELDS",
    "TEXT_OPERATORS",
    "VALUE_SEPARATOR",
    "normalize_sku",
    "split_values",
]

TEXT: Final = "text"
NUMERIC: Final = "numeric"
SKU: Final = "sku"

VALUE_SEPARATOR: Final = ";"

TEXT_FIELDS: Final = (
    "reference_number",
    "ship_to_name",
    "ship_to_company",
    "ship_to_city",
    "ship_to_state",
    "ship_to_country",
    "carrier",
    "notes",
)
# Order attributes holding Decimals / ints (sku_count is derived from the order's lines).
ORDER_DECIMAL_FIELDS: Final = ("weight_lb", "volume_cuft")
ORDER_INT_FIELDS: Final = ("packages", "line_items", "total_item_qty")
NUMERIC_FIELDS: Final = (*ORDER_DECIMAL_FIELDS, *ORDER_INT_FIELDS, "sku_count")
SKU_FIELD: Final = "sku"

TEXT_OPERATORS: Final = ("eq", "ne", "in", "not_in", "contains", "not_contains", "startswith", "endswith")
NUMERIC_OPERATORS: Final = ("eq", "ne", "gt", "ge", "lt", "le", "in", "not_in")
SKU_OPERATORS: Final = ("contains", "not_contains", "only_contains")

# Operators comparing with exactly one value; the others accept a ';'-separated list.
SINGLE_VALUE_OPERATORS: Final = frozenset({"eq", "ne", "gt", "ge", "lt", "le"})
MULTI_VALUE_OPERATORS: Final = frozenset(
    {"in", "not_in", "contains", "not_contains", "startswith", "endswith", "only_contains"}
)

#: field name -> "text" | "numeric" | "sku"
FIELD_KINDS: Final = MappingProxyType(
    {
        **dict.fromkeys(TEXT_FIELDS, TEXT),
        **dict.fromkeys(NUMERIC_FIELDS, NUMERIC),
        SKU_FIELD: SKU,
    }
)

_OPERATORS_BY_KIND = {TEXT: TEXT_OPERATORS, NUMERIC: NUMERIC_OPERATORS, SKU: SKU_OPERATORS}

#: field name -> the operators it supports, in display order
FIELDS: Final = MappingProxyType({name: _OPERATORS_BY_KIND[kind] for name, kind in FIELD_KINDS.items()})

#: operator -> what it means (for help texts and documentation)
OPERATORS: Final = MappingProxyType(
    {
        "eq": "equals the value",
        "ne": "differs from the value",
        "gt": "greater than the value",
        "ge": "greater than or equal to the value",
        "lt": "less than the value",
        "le": "less than or equal to the value",
        "in": "equals one of the values",
        "not_in": "equals none of the values",
        "contains": "text: contains one of the values; sku: the order has one of the SKUs",
        "not_contains": "text: contains none of the values; sku: the order has none of the SKUs",
        "startswith": "starts with one of the values",
        "endswith": "ends with one of the values",
        "only_contains": "every SKU of the order is one of the SKUs (false for an order without SKUs)",
    }
)

#: rule-group logic operators -> what makes the group true (an empty group is always true)
LOGIC_OPERATORS: Final = MappingProxyType(
    {
        "AND": "all rules true",
        "OR": "at least one rule true",
        "NOT": "no rule true",
        "XOR": "exactly one rule true",
        "NAND": "not all rules true",
        "NOR": "no rule true",
    }
)


def normalize_sku(sku: str) -> str:
    """Canonical SKU: trimmed, upper-cased, without spaces or hyphens (" abc-1 " -> "ABC1")."""
    return sku.strip().upper().replace(" ", "").replace("-", "")


def split_values(value: str) -> list[str]:
    """A rule value as its list of values: split on ';', each trimmed, empty ones dropped."""
    return [part.strip() for part in value.split(VALUE_SEPARATOR) if part.strip()]
