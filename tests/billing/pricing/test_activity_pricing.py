"""Activity charge models and adjustments against worked examples (billing.pricing.activity).

Storage is priced per calendar month the period touches; the examples cross a month end and
start and end inside months. Amounts are quantity (4 dp) x unit price, rounded half-up.
"""

from __future__ import annotations

import datetime as dt
from decimal import Decimal

import pytest

from billing.pricing import PricingError, RateLineData, RuleData, RuleGroupData, RuleValidationError
from billing.pricing.activity import (
    AdjustmentData,
    ExtraWorkData,
    ReceiptData,
    ReturnData,
    SnapshotData,
    apply_adjustments,
    price_activity,
    storage_day,
    storage_quantity,
)
from billing.pricing.engine import validate_rate_line

D = Decimal
START, END = dt.date(2025, 1, 20), dt.date(2025, 2, 10)


def line(charge_type, price, *, period="", basis="", rules=(), cs_id=1, service_id=1, name="Line"):
    groups = (RuleGroupData(logic="AND", rules=tuple(RuleData(*rule) for rule in rules)),) if rules else ()
    return RateLineData.build(
        customer_service_id=cs_id,
        service_id=service_id,
        service_name=name,
        charge_type=charge_type,
        unit_price=D(price),
        storage_period=period,
        storage_basis=basis,
        rule_groups=groups,
    )


def stock() -> list[SnapshotData]:
    """Jan 20-31: 4 pallets (two SKUs of 2 at two locations); Feb 1-10: 2 pallets, 6 on Feb 5."""
    rows = []
    day = START
    while day <= END:
        if day.month == 1:
            rows += [
                SnapshotData(day, "A-1", "L1", 10, D("2"), D("40")),
                SnapshotData(day, "B-2", "l1 ", 5, D("2"), D("30")),  # the same location, spelt differently
            ]
        else:
            rows.append(SnapshotData(day, "A-1", "L2", 10, D("6") if day.day == 5 else D("2"), D("40")))
        day += dt.timedelta(days=1)
    return rows


def storage(charge_type, period, basis, price="10", rules=()):
    priced = price_activity(
        [line(charge_type, price, period=period, basis=basis, rules=rules)], start=START, end=END, snapshots=stock()
    )
    return [(c.reference, c.date, c.quantity, c.unit, c.amount) for c in priced.charges]


@pytest.mark.parametrize(
    ("period", "basis", "january", "february"),
    [
        # Jan: 12 days of 4 = 48 pallet-days of 31; Feb: 9 x 2 + 6 = 24 pallet-days of 28
        ("month", "average", ("1.5484", "15.48"), ("0.8571", "8.57")),
        ("month", "daily_sum", ("1.5484", "15.48"), ("0.8571", "8.57")),
        # peak: 4 x 12/31; 6 x 10/28
        ("month", "peak", ("1.5484", "15.48"), ("2.1429", "21.43")),
        # end of period: the last day with a snapshot, prorated: 4 x 12/31; 2 x 10/28
        ("month", "end_of_period", ("1.5484", "15.48"), ("0.7143", "7.14")),
        # per day: unit-days
        ("day", "daily_sum", ("48.0000", "480.00"), ("24.0000", "240.00")),
        ("day", "average", ("48.0000", "480.00"), ("24.0000", "240.00")),
        ("day", "peak", ("48.0000", "480.00"), ("60.0000", "600.00")),
        ("day", "end_of_period", ("48.0000", "480.00"), ("20.0000", "200.00")),
    ],
)
def test_storage_per_pallet_across_a_month_end_and_partial_months(period, basis, january, february):
    assert storage("storage_pallet", period, basis) == [
        ("2025-01", dt.date(2025, 1, 31), D(january[0]), f"pallet-{period}", D(january[1])),
        ("2025-02", dt.date(2025, 2, 10), D(february[0]), f"pallet-{period}", D(february[1])),
    ]


def test_a_whole_month_of_average_peak_or_end_of_period_storage_is_the_figure_itself():
    rows = [SnapshotData(dt.date(2025, 2, d), "A", "L", 1, D("3"), D("0")) for d in range(1, 29)]
    for basis in ("average", "peak", "end_of_period", "daily_sum"):
        priced = price_activity(
            [line("storage_pallet", "10", period="month", basis=basis)],
            start=dt.date(2025, 2, 1),
            end=dt.date(2025, 2, 28),
            snapshots=rows,
        )
        assert [(c.quantity, c.amount) for c in priced.charges] == [(D("3.0000"), D("30.00"))], basis


