"""Every field x operator of the rule language, rule-group logic, and SKU normalisation."""

from __future__ import annotations

from decimal import Decimal

import pytest

from billing.pricing import (
    FIELDS,
    LOGIC_OPERATORS,
    NUMERIC_FIELDS,
    NUMERIC_OPERATORS,
    SKU_OPERATORS,
    TEXT_FIELDS,
    TEXT_OPERATORS,
    normalize_sku,
)

from .builders import applies, group, order, rule, rule_holds

# (operator, rule value, the order's field value, expected)
TEXT_CASES = [
    ("eq", "Fedex Express", "FedEx Express", True),
    ("eq", "  fedex express ", "\tFEDEX EXPRESS  ", True),
    ("eq", "FedEx", "FedEx Express", False),
    ("ne", "UPS", "FedEx Express", True),
    ("ne", " FEDEX express", "fedex Express ", False),
    ("in", "UPS; fedex express ;DHL", "FedEx Express", True),
    ("in", "UPS;DHL", "FedEx Express", False),
    ("not_in", "UPS;DHL", "FedEx Express", True),
    ("not_in", "ups; FedEx Express", "fedex express", False),
    ("contains", "x exp", "FedEx Express", True),
    ("contains", "zzz; EXPRESS", "FedEx Express", True),
    ("contains", "ground;zzz", "FedEx Express", False),
    ("not_contains", "ground;zzz", "FedEx Express", True),
    ("not_contains", "zzz;EXPRESS", "FedEx Express", False),
    ("startswith", "fed", "FedEx Express", True),
    ("startswith", "zzz;FEDEX", "  FedEx Express", True),
    ("startswith", "express", "FedEx Express", False),
    ("endswith", "PRESS", "FedEx Express", True),
    ("endswith", "zzz; ex express", "FedEx Express  ", True),
    ("endswith", "fedex", "FedEx Express", False),
]


def test_text_cases_cover_every_text_operator_both_ways():
    assert {(op, expected) for op, _, _, expected in TEXT_CASES} == {
        (op, expected) for op in TEXT_OPERATORS for expected in (True, False)
    }


@pytest.mark.parametrize("field", TEXT_FIELDS)
@pytest.mark.parametrize(("operator", "value", "actual", "expected"), TEXT_CASES)
def test_text_field_operator(field, operator, value, actual, expected):
    assert rule_holds(rule(field, operator, value), order(**{field: actual})) is expected


@pytest.mark.parametrize("field", TEXT_FIELDS)
def test_text_rule_only_reads_its_own_field(field):
    other = "carrier" if field != "carrier" else "notes"
    the_order = order(**{field: "Montreal", other: "Toronto"})
    assert rule_holds(rule(field, "eq", "montreal"), the_order)
    assert not rule_holds(rule(field, "eq", "toronto"), the_order)


def test_text_comparison_uses_casefold_not_lower():
    assert rule_holds(rule("ship_to_city", "eq", "STRASSE"), order(ship_to_city="Straße"))


def test_text_empty_field_value():
    blank = order(notes="   ")
    assert rule_holds(rule("notes", "ne", "fragile"), blank)
    assert rule_holds(rule("notes", "not_contains", "fragile"), blank)
    assert not rule_holds(rule("notes", "contains", "fragile"), blank)


# (operator, rule value, field value, expected)
NUMERIC_CASES = [
    ("eq", "5", 5, True),
    ("eq", "5.000", 5, True),
    ("eq", "5", 6, False),
    ("ne", "5", 6, True),
    ("ne", "5.0", 5, False),
    ("gt", "5", 6, True),
    ("gt", "5", 5, False),
    ("ge", "5", 5, True),
    ("ge", "5", 4, False),
    ("lt", "5", 4, True),
    ("lt", "5", 5, False),
    ("le", " 5 ", 5, True),
    ("le", "5", 6, False),
    ("in", "1; 5 ;9", 5, True),
    ("in", "1;9", 5, False),
    ("not_in", "1;9", 5, True),
    ("not_in", "1;5.00", 5, False),
]


def test_numeric_cases_cover_every_numeric_operator_both_ways():
    assert {(op, expected) for op, _, _, expected in NUMERIC_CASES} == {
        (op, expected) for op in NUMERIC_OPERATORS for expected in (True, False)
    }


def _order_with_number(field: str, value: int):
    if field == "sku_count":
        return order(lines=tuple((f"SKU-{i}", 1 + i) for i in range(value)))
    if field in ("weight_lb", "volume_cuft"):
        return order(**{field: Decimal(value)})
    return order(**{field: value})


@pytest.mark.parametrize("field", NUMERIC_FIELDS)
@pytest.mark.parametrize(("operator", "value", "actual", "expected"), NUMERIC_CASES)
def test_numeric_field_operator(field, operator, value, actual, expected):
    assert rule_holds(rule(field, operator, value), _order_with_number(field, actual)) is expected


@pytest.mark.parametrize(
    ("operator", "value", "weight", "expected"),
    [
        ("gt", "5.5", "5.501", True),
        ("gt", "5.5", "5.500", False),
        ("le", "0.1", "0.100", True),
        ("eq", "1e1", "10.000", True),
        ("in", "2.25;3", "2.250", True),
        ("lt", "-1", "0", False),
    ],
)
def test_numeric_fields_compare_as_decimal(operator, value, weight, expected):
    assert rule_holds(rule("weight_lb", operator, value), order(weight_lb=Decimal(weight))) is expected


