"""The admin refuses adjustments that cannot be applied and rules an activity line cannot test."""

from __future__ import annotations

import html

import pytest
from django.urls import reverse

from billing.models import ChargeType, RateCardAdjustment, Rule
from tests.billing.generation.helpers import rate_line
from tests.factories import CustomerFactory, RuleGroupFactory, UserFactory

pytestmark = pytest.mark.django_db


@pytest.fixture
def admin_client(client):
    client.force_login(UserFactory(username="root", is_staff=True, is_superuser=True))
    return client


def adjustment(customer, **fields):
    data = {"customer": customer.pk, "kind": "discount", "position": "0", "is_active": "on", "description": "x"}
    data.update(fields)
    return data


def test_an_adjustment_is_saved_only_when_it_can_be_applied(admin_client):
    customer = CustomerFactory()
    other = CustomerFactory()
    foreign = rate_line(other, "Their storage", ChargeType.STORAGE_PALLET)
    url = reverse("admin:billing_ratecardadjustment_add")

    both = admin_client.post(url, adjustment(customer, percent="5", amount="10"))
    assert both.status_code == 200
    assert "a discount needs either a percent or an amount" in html.unescape(both.content.decode())

    not_theirs = admin_client.post(url, adjustment(customer, percent="5", services=[foreign.pk]))
    assert not_theirs.status_code == 200
    assert "are not the customer's" in html.unescape(not_theirs.content.decode())
    assert not RateCardAdjustment.objects.exists()

    saved = admin_client.post(url, adjustment(customer, kind="surcharge", percent="7.5", start_date="2025-11-15"))
    assert saved.status_code == 302
    assert RateCardAdjustment.objects.get().percent == 7.5


def test_a_rule_of_a_receiving_line_tests_the_receipts_fields(admin_client):
    line = rate_line(CustomerFactory(), "Receiving", ChargeType.RECEIVING_PALLET)
    group = RuleGroupFactory(customer_service=line)
    url = reverse("admin:billing_rule_add")

    refused = admin_client.post(url, {"rule_group": group.pk, "field": "weight_lb", "operator": "gt", "value": "1"})
    assert refused.status_code == 200
    assert "unknown field 'weight_lb'" in html.unescape(refused.content.decode())

    saved = admin_client.post(url, {"rule_group": group.pk, "field": "pallets", "operator": "gt", "value": "10"})
    assert saved.status_code == 302
    assert Rule.objects.get().field == "pallets"
