"""Why a line was charged: what generation records, and how it reads back (docs/explanations.md).

A report line's explanation has two parts:

- a payload its rate-card line and matched rule group share with the report's other lines
  (`line_payload`, stored once per report): the service, the rule group that matched with its
  logic and rules as they stood (or none: the line applies to every order), the unit price or
  the tier table with its basis and scope;
- the line's own detail (Charge.detail, stored on the line as JSON text by `detail_json`,
  None for most lines): the tier bands the quantity touched, and the SKUs a line restricted to
  assigned SKUs or a pick line counted.

`explanation_data` joins the two (the detail decoded) into the shape the APIs and exports
show. Everything stored is JSON with decimals as strings, so nothing is lost on the way.
"""

from __future__ import annotations

from collections.abc import Sequence
from decimal import Decimal
from typing import Any

from .types import RateLineData, RuleGroupData

__all__ = ["detail_json", "explanation_data", "explanation_text", "group_text", "line_payload"]

EVERY_ORDER = "applies to every order"


def _rule_text(field: str, operator: str, value: str) -> str:
    return f"{field} {operator} {value}"


def group_text(logic: str, rules: Sequence[dict[str, str]]) -> str:
    """A rule group as one expression: 'ship_to_country eq CA AND weight_lb gt 50'."""
    parts = [_rule_text(r["field"], r["operator"], r["value"]) for r in rules]
    if not parts:
        return "no rules (always true)"
    if logic in ("AND", "OR"):
        return f" {logic} ".join(parts)
    if logic == "XOR":
        return parts[0] if len(parts) == 1 else f"exactly one of ({'; '.join(parts)})"
    inner = " AND ".join(parts) if logic == "NAND" else " OR ".join(parts)
    return f"NOT {inner}" if len(parts) == 1 else f"NOT ({inner})"


def line_payload(
    line: RateLineData,
    *,
    charge_type: str,
    unit_price: Decimal,
    tiers: Sequence[tuple[Decimal | None, Decimal]],
    basis: str,
    scope: str,
    group: int | None,
) -> dict[str, Any]:
    """What every line of `line` charged through rule group `group` (index, None: no groups) shares."""
    groups: tuple[RuleGroupData, ...] = line.rule_groups
    rule_group = None
    if group is not None:
        rules = [{"field": r.field, "operator": r.operator, "value": r.value} for r in groups[group].rules]
        rule_group = {"position": group + 1, "of": len(groups), "logic": groups[group].logic, "rules": rules}
    tier_table = None
    if tiers:
        lower = Decimal(0)
        bands = []
        for up_to, price in tiers:
            bands.append([str(lower), None if up_to is None else str(up_to), str(price)])
            if up_to is not None:
                lower = up_to
        tier_table = {"basis": basis, "scope": scope, "bands": bands}
    return {
        "service_name": line.service_name,
        "charge_type": charge_type,
        "rule_group": rule_group,
        "unit_price": None if tiers else str(unit_price),
        "tiers": tier_table,
        "assigned_skus": bool(line.skus),
    }


# --- a line's own detail ----------------------------------------------------------------------


_JSON_ESCAPES = {chr(i): f"\\u{i:04x}" for i in range(32)} | {'"': '\\"', "\\": "\\\\"}
_TRANSLATE = str.maketrans(_JSON_ESCAPES)


def _json_text(text: str) -> str:
    return f'"{text.translate(_TRANSLATE)}"'


# The JSON of each SKU entry met so far: the same (SKU, units, case size, cases) recur on line
# after line. A plain dict read through map() in C, not lru_cache (whose wrapper costs more than
# the lookup); it starts afresh past _SKU_JSON_LIMIT entries.
_SKU_JSON: dict[tuple, str] = {}
_SKU_JSON_LIMIT = 131_072


def _sku_json(entry: tuple) -> str:
    text = _SKU_JSON.get(entry)
    if text is None:
        if len(entry) == 2:
            text = f"[{_json_text(entry[0])},{entry[1]}]"
        else:
            sku, units, size, cases = entry
            text = f"[{_json_text(sku)},{units},{'null' if size is None else size},{cases}]"
        if len(_SKU_JSON) >= _SKU_JSON_LIMIT:
            _SKU_JSON.clear()
        _SKU_JSON[entry] = text
    return text


def _skus_json(skus: Sequence[tuple]) -> str:
    try:
        return ",".join(map(_SKU_JSON.__getitem__, skus))
    except KeyError:  # an entry not met yet
        return ",".join(map(_sku_json, skus))


