import copy
from decimal import Decimal

import pytest

from billing.errors import NotFound, ValidationFailed
from billing.models import ChargeType, Customer, CustomerService, PriceTier, Product, Rule, RuleGroup, Service
from billing.services.rate_cards import rate_card_export, rate_card_import, rule_check
from tests.factories import (
    CustomerFactory,
    CustomerServiceFactory,
    PriceTierFactory,
    ProductFactory,
    RuleFactory,
    RuleGroupFactory,
    ServiceFactory,
)

pytestmark = pytest.mark.django_db


@pytest.fixture
def rate_card():
    """A customer with products, a tiered line, a SKU-restricted line and rules of every kind."""
    customer = CustomerFactory(company_name="Acme", currency="CAD")
    widget = ProductFactory(customer=customer, sku="WIDGET1", description="Widget", case_size=12)
    ProductFactory(customer=customer, sku="GADGET2", case_size=6)
    order_fee = CustomerServiceFactory(
        customer=customer,
        service=ServiceFactory(name="Order fee", charge_type=ChargeType.PER_ORDER),
        unit_price="1.2500",
    )
    group = RuleGroupFactory(customer_service=order_fee, logic_operator="OR", name="export orders")
    RuleFactory(rule_group=group, field="ship_to_country", operator="in", value="CA;MX")
    RuleFactory(rule_group=group, field="weight_lb", operator="gt", value="50")
    nand = RuleGroupFactory(customer_service=order_fee, logic_operator="NAND")
    RuleFactory(rule_group=nand, field="sku", operator="contains", value="WIDGET1")
    pick = CustomerServiceFactory(
        customer=customer, service=ServiceFactory(name="Pick", charge_type=ChargeType.PER_UNIT), unit_price="0.3000"
    )
    pick.skus.add(widget)
    tiered = CustomerServiceFactory(
        customer=customer,
        service=ServiceFactory(name="Volume", charge_type=ChargeType.TIERED),
        unit_price="0",
        tier_basis="per_unit",
    )
    PriceTierFactory(customer_service=tiered, up_to=Decimal("100"), unit_price=Decimal("0.5"))
    PriceTierFactory(customer_service=tiered, up_to=None, unit_price=Decimal("0.3"))
    PriceTierFactory(customer_service=tiered, up_to=Decimal("500"), unit_price=Decimal("0.4"))
    ServiceFactory(name="Unused", charge_type=ChargeType.PER_SKU, description="Not on any card")
    CustomerFactory(company_name="Other")
    return customer


def test_export_shape(rate_card):
    document = rate_card_export(customer_ids=[rate_card.pk])

    assert document["version"] == 1
    assert [s["name"] for s in document["services"]] == ["Order fee", "Pick", "Volume"]
    (customer,) = document["customers"]
    assert customer["id"] == rate_card.pk
    assert customer["currency"] == "CAD"
    assert customer["products"] == [
        {"sku": "GADGET2", "description": "", "case_size": 6},
        {"sku": "WIDGET1", "description": "Widget", "case_size": 12},
    ]
    lines = {line["service"]: line for line in customer["rate_card"]}
    assert lines["Order fee"]["unit_price"] == "1.2500"
    assert lines["Order fee"]["rule_groups"] == [
        {
            "logic_operator": "OR",
            "name": "export orders",
            "rules": [
                {"field": "ship_to_country", "operator": "in", "value": "CA;MX"},
                {"field": "weight_lb", "operator": "gt", "value": "50"},
            ],
        },
        {"logic_operator": "NAND", "name": "", "rules": [{"field": "sku", "operator": "contains", "value": "WIDGET1"}]},
    ]
    assert lines["Pick"]["skus"] == ["WIDGET1"]
    assert lines["Volume"]["tiers"] == [
        {"up_to": "100.0000", "unit_price": "0.5000"},
        {"up_to": "500.0000", "unit_price": "0.4000"},
        {"up_to": None, "unit_price": "0.3000"},
    ]


def test_export_unknown_customer_is_not_found():
    with pytest.raises(NotFound):
        rate_card_export(customer_ids=[424242])


def test_round_trip_after_wiping_and_modifying(rate_card):
    original = rate_card_export()

    # Wipe rules and tiers, change prices, drop a line, rename nothing.
    RuleGroup.objects.all().delete()
    PriceTier.objects.all().delete()
    CustomerService.objects.filter(service__name="Pick").delete()
    CustomerService.objects.update(unit_price=Decimal("9"))
    Product.objects.filter(sku="WIDGET1").update(case_size=1, description="changed")
    Customer.objects.filter(pk=rate_card.pk).update(email="x@y.example", currency="USD")
    Service.objects.filter(name="Unused").update(description="")

    summary = rate_card_import(document=original)

    assert rate_card_export() == original
    assert summary.lines_created == 1 and summary.lines_updated == 2
    assert (summary.customers_updated, summary.customers_unchanged, summary.customers_created) == (1, 1, 0)


