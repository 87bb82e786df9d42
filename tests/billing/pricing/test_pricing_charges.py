"""Charge models, graduated tiers over a period, and what the engine refuses to price."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal

import pytest

from billing.pricing import Charge, PricingError, RuleValidationError, compile_rate_card, price_orders

from .builders import at, card, group, line, order, price_one, rule, tiers

D = Decimal


def only(charges: list[Charge]) -> Charge:
    assert len(charges) == 1, charges
    return charges[0]


# --- simple models -------------------------------------------------------------------------


def test_per_order_charges_one_with_the_line_snapshot():
    charge = only(price_one(line("per_order", "2.5000", n=7, service_name="Order fee"), order(order_id=42)))
    assert charge == Charge(
        order_id=42,
        customer_service_id=7,
        service_id=107,
        service_name="Order fee",
        charge_type="per_order",
        quantity=D(1),
        unit_price=D("2.5000"),
        amount=D("2.50"),
    )


def test_per_unit_sums_line_quantities():
    charge = only(price_one(line("per_unit", "0.3500"), order(lines=(("A", 3), ("B", 4)), total_item_qty=99)))
    assert (charge.quantity, charge.amount) == (D(7), D("2.45"))


def test_per_unit_without_lines_uses_total_item_qty():
    charge = only(price_one(line("per_unit", "0.3500"), order(total_item_qty=10)))
    assert (charge.quantity, charge.amount) == (D(10), D("3.50"))


def test_per_unit_with_assigned_skus_counts_only_those():
    rate = line("per_unit", "1.0000", skus=frozenset({"ABC1", "DEF2"}))
    charge = only(price_one(rate, order(lines=((" abc-1", 3), ("def 2", 4), ("XYZ9", 100)))))
    assert charge.quantity == D(7)
    assert price_one(rate, order(lines=(("XYZ9", 5),))) == []
    assert price_one(rate, order(total_item_qty=50)) == []  # no lines: nothing of the assigned SKUs


def test_per_sku_counts_distinct_normalised_skus_with_quantity():
    the_order = order(lines=(("abc-1", 2), ("ABC1", 3), ("DEF2", 1), ("GHI3", 0)))
    assert only(price_one(line("per_sku", "0.7500"), the_order)).quantity == D(2)
    restricted = line("per_sku", "0.7500", skus=frozenset({"DEF2", "GHI3"}))
    assert only(price_one(restricted, the_order)).quantity == D(1)


@pytest.mark.parametrize(
    ("charge_type", "fields", "quantity", "amount"),
    [
        ("per_line", {"line_items": 3}, D(3), D("3.75")),
        ("per_package", {"packages": 2}, D(2), D("2.50")),
        ("per_weight_lb", {"weight_lb": D("12.345")}, D("12.345"), D("15.43")),
        ("per_volume_cuft", {"volume_cuft": D("0.004")}, D("0.004"), D("0.01")),
    ],
)
def test_attribute_models(charge_type, fields, quantity, amount):
    charge = only(price_one(line(charge_type, "1.2500"), order(**fields)))
    assert (charge.charge_type, charge.quantity, charge.unit_price, charge.amount) == (
        charge_type,
        quantity,
        D("1.2500"),
        amount,
    )


@pytest.mark.parametrize(
    ("charge_type", "fields"),
    [
        ("per_unit", {}),
        ("per_sku", {"lines": (("A", 0),)}),
        ("per_line", {}),
        ("per_package", {}),
        ("per_weight_lb", {}),
        ("per_volume_cuft", {}),
        ("case_pick", {"lines": (("A", 5),)}),
    ],
)
def test_quantity_zero_gives_no_charge(charge_type, fields):
    assert price_one(line(charge_type, "9.0000"), order(**fields)) == []


def test_zero_price_still_gives_a_charge():
    charge = only(price_one(line("per_order", "0"), order()))
    assert (charge.quantity, charge.amount) == (D(1), D("0.00"))


def test_amount_is_rounded_half_up_from_the_exact_product():
    # 3 x 0.3350 = 1.0050 -> 1.01 (half-even would give 1.00)
    assert only(price_one(line("per_unit", "0.3350"), order(lines=(("A", 3),)))).amount == D("1.01")
    # 0.125 lb x 0.0400 = 0.005 -> 0.01
    assert only(price_one(line("per_weight_lb", "0.0400"), order(weight_lb=D("0.125")))).amount == D("0.01")


def test_prices_are_kept_at_four_decimal_places():
    charge = only(price_one(line("per_unit", "1.5"), order(lines=(("A", 2),))))
    assert str(charge.unit_price) == "1.5000"
    assert str(charge.amount) == "3.00"


def test_charges_come_in_rate_card_order_and_skip_lines_that_do_not_apply():
    rate_card = card(
        line("per_order", "1", n=3),
        line("per_package", "1", n=1, rule_groups=(group("AND", rule("carrier", "eq", "ups")),)),
        line("per_unit", "1", n=2),
    )
    charges = compile_rate_card(rate_card).price_order(order(carrier="DHL", packages=1, lines=(("A", 2),)))
    assert [c.customer_service_id for c in charges] == [3, 2]


# --- case / each pick ----------------------------------------------------------------------

PICK_ORDER_LINES = (("abc-1", 30), ("DEF2", 5), ("GHI3", 7), ("JKL4", 50))
CASE_SIZES = {"ABC1": 12, "def-2": 5, "JKL4": 10}  # GHI3 has no known case size


@pytest.mark.parametrize(
    ("charge_type", "skus", "expected"),
    [
        # ABC1: 30 = 2 cases + 6 eaches; DEF2: 1 case; GHI3: 7 eaches; JKL4 is a per_unit SKU: excluded
        ("case_pick", frozenset(), 3),
        ("each_pick", frozenset(), 13),
        # assigned SKUs restrict the pick; an assigned per_unit SKU is still excluded
        ("case_pick", frozenset({"ABC1", "JKL4"}), 2),
        ("each_pick", frozenset({"ABC1", "JKL4"}), 6),
        ("each_pick", frozenset({"GHI3"}), 7),
        ("case_pick", frozenset({"GHI3"}), None),
    ],
)
def test_pick_models(charge_type, skus, expected):
    charges = price_one(
        line(charge_type, "0.5000", skus=skus),
        order(lines=PICK_ORDER_LINES),
        case_sizes=CASE_SIZES,
        per_unit_skus={"jkl-4"},
    )
    if expected is None:
        assert charges == []
    else:
        assert only(charges).quantity == D(expected)


def test_case_size_one_makes_every_unit_a_case():
    the_order = order(lines=(("A", 4),))
    assert only(price_one(line("case_pick"), the_order, case_sizes={"A": 1})).quantity == D(4)
    assert price_one(line("each_pick"), the_order, case_sizes={"A": 1}) == []


def test_duplicate_sku_lines_are_picked_together():
    the_order = order(lines=(("abc-1", 7), ("ABC1", 5)))  # 12 units of one SKU = one case
    assert only(price_one(line("case_pick"), the_order, case_sizes={"ABC1": 12})).quantity == D(1)
    assert price_one(line("each_pick"), the_order, case_sizes={"ABC1": 12}) == []


# --- graduated tiers -----------------------------------------------------------------------

BANDS = tiers(("100", "0.5000"), ("500", "0.4000"), (None, "0.3000"))


def tiered_run(**fields):
    return compile_rate_card(card(line("tiered", "0", tiers=BANDS, **fields)))


def test_tiers_graduate_across_orders_with_bounds_hit_exactly():
    run = tiered_run()
    results = [
        only(run.price_order(order(lines=(("A", qty),)))) for qty in (60, 40, 400, 1)
    ]  # [0,60) [60,100) [100,500) [500,501)
    assert [(c.quantity, c.amount, c.unit_price) for c in results] == [
        (D(60), D("30.00"), D("0.5000")),
        (D(40), D("20.00"), D("0.5000")),
        (D(400), D("160.00"), D("0.4000")),
        (D(1), D("0.30"), D("0.3000")),
    ]
    assert run.tier_consumed == {0: D(501)}


def test_single_order_spanning_three_bands():
    charge = only(tiered_run().price_order(order(lines=(("A", 600),))))
    # 100 x 0.50 + 400 x 0.40 + 100 x 0.30
    assert (charge.quantity, charge.amount, charge.unit_price) == (D(600), D("240.00"), D("0.4000"))


def test_tiered_effective_price_is_amount_over_quantity_at_four_places():
    run = tiered_run()
    run.price_order(order(lines=(("A", 99),)))
    charge = only(run.price_order(order(lines=(("A", 3),))))  # 1 x 0.50 + 2 x 0.40
    assert (charge.amount, charge.unit_price) == (D("1.30"), D("0.4333"))


def test_tiered_over_weight_uses_decimal_quantities():
    run = compile_rate_card(
        card(
            line(
                "tiered",
                "0",
                tier_basis="per_weight_lb",
                tiers=tiers(("10.5", "1.0000"), (None, "0.1000")),
            )
        )
    )
    first = only(run.price_order(order(weight_lb=D("10.000"))))
    second = only(run.price_order(order(weight_lb=D("1.250"))))  # 0.5 x 1.00 + 0.75 x 0.10
    assert (first.amount, second.amount, second.unit_price) == (D("10.00"), D("0.58"), D("0.4640"))


def test_tiered_over_assigned_skus():
    run = tiered_run(skus=frozenset({"ABC1"}))
    charge = only(run.price_order(order(lines=(("abc-1", 150), ("XYZ", 1000)))))
    assert (charge.quantity, charge.amount) == (D(150), D("70.00"))


def test_tiered_line_that_does_not_apply_consumes_nothing():
    run = tiered_run(rule_groups=(group("AND", rule("carrier", "eq", "ups")),))
    assert run.price_order(order(carrier="DHL", lines=(("A", 100),))) == []
    charge = only(run.price_order(order(carrier="UPS", lines=(("A", 100),))))
    assert charge.amount == D("50.00")


def test_price_orders_uses_the_canonical_sequence():
    rate_card = card(line("tiered", "0", tiers=tiers(("10", "1.0000"), (None, "0.5000"))))
    late = order(transaction_id="B", close_date=at(5), lines=(("A", 10),))
    early_b = order(transaction_id="B", close_date=at(2), lines=(("A", 10),))
    early_a = order(transaction_id="A", close_date=at(2), lines=(("A", 10),))
    undated = order(transaction_id="Z", close_date=None, lines=(("A", 10),))
    charges = price_orders(rate_card, [late, early_b, early_a, undated])
    assert [(c.order_id, c.amount) for c in charges] == [
        (undated.order_id, D("10.00")),
        (early_a.order_id, D("5.00")),
        (early_b.order_id, D("5.00")),
        (late.order_id, D("5.00")),
    ]


def test_reset_starts_a_new_period():
    run = tiered_run()
    run.price_order(order(lines=(("A", 100),)))
    run.reset()
    assert only(run.price_order(order(lines=(("A", 10),)))).amount == D("5.00")


def test_a_finite_last_tier_is_refused_when_the_card_is_compiled():
    with pytest.raises(RuleValidationError, match=r"last tier .* must have no upper bound"):
        compile_rate_card(card(line("tiered", "0", tiers=tiers(("10", "1.0000")))))


def test_failed_order_does_not_advance_tier_state():
    run = compile_rate_card(card(line("tiered", "0", n=1, tiers=BANDS), line("per_weight_lb", "1", n=2)))
    with pytest.raises(PricingError):
        run.price_order(order(lines=(("A", 20),), weight_lb=D("NaN")))
    assert run.tier_consumed == {0: D(0)}
    assert run.price_order(order(lines=(("A", 5),)))[0].amount == D("2.50")


# --- data the engine refuses ---------------------------------------------------------------


@pytest.mark.parametrize(
    ("rate_line", "bad_order", "message"),
    [
        (line("per_weight_lb"), order(weight_lb=1.5), "weight_lb must be a finite Decimal"),
        (line("per_weight_lb"), order(weight_lb=D("NaN")), "weight_lb must be a finite Decimal"),
        (line("per_weight_lb"), order(weight_lb=D("-1")), "weight_lb must be a finite Decimal >= 0"),
        (line("per_package"), order(packages=None), "packages must be an int"),
        (line("per_package"), order(packages=True), "packages must be an int"),
        (
            line("per_order", rule_groups=(group("AND", rule("volume_cuft", "gt", "1")),)),
            order(volume_cuft=2.0),
            "volume_cuft must be a finite Decimal",
        ),
        (
            line("per_order", rule_groups=(group("AND", rule("carrier", "eq", "ups")),)),
            order(carrier=None),
            "carrier must be text",
        ),
        (line("per_unit"), order(lines=(("A", -1),)), "quantity must be an int >= 0"),
        (line("per_unit"), order(lines=(("A", D("1.5")),)), "quantity must be an int >= 0"),
        (line("per_unit"), order(lines=((" - ", 1),)), "empty once normalised"),
        (line("per_unit"), order(lines=((None, 1),)), "SKU must be text"),
        (line("per_unit"), order(total_item_qty=-3), "total_item_qty must be an int >= 0"),
    ],
)
def test_bad_order_data_raises_pricing_error_naming_the_order(rate_line, bad_order, message):
    with pytest.raises(PricingError, match=message) as info:
        price_one(rate_line, bad_order)
    assert repr(bad_order.transaction_id) in str(info.value)


def test_price_orders_rejects_incomparable_close_dates():
    naive = order(close_date=dt.datetime(2025, 3, 1))
    with pytest.raises(PricingError, match="canonical sequence"):
        price_orders(card(line()), [naive, order(close_date=at(1))])
