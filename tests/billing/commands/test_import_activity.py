"""manage.py import_activity on messy files: every kind, CSV and JSON Lines, per-row errors, idempotent."""

from __future__ import annotations

import datetime as dt
import io
import json
import re
from decimal import Decimal

import pytest
from django.core.management import CommandError, call_command

from billing.models import ChargeType, CustomerReturn, ExtraWorkEntry, InventorySnapshot, Receipt
from tests.factories import CustomerFactory, CustomerServiceFactory, ServiceFactory

pytestmark = pytest.mark.django_db

EXTRA_WORK_TYPE = getattr(ChargeType, "EXTRA_WORK", ChargeType.PER_UNIT)


@pytest.fixture
def customer():
    return CustomerFactory(company_name="Acme Outdoor")


def run(*args: object) -> tuple[str, str, CommandError | None]:
    out, err = io.StringIO(), io.StringIO()
    try:
        call_command("import_activity", *map(str, args), stdout=out, stderr=err)
    except CommandError as exc:
        return out.getvalue(), err.getvalue(), exc
    return out.getvalue(), err.getvalue(), None


def write(path, data: bytes | str):
    path.write_bytes(data if isinstance(data, bytes) else data.encode())
    return path


def test_messy_snapshot_csv_imports_its_good_rows_and_names_the_bad_ones(tmp_path, customer):
    text = (
        "\ufeffCustomer_ID, Snapshot_Date ,SKU,Location,QUANTITY,Pallets,Cubic_Feet,comment\r\n"
        f"{customer.pk},2026-08-01,kit a1,A-1,40,1.5,12.25,first\r\n"  # line 2
        "\r\n"  # line 3: blank
        f'{customer.pk},08/02/2026,KIT-A1,A-1,38,"1,5",,\r\n'  # line 4: US date, thousands separator
        f"{customer.pk},2026-08-03,kit a1,A-1,many,-1,1e30,\r\n"  # line 5: three bad numbers
        f"999999,2026-08-01,X,,1,,,\r\n"  # line 6: unknown customer
        f"{customer.pk},not a date,Y,,1,,,\r\n"  # line 7
        f"{customer.pk},2026-08-01,KIT A1,A-1,41,,,\r\n"  # line 8: line 2 again, another spelling
        f"{customer.pk},2026-08-01,Z\x00Z,,1,,,\r\n"  # line 9: NUL
        f"{customer.pk},2026-08-01,---,,1,,,\r\n"  # line 10: no letters or digits
        f"{customer.pk},2026-08-01,short\r\n"  # line 11: too few fields
    )
    path = write(
        tmp_path / "snapshots.csv", text.encode() + f"{customer.pk},2026-08-04,\xff,,1,,,\r\n".encode("latin-1")
    )

    out, err, exc = run("inventory_snapshots", path)

    assert exc is not None and exc.returncode == 1
    assert out.strip().splitlines()[-1] == "created 2, updated 0, unchanged 0, rejected 8"
    assert "Ignoring unknown column: comment" in err
    reasons = [line for line in err.splitlines() if line.startswith("row ")]
    assert reasons == [
        "row 5 (2026-08-03 kit a1 @ A-1): quantity must be a whole number, got 'many'; "
        "pallets must not be negative, got '-1'; cubic_feet is too large (at most 999999999.999): '1e30'",
        "row 6 (2026-08-01 X): unknown customer_id 999999",
        "row 7 (not a date Y): snapshot_date is not a date: 'not a date'",
        "row 8 (2026-08-01 KIT A1 @ A-1): given twice in this import (first on row 2)",
        "row 9 (2026-08-01 Z\\x00Z): sku contains a NUL character",
        "row 10 (2026-08-01 ---): sku has no letters or digits: '---'",
        "row 11 (short): row has 3 fields but the header has 8",
        "row 12 (\\xff): the row is not UTF-8 text (byte 0xff)",
    ]
    first, second = InventorySnapshot.objects.order_by("snapshot_date")
    assert (first.sku, first.sku_key, first.location, first.quantity) == ("kit a1", "KITA1", "A-1", 40)
    assert (first.pallets, first.cubic_feet) == (Decimal("1.500"), Decimal("12.250"))
    assert (second.snapshot_date, second.pallets, second.cubic_feet) == (dt.date(2026, 8, 2), Decimal("15.000"), 0)

    again = run("inventory_snapshots", path)
    assert again[0].strip().splitlines()[-1] == "created 0, updated 0, unchanged 2, rejected 8"