def detail_json(detail: dict) -> str:
    """Charge.detail as the JSON text a report line stores, decimals as strings: {"bands": [[from,
    to, quantity, unit price, exact amount], ...], "skus": [[sku, units(, case size, cases)], ...]}.

    Written directly rather than by json.dumps: both writers format one per tiered, pick or
    SKU-restricted line, a few hundred thousand for a large report.
    """
    bands = detail.get("bands")
    skus = detail.get("skus")
    text = ""
    if bands is not None:
        if len(bands) == 1:  # most lines stay in one band
            a, b, q, p, c = bands[0]
            text = f'"bands":[["{a!s}","{b!s}","{q!s}","{p!s}","{c!s}"]]'
        else:
            rows = ",".join(f'["{a!s}","{b!s}","{q!s}","{p!s}","{c!s}"]' for a, b, q, p, c in bands)
            text = f'"bands":[{rows}]'
        if skus is None:
            return f"{{{text}}}"
        text += ","
    return f'{{{text}"skus":[{_skus_json(skus or ())}]}}'


# --- reading back -----------------------------------------------------------------------------


def _number(text: str | None) -> Decimal | int | None:
    if text is None:
        return None
    value = Decimal(text)
    return int(value) if value == value.to_integral_value() else value.normalize()


def explanation_data(payload: dict[str, Any] | None, detail: dict[str, Any] | None) -> dict[str, Any] | None:
    """A line's explanation as the APIs and exports show it (docs/explanations.md), None when the
    report was generated before explanations were recorded."""
    if payload is None:
        return None
    group = payload.get("rule_group")
    rule_group = None
    if group is not None:
        # built key by key: a payload read back from jsonb has its keys in another order
        rules = [{"field": r["field"], "operator": r["operator"], "value": r["value"]} for r in group["rules"]]
        rule_group = {
            "position": group["position"],
            "of": group["of"],
            "logic": group["logic"],
            "rules": rules,
            "text": group_text(group["logic"], rules),
        }
    tiers = payload.get("tiers")
    bands = None
    if detail is not None and detail.get("bands") is not None:
        bands = [
            {
                "from": _number(a),
                "to": _number(b),
                "quantity": _number(q),
                "unit_price": Decimal(p),
                "amount": _number(c),
            }
            for a, b, q, p, c in detail["bands"]
        ]
    skus = None
    if detail is not None and detail.get("skus") is not None:
        skus = []
        for entry in detail["skus"]:
            row: dict[str, Any] = {"sku": entry[0], "units": entry[1]}
            if len(entry) == 4:
                size, cases = entry[2], entry[3]
                row |= {"case_size": size, "cases": cases, "eaches": entry[1] - cases * (size or 0)}
            skus.append(row)
    data = {
        "applies_to_every_order": group is None,
        "rule_group": rule_group,
        "unit_price": None if payload.get("unit_price") is None else Decimal(payload["unit_price"]),
        "tier_basis": tiers["basis"] if tiers else None,
        "tier_scope": tiers["scope"] if tiers else None,
        "tier_bands": bands,
        "skus": skus,
    }
    data["text"] = explanation_text(data)
    return data


def _plain(value: Decimal | int | None) -> str:
    if value is None:
        return "no limit"
    return f"{value:f}" if isinstance(value, Decimal) else str(value)


def explanation_text(data: dict[str, Any]) -> str:
    """One readable sentence per part, e.g. 'Rule group 1 of 1 (AND) matched: ship_to_country eq CA.
    Tiers restart for each order: 0 to 1: 1 × 2.5000 = 2.5; 1 to 3: 2 × 0.5000 = 1.'"""
    group = data["rule_group"]
    parts = [
        "Applies to every order."
        if group is None
        else f"Rule group {group['position']} of {group['of']} ({group['logic']}) matched: {group['text']}."
    ]
    if data["tier_bands"] is not None:
        scope = "restart for each order" if data["tier_scope"] == "order" else "graduated over the period"
        bands = "; ".join(
            f"{_plain(b['from'])} to {_plain(b['to'])}: "
            f"{_plain(b['quantity'])} × {b['unit_price']} = {_plain(b['amount'])}"
            for b in data["tier_bands"]
        )
        parts.append(f"Tiers ({data['tier_basis']}, {scope}): {bands}.")
    if data["skus"] is not None:
        if data["skus"] and "case_size" in data["skus"][0]:
            skus = "; ".join(
                f"{s['sku']}: {s['units']} units, "
                + (f"case of {s['case_size']}" if s["case_size"] else "no case size")
                + f", {s['cases']} cases + {s['eaches']} eaches"
                for s in data["skus"]
            )
        else:
            skus = "; ".join(f"{s['sku']}: {s['units']}" for s in data["skus"])
        parts.append(f"SKUs counted: {skus or 'none'}.")
    return " ".join(parts)
