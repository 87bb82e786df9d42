"""Invalid rules, groups, rate-card lines and cards are rejected with a message naming them."""

from __future__ import annotations

import ast
import re
from decimal import Decimal
from pathlib import Path

import pytest

import billing.pricing
from billing.pricing import (
    CHARGE_TYPES,
    TIER_BASES,
    PricingError,
    RuleValidationError,
    TierData,
    compile_rate_card,
    validate_group,
    validate_rate_line,
    validate_rule,
)

from .builders import card, group, line, rule, tiers

LABEL = "rate_card[2].rule_groups[0].rules[1]"


@pytest.mark.parametrize(
    ("field", "operator", "value", "message"),
    [
        (
            "carrier",
            "gt",
            "5",
            "operator 'gt' is not valid for text field 'carrier' "
            "(use one of: eq, ne, in, not_in, contains, not_contains, startswith, endswith)",
        ),
        (
            "weight_lb",
            "contains",
            "5",
            "operator 'contains' is not valid for numeric field 'weight_lb' "
            "(use one of: eq, ne, gt, ge, lt, le, in, not_in)",
        ),
        (
            "sku",
            "eq",
            "ABC1",
            "operator 'eq' is not valid for SKU field 'sku' (use one of: contains, not_contains, only_contains)",
        ),
        (
            "ship_to_country",
            "only_contains",
            "CA",
            "operator 'only_contains' is not valid for text field 'ship_to_country'",
        ),
        ("weight_lb", "gt", "heavy", "value 'heavy' is not a number (numeric field 'weight_lb')"),
        ("packages", "in", "1; two ;3", "value 'two' is not a number (numeric field 'packages')"),
        ("sku_count", "ge", "NaN", "value 'NaN' is not a finite number"),
        ("volume_cuft", "lt", "Infinity", "value 'Infinity' is not a finite number"),
        ("colour", "eq", "red", "unknown field 'colour' (use one of: reference_number, ship_to_name"),
        ("carrier", "like", "ups", "unknown operator 'like' (use one of: eq, ne, in"),
        ("carrier", "EQ", "ups", "unknown operator 'EQ'"),
        ("carrier", "in", " ; ;", "no value given for field 'carrier'"),
        ("weight_lb", "gt", "", "no value given for field 'weight_lb'"),
        ("sku", "contains", ";", "no value given for field 'sku'"),
        ("carrier", "eq", "ups;fedex", "operator 'eq' takes one value, got 2 ('ups;fedex'); use 'in'"),
        ("carrier", "ne", "ups;fedex", "use 'not_in'"),
        ("weight_lb", "eq", "1;2", "use 'in'"),
        ("weight_lb", "gt", "1;2", "operator 'gt' takes one value, got 2 ('1;2'); give a single value"),
        ("sku", "contains", "ABC1; - ", "value '-' is not a valid SKU"),
        ("carrier", "eq", 5, "value must be text, got int 5"),
    ],
)
def test_invalid_rule_message_names_the_rule(field, operator, value, message):
    with pytest.raises(RuleValidationError) as info:
        validate_rule(rule(field, operator, value, label=LABEL))
    assert str(info.value).startswith(f"Rule '{LABEL}': ")
    assert message in str(info.value)
    assert info.value.label == LABEL
    assert info.value.reason in str(info.value)


def test_rule_validation_error_is_a_pricing_error_and_a_value_error():
    with pytest.raises(PricingError):
        validate_rule(rule("carrier", "gt", "5"))
    with pytest.raises(ValueError, match="unknown field"):
        validate_rule(rule("nope", "eq", "5"))


def test_rule_without_label_is_named_by_its_text():
    with pytest.raises(RuleValidationError, match=re.escape("Rule (carrier gt '5'): operator 'gt'")):
        validate_rule(rule("carrier", "gt", "5"))


