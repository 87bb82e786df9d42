"""billing.services.activity: the service behind the activity command and the GraphQL upserts."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from billing.errors import PermissionDenied
from billing.models import ChargeType, CustomerService, ExtraWorkEntry, InventorySnapshot, Receipt
from billing.selectors.activity import activity_in_period
from billing.services.activity import activity_upsert, extra_work_service_problem
from billing.services.activity_rows import SPECS, parse_date
from billing.services.order_rows import RowInvalid
from tests.factories import CustomerFactory, CustomerServiceFactory, MembershipFactory, ServiceFactory, UserFactory

pytestmark = pytest.mark.django_db


@pytest.fixture
def customer():
    return CustomerFactory(company_name="Acme Outdoor")


def snapshot(customer_id: int, day: str, sku: str, quantity: object, **fields: object) -> dict:
    return {"customer_id": customer_id, "snapshot_date": day, "sku": sku, "quantity": quantity, **fields}


def test_the_file_and_the_api_read_the_same_rows_the_same_way(customer):
    """Text values (a CSV file) and typed values (JSON, GraphQL) of one record are one record."""
    text = [snapshot(customer.pk, "2026-08-01", "kit a1", "40", pallets="1.5", location=" A-1 ")]
    typed = [snapshot(customer.pk, dt.date(2026, 8, 1), "KIT-A1", 40, pallets=Decimal("1.500"), location="A-1")]

    first = activity_upsert("inventory_snapshots", rows=text, source="command")
    second = activity_upsert("inventory_snapshots", rows=typed, actor=UserFactory(is_superuser=True))

    assert (first.created, second.created, second.updated, second.unchanged) == (1, 0, 1, 0)  # the spelling changed
    assert activity_upsert("inventory_snapshots", rows=typed).unchanged == 1
    assert InventorySnapshot.objects.get().sku == "KIT-A1"


def test_batches_see_what_earlier_batches_wrote(customer):
    rows = [snapshot(customer.pk, "2026-08-01", f"SKU-{index % 7}", index) for index in range(20)]

    result = activity_upsert("inventory_snapshots", rows=rows, batch_size=3)

    assert (result.created, result.rejected) == (7, 13)
    assert result.errors[0].reason == "given twice in this import (first on row 1)"
    assert activity_upsert("inventory_snapshots", rows=rows[:7], batch_size=2).unchanged == 7


@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(
    st.lists(
        st.tuples(
            st.text(alphabet="AB-c ", min_size=1, max_size=4),
            st.integers(min_value=0, max_value=3),
            st.decimals(min_value=0, max_value=1000, places=3, allow_nan=False),
        ),
        max_size=8,
    )
)
def test_importing_twice_changes_nothing(customer, lines):
    """Whatever the rows, a second import of them reports every accepted row unchanged."""
    rows = [
        {
            "customer_id": customer.pk,
            "reference": f"ASN-{index % 3}",
            "received_at": "2026-08-03T10:00:00Z",
            "labour_minutes": str(minutes),
            "sku_quantity": [{"sku": sku, "quantity": quantity}],
        }
        for index, (sku, quantity, minutes) in enumerate(lines)
    ]
    first = activity_upsert("receipts", rows=rows)
    second = activity_upsert("receipts", rows=rows)
    assert second.unchanged == first.created + first.updated + first.unchanged
    assert (second.created, second.updated) == (0, 0)
    assert [error.reason for error in second.errors] == [error.reason for error in first.errors]
    assert Receipt.objects.filter(customer=customer).count() <= 3
    Receipt.objects.filter(customer=customer).delete()


def test_permissions_are_those_of_the_kinds_model(customer):
    rows = [snapshot(customer.pk, "2026-08-01", "A", 1)]
    with pytest.raises(PermissionDenied, match="You must be signed in to import inventory snapshots"):
        activity_upsert("inventory_snapshots", rows=rows, actor=UserFactory(is_active=False))
    clerk = UserFactory(permissions=["add_inventorysnapshot"])  # adding without changing is not enough
    with pytest.raises(PermissionDenied, match="You do not have permission to import inventory snapshots"):
        activity_upsert("inventory_snapshots", rows=rows, actor=clerk)
    stocker = UserFactory(permissions=["add_inventorysnapshot", "change_inventorysnapshot"])
    with pytest.raises(PermissionDenied, match="Only a server-side import may create customers"):
        activity_upsert("inventory_snapshots", rows=rows, actor=stocker, create_customers=True)
    MembershipFactory(user=stocker, customer=customer)
    assert activity_upsert("inventory_snapshots", rows=rows, actor=stocker).created == 1


def test_extra_work_is_entered_by_its_creator_and_kept_on_update(customer):
    service = ServiceFactory(name="Labour", charge_type=getattr(ChargeType, "EXTRA_WORK", ChargeType.PER_UNIT))
    CustomerServiceFactory(customer=customer, service=service)
    clerk = UserFactory(permissions=["add_extraworkentry", "change_extraworkentry", "view_billingreport"])
    row = {
        "customer_id": customer.pk,
        "reference": "J-1",
        "work_date": "2026-08-05",
        "service": "Labour",
        "quantity": 2,
    }

    assert activity_upsert("extra_work", rows=[row], actor=clerk).created == 1
    assert activity_upsert("extra_work", rows=[{**row, "quantity": "2.5"}]).updated == 1  # a server-side import
    entry = ExtraWorkEntry.objects.get()
    assert (entry.entered_by, entry.quantity) == (clerk, Decimal("2.500"))

    # A row refused for its service does not make the corrected row after it a duplicate.
    result = activity_upsert(
        "extra_work", rows=[{**row, "reference": "J-9", "service": "Nope"}, {**row, "reference": "J-9"}]
    )
    assert (result.created, [error.reason for error in result.errors]) == (1, ["unknown service 'Nope'"])

    CustomerService.objects.filter(customer=customer).update(is_active=False)
    result = activity_upsert("extra_work", rows=[{**row, "reference": "J-2"}])
    assert result.errors[0].reason == "service 'Labour' is not an active line of this customer's rate card"


def test_an_extra_work_service_must_be_on_the_rate_card_with_the_extra_work_charge_type():
    service = ServiceFactory(name="Pick", charge_type=ChargeType.PER_UNIT)
    assert extra_work_service_problem(service, on_rate_card=False) is not None
    assert extra_work_service_problem(service, on_rate_card=True) == (
        "service 'Pick' is not an extra-work service (its charge type is per_unit)"
    )
    labour = ServiceFactory(name="Labour hour", charge_type=ChargeType.EXTRA_WORK)
    assert extra_work_service_problem(labour, on_rate_card=True) is None
    assert extra_work_service_problem(labour, on_rate_card=False) == (
        "service 'Labour hour' is not an active line of this customer's rate card"
    )


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ("2026-08-03", dt.date(2026, 8, 3)),
        (" 2026-08-03T23:30:00-05:00 ", dt.date(2026, 8, 3)),  # the day as written, not moved to UTC
        ("08/03/2026", dt.date(2026, 8, 3)),
        ("2026/08/03", dt.date(2026, 8, 3)),
        (dt.datetime(2026, 8, 3, 12), dt.date(2026, 8, 3)),
    ],
)
def test_dates(value, expected):
    assert parse_date("snapshot_date", value) == expected


@pytest.mark.parametrize("value", ["", None, "2026-13-01", "03.08.2026", 20260803, True])
def test_bad_dates(value):
    with pytest.raises(RowInvalid):
        parse_date("snapshot_date", value)


def test_every_kind_has_its_required_columns_among_its_columns():
    for spec in SPECS.values():
        assert set(spec.required) <= set(spec.fields)
        assert spec.fields[0] == "customer_id"


def test_activity_in_period_is_scoped_and_dated_in_the_billing_time_zone(customer, settings):
    settings.BILLING_TIME_ZONE = "America/Toronto"
    rows = [
        {"customer_id": customer.pk, "reference": "LATE", "received_at": "2026-08-31T23:30:00"},  # Toronto time
        {"customer_id": customer.pk, "reference": "SEPT", "received_at": "2026-09-01T04:30:00Z"},  # 00:30 Toronto
    ]
    activity_upsert("receipts", rows=rows)
    august = activity_in_period(
        "receipts", customer_id=customer.pk, start=dt.date(2026, 8, 1), end=dt.date(2026, 8, 31)
    )
    assert [receipt.reference for receipt in august] == ["LATE"]
    stranger = UserFactory(permissions=["view_receipt"])
    period = {"customer_id": customer.pk, "start": dt.date(2026, 8, 1), "end": dt.date(2026, 9, 30)}
    assert not activity_in_period("receipts", actor=stranger, **period).exists()
    assert activity_in_period("receipts", **period).count() == 2
