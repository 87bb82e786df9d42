"""Deterministic demo data for `manage.py seed_demo`: a rate-card document and order rows.

Everything is derived from a fixed random seed and fixed dates, so two runs produce the same
customers, rate cards and orders. The rate cards cover every charge model and every kind of
rule (text, numeric, SKU) with several logic operators.
"""

from __future__ import annotations

import datetime as dt
import random
from collections.abc import Iterator
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

from billing.management.demo_activity import ACTIVITY_LINES, ACTIVITY_SERVICES, ADJUSTMENTS

SEED = 20260801
PERIOD_START = dt.date(2026, 8, 1)
PERIOD_END = dt.date(2026, 10, 31)
TRANSACTION_PREFIX = "DEMO-"
# The demo users (the password is the user name) and what each may do; local demos only.
DEMO_USERS: tuple[tuple[str, str], ...] = (
    ("admin", "superuser: everything"),
    ("billing", "billing staff: every customer's reports and orders, generate reports"),
    ("merchant", "linked to Northwind Outfitters: only its own orders, reports and summary; generates its own reports"),
)

SERVICES: list[dict[str, str]] = [
    {"name": "Order Fee", "description": "Handling fee per shipped order.", "charge_type": "per_order"},
    {"name": "Pick & Pack", "description": "Picking and packing, per unit.", "charge_type": "per_unit"},
    {"name": "SKU Handling", "description": "Per distinct SKU in the order.", "charge_type": "per_sku"},
    {"name": "Line Processing", "description": "Per order line.", "charge_type": "per_line"},
    {"name": "Packaging", "description": "Boxes and dunnage, per package.", "charge_type": "per_package"},
    {"name": "Heavy Freight Surcharge", "description": "Per pound on heavy orders.", "charge_type": "per_weight_lb"},
    {"name": "Cubic Handling", "description": "Per cubic foot on bulky orders.", "charge_type": "per_volume_cuft"},
    {"name": "Case Pick", "description": "Per full case picked.", "charge_type": "case_pick"},
    {"name": "Each Pick", "description": "Per loose unit picked outside full cases.", "charge_type": "each_pick"},
    {"name": "Volume Pick (Tiered)", "description": "Graduated per-unit picking.", "charge_type": "tiered"},
    {"name": "Canada Customs Processing", "description": "Customs paperwork, per order.", "charge_type": "per_order"},
    {"name": "Fragile Handling", "description": "Bubble wrap and care for fragile SKUs.", "charge_type": "per_unit"},
    {"name": "Priority Handling", "description": "Same-day cut-off for rush orders.", "charge_type": "per_order"},
]


@dataclass(frozen=True)
class DemoCustomer:
    code: str  # prefix of its order reference numbers
    company_name: str
    legal_business_name: str
    email: str
    billing_address: str
    phone: str
    currency: str
    share: float  # fraction of the demo orders
    canada_share: float
    products: tuple[tuple[str, str, int], ...]  # (sku, description, case_size)
    rate_card: tuple[dict[str, Any], ...]


def _rule(field: str, operator: str, value: str) -> dict[str, str]:
    return {"field": field, "operator": operator, "value": value}