@pytest.mark.parametrize(
    ("field", "operator", "value"),
    [
        ("carrier", "eq", " ups ; "),
        ("carrier", "in", "ups;fedex"),
        ("weight_lb", "ge", " 1.5 "),
        ("sku_count", "not_in", "1;2;3"),
        ("sku", "only_contains", "abc-1; DEF 2"),
    ],
)
def test_valid_rules_pass(field, operator, value):
    validate_rule(rule(field, operator, value))


def test_unknown_logic_operator():
    with pytest.raises(
        RuleValidationError, match=r"Rule group 'g1': unknown logic operator 'ALL' \(use one of: AND, OR, NOT"
    ):
        validate_group(group("ALL"), "g1")


def test_group_names_its_unlabelled_rules_by_position():
    bad = group("OR", rule("carrier", "eq", "ups"), rule("carrier", "gt", "1"))
    with pytest.raises(RuleValidationError, match=re.escape("Rule 'line[0].rule_groups[3].rules[1]'")):
        validate_group(bad, "line[0].rule_groups[3]")


def test_compile_rate_card_names_rule_by_position_or_own_label():
    good = line("per_order")
    bad_rules = group("AND", rule("carrier", "eq", "ups"), rule("carrier", "gt", "1"))
    with pytest.raises(RuleValidationError, match=re.escape(f"Rule '{LABEL}': operator 'gt'")):
        compile_rate_card(card(good, good, line("per_order", rule_groups=(bad_rules, group("OR")))))
    labelled = group("AND", rule("weight_lb", "gt", "x", label="Rule #12"))
    with pytest.raises(RuleValidationError, match=re.escape("Rule 'Rule #12': value 'x' is not a number")):
        compile_rate_card(card(line("per_order", rule_groups=(labelled,))))


def test_compile_rate_card_names_the_group():
    with pytest.raises(RuleValidationError, match=re.escape("Rule group 'rate_card[1].rule_groups[0]'")):
        compile_rate_card(card(line(), line(rule_groups=(group("XAND"),))))


@pytest.mark.parametrize(
    ("rate_line", "message"),
    [
        (line("per_banana"), f"unknown charge type 'per_banana' (use one of: {', '.join(CHARGE_TYPES)})"),
        (line("per_order", "-0.0001"), "unit price must be >= 0, got -0.0001"),
        (line("per_order", "NaN"), "unit price must be a finite number"),
        (line("tiered", "0"), "a tiered line needs at least one tier"),
        (
            line("tiered", "0", tiers=tiers(("100", "1"), ("100", "0.5"), (None, "0.1"))),
            "tier upper bounds must strictly increase: tier 2 has 100 after 100",
        ),
        (
            line("tiered", "0", tiers=tiers(("100", "1"), ("50", "0.5"))),
            "tier upper bounds must strictly increase: tier 2 has 50 after 100",
        ),
        (
            line("tiered", "0", tiers=tiers((None, "1"), ("100", "0.5"))),
            "tier 1 has no upper bound but is not the last tier",
        ),
        (line("tiered", "0", tiers=tiers(("0", "1"), (None, "0.5"))), "tier 1 upper bound must be a finite number > 0"),
        (line("tiered", "0", tiers=tiers(("10", "-1"))), "tier 1 unit price must be >= 0"),
        (line("tiered", "0", tiers=(TierData(10.0, Decimal(1)),)), "tier 1 upper bound must be a Decimal, got float"),
        (
            line("tiered", "0", tier_basis="case_pick", tiers=tiers((None, "1"))),
            f"tier basis 'case_pick' is not valid (use one of: {', '.join(TIER_BASES)}; empty means per_unit)",
        ),
        (line("tiered", "0", tier_basis="tiered", tiers=tiers((None, "1"))), "tier basis 'tiered' is not valid"),
        (line("per_unit", tier_basis="per_unit"), "tier basis 'per_unit' is only used by tiered lines"),
        (line("per_unit", tiers=tiers((None, "1"))), "tiers are only used by tiered lines"),
        (line("per_order", skus=frozenset({"ABC1"})), "assigned SKUs do not apply to 'per_order' charges"),
        (
            line("tiered", "0", tier_basis="per_package", skus=frozenset({"ABC1"}), tiers=tiers((None, "1"))),
            "assigned SKUs do not apply to 'per_package' charges",
        ),
        (line("per_unit", skus=frozenset({" - "})), "assigned SKU ' - ' is not a valid SKU"),
    ],
)
def test_invalid_rate_line_message_names_the_line(rate_line, message):
    with pytest.raises(RuleValidationError) as info:
        validate_rate_line(rate_line, "Customer 7 / Pick & pack")
    assert str(info.value).startswith("Rate-card line 'Customer 7 / Pick & pack': ")
    assert message in str(info.value)


