"""The rate-card document's checks: each problem named by its path, with the format's own messages."""

import pytest

from billing.errors import ValidationFailed
from billing.services.rate_card_document import rate_card_plan
from tests.factories import CustomerFactory, ProductFactory

pytestmark = pytest.mark.django_db

SERVICE = {"name": "Pick", "charge_type": "per_unit"}


def problems(document):
    with pytest.raises(ValidationFailed) as caught:
        rate_card_plan(document)
    return caught.value.fields


def test_values_of_the_wrong_type_are_named_in_json_terms_never_coerced():
    line = {"service": "Pick", "unit_price": 0.25, "is_active": "yes", "tier_basis": None, "tiers": {}}
    customer = {
        "company_name": 5,
        "currency": "usd",
        "products": [{"sku": "A", "case_size": True}],
        "rate_card": [line],
    }

    fields = problems({"version": True, "services": [SERVICE, None], "customers": [customer]})

    assert fields == {
        "version": ["must be 1, got True"],
        "services[1]": ["must be an object, got null"],
        "customers[0].company_name": ["must be a string, got number"],
        "customers[0].currency": ["must be a three-letter ISO 4217 code such as 'USD', got 'usd'"],
        "customers[0].products[0].case_size": ["must be a whole number >= 1, got True"],
        "customers[0].rate_card[0].unit_price": ['must be a decimal string such as "0.25", got number 0.25'],
        "customers[0].rate_card[0].tier_basis": [
            'must be one of "", per_order, per_unit, per_sku, per_line, per_package, per_weight_lb, '
            "per_volume_cuft, case_pick, each_pick, tiered, got None"
        ],
        "customers[0].rate_card[0].tiers": ["must be an array, got object"],
        "customers[0].rate_card[0].is_active": ["must be true or false, got string"],
    }


def test_unknown_keys_list_the_allowed_ones_and_hide_no_other_problem():
    rule = {"field": "weight_lb", "operator": "gt", "value": "heavy", "colour": "red"}
    line = {"service": "Pick", "unit_price": "1", "rule_groups": [{"rules": [rule]}]}

    fields = problems({"version": 1, "services": [SERVICE], "customers": [{"company_name": "C", "rate_card": [line]}]})

    rule_path = "customers[0].rate_card[0].rule_groups[0].rules[0]"
    assert fields[f"{rule_path}.colour"] == ["unknown key (allowed: field, operator, value)"]
    assert "not a number" in fields[rule_path][0]
    assert set(fields) == {rule_path, f"{rule_path}.colour"}


def test_references_are_checked_against_the_database_and_the_document():
    acme = CustomerFactory(company_name="Acme")
    ProductFactory(customer=acme, sku="STORED-1")
    document = {
        "version": 1,
        "services": [SERVICE],
        "customers": [
            {
                "id": acme.pk,
                "company_name": "Acme",
                "products": [{"sku": "new 2"}, {"sku": "NEW-2"}],
                "rate_card": [{"service": "Pick", "unit_price": "1", "skus": ["stored1", "NEW2", "gone"]}],
            },
            {"company_name": "Acme", "currency": 1},
        ],
    }

    fields = problems(document)

    assert fields == {
        "customers[0].products[1].sku": ["duplicate SKU 'NEW-2' (the same SKU as customers[0].products[0])"],
        "customers[0].rate_card[0].skus[2]": ["unknown SKU 'gone': add it to the customer's products"],
        "customers[1].currency": ["must be a three-letter ISO 4217 code such as 'USD', got 1"],
        "customers[1]": ["describes the same customer as customers[0]"],
    }


def test_a_valid_document_gives_what_the_import_writes():
    document = {
        "version": 1,
        "services": [SERVICE],
        "customers": [
            {
                "company_name": "New",
                "email": "ap@new.example",
                "products": [{"sku": " ab-1 ", "case_size": 6}],
                "rate_card": [{"service": "Pick", "unit_price": "0.5", "skus": ["AB1"]}],
            }
        ],
    }

    services, customers = rate_card_plan(document)

    assert [(s.name, s.charge_type, s.description) for s in services] == [("Pick", "per_unit", "")]
    (customer,) = customers
    assert (customer.existing, customer.new_id) == (None, None)
    assert customer.fields == {"company_name": "New", "email": "ap@new.example"}
    assert customer.products == [("ab-1", "", 6)]
    (line,) = customer.lines
    assert (line.service, str(line.unit_price), line.skus, line.is_active) == ("Pick", "0.5000", ["AB1"], True)
