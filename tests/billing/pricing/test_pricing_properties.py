"""Properties of the engine over random rate cards and orders (hypothesis)."""

from __future__ import annotations

import dataclasses
import datetime as dt
from collections import Counter, defaultdict
from decimal import ROUND_HALF_UP, Decimal

from hypothesis import given
from hypothesis import strategies as st

from billing.pricing import (
    FIELD_KINDS,
    FIELDS,
    LOGIC_OPERATORS,
    ORDER_CHARGE_TYPES,
    TIER_BASES,
    OrderData,
    OrderLineData,
    RateCard,
    RateLineData,
    RuleData,
    RuleGroupData,
    TierData,
    compile_rate_card,
    normalize_sku,
    price_orders,
)
from billing.pricing.fields import SINGLE_VALUE_OPERATORS

CENT = Decimal("0.01")
RAW_SKUS = ["abc-1", "ABC1", " abc 1", "DEF-2", "def2", "GHI3", "jkl-4", "MNO5"]
SKUS = sorted({normalize_sku(s) for s in RAW_SKUS})
TEXTS = ["ups", "UPS Ground", " fedex ", "CA", "ca", "US", "Montreal", "", "Straße", "strasse"]
DATES = [dt.datetime(2025, 3, day, hour, tzinfo=dt.UTC) for day in (1, 2, 3) for hour in (0, 12)]
RESTRICTABLE = {"per_unit", "per_sku", "case_pick", "each_pick"}

prices = st.decimals(min_value=0, max_value=50, places=4)
measures = st.decimals(min_value=0, max_value=500, places=3)
counts = st.integers(min_value=0, max_value=12)


@st.composite
def rule_values(draw, field: str, operator: str) -> str:
    n = 1 if operator in SINGLE_VALUE_OPERATORS else draw(st.integers(1, 3))
    kind = FIELD_KINDS[field]
    if kind == "text":
        pool = st.sampled_from([t for t in TEXTS if t.strip()])
    elif kind == "numeric":
        pool = st.one_of(st.integers(0, 12).map(str), measures.map(str))
    else:
        pool = st.sampled_from(RAW_SKUS)
    return ";".join(draw(st.lists(pool, min_size=n, max_size=n)))


@st.composite
def rules(draw) -> RuleData:
    field = draw(st.sampled_from(sorted(FIELDS)))
    operator = draw(st.sampled_from(FIELDS[field]))
    return RuleData(field, operator, draw(rule_values(field, operator)))


groups = st.builds(
    RuleGroupData,
    logic=st.sampled_from(list(LOGIC_OPERATORS)),
    rules=st.lists(rules(), max_size=3).map(tuple),
)


@st.composite
def tier_lists(draw) -> tuple[TierData, ...]:
    bounds = draw(st.lists(st.decimals(min_value=1, max_value=150, places=1), max_size=3, unique=True))
    uppers = [*sorted(bounds), None]
    return tuple(TierData(up_to, draw(prices)) for up_to in uppers)


@st.composite
def rate_lines(draw, n: int) -> RateLineData:
    charge_type = draw(st.sampled_from(ORDER_CHARGE_TYPES))
    tier_basis, line_tiers = "", ()
    if charge_type == "tiered":
        tier_basis = draw(st.sampled_from(["", *TIER_BASES]))
        line_tiers = draw(tier_lists())
    model = (tier_basis or "per_unit") if charge_type == "tiered" else charge_type
    skus = draw(st.frozensets(st.sampled_from(SKUS), max_size=3)) if model in RESTRICTABLE else frozenset()
    return RateLineData(
        customer_service_id=n,
        service_id=1000 + n,
        service_name=f"Service {n}",
        charge_type=charge_type,
        unit_price=draw(prices),
        tier_basis=tier_basis,
        tiers=line_tiers,
        skus=skus,
        rule_groups=tuple(draw(st.lists(groups, max_size=2))),
    )


@st.composite
def rate_cards(draw) -> RateCard:
    n_lines = draw(st.integers(1, 6))
    lines = tuple(draw(rate_lines(n)) for n in range(1, n_lines + 1))
    case_sizes = draw(st.dictionaries(st.sampled_from(SKUS), st.integers(1, 12)))
    per_unit_skus = frozenset().union(*(line.skus for line in lines if line.charge_type == "per_unit"))
    return RateCard(lines=lines, case_sizes=case_sizes, per_unit_skus=per_unit_skus)


order_bodies = st.builds(
    OrderData,
    order_id=st.just(0),
    transaction_id=st.just(""),
    close_date=st.one_of(st.none(), st.sampled_from(DATES)),
    reference_number=st.sampled_from(TEXTS),
    ship_to_city=st.sampled_from(TEXTS),
    ship_to_country=st.sampled_from(TEXTS),
    carrier=st.sampled_from(TEXTS),
    notes=st.sampled_from(TEXTS),
    weight_lb=measures,
    volume_cuft=measures,
    packages=counts,
    line_items=counts,
    total_item_qty=st.integers(0, 100),
    lines=st.lists(st.builds(OrderLineData, st.sampled_from(RAW_SKUS), st.integers(0, 60)), max_size=5).map(tuple),
)