def test_importing_its_own_export_changes_nothing(rate_card):
    original = rate_card_export()
    rule_ids = set(Rule.objects.values_list("pk", flat=True))

    summary = rate_card_import(document=original)

    assert rate_card_export() == original
    assert not summary.changed
    assert (summary.services_unchanged, summary.customers_unchanged, summary.lines_unchanged) == (4, 2, 3)
    assert Customer.objects.count() == 2
    assert set(Rule.objects.values_list("pk", flat=True)) == rule_ids  # nothing rewritten


def test_import_creates_everything_from_scratch():
    document = {
        "version": 1,
        "services": [
            {"name": "Per order", "description": "Handling", "charge_type": "per_order"},
            {"name": "Case pick", "charge_type": "case_pick"},
        ],
        "customers": [
            {
                "company_name": "New Co",
                "email": "ap@new.example",
                "products": [{"sku": "ab-1", "case_size": 24}],
                "rate_card": [
                    {"service": "Per order", "unit_price": "2"},
                    {
                        "service": "Case pick",
                        "unit_price": "1.5",
                        "skus": ["AB-1"],
                        "rule_groups": [
                            {"logic_operator": "XOR", "rules": [{"field": "sku_count", "operator": "ge", "value": "2"}]}
                        ],
                    },
                ],
            }
        ],
    }

    summary = rate_card_import(document=document)

    assert (summary.services_created, summary.customers_created, summary.products_created) == (2, 1, 1)
    customer = Customer.objects.get(company_name="New Co")
    assert customer.currency == "USD"
    assert Product.objects.values_list("sku", "sku_key").get(customer=customer) == ("ab-1", "AB1")
    line = CustomerService.objects.get(customer=customer, service__name="Case pick")
    assert line.unit_price == Decimal("1.5")
    assert list(line.skus.values_list("sku", flat=True)) == ["ab-1"]  # assigned by its normalised key
    assert line.rule_groups.get().rules.get().value == "2"

    # Matching by company name on a second import: updated, not duplicated.
    summary = rate_card_import(document=document)
    assert (summary.customers_created, summary.customers_unchanged) == (0, 1)
    assert not summary.changed
    assert Customer.objects.filter(company_name="New Co").count() == 1


def test_all_errors_are_reported_together_and_nothing_is_written(rate_card):
    document = rate_card_export()
    before = copy.deepcopy(document)
    bad = copy.deepcopy(document)
    bad["services"].append({"name": "Broken", "charge_type": "per_hour"})
    acme = bad["customers"][0]
    acme["currency"] = "dollars"
    acme["products"].append({"sku": "X", "case_size": 0})
    lines = {line["service"]: line for line in acme["rate_card"]}
    lines["Order fee"]["unit_price"] = 1.25  # a float
    lines["Order fee"]["rule_groups"][0]["rules"][1]["value"] = "heavy"
    lines["Order fee"]["rule_groups"][1]["rules"][0]["operator"] = "gt"
    lines["Pick"]["skus"].append("NOPE-9")
    lines["Volume"]["tiers"][1]["up_to"] = "50"
    acme["rate_card"].append({"service": "Ghost", "unit_price": "1"})
    acme["rate_card"].append({"service": "Pick", "unit_price": "1"})
    acme["colour"] = "red"
    bad["customers"][1]["id"] = "999999"
    fee_index = acme["rate_card"].index(lines["Order fee"])
    pick_index = acme["rate_card"].index(lines["Pick"])
    volume_index = acme["rate_card"].index(lines["Volume"])

    with pytest.raises(ValidationFailed) as caught:
        rate_card_import(document=bad)

    fields = caught.value.fields
    fee = f"customers[0].rate_card[{fee_index}]"
    assert set(fields) == {
        "services[4].charge_type",
        "customers[0].colour",
        "customers[0].currency",
        "customers[0].products[2].case_size",
        f"{fee}.unit_price",
        f"{fee}.rule_groups[0].rules[1]",
        f"{fee}.rule_groups[1].rules[0]",
        f"customers[0].rate_card[{pick_index}].skus[1]",
        f"customers[0].rate_card[{volume_index}]",
        "customers[0].rate_card[3].service",
        "customers[0].rate_card[4].service",
        "customers[1].id",
    }
    assert "not a number" in fields[f"{fee}.rule_groups[0].rules[1]"][0]
    assert "not valid for SKU field 'sku'" in fields[f"{fee}.rule_groups[1].rules[0]"][0]
    assert "strictly increase" in fields[f"customers[0].rate_card[{volume_index}]"][0]
    assert "unknown SKU 'NOPE-9'" in fields[f"customers[0].rate_card[{pick_index}].skus[1]"][0]
    assert "unknown service 'Ghost'" in fields["customers[0].rate_card[3].service"][0]
    assert "duplicate line for service 'Pick'" in fields["customers[0].rate_card[4].service"][0]
    assert rate_card_export() == before


