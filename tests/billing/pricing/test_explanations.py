"""Per-order tiers (worked examples) and what the engine records to explain each charge."""

from __future__ import annotations

import json
from decimal import ROUND_HALF_UP, Decimal
from itertools import pairwise

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from billing.pricing import RuleValidationError, compile_rate_card, graduated_cost, price_orders
from billing.pricing.charges import graduated_bands, tier_bands
from billing.pricing.explain import detail_json, explanation_data, group_text

from .builders import at, card, group, line, order, rule, tiers

D = Decimal
PICK_FEE = tiers(("1", "2.5000"), (None, "0.5000"))  # first unit 2.50, each additional unit 0.50


def explained(run, charge) -> dict:
    """The explanation as the APIs show it: the run's shared payload plus the charge's own detail,
    through the JSON text a report line stores."""
    detail = None if charge.detail is None else json.loads(detail_json(charge.detail))
    return explanation_data(run.explanations[charge.explanation], detail)


# --- per-order tiers: worked examples -------------------------------------------------------


@pytest.mark.parametrize(
    ("units", "amount"),
    [
        (1, "2.50"),  # the first unit only
        (2, "3.00"),  # 2.50 + 0.50
        (5, "4.50"),  # 2.50 + 4 x 0.50
        (12, "8.00"),  # 2.50 + 11 x 0.50
    ],
)
def test_order_scope_first_unit_then_each_additional_unit(units, amount):
    pick = line("tiered", "0", tiers=PICK_FEE, tier_scope="order")
    (charge,) = compile_rate_card(card(pick)).price_order(order(lines=(("A", units),)))
    assert charge.quantity == units
    assert charge.amount == D(amount)


def test_order_scope_restarts_for_every_order_while_period_scope_carries_on():
    orders = [order(lines=(("A", 3),), close_date=at(day)) for day in (1, 2, 3)]
    per_order = price_orders(card(line("tiered", "0", tiers=PICK_FEE, tier_scope="order")), orders)
    per_period = price_orders(card(line("tiered", "0", tiers=PICK_FEE)), orders)

    # order scope: each order pays 2.50 + 2 x 0.50
    assert [c.amount for c in per_order] == [D("3.50")] * 3
    # period scope: only the period's first unit is at 2.50
    assert [c.amount for c in per_period] == [D("3.50"), D("1.50"), D("1.50")]


def test_order_scope_three_bands_worked_example():
    # 0-10 at 1.00, 10-50 at 0.80, beyond at 0.60; an order of 60 units: 10 + 32 + 6 = 48.00
    three = tiers(("10", "1.0000"), ("50", "0.8000"), (None, "0.6000"))
    run = compile_rate_card(card(line("tiered", "0", tiers=three, tier_scope="order")))
    (first,) = run.price_order(order(lines=(("A", 60),), close_date=at(1)))
    (second,) = run.price_order(order(lines=(("A", 5),), close_date=at(2)))
    assert first.amount == D("48.00")
    assert second.amount == D("5.00")
    assert [b["quantity"] for b in explained(run, first)["tier_bands"]] == [10, 40, 10]
    assert explained(run, second)["tier_bands"] == [
        {"from": 0, "to": 5, "quantity": 5, "unit_price": D("1.0000"), "amount": 5}
    ]


def test_order_scope_over_another_basis():
    # per_line basis: first order line 1.00, each further line 0.25
    by_line = line("tiered", "0", tier_basis="per_line", tiers=tiers(("1", "1.0000"), (None, "0.2500")))
    by_line = line("tiered", "0", tier_basis="per_line", tier_scope="order", tiers=by_line.tiers)
    (charge,) = compile_rate_card(card(by_line)).price_order(order(line_items=4))
    assert charge.amount == D("1.75")


def test_a_tier_scope_is_refused_when_unknown_or_on_a_line_that_is_not_tiered():
    with pytest.raises(RuleValidationError, match="tier scope 'week' is not valid"):
        compile_rate_card(card(line("tiered", "0", tiers=PICK_FEE, tier_scope="week")))
    with pytest.raises(RuleValidationError, match="tier scope 'order' is only used by tiered lines"):
        compile_rate_card(card(line("per_unit", "1.0000", tier_scope="order")))


# --- explanations: rules -------------------------------------------------------------------


def test_a_line_without_rules_applies_to_every_order():
    run = compile_rate_card(card(line("per_order", "1.5000")))
    (charge,) = run.price_order(order())
    data = explained(run, charge)
    assert data["applies_to_every_order"] is True
    assert data["rule_group"] is None
    assert data["unit_price"] == D("1.5000")
    assert data["text"] == "Applies to every order."