def test_receipts_from_json_lines_update_and_replace_lines(tmp_path, customer):
    rows = [
        {
            "customer_id": customer.pk,
            "reference": "ASN-1",
            "received_at": "2026-08-03 10:00",
            "pallets": "2",
            "cartons": 10,
            "labour_minutes": "90.125",
            "sku_quantity": [{"sku": "abc-1", "quantity": 5}],
        },
        "",
        "not json",
        "[1, 2]",
        {"customer_id": customer.pk, "reference": "", "received_at": ""},
        {"customer_id": "abc", "reference": "ASN-3", "received_at": "2026-08-03", "sku_quantity": '{"a": -1}'},
    ]
    text = "".join((row if isinstance(row, str) else json.dumps(row)) + "\n" for row in rows)
    path = write(tmp_path / "receipts.jsonl", text)

    out, err, exc = run("receipts", path)

    assert exc is not None and exc.returncode == 1
    assert out.strip() == "created 1, updated 0, unchanged 0, rejected 4"
    assert err.splitlines()[:4] == [
        "row 3: the line is not valid JSON: Expecting value (column 1)",
        "row 4: line is not a JSON object",
        "row 5: reference is required; received_at is required",
        "row 6 (ASN-3): customer_id must be a customer's numeric id, got 'abc'; "
        "quantity of SKU 'a' must not be negative, got -1",
    ]
    receipt = Receipt.objects.get()
    assert (receipt.pallets, receipt.cartons, receipt.units, receipt.labour_minutes) == (2, 10, 5, Decimal("90.13"))
    assert receipt.received_at == dt.datetime(2026, 8, 3, 10, tzinfo=dt.UTC)

    rows[0]["sku_quantity"] = {"ABC 1": 2, "new": 1}
    write(path, json.dumps(rows[0]) + "\n")
    assert run("receipts", path)[0].strip() == "created 0, updated 1, unchanged 0, rejected 0"
    receipt.refresh_from_db()
    assert receipt.units == 3
    assert sorted(receipt.lines.values_list("sku", "quantity")) == [("ABC 1", 2), ("new", 1)]
    assert run("receipts", path)[0].strip() == "created 0, updated 0, unchanged 1, rejected 0"


def test_returns_csv_with_a_missing_required_column_imports_nothing(tmp_path, customer):
    path = write(tmp_path / "returns.csv", "customer_id,reference\n1,RMA-1\n")

    _, _, exc = run("returns", path)

    assert exc is not None
    assert "Missing column: received_at." in str(exc) and "Nothing was imported" in str(exc)
    assert not CustomerReturn.objects.exists()


def test_returns_csv_and_placeholder_customers(tmp_path, customer):
    path = write(
        tmp_path / "returns.csv",
        "customer_id,reference,received_at,original_order_reference,sku_quantity\n"
        f'{customer.pk},RMA-1,2026-08-04T09:00:00-04:00,TX1001,"[{{""sku"": ""abc"", ""quantity"": 2}}]"\n'
        "424242,RMA-2,2026-08-04,,\n",
    )

    out, _, exc = run("returns", path, "--create-customers")

    assert exc is None
    assert "Created 1 placeholder customer." in out
    stored = CustomerReturn.objects.get(reference="RMA-1")
    assert (stored.units, stored.original_order_reference) == (2, "TX1001")
    assert stored.received_at == dt.datetime(2026, 8, 4, 13, tzinfo=dt.UTC)
    assert CustomerReturn.objects.get(reference="RMA-2").customer_id == 424242


def test_extra_work_file_needs_a_reference_and_a_rate_card_service(tmp_path, customer):
    labour = ServiceFactory(name="Kitting labour", charge_type=EXTRA_WORK_TYPE)
    CustomerServiceFactory(customer=customer, service=labour)
    path = write(
        tmp_path / "work.csv",
        "customer_id,reference,work_date,service,quantity,description\n"
        f"{customer.pk},JOB-1,2026-08-05,kitting LABOUR,1.25,Rework\n"  # the name in another case
        f"{customer.pk},,2026-08-05,Kitting labour,1,\n"
        f"{customer.pk},JOB-3,2026-08-05,Kitting labour,-2,\n"
        f"{customer.pk},JOB-4,2026-08-05,,,\n",
    )

    out, err, exc = run("extra_work", path)

    assert exc is not None
    assert out.strip() == "created 1, updated 0, unchanged 0, rejected 3"
    assert err.splitlines()[:3] == [
        "row 3: reference is required",
        "row 4 (JOB-3): quantity must not be negative, got '-2'",
        "row 5 (JOB-4): service is required; quantity is required",
    ]
    entry = ExtraWorkEntry.objects.get()
    assert (entry.service, entry.quantity, entry.entered_by) == (labour, Decimal("1.250"), None)
    assert run("extra_work", path)[0].strip() == "created 0, updated 0, unchanged 1, rejected 3"


def test_standard_input_needs_a_format(customer):
    _, _, exc = run("receipts", "-")
    assert exc is not None and "--format" in str(exc)


def test_the_documented_examples_import(tmp_path):
    """The examples of docs/activity-import-format.md, run as written (customer 1, its rate card)."""
    from pathlib import Path

    customer = CustomerFactory(pk=1, company_name="Acme Outdoor")
    CustomerServiceFactory(
        customer=customer, service=ServiceFactory(name="Kitting labour", charge_type=EXTRA_WORK_TYPE)
    )
    text = (Path(__file__).resolve().parents[3] / "docs" / "activity-import-format.md").read_text()
    examples = re.findall(r"^`(\w+)` \((CSV|JSON Lines)\):\n\n```\w+\n(.*?)```", text, flags=re.M | re.S)
    assert [kind for kind, _, _ in examples] == ["inventory_snapshots", "receipts", "returns", "extra_work"]
    for kind, layout, body in examples:
        path = write(tmp_path / f"{kind}.{'csv' if layout == 'CSV' else 'jsonl'}", body)
        out, err, exc = run(kind, path)
        assert exc is None, err
        assert out.strip().endswith("rejected 0")
    assert InventorySnapshot.objects.count() == 2
    assert Receipt.objects.get().lines.get().quantity == 480
    assert CustomerReturn.objects.get().units == 1
    assert ExtraWorkEntry.objects.get().quantity == Decimal("1.500")
