"""The order fields rules can test, the operators each supports, and SKU normalisation.

These tables are the single description of the rule language: the engine compiles from
them, importers and the admin validate with them, and documentation lists them.
"""

from __future__ import annotations

from collections.abc import Mapping
from types import MappingProxyType
from typing import Final

__all__ = [
    "ACTIVITY_FIELD_KINDS",
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
    "field_operators",
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

#: activity kind -> (field name -> kind): what rules on the rate-card lines pricing that activity
#: (billing.pricing.activity) can test. `sku` tests the SKUs of the record (a snapshot's own SKU,
#: a receipt's or return's lines), `sku_count` counts them.
ACTIVITY_FIELD_KINDS: Final = MappingProxyType(
    {
        "storage": MappingProxyType(
            {
                "location": TEXT,
                "quantity": NUMERIC,
                "pallets": NUMERIC,
                "cubic_feet": NUMERIC,
                SKU_FIELD: SKU,
            }
        ),
        "receiving": MappingProxyType(
            {
                "reference": TEXT,
                "notes": TEXT,
                "pallets": NUMERIC,
                "cartons": NUMERIC,
                "units": NUMERIC,
                "labour_minutes": NUMERIC,
                "sku_count": NUMERIC,
                SKU_FIELD: SKU,
            }
        ),
        "returns": MappingProxyType(
            {
                "reference": TEXT,
                "original_order_reference": TEXT,
                "notes": TEXT,
                "units": NUMERIC,
                "sku_count": NUMERIC,
                SKU_FIELD: SKU,
            }
        ),
        "extra_work": MappingProxyType({"reference": TEXT, "description": TEXT, "quantity": NUMERIC}),
    }
)


def field_operators(kinds: Mapping[str, str]) -> dict[str, tuple[str, ...]]:
    """field name -> the operators it supports, for a table of field kinds (FIELD_KINDS or an activity's)."""
    return {name: _OPERATORS_BY_KIND[kind] for name, kind in kinds.items()}


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