@pytest.mark.parametrize(
    ("logic", "rules", "matching", "text"),
    [
        (
            "AND",
            (rule("ship_to_country", "eq", "CA"), rule("weight_lb", "gt", "50")),
            {"ship_to_country": "CA", "weight_lb": D("60")},
            "ship_to_country eq CA AND weight_lb gt 50",
        ),
        (
            "OR",
            (rule("ship_to_country", "eq", "CA"), rule("ship_to_country", "eq", "MX")),
            {"ship_to_country": "MX"},
            "ship_to_country eq CA OR ship_to_country eq MX",
        ),
        ("NOT", (rule("carrier", "eq", "UPS"),), {"carrier": "DHL"}, "NOT carrier eq UPS"),
        (
            "NOR",
            (rule("carrier", "eq", "UPS"), rule("carrier", "eq", "FEDEX")),
            {"carrier": "DHL"},
            "NOT (carrier eq UPS OR carrier eq FEDEX)",
        ),
        (
            "NAND",
            (rule("ship_to_country", "eq", "CA"), rule("weight_lb", "gt", "50")),
            {"ship_to_country": "CA", "weight_lb": D("10")},
            "NOT (ship_to_country eq CA AND weight_lb gt 50)",
        ),
        (
            "XOR",
            (rule("ship_to_country", "eq", "CA"), rule("weight_lb", "gt", "50")),
            {"ship_to_country": "US", "weight_lb": D("60")},
            "exactly one of (ship_to_country eq CA; weight_lb gt 50)",
        ),
        ("AND", (rule("sku", "contains", "KIT-A1"),), {"lines": (("kit a1", 1),)}, "sku contains KIT-A1"),
        ("AND", (), {}, "no rules (always true)"),
    ],
)
def test_the_matched_group_is_recorded_with_its_logic_and_rules(logic, rules, matching, text):
    run = compile_rate_card(card(line("per_order", "1.0000", rule_groups=(group(logic, *rules),))))
    (charge,) = run.price_order(order(**matching))
    data = explained(run, charge)
    assert data["applies_to_every_order"] is False
    assert data["rule_group"] == {
        "position": 1,
        "of": 1,
        "logic": logic,
        "rules": [{"field": r.field, "operator": r.operator, "value": r.value} for r in rules],
        "text": text,
    }
    assert data["text"] == f"Rule group 1 of 1 ({logic}) matched: {text}."


def test_with_several_groups_the_first_true_group_explains_the_line():
    groups = (
        group("AND", rule("ship_to_country", "eq", "CA")),
        group("AND", rule("weight_lb", "gt", "50")),
        group("OR", rule("carrier", "eq", "UPS"), rule("carrier", "eq", "DHL")),
    )
    run = compile_rate_card(card(line("per_order", "1.0000", rule_groups=groups)))
    heavy = run.price_order(order(ship_to_country="US", weight_lb=D("70"), carrier="DHL"))
    canadian = run.price_order(order(ship_to_country="CA", weight_lb=D("70")))
    by_carrier = run.price_order(order(carrier="DHL"))
    assert run.price_order(order(ship_to_country="US")) == []

    assert explained(run, heavy[0])["rule_group"]["position"] == 2
    assert explained(run, canadian[0])["rule_group"]["position"] == 1
    assert explained(run, by_carrier[0])["rule_group"]["text"] == "carrier eq UPS OR carrier eq DHL"
    assert len(run.explanations) == 3  # one per group: few, whatever the number of orders


def test_group_text_of_every_logic_operator_with_three_rules():
    rules = [{"field": "carrier", "operator": "eq", "value": v} for v in ("A", "B", "C")]
    assert group_text("AND", rules) == "carrier eq A AND carrier eq B AND carrier eq C"
    assert group_text("OR", rules) == "carrier eq A OR carrier eq B OR carrier eq C"
    assert group_text("XOR", rules) == "exactly one of (carrier eq A; carrier eq B; carrier eq C)"
    assert group_text("NOT", rules) == "NOT (carrier eq A OR carrier eq B OR carrier eq C)"
    assert group_text("NOR", rules) == "NOT (carrier eq A OR carrier eq B OR carrier eq C)"
    assert group_text("NAND", rules) == "NOT (carrier eq A AND carrier eq B AND carrier eq C)"


# --- explanations: every charge model ------------------------------------------------------


