"""The per-day sums the pricing loop keeps: each order on the day its close date falls on in the
billing time zone, whatever the zone's daylight-saving changes (some zones skip or repeat
midnight), in close-date order or not, and split over any number of chunks."""

import datetime as dt
from collections import defaultdict
from decimal import Decimal
from zoneinfo import ZoneInfo

from hypothesis import given
from hypothesis import strategies as st

from billing.generation.pricing import Totals, priced_orders
from billing.selectors.rate_cards import LineInfo

LINES = {1: LineInfo(10, "Fee", "per_order"), 2: LineInfo(20, "Pick", "per_unit")}
END = dt.date(2025, 12, 31)
# UTC, a zone east of it, and zones whose daylight-saving changes happen at midnight
ZONES = ["UTC", "Asia/Tokyo", "America/Santiago", "America/Havana", "Asia/Beirut", "America/Toronto"]
START = dt.datetime(2024, 1, 1, tzinfo=dt.UTC)


class OneChargePerOrder:
    """A pricer charging line 1 (1.25) on every order and line 2 on orders with an even id."""

    explanations: dict = {}
    explanation_lines: dict = {}

    def price_rows(self, order):
        rows = [(1, Decimal(1), Decimal("1.2500"), Decimal("1.25"), 1, None, (10, "Fee", "per_order"))]
        if order.order_id % 2 == 0:
            rows.append((2, Decimal(3), Decimal("0.5000"), Decimal("1.50"), 2, None, (20, "Pick", "per_unit")))
        return rows


class Record:
    def __init__(self, order_id, close_date):
        self.order_id, self.close_date = order_id, close_date


@given(
    zone=st.sampled_from(ZONES),
    minutes=st.lists(st.integers(min_value=0, max_value=2 * 366 * 24 * 60), max_size=60),
    undated=st.integers(min_value=0, max_value=2),
    sort=st.booleans(),
    chunk=st.integers(min_value=1, max_value=7),
)
def test_orders_count_on_their_local_day(zone, minutes, undated, sort, chunk):
    closes = [START + dt.timedelta(minutes=m) for m in (sorted(minutes) if sort else minutes)]
    records = [Record(i, close) for i, close in enumerate(closes)] + [
        Record(len(closes) + i, None) for i in range(undated)
    ]
    totals = Totals(LINES, zone, END)
    for start in range(0, len(records), chunk):  # the portable path prices chunk by chunk
        list(priced_orders(OneChargePerOrder(), records[start : start + chunk], totals))

    expected: dict = defaultdict(lambda: [Decimal(0), 0, 0])
    for record in records:
        day = END if record.close_date is None else record.close_date.astimezone(ZoneInfo(zone)).date()
        sums = expected[day]
        sums[0] += Decimal("2.75") if record.order_id % 2 == 0 else Decimal("1.25")
        sums[1] += 1
        sums[2] += 2 if record.order_id % 2 == 0 else 1
    got = {day.day: [day.amount, day.billed_orders, day.lines] for day in totals.day_totals()}
    assert got == dict(expected)
    assert list(got) == sorted(got)
    assert totals.amount == sum(sums[0] for sums in expected.values())
    assert totals.per_service[1] == [Decimal(len(records)), Decimal("1.25") * len(records), len(records)]
    for day in totals.day_totals():
        assert sum(service[1] for service in day.services.values()) == day.amount
