"""Activity upserts (snapshots, receipts, returns, extra work): idempotent, per-row errors, permissions."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal

import pytest

from billing.models import ChargeType, CustomerReturn, ExtraWorkEntry, InventorySnapshot, Receipt
from graphql_schema.mutations.upsert_activity import MAX_ROWS_PER_CALL
from tests.factories import CustomerServiceFactory, MembershipFactory, ServiceFactory, UserFactory
from tests.graphql_schema.helpers import data_of, gql

pytestmark = pytest.mark.django_db

EXTRA_WORK_TYPE = getattr(ChargeType, "EXTRA_WORK", ChargeType.PER_UNIT)

PAYLOAD = """
    __typename
    ... on UpsertActivityPayload {
      created updated unchanged rejected errors { index reference reason } generatedReferences { index reference }
    }
    ... on Error { code message }
    ... on ValidationError { fields { field messages } }
"""


def mutation(name: str, input_type: str) -> str:
    return f"mutation Upsert($input: [{input_type}!]!) {{ {name}(input: $input) {{ {PAYLOAD} }} }}"


SNAPSHOTS = mutation("upsertInventorySnapshots", "InventorySnapshotInput")
RECEIPTS = mutation("upsertReceipts", "ReceiptInput")
RETURNS = mutation("upsertReturns", "ReturnInput")
EXTRA_WORK = mutation("upsertExtraWork", "ExtraWorkInput")

ALL_PERMISSIONS = [
    f"{action}_{model}"
    for model in ("inventorysnapshot", "receipt", "customerreturn", "extraworkentry")
    for action in ("add", "change")
]


@pytest.fixture
def importer(customer_a, customer_b):
    return UserFactory(username="wms", permissions=["view_billingreport", *ALL_PERMISSIONS])


@pytest.fixture
def labour(customer_a):
    service = ServiceFactory(name="Kitting labour", charge_type=EXTRA_WORK_TYPE)
    CustomerServiceFactory(customer=customer_a, service=service, unit_price=Decimal("45.0000"))
    return service


def upsert(client, document: str, rows: list[dict]) -> dict:
    data = data_of(gql(client, document, {"input": rows}))
    return next(iter(data.values()))


def counts(payload: dict) -> tuple[int, int, int, int]:
    return payload["created"], payload["updated"], payload["unchanged"], payload["rejected"]


def test_snapshots_are_idempotent_by_date_sku_and_location(client, importer, customer_a):
    client.force_login(importer)
    rows = [
        {"customerId": customer_a.pk, "snapshotDate": "2026-08-01", "sku": "kit a1", "quantity": 40, "pallets": "2"},
        {"customerId": customer_a.pk, "snapshotDate": "2026-08-01", "sku": "KIT-A1", "location": "B-2", "quantity": 5},
    ]
    assert counts(upsert(client, SNAPSHOTS, rows)) == (2, 0, 0, 0)
    assert counts(upsert(client, SNAPSHOTS, rows)) == (0, 0, 2, 0)

    rows[0] = {**rows[0], "sku": "KIT A1", "cubicFeet": "12.5"}  # another spelling of the same SKU
    assert counts(upsert(client, SNAPSHOTS, rows)) == (0, 1, 1, 0)
    stored = InventorySnapshot.objects.get(customer=customer_a, location="")
    assert (stored.sku, stored.sku_key, stored.quantity) == ("KIT A1", "KITA1", 40)
    assert (stored.pallets, stored.cubic_feet) == (Decimal("2.000"), Decimal("12.500"))
    assert InventorySnapshot.objects.count() == 2


def test_receipts_replace_their_lines_and_report_bad_rows(client, importer, customer_a, customer_b):
    client.force_login(importer)
    good = {
        "customerId": customer_a.pk,
        "reference": "ASN-1",
        "receivedAt": "2026-08-03T10:00:00Z",
        "pallets": 3,
        "cartons": 20,
        "labourMinutes": "45.5",
        "lines": [{"sku": "abc-1", "quantity": 10}, {"sku": "ABC 1", "quantity": 2}, {"sku": "xyz", "quantity": 4}],
    }
    bad = {"customerId": 999_999, "reference": "ASN-2", "receivedAt": "2026-08-03T10:00:00Z", "pallets": -1}
    payload = upsert(client, RECEIPTS, [good, bad])
    assert counts(payload) == (1, 0, 0, 1)
    assert payload["errors"] == [
        {"index": 1, "reference": "ASN-2", "reason": "unknown customer_id 999999; pallets must not be negative, got -1"}
    ]
    receipt = Receipt.objects.get(reference="ASN-1")
    assert receipt.units == 16  # the sum of the lines when not given
    assert receipt.labour_minutes == Decimal("45.50")
    assert sorted(receipt.lines.values_list("sku", "sku_key", "quantity")) == [("abc-1", "ABC1", 12), ("xyz", "XYZ", 4)]

    assert counts(upsert(client, RECEIPTS, [good])) == (0, 0, 1, 0)
    changed = {**good, "lines": [{"sku": "xyz", "quantity": 5}]}
    assert counts(upsert(client, RECEIPTS, [changed])) == (0, 1, 0, 0)
    assert list(receipt.lines.values_list("sku", "quantity")) == [("xyz", 5)]
    # The same reference for another customer is another receipt.
    assert counts(upsert(client, RECEIPTS, [{**good, "customerId": customer_b.pk}])) == (1, 0, 0, 0)


def test_returns_are_idempotent(client, importer, customer_a):
    client.force_login(importer)
    row = {
        "customerId": customer_a.pk,
        "reference": "RMA-7",
        "receivedAt": "2026-08-04T09:00:00",
        "originalOrderReference": "TX1001",
        "lines": [{"sku": "abc-1", "quantity": 1}],
    }
    assert counts(upsert(client, RETURNS, [row])) == (1, 0, 0, 0)
    assert counts(upsert(client, RETURNS, [row])) == (0, 0, 1, 0)
    stored = CustomerReturn.objects.get()
    assert (stored.original_order_reference, stored.units, stored.lines.count()) == ("TX1001", 1, 1)


def test_extra_work_is_entered_by_the_signed_in_user(client, importer, customer_a, labour):
    client.force_login(importer)
    given = {"customerId": customer_a.pk, "reference": "JOB-1", "workDate": "2026-08-05", "service": labour.name}
    payload = upsert(client, EXTRA_WORK, [{**given, "quantity": "1.5", "description": "Rework labels"}])
    assert counts(payload) == (1, 0, 0, 0)
    entry = ExtraWorkEntry.objects.get()
    assert (entry.entered_by, entry.service, entry.quantity) == (importer, labour, Decimal("1.500"))
    assert entry.work_date == dt.date(2026, 8, 5)

    # Without a reference one is generated and returned; with one the entry is updated, not duplicated.
    payload = upsert(client, EXTRA_WORK, [{**given, "reference": None, "quantity": "2"}, {**given, "quantity": "3"}])
    assert counts(payload) == (1, 1, 0, 0)
    [generated] = payload["generatedReferences"]
    assert generated["index"] == 0
    assert ExtraWorkEntry.objects.get(reference=generated["reference"]).quantity == Decimal("2.000")
    assert ExtraWorkEntry.objects.get(reference="JOB-1").quantity == Decimal("3.000")


def test_extra_work_service_must_be_on_the_customers_rate_card(client, importer, customer_a, customer_b, labour):
    client.force_login(importer)
    rows = [
        {
            "customerId": customer_b.pk,
            "reference": "J1",
            "workDate": "2026-08-05",
            "service": labour.name,
            "quantity": "1",
        },
        {"customerId": customer_a.pk, "reference": "J2", "workDate": "2026-08-05", "service": "Nope", "quantity": "1"},
        {
            "customerId": customer_a.pk,
            "reference": "J3",
            "workDate": "2026-08-05",
            "service": labour.name,
            "quantity": "0",
        },
    ]
    payload = upsert(client, EXTRA_WORK, rows)
    assert counts(payload) == (0, 0, 0, 3)
    assert [error["reason"] for error in payload["errors"]] == [
        "service 'Kitting labour' is not an active line of this customer's rate card",
        "unknown service 'Nope'",
        "quantity must be greater than 0, got '0'",
    ]
    assert not ExtraWorkEntry.objects.exists()


def test_permissions_are_checked_by_the_service(client, customer_a, customer_b, labour):
    row = {"customerId": customer_a.pk, "reference": "ASN-1", "receivedAt": "2026-08-03T10:00:00Z"}
    anonymous = upsert(client, RECEIPTS, [row])
    assert anonymous["__typename"] == "AuthenticationRequiredError"

    client.force_login(UserFactory(username="viewer", permissions=["view_billingreport", "add_order"]))
    refused = upsert(client, RECEIPTS, [row])
    assert (refused["__typename"], refused["message"]) == (
        "PermissionDeniedError",
        "You do not have permission to import receipts.",
    )
    # Permission for one kind is not permission for another.
    client.force_login(UserFactory(username="receiver", permissions=["add_receipt", "change_receipt"]))
    assert upsert(client, RETURNS, [row])["__typename"] == "PermissionDeniedError"

    # A customer-linked user imports only its own customers' activity: another's reads as unknown.
    member = UserFactory(username="member", permissions=["add_receipt", "change_receipt"])
    MembershipFactory(user=member, customer=customer_a)
    client.force_login(member)
    payload = upsert(client, RECEIPTS, [row, {**row, "customerId": customer_b.pk}])
    assert counts(payload) == (1, 0, 0, 1)
    assert payload["errors"][0]["reason"] == f"unknown customer_id {customer_b.pk}"
    assert not Receipt.objects.filter(customer=customer_b).exists()


def test_too_many_rows_is_a_validation_error(client, importer, customer_a):
    client.force_login(importer)
    row = {"customerId": customer_a.pk, "reference": "R", "receivedAt": "2026-08-03T10:00:00Z"}
    payload = upsert(client, RETURNS, [row] * (MAX_ROWS_PER_CALL + 1))
    assert payload["__typename"] == "ValidationError"
    assert not CustomerReturn.objects.exists()