@pytest.mark.parametrize(
    ("charge_type", "fields", "quantity"),
    [
        ("per_order", {}, 1),
        ("per_unit", {"lines": (("A", 2), ("B", 3))}, 5),
        ("per_sku", {"lines": (("A", 2), ("B", 3))}, 2),
        ("per_line", {"line_items": 4}, 4),
        ("per_package", {"packages": 3}, 3),
        ("per_weight_lb", {"weight_lb": D("2.5")}, D("2.5")),
        ("per_volume_cuft", {"volume_cuft": D("0.8")}, D("0.8")),
    ],
)
def test_simple_models_share_one_explanation_and_carry_no_detail(charge_type, fields, quantity):
    run = compile_rate_card(card(line(charge_type, "0.5000")))
    (charge,) = run.price_order(order(**fields))
    assert charge.quantity == quantity
    assert charge.detail is None
    data = explained(run, charge)
    assert data["unit_price"] == D("0.5000")
    assert data["tier_bands"] is None and data["skus"] is None


def test_per_unit_with_assigned_skus_lists_the_skus_it_counted():
    run = compile_rate_card(card(line("per_unit", "0.2500", skus=frozenset({"KITA1", "KITB2"}))))
    (charge,) = run.price_order(order(lines=(("Kit-A1", 3), ("OTHER", 5), ("kit b2", 2), ("KIT A1", 1))))
    assert charge.quantity == 6
    data = explained(run, charge)
    # as on the order (its first line of each SKU), units summed per SKU
    assert data["skus"] == [{"sku": "Kit-A1", "units": 4}, {"sku": "kit b2", "units": 2}]
    assert sum(s["units"] for s in data["skus"]) == charge.quantity
    assert data["text"] == "Applies to every order. SKUs counted: Kit-A1: 4; kit b2: 2."


def test_per_sku_with_assigned_skus_lists_them_too():
    run = compile_rate_card(card(line("per_sku", "1.0000", skus=frozenset({"A", "B"}))))
    (charge,) = run.price_order(order(lines=(("A", 3), ("C", 5))))
    assert charge.quantity == 1
    assert explained(run, charge)["skus"] == [{"sku": "A", "units": 3}]


@pytest.mark.parametrize(("charge_type", "quantity"), [("case_pick", 3), ("each_pick", 9)])
def test_pick_lines_give_units_case_size_and_cases_per_sku(charge_type, quantity):
    pick = line(charge_type, "0.4000")
    run = compile_rate_card(card(pick, case_sizes={"A": 6, "B": 4}, per_unit_skus={"D"}))
    # A: 13 units = 2 cases of 6 + 1; B: 7 = 1 case of 4 + 3; C: no product: 5 eaches; D: per_unit, never picked
    (charge,) = run.price_order(order(lines=(("A", 13), ("B", 7), ("C", 5), ("D", 9))))
    assert charge.quantity == quantity
    assert explained(run, charge)["skus"] == [
        {"sku": "A", "units": 13, "case_size": 6, "cases": 2, "eaches": 1},
        {"sku": "B", "units": 7, "case_size": 4, "cases": 1, "eaches": 3},
        {"sku": "C", "units": 5, "case_size": None, "cases": 0, "eaches": 5},
    ]
    counted = explained(run, charge)["skus"]
    assert sum(s["cases" if charge_type == "case_pick" else "eaches"] for s in counted) == quantity


def test_lines_counting_the_same_skus_explain_each_charge_on_its_own():
    """Case and each pick of one order (and a per_unit line and a tiered line over the same
    assigned SKUs) list the same SKUs; only the tiered line's explanation has bands."""
    skus = frozenset({"A", "B"})
    run = compile_rate_card(
        card(
            line("case_pick", "0.9000", n=1),
            line("each_pick", "0.1800", n=2),
            line("per_unit", "0.2500", n=3, skus=skus),
            line("tiered", "0", n=4, skus=skus, tiers=PICK_FEE, tier_basis="per_unit"),
            case_sizes={"A": 6},
        )
    )
    case, each, per_unit, tiered = run.price_order(order(lines=(("A", 13), ("C", 2), ("B", 1))))
    picked = [
        {"sku": "A", "units": 13, "case_size": 6, "cases": 2, "eaches": 1},
        {"sku": "C", "units": 2, "case_size": None, "cases": 0, "eaches": 2},
        {"sku": "B", "units": 1, "case_size": None, "cases": 0, "eaches": 1},
    ]
    assert explained(run, case)["skus"] == explained(run, each)["skus"] == picked
    assert (case.quantity, each.quantity) == (2, 4)
    assert explained(run, per_unit)["skus"] == [{"sku": "A", "units": 13}, {"sku": "B", "units": 1}]
    assert explained(run, per_unit)["tier_bands"] is None
    assert explained(run, tiered)["skus"] == explained(run, per_unit)["skus"]
    assert sum(band["quantity"] for band in explained(run, tiered)["tier_bands"]) == tiered.quantity == 14


