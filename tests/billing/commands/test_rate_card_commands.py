import io
import json

import pytest
from django.core.management import CommandError, call_command

from billing.models import ChargeType, CustomerService, PriceTier, Rule, RuleGroup
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
def card():
    customer = CustomerFactory(company_name="Acme")
    product = ProductFactory(customer=customer, sku="ABC1", case_size=10)
    line = CustomerServiceFactory(
        customer=customer, service=ServiceFactory(name="Pick", charge_type=ChargeType.PER_UNIT)
    )
    line.skus.add(product)
    group = RuleGroupFactory(customer_service=line, logic_operator="NOR")
    RuleFactory(rule_group=group, field="carrier", operator="eq", value="Pickup")
    RuleFactory(rule_group=group, field="total_item_qty", operator="lt", value="1")
    tiered = CustomerServiceFactory(
        customer=customer, service=ServiceFactory(name="Tiered", charge_type=ChargeType.TIERED), tier_basis="per_sku"
    )
    PriceTierFactory(customer_service=tiered, up_to="10", unit_price="1")
    PriceTierFactory(customer_service=tiered, up_to=None, unit_price="0.5")
    other = CustomerFactory(company_name="Other")
    CustomerServiceFactory(customer=other, service=ServiceFactory(name="Fee", charge_type=ChargeType.PER_ORDER))
    return customer


def export(*args):
    out = io.StringIO()
    call_command("export_rate_card", *args, stdout=out, stderr=io.StringIO())
    return out.getvalue()


def import_file(path):
    out, err = io.StringIO(), io.StringIO()
    try:
        call_command("import_rate_card", str(path), stdout=out, stderr=err)
    except CommandError as exc:
        return out.getvalue(), err.getvalue(), exc
    return out.getvalue(), err.getvalue(), None


def test_export_wipe_import_export_round_trips(tmp_path, card):
    path = tmp_path / "rates.json"
    call_command("export_rate_card", "--output", str(path), stderr=io.StringIO())
    original = path.read_text()
    assert original == export()

    Rule.objects.all().delete()
    RuleGroup.objects.all().delete()
    PriceTier.objects.all().delete()
    CustomerService.objects.all().delete()

    out, err, exc = import_file(path)

    assert exc is None, err
    assert "rate-card lines: 3 created" in out
    assert export() == original


def test_export_selected_customers(card):
    document = json.loads(export("--customer", str(card.pk)))

    assert [c["company_name"] for c in document["customers"]] == ["Acme"]
    assert [s["name"] for s in document["services"]] == ["Pick", "Tiered"]
    with pytest.raises(CommandError, match="No customer with id 999"):
        export("--customer", "999")


def test_invalid_document_reports_every_error_with_its_path_and_writes_nothing(tmp_path, card):
    document = json.loads(export())
    acme = document["customers"][0]
    lines = {line["service"]: index for index, line in enumerate(acme["rate_card"])}
    pick = acme["rate_card"][lines["Pick"]]
    pick["rule_groups"][0]["rules"][0]["operator"] = "gt"  # text field
    pick["rule_groups"][0]["rules"][1]["value"] = "many"  # numeric field
    pick["unit_price"] = "abc"
    acme["rate_card"][lines["Tiered"]]["tiers"] = [
        {"up_to": None, "unit_price": "1"},
        {"up_to": "10", "unit_price": "1"},
    ]
    path = tmp_path / "bad.json"
    path.write_text(json.dumps(document))
    before = export()

    out, err, exc = import_file(path)

    assert exc is not None and "4 errors; nothing was imported" in str(exc)
    prefix = f"customers[0].rate_card[{lines['Pick']}]"
    reported = err.strip().splitlines()
    assert f"{prefix}.unit_price: is not a decimal number: 'abc'" in reported
    assert any(line.startswith(f"{prefix}.rule_groups[0].rules[0]: operator 'gt' is not valid") for line in reported)
    assert any(line.startswith(f"{prefix}.rule_groups[0].rules[1]: value 'many' is not a number") for line in reported)
    assert any(
        line.startswith(f"customers[0].rate_card[{lines['Tiered']}]: tier 1 has no upper bound") for line in reported
    )
    assert out == ""
    assert export() == before


def test_unreadable_input(tmp_path):
    path = tmp_path / "broken.json"
    path.write_text("{")
    _, _, exc = import_file(path)
    assert exc is not None and "not valid JSON" in str(exc)
    _, _, exc = import_file(tmp_path / "missing.json")
    assert exc is not None and "No such file" in str(exc)


def test_import_from_stdin(card):
    document = export()
    CustomerService.objects.all().delete()

    out = io.StringIO()
    call_command("import_rate_card", "-", stdin=io.StringIO(document), stdout=out)

    assert "Imported." in out.getvalue()
    assert export() == document
