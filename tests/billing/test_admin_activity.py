"""The admin of billable activity, posted as a browser posts its add forms (every field, blank extra rows)."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal

import pytest
from django.urls import reverse

from billing import models
from tests.billing.test_admin_browser import browser_post_data
from tests.factories import CustomerFactory, CustomerServiceFactory, ServiceFactory, UserFactory

pytestmark = pytest.mark.django_db

EXTRA_WORK_TYPE = getattr(models.ChargeType, "EXTRA_WORK", models.ChargeType.PER_UNIT)


@pytest.fixture
def admin_user():
    return UserFactory(username="root", is_staff=True, is_superuser=True)


@pytest.fixture
def customer():
    return CustomerFactory(company_name="Acme Outdoor")


@pytest.fixture
def labour(customer):
    service = ServiceFactory(name="Kitting labour", charge_type=EXTRA_WORK_TYPE)
    CustomerServiceFactory(customer=customer, service=service)
    return service


def add_form(client, model: str) -> tuple[str, dict[str, str]]:
    url = reverse(f"admin:billing_{model}_add")
    return url, browser_post_data(client.get(url).content.decode(), f"{model}_form")


def test_extra_work_added_in_the_admin_is_entered_by_the_admin_user(client, admin_user, customer, labour):
    client.force_login(admin_user)
    url, data = add_form(client, "extraworkentry")
    assert data["reference"] == ""
    data.update(customer=str(customer.pk), work_date="2026-08-05", service=str(labour.pk), quantity="2.5")

    response = client.post(url, data)

    assert response.status_code == 302, response.content.decode()
    entry = models.ExtraWorkEntry.objects.get()
    assert (entry.entered_by, entry.quantity, entry.service) == (admin_user, Decimal("2.500"), labour)
    assert entry.reference.startswith("EW-")  # generated: none was given

    # Editing it keeps who entered it and its reference.
    editor = UserFactory(username="editor", is_staff=True, is_superuser=True)
    client.force_login(editor)
    change = reverse("admin:billing_extraworkentry_change", args=[entry.pk])
    data = browser_post_data(client.get(change).content.decode(), "extraworkentry_form")
    data["quantity"] = "3"
    assert client.post(change, data).status_code == 302
    entry.refresh_from_db()
    assert (entry.entered_by, entry.quantity) == (admin_user, Decimal("3.000"))


def test_extra_work_service_must_be_on_the_customers_rate_card(client, admin_user, customer):
    client.force_login(admin_user)
    other = ServiceFactory(name="Special project", charge_type=EXTRA_WORK_TYPE)
    url, data = add_form(client, "extraworkentry")
    data.update(customer=str(customer.pk), work_date="2026-08-05", service=str(other.pk), quantity="1")

    response = client.post(url, data)

    assert response.status_code == 200
    assert "is not an active line of this customer&#x27;s rate card" in response.content.decode()
    assert not models.ExtraWorkEntry.objects.exists()

    data.update(quantity="0", service="")
    response = client.post(url, data)
    assert response.status_code == 200
    assert not models.ExtraWorkEntry.objects.exists()


def test_receipt_added_with_its_lines_and_the_blank_extra_row(client, admin_user, customer):
    client.force_login(admin_user)
    url, data = add_form(client, "receipt")
    assert data["lines-TOTAL_FORMS"] == "1"  # the blank extra row
    data.update(
        {
            "customer": str(customer.pk),
            "reference": "ASN-9",
            "received_at_0": "2026-08-03",
            "received_at_1": "10:00:00",
            "pallets": "2",
            "lines-TOTAL_FORMS": "3",
            "lines-0-sku": " kit a1 ",
            "lines-0-quantity": "5",
            "lines-1-sku": "",
            "lines-1-quantity": "",
            "lines-2-sku": "XYZ",
            "lines-2-quantity": "1",
        }
    )

    response = client.post(url, data)

    assert response.status_code == 302, response.content.decode()
    receipt = models.Receipt.objects.get(reference="ASN-9")
    assert receipt.pallets == 2
    lines = sorted(receipt.lines.values_list("sku", "sku_key", "quantity"))
    assert lines == [("XYZ", "XYZ", 1), ("kit a1", "KITA1", 5)]


def test_two_lines_of_one_sku_are_refused(client, admin_user, customer):
    client.force_login(admin_user)
    url, data = add_form(client, "customerreturn")
    data.update(
        {
            "customer": str(customer.pk),
            "reference": "RMA-1",
            "received_at_0": "2026-08-03",
            "received_at_1": "10:00:00",
            "lines-TOTAL_FORMS": "2",
            "lines-0-sku": "KIT-A1",
            "lines-0-quantity": "1",
            "lines-1-sku": "kit a1",
            "lines-1-quantity": "1",
        }
    )

    response = client.post(url, data)

    assert response.status_code == 200
    assert "is already a line" in response.content.decode()
    assert not models.CustomerReturn.objects.exists()


def test_snapshot_added_and_a_second_spelling_refused(client, admin_user, customer):
    client.force_login(admin_user)
    url, data = add_form(client, "inventorysnapshot")
    data.update(customer=str(customer.pk), snapshot_date="2026-08-01", sku="kit a1", location="A-1", quantity="4")

    assert client.post(url, data).status_code == 302
    stored = models.InventorySnapshot.objects.get()
    assert (stored.sku_key, stored.pallets, stored.snapshot_date) == ("KITA1", Decimal("0.000"), dt.date(2026, 8, 1))

    data["sku"] = "KIT-A1"
    response = client.post(url, data)
    assert response.status_code == 200
    assert "already has a snapshot" in response.content.decode()
    assert models.InventorySnapshot.objects.count() == 1