def test_a_tiered_line_records_the_bands_it_touched_and_they_add_up():
    bands = tiers(("100", "0.3000"), ("500", "0.2500"), (None, "0.2000"))
    run = compile_rate_card(card(line("tiered", "0", tiers=bands)))
    run.price_order(order(lines=(("A", 90),), close_date=at(1)))
    (charge,) = run.price_order(order(lines=(("A", 623),), close_date=at(2)))
    data = explained(run, charge)
    assert data["tier_scope"] == "period" and data["tier_basis"] == "per_unit"
    assert data["unit_price"] is None
    assert data["tier_bands"] == [
        {"from": 90, "to": 100, "quantity": 10, "unit_price": D("0.3000"), "amount": 3},
        {"from": 100, "to": 500, "quantity": 400, "unit_price": D("0.2500"), "amount": 100},
        {"from": 500, "to": 713, "quantity": 213, "unit_price": D("0.2000"), "amount": D("42.6")},
    ]
    assert sum(b["amount"] for b in data["tier_bands"]) == charge.amount
    assert "500 to 713: 213 × 0.2000 = 42.6" in data["text"]


def test_the_tier_table_is_part_of_the_shared_payload():
    run = compile_rate_card(card(line("tiered", "0", tiers=PICK_FEE, tier_scope="order")))
    (payload,) = run.explanations.values()
    assert payload["tiers"] == {
        "basis": "per_unit",
        "scope": "order",
        "bands": [["0", "1", "2.5000"], ["1", None, "0.5000"]],
    }


# --- bands add up to the line, on random tiers -----------------------------------------------

prices = st.decimals(min_value=0, max_value=100, places=4, allow_nan=False, allow_infinity=False)
bounds = st.lists(st.integers(min_value=1, max_value=10_000), min_size=0, max_size=5, unique=True).map(sorted)
quantities = st.one_of(
    st.integers(min_value=1, max_value=20_000).map(D),
    st.decimals(min_value=D("0.0001"), max_value=5000, places=4, allow_nan=False, allow_infinity=False),
)


@settings(max_examples=300, deadline=None)
@given(
    bounds=bounds,
    price_list=st.lists(prices, min_size=6, max_size=6),
    start=st.integers(min_value=0, max_value=15_000).map(D),
    quantity=quantities,
)
def test_bands_add_up_to_the_exact_cost_and_the_rounded_amount(bounds, price_list, start, quantity):
    table = [(D(b), price_list[i]) for i, b in enumerate(bounds)] + [(None, price_list[len(bounds)])]
    band_table = tier_bands(table)
    cost, touched = graduated_bands(band_table, start, quantity)
    assert cost == graduated_cost(band_table, start, quantity)
    assert sum((t[4] for t in touched), D(0)) == cost
    assert sum((t[2] for t in touched), D(0)) == quantity
    # contiguous from start to start + quantity, each part priced at its band's price
    assert touched[0][0] == start and touched[-1][1] == start + quantity
    for (_, high, *_), (low, *_) in pairwise(touched):
        assert high == low
    for low, high, part, price, amount in touched:
        assert high - low == part and part * price == amount


@settings(max_examples=100, deadline=None)
@given(
    bounds=bounds,
    price_list=st.lists(prices, min_size=6, max_size=6),
    sizes=st.lists(st.integers(min_value=1, max_value=400), min_size=1, max_size=8),
    scope=st.sampled_from(["period", "order"]),
)
def test_every_tiered_line_explains_its_amount(bounds, price_list, sizes, scope):
    table = tiers(*[(str(b), str(price_list[i])) for i, b in enumerate(bounds)], (None, str(price_list[len(bounds)])))
    run = compile_rate_card(card(line("tiered", "0", tiers=table, tier_scope=scope)))
    for day, size in enumerate(sizes, start=1):
        for charge in run.price_order(order(lines=(("A", size),), close_date=at(day))):
            bands = explained(run, charge)["tier_bands"]
            exact = sum((D(b["amount"]) for b in bands), D(0))
            assert exact.quantize(D("0.01"), ROUND_HALF_UP) == charge.amount
            assert sum(D(b["quantity"]) for b in bands) == charge.quantity
            if scope == "order":
                assert bands[0]["from"] == 0


def test_only_period_tiers_keep_state_between_orders():
    period = line("tiered", "0", n=1, tiers=PICK_FEE)
    per_order = line("tiered", "0", n=2, tiers=PICK_FEE, tier_scope="order")
    run = compile_rate_card(card(period, per_order))
    run.price_order(order(lines=(("A", 4),), close_date=at(1)))
    run.price_order(order(lines=(("A", 3),), close_date=at(2)))
    assert run.tier_consumed == {0: D(7)}  # the order-scoped line (index 1) keeps nothing