def test_sku_count_counts_distinct_normalised_skus_with_quantity():
    the_order = order(lines=(("abc-1", 2), (" ABC1 ", 3), ("DEF 2", 1), ("GHI3", 0)))
    assert rule_holds(rule("sku_count", "eq", "2"), the_order)
    assert rule_holds(rule("sku_count", "eq", "0"), order(lines=(), total_item_qty=12))


# (operator, rule value, order lines, expected)
SKU_CASES = [
    ("contains", "abc-1", (("ABC1", 2), ("DEF2", 1)), True),
    ("contains", "XYZ9; def 2", (("ABC1", 2), ("def-2", 1)), True),
    ("contains", "XYZ9", (("ABC1", 2),), False),
    ("contains", "ABC1", (("ABC1", 0), ("DEF2", 1)), False),
    ("contains", "ABC1", (), False),
    ("not_contains", "XYZ9;QRS5", (("ABC1", 2),), True),
    ("not_contains", "XYZ9;abc-1", ((" abc 1", 2),), False),
    ("not_contains", "ABC1", (), True),
    ("only_contains", "abc-1; DEF2 ;XYZ9", (("ABC1", 2), ("def-2", 4)), True),
    ("only_contains", "ABC1", (("ABC1", 2), ("DEF2", 1)), False),
    ("only_contains", "ABC1", (("ABC1", 2), ("DEF2", 0)), True),
    ("only_contains", "ABC1", (), False),
]


def test_sku_cases_cover_every_sku_operator_both_ways():
    assert {(op, expected) for op, _, _, expected in SKU_CASES} == {
        (op, expected) for op in SKU_OPERATORS for expected in (True, False)
    }


@pytest.mark.parametrize(("operator", "value", "lines", "expected"), SKU_CASES)
def test_sku_field_operator(operator, value, lines, expected):
    assert rule_holds(rule("sku", operator, value), order(lines=lines)) is expected


def test_every_field_is_covered_by_the_tables():
    assert set(FIELDS) == {*TEXT_FIELDS, *NUMERIC_FIELDS, "sku"}
    assert FIELDS["carrier"] == TEXT_OPERATORS
    assert FIELDS["weight_lb"] == NUMERIC_OPERATORS
    assert FIELDS["sku"] == SKU_OPERATORS


@pytest.mark.parametrize(
    ("raw", "normalised"),
    [(" abc-1 ", "ABC1"), ("ABC1", "ABC1"), ("a b-c 1", "ABC1"), ("sku--9", "SKU9"), ("\tx-1\n", "X1")],
)
def test_normalize_sku(raw, normalised):
    assert normalize_sku(raw) == normalised


def test_spaced_and_hyphenated_skus_are_the_same_sku():
    assert rule_holds(rule("sku", "contains", "ABC1"), order(lines=((" abc-1 ", 1),)))
    assert rule_holds(rule("sku", "only_contains", " abc-1 "), order(lines=(("ABC1", 1), ("a-b-c-1", 2))))


# --- rule-group logic ----------------------------------------------------------------------

T = rule("packages", "eq", "1")  # true for the order below
F = rule("packages", "eq", "2")  # false for the order below
ONE_PACKAGE = order(packages=1)

PATTERNS = [(), (T,), (F,), (T, T), (T, F), (F, F), (T, T, T), (T, F, F), (T, T, F)]
# expected truth per logic operator, in PATTERNS order (an empty group is true for every operator)
LOGIC_TABLE = {
    "AND": [True, True, False, True, False, False, True, False, False],
    "OR": [True, True, False, True, True, False, True, True, True],
    "NOT": [True, False, True, False, False, True, False, False, False],
    "XOR": [True, True, False, False, True, False, False, True, False],
    "NAND": [True, False, True, False, True, True, False, True, True],
    "NOR": [True, False, True, False, False, True, False, False, False],
}


def test_logic_table_covers_every_logic_operator():
    assert set(LOGIC_TABLE) == set(LOGIC_OPERATORS)


@pytest.mark.parametrize(
    ("logic", "pattern", "expected"),
    [
        (logic, pattern, truth)
        for logic, row in LOGIC_TABLE.items()
        for pattern, truth in zip(PATTERNS, row, strict=True)
    ],
)
def test_group_logic(logic, pattern, expected):
    assert applies((group(logic, *pattern),), ONE_PACKAGE) is expected


def test_line_without_groups_always_applies():
    assert applies((), order())


def test_line_applies_when_any_group_is_true():
    assert applies((group("AND", F), group("AND", T, T)), ONE_PACKAGE)
    assert applies((group("OR", F), group("NOR", F)), ONE_PACKAGE)
    assert not applies((group("AND", T, F), group("OR", F, F), group("NOT", T)), ONE_PACKAGE)


def test_groups_combine_fields_of_different_kinds():
    groups = (
        group(
            "AND",
            rule("ship_to_country", "in", "CA;US"),
            rule("weight_lb", "gt", "10"),
            rule("sku", "contains", "ABC-1"),
        ),
    )
    heavy_canadian = order(ship_to_country=" ca ", weight_lb=Decimal("10.5"), lines=(("abc1", 1),))
    assert applies(groups, heavy_canadian)
    assert not applies(groups, order(ship_to_country="CA", weight_lb=Decimal("10"), lines=(("abc1", 1),)))