def test_storage_per_location_counts_distinct_locations_and_per_cubic_foot_sums_them():
    # Jan: one location (L1 and 'l1 ' are the same) x 12 days; Feb: L2 x 10 days
    assert storage("storage_location", "day", "daily_sum", price="1") == [
        ("2025-01", dt.date(2025, 1, 31), D("12.0000"), "location-day", D("12.00")),
        ("2025-02", dt.date(2025, 2, 10), D("10.0000"), "location-day", D("10.00")),
    ]
    # Jan: 70 cu ft a day, peak 70 x 12/31 = 27.0968; Feb: 40 x 10/28 = 14.2857
    assert storage("storage_cuft", "month", "peak", price="0.5") == [
        ("2025-01", dt.date(2025, 1, 31), D("27.0968"), "cu ft-month", D("13.55")),
        ("2025-02", dt.date(2025, 2, 10), D("14.2857"), "cu ft-month", D("7.14")),
    ]


def test_storage_rules_filter_snapshots_on_their_own_fields():
    only_b = storage("storage_pallet", "day", "daily_sum", price="1", rules=[("sku", "contains", "B2")])
    assert only_b == [("2025-01", dt.date(2025, 1, 31), D("24.0000"), "pallet-day", D("24.00"))]
    cold = storage("storage_pallet", "day", "daily_sum", price="1", rules=[("location", "eq", "L2")])
    assert [row[2] for row in cold] == [D("24.0000")]  # Feb: 9 x 2 + 6


def test_the_summed_days_give_what_the_snapshots_give():
    rows = stock()
    by_day: dict[dt.date, list[SnapshotData]] = {}
    for row in rows:
        by_day.setdefault(row.snapshot_date, []).append(row)
    days = {day: storage_day(day_rows) for day, day_rows in by_day.items()}
    for charge_type in ("storage_pallet", "storage_cuft", "storage_location"):
        for basis in ("daily_sum", "average", "peak", "end_of_period"):
            lines = [line(charge_type, "1.2345", period="month", basis=basis)]
            from_rows = price_activity(lines, start=START, end=END, snapshots=rows).charges
            from_days = price_activity(lines, start=START, end=END, storage_days=days).charges
            assert from_rows == from_days


def test_storage_quantity_of_a_month_without_snapshots_is_zero():
    assert storage_quantity({}, START, dt.date(2025, 1, 31), 31, basis="end_of_period")[0] == 0


RECEIPTS = [
    ReceiptData("R-1", dt.date(2025, 1, 21), pallets=12, cartons=40, units=480, labour_minutes=D("90")),
    ReceiptData(
        "R-2",
        dt.date(2025, 1, 22),
        pallets=2,
        cartons=0,
        units=30,
        labour_minutes=D("20"),
        lines=(("A-1", 20), ("B-2", 10)),
    ),
    ReceiptData("R-3", dt.date(2025, 3, 1), pallets=50),  # outside the period
]


@pytest.mark.parametrize(
    ("charge_type", "expected"),
    [
        ("receiving_receipt", [("R-1", "1.0000", "2.00"), ("R-2", "1.0000", "2.00")]),
        ("receiving_pallet", [("R-1", "12.0000", "24.00"), ("R-2", "2.0000", "4.00")]),
        ("receiving_carton", [("R-1", "40.0000", "80.00")]),  # R-2 has no cartons: no line
        ("receiving_unit", [("R-1", "480.0000", "960.00"), ("R-2", "30.0000", "60.00")]),
        ("receiving_hour", [("R-1", "1.5000", "3.00"), ("R-2", "0.3333", "0.67")]),
    ],
)
def test_receiving_charge_models(charge_type, expected):
    priced = price_activity([line(charge_type, "2")], start=START, end=END, receipts=RECEIPTS)
    assert [(c.reference, c.quantity, c.amount) for c in priced.charges] == [
        (ref, D(qty), D(amount)) for ref, qty, amount in expected
    ]
    assert priced.unbilled["receipts"] == (1 if charge_type == "receiving_carton" else 0)