NORTHWIND = DemoCustomer(
    code="NW",
    company_name="Northwind Outfitters",
    legal_business_name="Northwind Outfitters LLC",
    email="billing@northwind.example",
    billing_address="1200 Harbor Way, Suite 300\nSeattle, WA 98101\nUSA",
    phone="+1 206 555 0142",
    currency="USD",
    share=0.45,
    canada_share=0.08,
    products=(
        ("NW-TEE-BLK-M", "Tee, black, M", 24),
        ("NW-TEE-BLK-L", "Tee, black, L", 24),
        ("NW-TEE-WHT-M", "Tee, white, M", 24),
        ("NW-HOOD-GRY-L", "Hoodie, grey, L", 12),
        ("NW-HOOD-NVY-M", "Hoodie, navy, M", 12),
        ("NW-CAP-OLV", "Cap, olive", 48),
        ("NW-SOCK-3PK", "Socks, 3-pack", 36),
        ("NW-JKT-RAIN-L", "Rain jacket, L", 6),
        ("NW-BOTTLE-GLS", "Glass bottle (fragile)", 12),
        ("NW-MUG-CER", "Ceramic mug (fragile)", 12),
        ("NW-LANTERN", "Glass lantern (fragile)", 4),
        ("NW-TENT-2P", "Tent, 2-person", 2),
    ),
    rate_card=(
        {"service": "Order Fee", "unit_price": "1.7500"},
        {"service": "Case Pick", "unit_price": "1.1000"},
        {"service": "Each Pick", "unit_price": "0.3000"},
        {
            "service": "Fragile Handling",
            "unit_price": "0.6500",
            "skus": ["NWBOTTLEGLS", "NWMUGCER", "NWLANTERN"],
        },
        {"service": "Packaging", "unit_price": "0.4500"},
        {
            "service": "Heavy Freight Surcharge",
            "unit_price": "0.1200",
            "rule_groups": [{"logic_operator": "AND", "name": "over 50 lb", "rules": [_rule("weight_lb", "gt", "50")]}],
        },
        {
            "service": "Canada Customs Processing",
            "unit_price": "4.0000",
            "rule_groups": [
                {
                    "logic_operator": "OR",
                    "name": "shipped to Canada",
                    "rules": [
                        _rule("ship_to_country", "in", "CA;Canada"),
                        _rule("ship_to_state", "in", "ON;QC;BC;AB;MB;NS"),
                    ],
                }
            ],
        },
        {
            "service": "Priority Handling",
            "unit_price": "2.5000",
            "rule_groups": [
                {
                    "logic_operator": "AND",
                    "name": "rush by express carrier",
                    "rules": [_rule("carrier", "in", "FedEx;UPS"), _rule("notes", "contains", "rush")],
                }
            ],
        },
    ),
)

MAPLE = DemoCustomer(
    code="MP",
    company_name="Maple & Pine Home Goods",
    legal_business_name="Maple & Pine Home Goods Inc.",
    email="accounts@maplepine.example",
    billing_address="88 Rue Saint-Paul Ouest\nMontréal, QC H2Y 1Z1\nCanada",
    phone="+1 514 555 0177",
    currency="CAD",
    share=0.30,
    canada_share=0.55,
    products=(
        ("MP-CANDLE-CED", "Candle, cedar", 24),
        ("MP-CANDLE-VAN", "Candle, vanilla", 24),
        ("MP-THROW-WOOL", "Wool throw", 8),
        ("MP-PILLOW-18", "Pillow 18in", 10),
        ("MP-BOARD-OAK", "Cutting board, oak", 12),
        ("MP-SYRUP-500", "Maple syrup 500 ml", 12),
        ("MP-MUG-ENML", "Enamel mug", 24),
        ("MP-BLANKET-Q", "Quilt, queen", 4),
        ("MP-SAMPLE-SCENT", "Scent sample card", 200),
        ("MP-SAMPLE-FABRIC", "Fabric swatch", 200),
    ),
    rate_card=(
        {"service": "Order Fee", "unit_price": "2.0000"},
        {
            "service": "Volume Pick (Tiered)",
            "unit_price": "0",
            "tier_basis": "per_unit",
            "tiers": [
                {"up_to": "1000", "unit_price": "0.4000"},
                {"up_to": "5000", "unit_price": "0.3200"},
                {"up_to": None, "unit_price": "0.2500"},
            ],
        },
        {
            "service": "SKU Handling",
            "unit_price": "0.1500",
            "rule_groups": [
                {
                    "logic_operator": "NOT",
                    "name": "not a samples-only order",
                    "rules": [_rule("sku", "only_contains", "MP-SAMPLE-SCENT;MP-SAMPLE-FABRIC")],
                }
            ],
        },
        {
            "service": "Cubic Handling",
            "unit_price": "0.8000",
            "rule_groups": [
                {
                    "logic_operator": "XOR",
                    "name": "bulky or many packages, not both",
                    "rules": [_rule("volume_cuft", "ge", "2"), _rule("packages", "ge", "3")],
                }
            ],
        },
        {
            "service": "Canada Customs Processing",
            "unit_price": "3.2500",
            "rule_groups": [
                {
                    "logic_operator": "NOR",
                    "name": "outside the US",
                    "rules": [_rule("ship_to_country", "in", "US;USA;United States")],
                }
            ],
        },
        {
            "service": "Line Processing",
            "unit_price": "0.1000",
            "rule_groups": [
                {
                    "logic_operator": "NAND",
                    "name": "not a small USPS parcel",
                    "rules": [_rule("carrier", "eq", "USPS"), _rule("total_item_qty", "le", "2")],
                }
            ],
        },
    ),
)

