"""Shared by the activity-pricing tests: a customer with storage, receiving, returns and extra work."""

import datetime as dt
from decimal import Decimal

from billing.models import (
    ChargeType,
    CustomerReturn,
    ExtraWorkEntry,
    InventorySnapshot,
    Receipt,
    ReceiptLine,
)
from billing.pricing import normalize_sku
from tests.billing.generation.helpers import rate_line, utc

__all__ = ["extra_work", "receipt", "snapshot", "storage_month", "utc"]


def snapshot(customer, day: dt.date, sku="A1", location="L1", quantity=10, pallets="1", cubic_feet="0"):
    return InventorySnapshot.objects.create(
        customer=customer,
        snapshot_date=day,
        sku=sku,
        sku_key=normalize_sku(sku),
        location=location,
        quantity=quantity,
        pallets=Decimal(pallets),
        cubic_feet=Decimal(cubic_feet),
    )


def storage_month(customer, year=2025, month=1, days=31, pallets="2"):
    for day in range(1, days + 1):
        snapshot(customer, dt.date(year, month, day), pallets=pallets)


def receipt(customer, reference, received_at, lines=None, **fields):
    made = Receipt.objects.create(customer=customer, reference=reference, received_at=received_at, **fields)
    for sku, qty in (lines or {}).items():
        ReceiptLine.objects.create(receipt=made, sku=sku, sku_key=normalize_sku(sku), quantity=qty)
    return made


def customer_return(customer, reference, received_at, **fields):
    return CustomerReturn.objects.create(customer=customer, reference=reference, received_at=received_at, **fields)


def extra_work(customer, line, reference, day, quantity="1"):
    return ExtraWorkEntry.objects.create(
        customer=customer, reference=reference, work_date=day, service=line.service, quantity=Decimal(quantity)
    )


def storage_line(customer, name="Pallet storage", price="10.0000", **kwargs):
    return rate_line(customer, name, ChargeType.STORAGE_PALLET, price=price, **kwargs)