def test_receiving_rules_test_the_receipts_fields():
    big = line("receiving_receipt", "50", rules=[("pallets", "gt", "10")])
    with_b2 = line("receiving_receipt", "5", rules=[("sku", "contains", "b 2"), ("sku_count", "eq", "2")], cs_id=2)
    priced = price_activity([big, with_b2], start=START, end=END, receipts=RECEIPTS)
    assert [(c.customer_service_id, c.reference, c.amount) for c in priced.charges] == [
        (1, "R-1", D("50.00")),
        (2, "R-2", D("5.00")),
    ]


def test_returns_per_return_and_per_unit_falling_back_to_the_lines():
    returns = [
        ReturnData("RMA-1", dt.date(2025, 1, 25), original_order_reference="SO-9", units=3),
        ReturnData("RMA-2", dt.date(2025, 2, 2), units=0, lines=(("A-1", 2), ("B-2", 1))),
    ]
    per_return = price_activity([line("return_order", "3.5")], start=START, end=END, returns=returns).charges
    per_unit = price_activity([line("return_unit", "0.75")], start=START, end=END, returns=returns).charges
    assert [c.amount for c in per_return] == [D("3.50"), D("3.50")]
    assert [(c.quantity, c.amount) for c in per_unit] == [(D("3.0000"), D("2.25")), (D("3.0000"), D("2.25"))]
    only_so9 = line("return_order", "1", rules=[("original_order_reference", "startswith", "so-")])
    assert [c.reference for c in price_activity([only_so9], start=START, end=END, returns=returns).charges] == ["RMA-1"]


def test_extra_work_is_priced_by_the_line_of_its_service():
    kitting = line("extra_work", "35", service_id=7, name="Kitting")
    entries = [
        ExtraWorkData("EW-1", dt.date(2025, 1, 30), service_id=7, quantity=D("2.5"), description="Gift sets"),
        ExtraWorkData("EW-2", dt.date(2025, 1, 30), service_id=8, quantity=D("1")),  # another service's
    ]
    priced = price_activity([kitting], start=START, end=END, extra_work=entries)
    assert [(c.reference, c.amount) for c in priced.charges] == [("EW-1", D("87.50"))]
    assert priced.unbilled["extra_work"] == 1


def test_activity_lines_validate_their_rules_and_storage_settings():
    with pytest.raises(RuleValidationError, match="unknown field 'weight_lb'"):
        validate_rate_line(line("receiving_pallet", "1", rules=[("weight_lb", "gt", "1")]), "x")
    with pytest.raises(RuleValidationError, match="storage basis 'median'"):
        validate_rate_line(line("storage_pallet", "1", basis="median"), "x")
    with pytest.raises(RuleValidationError, match="only used by storage lines"):
        validate_rate_line(line("per_order", "1", period="day"), "x")
    validate_rate_line(line("storage_cuft", "1", period="day", basis="peak", rules=[("cubic_feet", "ge", "5")]), "x")


# --- adjustments -------------------------------------------------------------------------------

JAN_31 = dt.date(2025, 1, 31)
SERVICES = {1: (11, "Picking"), 2: (12, "Storage")}


def adjust(adjustments, amounts):
    return [
        (c.charge_type, c.quantity, c.unit_price, c.amount)
        for c in apply_adjustments(adjustments, amounts, end=JAN_31, services=SERVICES)
    ]


def test_minimum_true_up_below_the_minimum_and_nothing_above_it():
    minimum = AdjustmentData(1, "minimum", amount=D("150.00"))
    assert adjust([minimum], [(1, JAN_31, D("60.00")), (2, JAN_31, D("40.00"))]) == [
        ("minimum", D("1"), D("50.00"), D("50.00"))
    ]
    assert adjust([minimum], [(1, JAN_31, D("160.00"))]) == []
    assert adjust([minimum], [(1, JAN_31, D("150.00"))]) == []
    # a minimum over chosen services counts only their lines
    storage_minimum = AdjustmentData(2, "minimum", amount=D("100.00"), customer_service_ids=frozenset({2}))
    assert adjust([storage_minimum], [(1, JAN_31, D("500.00")), (2, JAN_31, D("40.00"))]) == [
        ("minimum", D("1"), D("60.00"), D("60.00"))
    ]