SUMMIT = DemoCustomer(
    code="SS",
    company_name="Summit Supplements",
    legal_business_name="Summit Supplements Co.",
    email="ap@summit-supplements.example",
    billing_address="4500 Peak Avenue\nDenver, CO 80216\nUSA",
    phone="+1 303 555 0123",
    currency="USD",
    share=0.25,
    canada_share=0.05,
    products=(
        ("SS-WHEY-2LB", "Whey protein 2 lb", 6),
        ("SS-WHEY-5LB", "Whey protein 5 lb", 4),
        ("SS-VITD-90", "Vitamin D, 90 ct", 48),
        ("SS-OMEGA-120", "Omega-3, 120 ct", 48),
        ("SS-BAR-12PK", "Protein bars, 12-pack", 12),
        ("SS-PROBIO-COLD", "Probiotic (cold chain)", 24),
        ("SS-ENZYME-COLD", "Enzymes (cold chain)", 24),
        ("SS-SHAKER", "Shaker bottle", 36),
        ("SS-BULK-OATS-25", "Oats 25 lb (bulk)", 1),
    ),
    rate_card=(
        {"service": "Order Fee", "unit_price": "1.5000"},
        {"service": "Pick & Pack", "unit_price": "0.2500"},
        {
            "service": "Packaging",
            "unit_price": "0.5000",
            "rule_groups": [
                {
                    "logic_operator": "AND",
                    "name": "packed by us",
                    "rules": [
                        _rule("carrier", "ne", "Customer Pickup"),
                        _rule("notes", "not_contains", "no packaging"),
                    ],
                }
            ],
        },
        {
            "service": "Heavy Freight Surcharge",
            "unit_price": "0.1000",
            "rule_groups": [
                {
                    "logic_operator": "OR",
                    "name": "heavy or bulk",
                    "rules": [_rule("weight_lb", "ge", "40"), _rule("sku", "contains", "SS-BULK-OATS-25")],
                }
            ],
        },
        {
            "service": "Priority Handling",
            "unit_price": "3.0000",
            "rule_groups": [
                {
                    "logic_operator": "AND",
                    "name": "cold chain outside AK/HI",
                    "rules": [
                        _rule("sku", "contains", "SS-PROBIO-COLD;SS-ENZYME-COLD"),
                        _rule("ship_to_state", "not_in", "AK;HI"),
                    ],
                },
                {
                    "logic_operator": "AND",
                    "name": "expedited reference",
                    "rules": [_rule("reference_number", "endswith", "-EXP"), _rule("line_items", "lt", "10")],
                },
            ],
        },
        {
            "service": "SKU Handling",
            "unit_price": "0.0500",
            "rule_groups": [
                {
                    "logic_operator": "AND",
                    "name": "mixed orders without shaker-only",
                    "rules": [
                        _rule("sku_count", "in", "3;4;5"),
                        _rule("sku", "not_contains", "SS-SHAKER"),
                        _rule("reference_number", "startswith", "SS"),
                    ],
                }
            ],
        },
    ),
)

CUSTOMERS: tuple[DemoCustomer, ...] = (NORTHWIND, MAPLE, SUMMIT)

US_PLACES = (
    ("Seattle", "WA", "98101"),
    ("Portland", "OR", "97201"),
    ("Denver", "CO", "80202"),
    ("Austin", "TX", "73301"),
    ("Chicago", "IL", "60601"),
    ("Brooklyn", "NY", "11201"),
    ("Miami", "FL", "33101"),
    ("Anchorage", "AK", "99501"),
    ("Honolulu", "HI", "96801"),
    ("Boston", "MA", "02108"),
)
CA_PLACES = (
    ("Toronto", "ON", "M5V 2T6"),
    ("Montreal", "QC", "H2Y 1C6"),
    ("Vancouver", "BC", "V6B 1A1"),
    ("Calgary", "AB", "T2P 1J9"),
    ("Halifax", "NS", "B3H 1A1"),
)
FIRST_NAMES = ("Ava", "Liam", "Noah", "Emma", "Mia", "Lucas", "Zoe", "Ethan", "Chloe", "Owen", "Maya", "Leo")
LAST_NAMES = ("Smith", "Tremblay", "Nguyen", "Garcia", "Roy", "Patel", "Martin", "Kim", "Brown", "Wilson")
US_CARRIERS = ("UPS", "FedEx", "USPS", "DHL", "Customer Pickup")
CA_CARRIERS = ("Canada Post", "Purolator", "UPS", "FedEx")


