"""Throughput of the pure pricing engine: 100k synthetic orders (3 SKU lines each) against an 8-line card.

Half of the card's lines have rules, one is tiered (graduated over the period), one is a case pick.
Prints orders/s and the time per (order, rate-card line). Run: .venv/bin/python benchmarks/pricing_engine.py [orders]
"""

from __future__ import annotations

import datetime as dt
import random
import sys
import time
from decimal import Decimal
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from billing.pricing import (
    OrderData,
    OrderLineData,
    RateCard,
    RateLineData,
    RuleData,
    RuleGroupData,
    TierData,
    compile_rate_card,
    price_orders,
)

SKUS = [f"SKU-{n:04d}" for n in range(200)]
COUNTRIES = ["US", "CA", "MX", "GB", "DE"]
CARRIERS = ["UPS Ground", "FedEx 2Day", "USPS Priority", "DHL Express"]


def build_card() -> RateCard:
    def line(n: int, charge_type: str, price: str, **extra) -> RateLineData:
        return RateLineData(
            customer_service_id=n,
            service_id=100 + n,
            service_name=f"Service {n} ({charge_type})",
            charge_type=charge_type,
            unit_price=Decimal(price),
            **extra,
        )

    lines = (
        line(1, "per_order", "2.5000"),
        line(2, "per_unit", "0.3500"),
        line(
            3,
            "per_package",
            "1.2000",
            rule_groups=(RuleGroupData("AND", (RuleData("ship_to_country", "in", "CA; MX"),)),),
        ),
        line(
            4,
            "per_weight_lb",
            "0.1250",
            rule_groups=(
                RuleGroupData("AND", (RuleData("weight_lb", "gt", "5"), RuleData("carrier", "contains", "ups;fedex"))),
            ),
        ),
        line(
            5,
            "per_sku",
            "0.7500",
            rule_groups=(
                RuleGroupData(
                    "OR", (RuleData("sku", "contains", "SKU-0001;SKU-0002"), RuleData("sku_count", "ge", "3"))
                ),
            ),
        ),
        line(
            6,
            "per_order",
            "5.0000",
            rule_groups=(
                RuleGroupData("NOT", (RuleData("reference_number", "startswith", "TEST"),)),
                RuleGroupData("XOR", (RuleData("packages", "ge", "3"), RuleData("ship_to_state", "eq", "ny"))),
            ),
        ),
        line(
            7,
            "tiered",
            "0",
            tiers=(
                TierData(Decimal("1000"), Decimal("0.5000")),
                TierData(Decimal("50000"), Decimal("0.4000")),
                TierData(None, Decimal("0.3000")),
            ),
        ),
        line(8, "case_pick", "1.1000"),
    )
    case_sizes = {sku.replace("-", ""): random.choice([6, 12, 24]) for sku in SKUS[::2]}
    return RateCard(lines=lines, case_sizes=case_sizes)


def build_orders(n: int) -> list[OrderData]:
    start = dt.datetime(2025, 1, 1, tzinfo=dt.UTC)
    orders = []
    for i in range(n):
        skus = random.sample(SKUS, 3)
        orders.append(
            OrderData(
                order_id=i,
                transaction_id=f"T{i:08d}",
                close_date=start + dt.timedelta(seconds=i * 20),
                reference_number=random.choice(["TEST-", "PO-", "SO-"]) + str(i),
                ship_to_state=random.choice(["NY", "CA", "TX"]),
                ship_to_country=random.choice(COUNTRIES),
                carrier=random.choice(CARRIERS),
                weight_lb=Decimal(random.randint(1, 4000)) / 100,
                volume_cuft=Decimal(random.randint(1, 500)) / 100,
                packages=random.randint(1, 4),
                line_items=3,
                total_item_qty=0,
                lines=tuple(OrderLineData(sku, random.randint(1, 40)) for sku in skus),
            )
        )
    return orders


def main() -> None:
    n = int(sys.argv[1]) if len(sys.argv) > 1 else 100_000
    random.seed(7)
    card = build_card()
    orders = build_orders(n)

    t0 = time.perf_counter()
    run = compile_rate_card(card)
    compile_s = time.perf_counter() - t0

    t0 = time.perf_counter()
    charges = 0
    price = run.price_order
    for order in orders:
        charges += len(price(order))
    elapsed = time.perf_counter() - t0

    t0 = time.perf_counter()
    reference = price_orders(card, orders)
    reference_s = time.perf_counter() - t0

    per_pair_us = elapsed / (n * len(card.lines)) * 1e6
    print(f"compile_rate_card: {compile_s * 1e3:.2f} ms")
    print(f"price_order: {n} orders x {len(card.lines)} lines -> {charges} charges in {elapsed:.3f} s")
    print(
        f"  {n / elapsed:,.0f} orders/s, {per_pair_us:.2f} us per (order, line), {elapsed / n * 1e6:.1f} us per order"
    )
    print(
        f"price_orders (sort + price): {len(reference)} charges in {reference_s:.3f} s, {n / reference_s:,.0f} orders/s"
    )


if __name__ == "__main__":
    main()