def test_float_price_is_refused():
    bad = line("per_order")
    bad = type(bad)(**{**{f: getattr(bad, f) for f in bad.__slots__}, "unit_price": 1.5})
    with pytest.raises(RuleValidationError, match=re.escape("unit price must be a Decimal, got float 1.5")):
        validate_rate_line(bad, "x")


@pytest.mark.parametrize(
    "rate_line",
    [
        line("per_unit", "0.3350", skus=frozenset({"ABC1"})),
        line("tiered", "0", tiers=tiers(("100", "0.5"), (None, "0.4"))),
        line("tiered", "0", tier_basis="per_weight_lb", tiers=tiers(("10.5", "1"), ("20", "0.5"), (None, "0.25"))),
        line("tiered", "0", tier_basis="per_sku", skus=frozenset({"ABC1"}), tiers=tiers((None, "1"))),
        line("each_pick", skus=frozenset({"ABC1"}), rule_groups=(group("NOR"),)),
    ],
)
def test_valid_rate_lines_pass(rate_line):
    validate_rate_line(rate_line, "ok")


def test_validate_rate_line_checks_rules_with_the_line_label():
    bad = line("per_order", rule_groups=(group("AND", rule("carrier", "ge", "1")),))
    with pytest.raises(RuleValidationError, match=re.escape("Rule 'Line A.rule_groups[0].rules[0]': operator 'ge'")):
        validate_rate_line(bad, "Line A")


def test_compile_rate_card_names_the_line_by_position():
    with pytest.raises(RuleValidationError, match=re.escape("Rate-card line 'rate_card[1]': unknown charge type")):
        compile_rate_card(card(line(), line("per_thing")))


@pytest.mark.parametrize(
    ("case_sizes", "message"),
    [
        ({"ABC1": 0}, "case size of SKU 'ABC1' must be an integer >= 1, got 0"),
        ({"ABC1": 2.0}, "case size of SKU 'ABC1' must be an integer >= 1, got 2.0"),
        ({" - ": 6}, "case size given for an invalid SKU"),
        ({"abc-1": 6, "ABC1": 12}, "SKU 'ABC1' has two case sizes (6 and 12)"),
    ],
)
def test_invalid_case_sizes(case_sizes, message):
    with pytest.raises(RuleValidationError, match=re.escape(message)):
        compile_rate_card(card(line("case_pick"), case_sizes=case_sizes))


def test_invalid_per_unit_sku():
    with pytest.raises(RuleValidationError, match=re.escape("Rate card: per_unit SKU '--' is not a valid SKU")):
        compile_rate_card(card(line("case_pick"), per_unit_skus={"--"}))


def test_pricing_package_is_pure_python():
    """No Django or ORM import anywhere in billing/pricing: it must run on plain data alone."""
    package = Path(billing.pricing.__file__).parent
    for source in package.glob("*.py"):
        for node in ast.walk(ast.parse(source.read_text(), str(source))):
            if isinstance(node, ast.Import):
                modules = [alias.name for alias in node.names]
            elif isinstance(node, ast.ImportFrom):
                modules = [node.module or ""] if node.level == 0 else []
            else:
                continue
            for module in modules:
                top = module.split(".")[0]
                assert top not in {"django", "billing", "rest_framework", "strawberry"}, (
                    f"{source.name} imports {module}"
                )