def test_minimum_then_surcharges_then_discounts_whatever_their_positions():
    amounts = [(1, JAN_31, D("60.00")), (2, JAN_31, D("40.00"))]
    discount = AdjustmentData(1, "discount", percent=D("10"), position=0)  # on the total so far
    surcharge = AdjustmentData(2, "surcharge", percent=D("10"), customer_service_ids=frozenset({1}), position=5)
    minimum = AdjustmentData(3, "minimum", amount=D("150.00"), position=9)
    # 100 -> +50 true-up -> +6.00 (10% of picking's 60) -> -15.60 (10% of 156.00)
    assert adjust([discount, surcharge, minimum], amounts) == [
        ("minimum", D("1"), D("50.00"), D("50.00")),
        ("surcharge", D("60.00"), D("0.1"), D("6.00")),
        ("discount", D("156.00"), D("-0.1"), D("-15.60")),
    ]


def test_a_dated_surcharge_counts_only_lines_in_its_range():
    peak = AdjustmentData(
        1, "surcharge", percent=D("20"), start_date=dt.date(2025, 1, 15), end_date=dt.date(2025, 1, 20)
    )
    amounts = [
        (1, dt.date(2025, 1, 10), D("100.00")),
        (1, dt.date(2025, 1, 15), D("30.00")),
        (2, dt.date(2025, 1, 20), D("20.00")),
        (2, dt.date(2025, 1, 21), D("999.00")),
    ]
    assert adjust([peak], amounts) == [("surcharge", D("50.00"), D("0.2"), D("10.00"))]


def test_discounts_per_service_or_on_the_total_never_below_zero():
    amounts = [(1, JAN_31, D("30.00")), (2, JAN_31, D("20.00"))]
    on_storage = AdjustmentData(1, "discount", amount=D("25.00"), customer_service_ids=frozenset({2}))
    on_total = AdjustmentData(2, "discount", amount=D("100.00"))
    lines = apply_adjustments([on_storage, on_total], amounts, end=JAN_31, services=SERVICES)
    assert [(c.amount, c.service_id, c.service_name) for c in lines] == [
        (D("-20.00"), 12, "Storage"),  # at most what storage came to
        (D("-30.00"), None, ""),  # at most what is left of the bill
    ]


def test_a_percentage_rounds_half_up_to_the_cent():
    half = AdjustmentData(1, "surcharge", percent=D("12.5"))
    assert adjust([half], [(1, JAN_31, D("0.20"))]) == [("surcharge", D("0.20"), D("0.125"), D("0.03"))]


def test_an_invalid_adjustment_is_an_error_not_a_silent_skip():
    with pytest.raises(RuleValidationError, match="a surcharge needs a percent"):
        apply_adjustments([AdjustmentData(1, "surcharge", amount=D("5"))], [], end=JAN_31)
    with pytest.raises(PricingError):
        storage_quantity({}, START, END, 31, basis="mode")


def test_a_discount_on_a_service_after_a_discount_on_the_total_stops_at_zero():
    amounts = [(1, JAN_31, D("30.00")), (2, JAN_31, D("20.00"))]
    everything = AdjustmentData(1, "discount", percent=D("100"), position=0)
    on_storage = AdjustmentData(2, "discount", percent=D("10"), customer_service_ids=frozenset({2}), position=1)
    assert adjust([everything, on_storage], amounts) == [("discount", D("50.00"), D("-1"), D("-50.00"))]
    partly = AdjustmentData(1, "discount", amount=D("49.00"), position=0)
    assert adjust([partly, on_storage], amounts) == [
        ("discount", D("1"), D("-49.00"), D("-49.00")),
        ("discount", D("1"), D("-1.00"), D("-1.00")),  # 10% of storage (2.00) capped at the 1.00 left
    ]


def test_the_unit_days_an_explanation_names_carry_no_trailing_zeros_of_a_database_sum():
    daily = {dt.date(2026, 8, 1): Decimal("20.9500000000000"), dt.date(2026, 8, 2): Decimal("1.0000")}
    _, how = storage_quantity(daily, dt.date(2026, 8, 1), dt.date(2026, 8, 2), 31, period="month", basis="average")
    assert how["unit_days"] == "21.95"
    _, how = storage_quantity({}, dt.date(2026, 8, 1), dt.date(2026, 8, 2), 31, period="day", basis="daily_sum")
    assert how["unit_days"] == "0"