@pytest.mark.parametrize(
    ("document", "path"),
    [
        ([], "document"),
        ({"version": 2, "services": [], "customers": []}, "version"),
        ({"version": 1, "customers": []}, "services"),
        ({"version": 1, "services": [], "customers": [{"company_name": ""}]}, "customers[0].company_name"),
        (
            {"version": 1, "services": [{"name": "A", "charge_type": "per_order"}] * 2, "customers": []},
            "services[1].name",
        ),
        (
            {
                "version": 1,
                "services": [{"name": "A", "charge_type": "per_order"}],
                "customers": [{"company_name": "C", "rate_card": [{"service": "A", "unit_price": "0.00001"}]}],
            },
            "customers[0].rate_card[0].unit_price",
        ),
        (
            {
                "version": 1,
                "services": [{"name": "A", "charge_type": "per_order"}],
                "customers": [{"company_name": "C", "rate_card": [{"service": "A", "unit_price": "-1"}]}],
            },
            "customers[0].rate_card[0].unit_price",
        ),
        (
            {
                "version": 1,
                "services": [{"name": "A", "charge_type": "per_order"}],
                "customers": [
                    {
                        "company_name": "C",
                        "rate_card": [
                            {"service": "A", "unit_price": "1", "rule_groups": [{"logic_operator": "MAYBE"}]}
                        ],
                    }
                ],
            },
            "customers[0].rate_card[0].rule_groups[0].logic_operator",
        ),
        (
            {"version": 1, "services": [], "customers": [{"company_name": "C"}, {"company_name": "C"}]},
            "customers[1]",
        ),
    ],
)
def test_schema_errors_name_their_path(document, path):
    with pytest.raises(ValidationFailed) as caught:
        rate_card_import(document=document)

    assert path in caught.value.fields
    assert not Customer.objects.exists()
    assert not Service.objects.exists()


def test_changing_a_charge_type_used_by_an_undescribed_card_is_refused(rate_card):
    other = Customer.objects.get(company_name="Other")
    CustomerServiceFactory(customer=other, service=Service.objects.get(name="Pick"))
    document = rate_card_export(customer_ids=[rate_card.pk])
    for service in document["services"]:
        if service["name"] == "Pick":
            service["charge_type"] = "per_sku"

    with pytest.raises(ValidationFailed) as caught:
        rate_card_import(document=document)

    (messages,) = [m for p, m in caught.value.fields.items() if p.endswith("charge_type")]
    assert "Other" in messages[0]
    assert Service.objects.get(name="Pick").charge_type == ChargeType.PER_UNIT


def test_rule_check_refuses_with_a_message_naming_the_rule():
    with pytest.raises(ValidationFailed) as caught:
        rule_check(field="ship_to_country", operator="gt", value="CA")
    assert "ship_to_country" in caught.value.message and "'gt'" in caught.value.message

    rule_check(field="weight_lb", operator="ge", value="10")

    with pytest.raises(ValidationFailed) as caught:
        rule_check(field="weight_lb", operator="ge", value="ten", label="#7")
    assert caught.value.message.startswith("Rule '#7': value 'ten' is not a number")


def test_rule_check_accepts_every_kind():
    rule_check(field="carrier", operator="startswith", value="UPS;FedEx")
    rule_check(field="packages", operator="in", value="1;2;3")
    rule_check(field="sku", operator="only_contains", value="A-1; B 2")
    with pytest.raises(ValidationFailed):
        rule_check(field="colour", operator="eq", value="red")


def test_statement_contact_fields_round_trip_and_are_validated():
    document = {
        "version": 1,
        "services": [],
        "customers": [{"company_name": "Postal", "phone": "+1 555 0100", "billing_address": "1 Main St\nTown"}],
    }
    rate_card_import(document=document)
    customer = Customer.objects.get(company_name="Postal")
    assert (customer.phone, customer.billing_address) == ("+1 555 0100", "1 Main St\nTown")
    exported = rate_card_export(customer_ids=[customer.pk])["customers"][0]
    assert (exported["phone"], exported["billing_address"]) == ("+1 555 0100", "1 Main St\nTown")

    document["customers"][0].update(phone=5, billing_address="x" * 1001)
    with pytest.raises(ValidationFailed) as caught:
        rate_card_import(document=document)
    assert set(caught.value.fields) == {"customers[0].phone", "customers[0].billing_address"}
    customer.refresh_from_db()
    assert customer.phone == "+1 555 0100"
