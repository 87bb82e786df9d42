"""Activity lines and adjustments on the rate card: document round trip, validation when saved."""

from __future__ import annotations

import pytest

from billing.errors import ValidationFailed
from billing.models import CustomerService, RateCardAdjustment
from billing.services.rate_cards import adjustment_check, rate_card_export, rate_card_import, rule_check

pytestmark = pytest.mark.django_db


def document(**line_extra):
    return {
        "version": 1,
        "services": [
            {"name": "Pallet storage", "description": "", "charge_type": "storage_pallet"},
            {"name": "Receiving", "description": "", "charge_type": "receiving_pallet"},
        ],
        "customers": [
            {
                "company_name": "Acme",
                "rate_card": [
                    {
                        "service": "Pallet storage",
                        "unit_price": "12.5",
                        "storage_period": "day",
                        "storage_basis": "daily_sum",
                        **line_extra,
                    },
                    {
                        "service": "Receiving",
                        "unit_price": "4",
                        "rule_groups": [{"rules": [{"field": "pallets", "operator": "gt", "value": "10"}]}],
                    },
                ],
                "adjustments": [
                    {"kind": "minimum", "amount": "250.00", "description": "Monthly minimum"},
                    {
                        "kind": "surcharge",
                        "percent": "7.5",
                        "services": ["Pallet storage"],
                        "start_date": "2025-11-15",
                        "end_date": "2025-12-31",
                        "description": "Peak season",
                    },
                    {"kind": "discount", "percent": "5", "description": "Loyalty"},
                ],
            }
        ],
    }


def test_a_document_with_storage_receiving_and_adjustments_round_trips():
    rate_card_import(document=document())
    line = CustomerService.objects.get(service__name="Pallet storage")
    assert (line.storage_period, line.storage_basis) == ("day", "daily_sum")
    assert RateCardAdjustment.objects.count() == 3
    exported = rate_card_export()
    customer = exported["customers"][0]
    assert customer["rate_card"][0]["storage_basis"] == "daily_sum"
    assert [a["kind"] for a in customer["adjustments"]] == ["discount", "minimum", "surcharge"]
    assert customer["adjustments"][2]["services"] == ["Pallet storage"]
    rate_card_import(document=exported)
    assert rate_card_export() == exported


@pytest.mark.parametrize(
    ("extra", "path", "message"),
    [
        ({"storage_basis": "median"}, "storage_basis", "median"),
        ({"rule_groups": [{"rules": [{"field": "carrier", "operator": "eq", "value": "UPS"}]}]}, "", "carrier"),
    ],
)
def test_a_storage_line_with_an_unknown_basis_or_an_order_field_rule_is_refused(extra, path, message):
    with pytest.raises(ValidationFailed) as caught:
        rate_card_import(document=document(**extra))
    assert message in str(caught.value.fields)
    assert not CustomerService.objects.exists()


def test_an_adjustment_on_a_service_the_customer_lacks_is_refused():
    doc = document()
    doc["customers"][0]["adjustments"][1]["services"] = ["Kitting"]
    with pytest.raises(ValidationFailed) as caught:
        rate_card_import(document=doc)
    assert "Kitting" in str(caught.value.fields)


def test_rules_of_activity_lines_test_the_activitys_fields():
    rule_check(field="pallets", operator="gt", value="10", charge_type="receiving_pallet")
    rule_check(field="location", operator="startswith", value="COLD", charge_type="storage_location")
    with pytest.raises(ValidationFailed, match="unknown field 'pallets'"):
        rule_check(field="pallets", operator="gt", value="10")  # an order line
    with pytest.raises(ValidationFailed, match="unknown field 'carrier'"):
        rule_check(field="carrier", operator="eq", value="UPS", charge_type="return_unit")


@pytest.mark.parametrize(
    ("kind", "percent", "amount", "message"),
    [
        ("minimum", "5", None, "a minimum needs an amount"),
        ("surcharge", None, "5", "a surcharge needs a percent"),
        ("discount", "5", "5", "either a percent or an amount"),
        ("discount", "150", None, "at most 100"),
        ("surcharge", "7.125", None, "at most 2 decimal places"),
    ],
)
def test_adjustments_that_cannot_be_applied_are_refused(kind, percent, amount, message):
    from decimal import Decimal

    with pytest.raises(ValidationFailed, match=message):
        adjustment_check(
            kind=kind,
            percent=Decimal(percent) if percent else None,
            amount=Decimal(amount) if amount else None,
        )
