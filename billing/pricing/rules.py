"""Rules and rule groups: validation, and compilation into fast predicates.

A rule is checked and its values are parsed once (casefolded strings, Decimals, normalised
SKU sets); the result is a closure `predicate(order, units) -> bool`, where `units` maps the
order's normalised SKUs to their quantity (> 0). The engine builds `units` once per order.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from decimal import Decimal
from operator import attrgetter
from typing import Any

from .errors import RuleValidationError
from .fields import (
    FIELD_KINDS,
    FIELDS,
    LOGIC_OPERATORS,
    NUMERIC,
    OPERATORS,
    SINGLE_VALUE_OPERATORS,
    SKU,
    SKU_FIELD,
    TEXT,
    field_operators,
    normalize_sku,
    split_values,
)
from .money import EXACT
from .types import OrderFields, RuleData, RuleGroupData

__all__ = [
    "Predicate",
    "compile_group",
    "compile_rule",
    "rule_name",
    "validate_group",
    "validate_rule",
]

# predicate(record, units): the record is an order's fields (OrderFields), or an activity record
# (billing.pricing.activity)
Predicate = Callable[[Any, dict[str, int]], bool]

_KIND_NAMES = {TEXT: "text", NUMERIC: "numeric", SKU: "SKU"}
# What to use instead of a single-value operator given several values.
_MULTI_VALUE_HINT = {"eq": "in", "ne": "not_in"}


def rule_name(rule: RuleData, label: str = "") -> str:
    """How messages name a rule: its label (or the given fallback), else its own text."""
    label = getattr(rule, "label", "") or label
    if label:
        return f"Rule '{label}'"
    return f"Rule ({getattr(rule, 'field', '?')} {getattr(rule, 'operator', '?')} {getattr(rule, 'value', '?')!r})"


def _fail(rule: RuleData, label: str, reason: str) -> RuleValidationError:
    name = rule_name(rule, label)
    return RuleValidationError(f"{name}: {reason}", label=getattr(rule, "label", "") or label, reason=reason)


# Which fields a rule may test: the order's (the default) or an activity's (ACTIVITY_FIELD_KINDS).
FieldKinds = Mapping[str, str]


def _parse(rule: RuleData, label: str = "", kinds: FieldKinds = FIELD_KINDS) -> tuple[str, str, str, list[Any]]:
    """Check a rule and return (field, kind, operator, parsed values)."""
    if not isinstance(rule, RuleData):
        raise RuleValidationError(f"{rule_name(rule, label)}: expected RuleData, got {type(rule).__name__}")
    field, operator, value = rule.field, rule.operator, rule.value
    fields = FIELDS if kinds is FIELD_KINDS else field_operators(kinds)
    kind = kinds.get(field) if isinstance(field, str) else None
    if kind is None:
        raise _fail(rule, label, f"unknown field {field!r} (use one of: {', '.join(fields)})")
    allowed = fields[field]
    if not isinstance(operator, str) or operator not in OPERATORS:
        raise _fail(rule, label, f"unknown operator {operator!r} (use one of: {', '.join(allowed)})")
    if operator not in allowed:
        raise _fail(
            rule,
            label,
            f"operator {operator!r} is not valid for {_KIND_NAMES[kind]} field {field!r} "
            f"(use one of: {', '.join(allowed)})",
        )
    if not isinstance(value, str):
        raise _fail(rule, label, f"value must be text, got {type(value).__name__} {value!r}")
    raw = split_values(value)
    if not raw:
        raise _fail(rule, label, f"no value given for field {field!r} (separate several values with ';')")
    if operator in SINGLE_VALUE_OPERATORS and len(raw) > 1:
        hint = _MULTI_VALUE_HINT.get(operator)
        advice = f"use {hint!r} to compare with several values" if hint else "give a single value"
        raise _fail(rule, label, f"operator {operator!r} takes one value, got {len(raw)} ({value!r}); {advice}")

    if kind == TEXT:
        values: list[Any] = [v.casefold() for v in raw]
    elif kind == NUMERIC:
        values = []
        for v in raw:
            try:
                number = EXACT.create_decimal(v)
            except (ArithmeticError, ValueError):
                raise _fail(rule, label, f"value {v!r} is not a number (numeric field {field!r})") from None
            if not number.is_finite():
                raise _fail(rule, label, f"value {v!r} is not a finite number (numeric field {field!r})")
            values.append(number)
    else:
        values = []
        for v in raw:
            sku = normalize_sku(v)
            if not sku:
                raise _fail(rule, label, f"value {v!r} is not a valid SKU")
            values.append(sku)
    return field, kind, operator, values


def validate_rule(rule: RuleData, label: str = "", kinds: FieldKinds = FIELD_KINDS) -> None:
    """Raise RuleValidationError naming the rule (its label, else `label`) if it cannot be evaluated."""
    _parse(rule, label, kinds)


def validate_group(group: RuleGroupData, label: str = "", kinds: FieldKinds = FIELD_KINDS) -> None:
    """Check a rule group's logic operator and each of its rules.

    `label` names the group (e.g. "rate_card[2].rule_groups[0]"); a rule without a label of
    its own is named "<label>.rules[i]".
    """
    _parse_group(group, label, kinds)


def _parse_group(group: RuleGroupData, label: str, kinds: FieldKinds) -> tuple[str, list[tuple[RuleData, str]]]:
    name = f"Rule group '{label}'" if label else "Rule group"
    if not isinstance(group, RuleGroupData):
        raise RuleValidationError(f"{name}: expected RuleGroupData, got {type(group).__name__}", label=label)
    logic = group.logic
    if not isinstance(logic, str) or logic not in LOGIC_OPERATORS:
        reason = f"unknown logic operator {logic!r} (use one of: {', '.join(LOGIC_OPERATORS)})"
        raise RuleValidationError(f"{name}: {reason}", label=label, reason=reason)
    rules = []
    for index, rule in enumerate(group.rules):
        rule_label = f"{label}.rules[{index}]" if label else f"rules[{index}]"
        _parse(rule, rule_label, kinds)
        rules.append((rule, rule_label))
    return logic, rules


# --- compilation --------------------------------------------------------------------------


def _text_predicate(field: str, operator: str, values: list[str]) -> Predicate:
    get = attrgetter(field)
    first = values[0]
    if operator == "eq":
        return lambda order, units: get(order).strip().casefold() == first
    if operator == "ne":
        return lambda order, units: get(order).strip().casefold() != first
    if operator in ("in", "not_in"):
        wanted = frozenset(values)
        if operator == "in":
            return lambda order, units: get(order).strip().casefold() in wanted
        return lambda order, units: get(order).strip().casefold() not in wanted
    many = tuple(values)
    if operator == "contains":
        if len(many) == 1:
            return lambda order, units: first in get(order).strip().casefold()
        return lambda order, units: _any_in(many, get(order).strip().casefold())
    if operator == "not_contains":
        if len(many) == 1:
            return lambda order, units: first not in get(order).strip().casefold()
        return lambda order, units: not _any_in(many, get(order).strip().casefold())
    if operator == "startswith":
        return lambda order, units: get(order).strip().casefold().startswith(many)
    if operator == "endswith":
        return lambda order, units: get(order).strip().casefold().endswith(many)
    raise AssertionError(f"unhandled text operator {operator!r}")  # pragma: no cover - tables checked above


def _any_in(needles: tuple[str, ...], haystack: str) -> bool:
    for needle in needles:  # noqa: SIM110 - a plain loop is faster than any() on this hot path
        if needle in haystack:
            return True
    return False


def _numeric_predicate(field: str, operator: str, values: list[Decimal]) -> Predicate:
    get: Callable[[OrderFields, dict[str, int]], Any]
    if field == "sku_count":

        def get(order: OrderFields, units: dict[str, int]) -> int:
            return len(units)

    else:
        attr = attrgetter(field)

        def get(order: OrderFields, units: dict[str, int]) -> Any:
            return attr(order)

    v = values[0]
    if operator == "eq":
        return lambda order, units: get(order, units) == v
    if operator == "ne":
        return lambda order, units: get(order, units) != v
    if operator == "gt":
        return lambda order, units: get(order, units) > v
    if operator == "ge":
        return lambda order, units: get(order, units) >= v
    if operator == "lt":
        return lambda order, units: get(order, units) < v
    if operator == "le":
        return lambda order, units: get(order, units) <= v
    # Decimal hashes equal to int for equal values, so set membership compares numerically.
    wanted = frozenset(values)
    if operator == "in":
        return lambda order, units: get(order, units) in wanted
    if operator == "not_in":
        return lambda order, units: get(order, units) not in wanted
    raise AssertionError(f"unhandled numeric operator {operator!r}")  # pragma: no cover


def _sku_predicate(operator: str, values: list[str]) -> Predicate:
    skus = frozenset(values)
    if operator == "contains":
        if len(skus) == 1:
            (only,) = skus
            return lambda order, units: only in units
        return lambda order, units: not skus.isdisjoint(units)
    if operator == "not_contains":
        return lambda order, units: skus.isdisjoint(units)
    if operator == "only_contains":
        return lambda order, units: bool(units) and units.keys() <= skus
    raise AssertionError(f"unhandled SKU operator {operator!r}")  # pragma: no cover


def compile_rule(rule: RuleData, label: str = "", kinds: FieldKinds = FIELD_KINDS) -> tuple[Predicate, str]:
    """Validate `rule` and return (predicate, order attribute it reads, "" for the SKU lines)."""
    field, kind, operator, values = _parse(rule, label, kinds)
    if kind == TEXT:
        return _text_predicate(field, operator, values), field
    if kind == NUMERIC:
        return _numeric_predicate(field, operator, values), ("" if field == "sku_count" else field)
    return _sku_predicate(operator, values), ("" if field == SKU_FIELD else field)


def _always(order: OrderFields, units: dict[str, int]) -> bool:
    return True


def _combine(logic: str, preds: Sequence[Predicate]) -> Predicate:
    if not preds:
        return _always  # an empty group is true, whatever its logic
    if len(preds) == 1:
        (p,) = preds
        if logic in ("AND", "OR", "XOR"):
            return p
        return lambda order, units: not p(order, units)  # NOT, NAND, NOR of one rule
    ps = tuple(preds)

    def all_true(order: OrderFields, units: dict[str, int]) -> bool:
        for p in ps:  # noqa: SIM110 - a plain loop is faster than all() on this hot path
            if not p(order, units):
                return False
        return True

    def any_true(order: OrderFields, units: dict[str, int]) -> bool:
        for p in ps:  # noqa: SIM110 - a plain loop is faster than any() on this hot path
            if p(order, units):
                return True
        return False

    if logic == "AND":
        return all_true
    if logic == "OR":
        return any_true
    if logic in ("NOT", "NOR"):
        return lambda order, units: not any_true(order, units)
    if logic == "NAND":
        return lambda order, units: not all_true(order, units)
    if logic == "XOR":

        def exactly_one(order: OrderFields, units: dict[str, int]) -> bool:
            seen = False
            for p in ps:
                if p(order, units):
                    if seen:
                        return False
                    seen = True
            return seen

        return exactly_one
    raise AssertionError(f"unhandled logic operator {logic!r}")  # pragma: no cover


def compile_group(group: RuleGroupData, label: str = "", kinds: FieldKinds = FIELD_KINDS) -> tuple[Predicate, set[str]]:
    """Validate and compile a rule group; returns (predicate, order attributes its rules read)."""
    logic, rules = _parse_group(group, label, kinds)
    preds = []
    attrs: set[str] = set()
    for rule, rule_label in rules:
        pred, attr = compile_rule(rule, rule_label, kinds)
        preds.append(pred)
        if attr:
            attrs.add(attr)
    return _combine(logic, preds), attrs


def compile_groups(
    groups: Sequence[RuleGroupData], label: str = "", kinds: FieldKinds = FIELD_KINDS
) -> tuple[Predicate | None, set[str]]:
    """A rate-card line's applicability: None when it has no groups (always applies), else any group true.

    `kinds` names the fields rules may test: the order's, or an activity's for its lines."""
    preds = []
    attrs: set[str] = set()
    for index, group in enumerate(groups):
        group_label = f"{label}.rule_groups[{index}]" if label else f"rule_groups[{index}]"
        pred, group_attrs = compile_group(group, group_label, kinds)
        preds.append(pred)
        attrs |= group_attrs
    if not preds:
        return None, attrs
    if len(preds) == 1:
        return preds[0], attrs
    ps = tuple(preds)

    def any_group(order: OrderFields, units: dict[str, int]) -> bool:
        for p in ps:  # noqa: SIM110 - a plain loop is faster than any() on this hot path
            if p(order, units):
                return True
        return False

    return any_group, attrs