@st.composite
def order_lists(draw) -> list[OrderData]:
    bodies = draw(st.lists(order_bodies, max_size=12))
    # unique transaction ids, not in generation order, so the canonical sort has work to do
    tids = draw(st.permutations(range(len(bodies))))
    return [
        dataclasses.replace(body, order_id=i + 1, transaction_id=f"T{tid:03d}")
        for i, (body, tid) in enumerate(zip(bodies, tids, strict=True))
    ]


def reference_graduated(tiers: tuple[TierData, ...], quantity: Decimal) -> Decimal:
    """Exact cost of `quantity` units starting at 0, written independently of the engine."""
    cost, lower = Decimal(0), Decimal(0)
    for tier in tiers:
        upper = quantity if tier.up_to is None else min(tier.up_to, quantity)
        if upper > lower:
            cost += (upper - lower) * tier.unit_price
        if tier.up_to is None or tier.up_to >= quantity:
            break
        lower = tier.up_to
    return cost


@given(rate_cards(), order_lists())
def test_amounts_are_cents_and_equal_the_rounded_product(card, orders):
    prices_by_line = {line.customer_service_id: line.unit_price for line in card.lines}
    for charge in price_orders(card, orders):
        assert charge.amount.as_tuple().exponent == -2
        assert charge.unit_price.as_tuple().exponent == -4
        assert charge.quantity > 0
        assert charge.amount >= 0
        if charge.charge_type != "tiered":
            assert charge.unit_price == prices_by_line[charge.customer_service_id]
            assert charge.amount == (charge.quantity * charge.unit_price).quantize(CENT, rounding=ROUND_HALF_UP)


@given(rate_cards(), order_lists())
def test_order_service_and_grand_totals_agree(card, orders):
    charges = price_orders(card, orders)
    by_order: dict[int, Decimal] = defaultdict(Decimal)
    by_service: dict[int, Decimal] = defaultdict(Decimal)
    grand = Decimal("0.00")
    for charge in charges:
        by_order[charge.order_id] += charge.amount
        by_service[charge.customer_service_id] += charge.amount
        grand += charge.amount
    assert sum(by_order.values(), Decimal(0)) == grand
    assert sum(by_service.values(), Decimal(0)) == grand
    assert grand.as_tuple().exponent == -2 or not charges


@given(rate_cards(), order_lists(), st.randoms(use_true_random=False))
def test_input_order_of_orders_and_lines_does_not_matter(card, orders, rnd):
    shuffled = []
    for order in orders:
        lines = list(order.lines)
        rnd.shuffle(lines)
        shuffled.append(dataclasses.replace(order, lines=tuple(lines)))
    rnd.shuffle(shuffled)
    assert Counter(price_orders(card, shuffled)) == Counter(price_orders(card, orders))


@given(rate_cards(), order_lists())
def test_tiered_lines_graduate_over_the_period(card, orders):
    charges = price_orders(card, orders)  # in canonical sequence
    for line in card.lines:
        if line.charge_type != "tiered":
            continue
        mine = [c for c in charges if c.customer_service_id == line.customer_service_id]
        consumed = Decimal(0)
        for charge in mine:
            # each order pays the graduated cost of the slice [consumed, consumed + q), rounded
            exact = reference_graduated(line.tiers, consumed + charge.quantity) - reference_graduated(
                line.tiers, consumed
            )
            assert charge.amount == exact.quantize(CENT, rounding=ROUND_HALF_UP)
            consumed += charge.quantity
        whole_period = reference_graduated(line.tiers, consumed).quantize(CENT, rounding=ROUND_HALF_UP)
        total = sum((c.amount for c in mine), Decimal(0))
        assert abs(total - whole_period) <= Decimal("0.005") * len(mine)


@given(rate_cards(), order_lists())
def test_streaming_in_canonical_sequence_equals_price_orders(card, orders):
    run = compile_rate_card(card)
    ordered = sorted(orders, key=lambda o: (o.close_date is not None, o.close_date or DATES[0], o.transaction_id))
    streamed = [charge for order in ordered for charge in run.price_order(order)]
    assert streamed == price_orders(card, orders)


@given(
    st.lists(st.integers(min_value=1, max_value=2500), min_size=1, max_size=40),
    prices,
    st.sampled_from(["per_unit", "per_order", "per_package"]),
)
def test_amounts_of_repeated_quantities_equal_the_rounded_product(quantities, price, charge_type):
    """A run charges integer quantities below 1024 from a table it fills as they occur: a quantity
    met again, or one past the table, is charged what quantity x unit price rounds to."""
    line = RateLineData(1, 1, "Line", charge_type, price)
    orders = [
        OrderData(order_id=i + 1, transaction_id=f"T{i:03d}", packages=q, lines=(OrderLineData("A", q),))
        for i, q in enumerate(quantities)
    ]
    run = compile_rate_card(RateCard(lines=(line,)))
    for order, q in zip(orders, quantities, strict=True):
        (charge,) = run.price_order(order)
        quantity = 1 if charge_type == "per_order" else q
        assert charge.quantity == quantity
        assert charge.amount == (Decimal(quantity) * charge.unit_price).quantize(CENT, rounding=ROUND_HALF_UP)