def rate_card_document() -> dict[str, Any]:
    """The demo services and customers in the import_rate_card format (docs/rate-card-format.md)."""
    return {
        "version": 1,
        "services": SERVICES + ACTIVITY_SERVICES,
        "customers": [
            {
                "company_name": c.company_name,
                "legal_business_name": c.legal_business_name,
                "email": c.email,
                "phone": c.phone,
                "billing_address": c.billing_address,
                "is_active": True,
                "currency": c.currency,
                "products": [{"sku": sku, "description": d, "case_size": size} for sku, d, size in c.products],
                "rate_card": list(c.rate_card) + ACTIVITY_LINES.get(c.company_name, []),
                **({"adjustments": ADJUSTMENTS[c.company_name]} if c.company_name in ADJUSTMENTS else {}),
            }
            for c in CUSTOMERS
        ],
    }


def order_rows(count: int, customer_ids: dict[str, int]) -> Iterator[dict[str, Any]]:
    """`count` orders spread over the customers and Aug-Oct 2026, as typed import rows."""
    rng = random.Random(SEED)
    seconds = int(
        (
            dt.datetime.combine(PERIOD_END, dt.time(23, 59)) - dt.datetime.combine(PERIOD_START, dt.time())
        ).total_seconds()
    )
    weights = [c.share for c in CUSTOMERS]
    for n in range(1, count + 1):
        customer = rng.choices(CUSTOMERS, weights=weights)[0]
        start = dt.datetime.combine(PERIOD_START, dt.time(), tzinfo=dt.UTC)
        close = start + dt.timedelta(seconds=rng.randrange(seconds))
        to_canada = rng.random() < customer.canada_share
        city, state, zip_code = rng.choice(CA_PLACES if to_canada else US_PLACES)
        carrier = rng.choice(CA_CARRIERS if to_canada else US_CARRIERS)
        name = f"{rng.choice(FIRST_NAMES)} {rng.choice(LAST_NAMES)}"

        picked = rng.sample(customer.products, k=min(len(customer.products), rng.choice((1, 1, 2, 2, 3, 4, 5))))
        lines: list[dict[str, Any]] = []
        for sku, _, case_size in picked:
            if case_size > 1 and rng.random() < 0.15:
                quantity = case_size * rng.randint(1, 3) + rng.choice((0, 0, 1, 2))
            else:
                quantity = rng.choice((1, 1, 1, 2, 2, 3, 4, 6))
            lines.append({"sku": sku, "quantity": quantity})
        units = sum(line["quantity"] for line in lines)
        heavy = rng.random() < 0.07
        weight = Decimal(rng.randint(520, 1500)) / 10 if heavy else Decimal(rng.randint(3, 25)) * units / 10
        volume = Decimal(rng.randint(1, 12)) * units / 20
        packages = 1 + units // 15 + (1 if heavy else 0)
        status = "Cancelled" if rng.random() < 0.04 else rng.choice(("Completed", "Completed", "Completed", "Shipped"))
        notes = rng.choice(("", "", "", "", "rush order", "Leave at back door", "no packaging please"))
        reference = f"{customer.code}-{100000 + n}" + ("-EXP" if rng.random() < 0.05 else "")

        yield {
            "transaction_id": f"{TRANSACTION_PREFIX}{n:06d}",
            "close_date": close.isoformat(),
            "reference_number": reference,
            "ship_to_name": name,
            "ship_to_company": "" if rng.random() < 0.8 else f"{name.split()[1]} Trading",
            "ship_to_address": f"{rng.randint(1, 9999)} {rng.choice(('Main', 'Oak', 'Pine', 'King', 'Queen'))} St",
            "ship_to_address2": "" if rng.random() < 0.85 else f"Unit {rng.randint(1, 400)}",
            "ship_to_city": city,
            "ship_to_state": state,
            "ship_to_zip": zip_code,
            "ship_to_country": "CA" if to_canada else "US",
            "weight_lb": str(weight),
            "line_items": len(lines),
            "sku_quantity": lines,
            "total_item_qty": units,
            "volume_cuft": str(volume),
            "packages": packages,
            "notes": notes,
            "carrier": carrier,
            "customer_id": customer_ids[customer.company_name],
            "priority": rng.choice(("standard", "standard", "standard", "expedited")),
            "status": status,
        }
