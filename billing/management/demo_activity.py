"""The demo's billable activity beyond orders: storage, receiving, returns and extra work, the
rate-card lines that price them and the adjustments (minimum, surcharge, discounts).

Northwind Outfitters stores by pallet (average per month) and by bin (per day, bins "B-" only),
pays receiving per receipt, per pallet on large receipts (`pallets gt 10`) and per labour hour,
returns per return and per unit, kitting as extra work, a monthly minimum, a peak-season
surcharge on storage from mid-September and a loyalty discount. Summit Supplements stores by
cubic foot (peak per month) with a storage minimum, pays receiving per carton and per unit and
gets a fixed discount. Maple & Pine bills orders
only. Everything is deterministic (billing.management.demo.SEED).
"""

from __future__ import annotations

import datetime as dt
import random
from collections.abc import Iterator
from decimal import Decimal
from typing import Any

NORTHWIND = "Northwind Outfitters"
SUMMIT = "Summit Supplements"

ACTIVITY_SERVICES: list[dict[str, str]] = [
    {"name": "Pallet Storage", "description": "Per pallet per month, average.", "charge_type": "storage_pallet"},
    {"name": "Bin Storage", "description": "Per bin per day.", "charge_type": "storage_location"},
    {"name": "Cubic Storage", "description": "Per cubic foot per month, peak.", "charge_type": "storage_cuft"},
    {"name": "Receiving per Receipt", "description": "Per inbound receipt.", "charge_type": "receiving_receipt"},
    {"name": "Receiving per Pallet", "description": "Per pallet received.", "charge_type": "receiving_pallet"},
    {"name": "Receiving per Carton", "description": "Per carton received.", "charge_type": "receiving_carton"},
    {"name": "Receiving per Unit", "description": "Per unit counted in.", "charge_type": "receiving_unit"},
    {"name": "Receiving Labour", "description": "Per labour hour on receipts.", "charge_type": "receiving_hour"},
    {"name": "Returns Processing", "description": "Per return received.", "charge_type": "return_order"},
    {"name": "Return Units", "description": "Per unit returned.", "charge_type": "return_unit"},
    {"name": "Kitting", "description": "Kitting and special projects, per hour.", "charge_type": "extra_work"},
]

ACTIVITY_LINES: dict[str, list[dict[str, Any]]] = {
    NORTHWIND: [
        {"service": "Pallet Storage", "unit_price": "18.0000", "storage_period": "month", "storage_basis": "average"},
        {
            "service": "Bin Storage",
            "unit_price": "0.0800",
            "storage_period": "day",
            "storage_basis": "daily_sum",
            "rule_groups": [
                {"name": "bins", "rules": [{"field": "location", "operator": "startswith", "value": "B-"}]}
            ],
        },
        {"service": "Receiving per Receipt", "unit_price": "35.0000"},
        {
            "service": "Receiving per Pallet",
            "unit_price": "7.5000",
            "rule_groups": [
                {"name": "large receipts", "rules": [{"field": "pallets", "operator": "gt", "value": "10"}]}
            ],
        },
        {"service": "Receiving Labour", "unit_price": "42.0000"},
        {"service": "Returns Processing", "unit_price": "3.5000"},
        {"service": "Return Units", "unit_price": "0.5000"},
        {"service": "Kitting", "unit_price": "38.0000"},
    ],
    SUMMIT: [
        {"service": "Cubic Storage", "unit_price": "0.5500", "storage_period": "month", "storage_basis": "peak"},
        {"service": "Receiving per Carton", "unit_price": "0.9000"},
        {"service": "Receiving per Unit", "unit_price": "0.0400"},
    ],
}

ADJUSTMENTS: dict[str, list[dict[str, Any]]] = {
    NORTHWIND: [
        {"kind": "minimum", "amount": "2500.00", "description": "Monthly minimum"},
        {
            "kind": "surcharge",
            "percent": "5",
            "services": ["Bin Storage", "Pallet Storage"],
            "start_date": "2026-09-15",
            "end_date": "2026-10-31",
            "description": "Peak season storage",
        },
        {"kind": "discount", "percent": "3", "description": "Loyalty discount"},
    ],
    SUMMIT: [
        {"kind": "minimum", "amount": "1500.00", "services": ["Cubic Storage"], "description": "Storage minimum"},
        {"kind": "discount", "amount": "25.00", "description": "Onboarding credit"},
    ],
}

START = dt.date(2026, 8, 1)
END = dt.date(2026, 10, 31)


def _days() -> Iterator[dt.date]:
    day = START
    while day <= END:
        yield day
        day += dt.timedelta(days=1)


def activity_rows(customer_ids: dict[str, int], skus: dict[str, list[str]], seed: int) -> dict[str, list[dict]]:
    """The rows of each kind (billing.services.activity.activity_upsert), by kind."""
    rng = random.Random(seed)
    rows: dict[str, list[dict]] = {"inventory_snapshots": [], "receipts": [], "returns": [], "extra_work": []}
    for name, stocked in ((NORTHWIND, skus[NORTHWIND]), (SUMMIT, skus[SUMMIT])):
        customer_id = customer_ids[name]
        for day in _days():
            for index, sku in enumerate(stocked):
                quantity = 40 + (index * 17 + day.toordinal() * 3) % 60
                location = f"{'B' if index % 3 == 0 else 'P'}-{index:02d}"
                rows["inventory_snapshots"].append(
                    {
                        "customer_id": customer_id,
                        "snapshot_date": day.isoformat(),
                        "sku": sku,
                        "location": location,
                        "quantity": quantity,
                        "pallets": str(Decimal(quantity) / 40),
                        "cubic_feet": str(Decimal(quantity) * Decimal("1.5")),
                    }
                )
        for number, day in enumerate(d for d in _days() if d.weekday() in (1, 3)):
            lines = {sku: rng.randint(12, 240) for sku in rng.sample(stocked, 3)}
            rows["receipts"].append(
                {
                    "customer_id": customer_id,
                    "reference": f"ASN-{name[:2].upper()}-{number:04d}",
                    "received_at": f"{day.isoformat()}T09:30:00",
                    "pallets": rng.randint(2, 18),
                    "cartons": rng.randint(10, 120),
                    "labour_minutes": str(rng.choice((30, 45, 60, 90, 120))),
                    "sku_quantity": [{"sku": sku, "quantity": qty} for sku, qty in lines.items()],
                }
            )
    northwind = customer_ids[NORTHWIND]
    for number, day in enumerate(d for d in _days() if d.weekday() < 5 and d.day % 2 == 0):
        sku = skus[NORTHWIND][number % len(skus[NORTHWIND])]
        rows["returns"].append(
            {
                "customer_id": northwind,
                "reference": f"RMA-NW-{number:04d}",
                "received_at": f"{day.isoformat()}T14:00:00",
                "original_order_reference": f"NW-{10000 + number * 7}",
                "sku_quantity": [{"sku": sku, "quantity": 1 + number % 3}],
            }
        )
    for number, day in enumerate(d for d in _days() if d.day in (5, 15, 25)):
        rows["extra_work"].append(
            {
                "customer_id": northwind,
                "reference": f"KIT-{day:%Y%m%d}",
                "work_date": day.isoformat(),
                "service": "Kitting",
                "quantity": str(Decimal(2 + number % 4) / 2),
                "description": "Gift-set kitting for a promotion",
            }
        )
    return rows
