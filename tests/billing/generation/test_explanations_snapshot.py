"""Explanations recorded by generation (COPY on PostgreSQL, bulk_create elsewhere), kept by the
snapshot, and shown by REST, GraphQL, CSV and JSON; per-order tiers through the rate-card
document, the admin and generation."""

from __future__ import annotations

import csv
import io
import json
from decimal import Decimal

import pytest

from billing.exporters.csv import export_csv
from billing.exporters.json import export_json
from billing.generation.orders import chunked_records
from billing.models import ChargeType, ReportExplanation, ReportLine, Rule, TierScope
from billing.pricing import compile_rate_card
from billing.pricing.explain import detail_json
from billing.selectors.orders import billable_orders
from billing.selectors.rate_cards import load_rate_card
from billing.selectors.reports import line_explanation
from billing.services.rate_cards import rate_card_export, rate_card_import
from tests.billing.generation.helpers import generate, rate_line, utc
from tests.factories import (
    CustomerFactory,
    PriceTierFactory,
    ProductFactory,
    RuleFactory,
    RuleGroupFactory,
    order_with_lines,
)
from tests.graphql_schema.helpers import data_of, gql, nodes

pytestmark = pytest.mark.django_db


@pytest.fixture
def explained_card():
    """Every kind of line: a fee for every order, a rule fee (AND of two rules), a per_unit line
    with assigned SKUs, case and each pick, tiers over the period and per order."""
    customer = CustomerFactory(company_name="Explained", currency="USD")
    kit = ProductFactory(customer=customer, sku="KIT-A1", case_size=6)
    ProductFactory(customer=customer, sku="BOX \\ 7", case_size=4)  # a backslash travels through COPY and JSON
    ProductFactory(customer=customer, sku='GIFT "W"', case_size=1)
    rate_line(customer, "Order fee", price="1.0000")
    heavy = rate_line(customer, "Heavy CA", price="4.0000")
    group = RuleGroupFactory(customer_service=heavy, logic_operator="AND")
    RuleFactory(rule_group=group, field="ship_to_country", operator="eq", value="CA")
    RuleFactory(rule_group=group, field="weight_lb", operator="gt", value="50")
    kits = rate_line(customer, "Kit units", ChargeType.PER_UNIT, price="0.1000")
    kits.skus.add(kit)
    rate_line(customer, "Cases", ChargeType.CASE_PICK, price="0.7500")
    rate_line(customer, "Eaches", ChargeType.EACH_PICK, price="0.2000")
    volume = rate_line(customer, "Volume", ChargeType.TIERED, price="0", tier_basis="per_unit")
    PriceTierFactory(customer_service=volume, up_to=Decimal("10"), unit_price=Decimal("0.3000"))
    PriceTierFactory(customer_service=volume, up_to=None, unit_price=Decimal("0.2000"))
    pick_fee = rate_line(customer, "Pick fee", ChargeType.TIERED, price="0", tier_scope=TierScope.ORDER)
    PriceTierFactory(customer_service=pick_fee, up_to=Decimal("1"), unit_price=Decimal("2.5000"))
    PriceTierFactory(customer_service=pick_fee, up_to=None, unit_price=Decimal("0.5000"))
    orders = [
        order_with_lines(
            customer=customer,
            transaction_id="EX-1",
            close_date=utc(2025, 1, 5, 12),
            ship_to_country="CA",
            weight_lb=Decimal("60"),
            lines={"KIT-A1": 8, "BOX \\ 7": 9, "LOOSE": 2},
        ),
        order_with_lines(
            customer=customer,
            transaction_id="EX-2",
            close_date=utc(2025, 1, 6, 12),
            ship_to_country="US",
            lines={'GIFT "W"': 5},
        ),
    ]
    return customer, orders


def explanations_by_line(report) -> dict[tuple[str, str], dict]:
    payloads = dict(ReportExplanation.objects.filter(report=report).values_list("key", "payload"))
    return {
        (line.order.transaction_id, line.service_name): line_explanation(payloads, line.explanation, line.detail)
        for line in ReportLine.objects.filter(report=report).select_related("order")
    }


def test_an_orders_skus_are_explained_in_code_point_order_whichever_order_they_were_stored_in():
    """The lines of an order have no order of their own: stored in any order (here the reverse),
    read through whichever plan the database picks, they are explained in SKU order, so the
    report's text is the same on every database and in every regeneration."""
    customer = CustomerFactory()
    rate_line(customer, "Eaches", ChargeType.EACH_PICK, price="0.2000")
    skus = ["sku-a", "SKU-B", "R-011-20 kg", "R-011 -Fried", "R015", "Ärger", "a"]
    order_with_lines(customer=customer, close_date=utc(2025, 1, 5, 12), lines={sku: 1 for sku in reversed(skus)})

    report = generate(customer)

    detail = json.loads(ReportLine.objects.get(report=report).detail)
    assert [entry[0] for entry in detail["skus"]] == sorted(skus)  # code point order, not the locale's
    assert sorted(skus) == ["R-011 -Fried", "R-011-20 kg", "R015", "SKU-B", "a", "sku-a", "Ärger"]


def test_generation_records_what_the_engine_explains(explained_card):
    customer, _ = explained_card
    report = generate(customer)
    stored = explanations_by_line(report)

    ex1 = {service: data for (tx, service), data in stored.items() if tx == "EX-1"}
    assert ex1["Order fee"]["text"] == "Applies to every order."
    assert ex1["Heavy CA"]["rule_group"]["text"] == "ship_to_country eq CA AND weight_lb gt 50"
    assert ex1["Kit units"]["skus"] == [{"sku": "KIT-A1", "units": 8}]
    assert ex1["Cases"]["skus"] == [
        {"sku": "BOX \\ 7", "units": 9, "case_size": 4, "cases": 2, "eaches": 1},
        {"sku": "LOOSE", "units": 2, "case_size": None, "cases": 0, "eaches": 2},
    ]
    assert ex1["Volume"]["tier_bands"] == [
        {"from": 0, "to": 10, "quantity": 10, "unit_price": Decimal("0.3000"), "amount": 3},
        {"from": 10, "to": 19, "quantity": 9, "unit_price": Decimal("0.2000"), "amount": Decimal("1.8")},
    ]
    assert ex1["Pick fee"]["tier_scope"] == "order"
    assert [b["amount"] for b in ex1["Pick fee"]["tier_bands"]] == [Decimal("2.5"), 9]
    ex2 = {service: data for (tx, service), data in stored.items() if tx == "EX-2"}
    assert "Heavy CA" not in ex2 and "Kit units" not in ex2
    assert ex2["Cases"]["skus"] == [{"sku": 'GIFT "W"', "units": 5, "case_size": 1, "cases": 5, "eaches": 0}]
    assert ex2["Volume"]["tier_bands"][0]["from"] == 19  # graduated over the period
    assert ex2["Pick fee"]["tier_bands"][0]["from"] == 0  # restarted for the order

    # what was written (COPY's JSON text on PostgreSQL, bulk_create elsewhere) is what the engine gave
    run = compile_rate_card(load_rate_card(customer_id=customer.pk).rate_card)
    orders = billable_orders(customer_id=customer.pk, start_date=report.start_date, end_date=report.end_date)
    engine = {}
    for records in chunked_records(orders, 100):
        for record in records:
            for charge in run.price_order(record):
                detail = None if charge.detail is None else detail_json(charge.detail)
                engine[(record.transaction_id, charge.service_name)] = line_explanation(
                    run.explanations, charge.explanation, detail
                )
    assert stored == engine
    for (transaction_id, service), data in stored.items():
        line = ReportLine.objects.get(report=report, order__transaction_id=transaction_id, service_name=service)
        if data["tier_bands"] is not None:
            assert sum(b["amount"] for b in data["tier_bands"]) == line.amount


def test_one_explanation_per_line_and_group_whatever_the_number_of_orders(explained_card):
    customer, _ = explained_card
    for index in range(40):
        order_with_lines(
            customer=customer,
            transaction_id=f"MORE-{index}",
            close_date=utc(2025, 1, 10, 12),
            lines={"KIT-A1": 1 + index},
        )
    report = generate(customer)
    assert ReportLine.objects.filter(report=report).count() > 100
    # seven rate-card lines of one group at most, each charged: seven explanations
    assert ReportExplanation.objects.filter(report=report).count() == 7
    # only tiered, SKU-restricted and pick lines carry a detail of their own
    with_detail = set(
        ReportLine.objects.filter(report=report, detail__isnull=False).values_list("service_name", flat=True)
    )
    assert with_detail == {"Kit units", "Cases", "Eaches", "Volume", "Pick fee"}


def test_a_snapshot_keeps_its_explanation_after_the_rate_card_changes(explained_card, admin_client):
    customer, _ = explained_card
    report = generate(customer)
    before = admin_client.get(f"/api/v2/reports/{report.pk}/").json()["data"]

    Rule.objects.filter(field="weight_lb").update(value="1")
    Rule.objects.filter(field="ship_to_country").update(operator="ne")
    volume = customer.rate_card.get(service__name="Volume")
    volume.tiers.all().delete()
    PriceTierFactory(customer_service=volume, up_to=None, unit_price=Decimal("9.0000"))
    customer.rate_card.filter(service__name="Pick fee").update(tier_scope=TierScope.PERIOD)
    customer.rate_card.filter(service__name="Order fee").update(unit_price=Decimal("7"))

    after = admin_client.get(f"/api/v2/reports/{report.pk}/").json()["data"]
    assert after == before
    heavy = next(s for o in after["orders"] for s in o["services"] if s["service_name"] == "Heavy CA")
    assert heavy["explanation"]["rule_group"]["text"] == "ship_to_country eq CA AND weight_lb gt 50"
    assert heavy["explanation"]["rule_group"]["rules"][1] == {"field": "weight_lb", "operator": "gt", "value": "50"}
    # a new report explains with the rules as they are now
    regenerated = generate(customer)
    now = explanations_by_line(regenerated)
    assert ("EX-1", "Heavy CA") not in now  # CA is now excluded
    assert now[("EX-2", "Heavy CA")]["rule_group"]["text"] == "ship_to_country ne CA AND weight_lb gt 1"


def test_rest_detail_adds_the_explanation_to_every_service_line(explained_card, admin_client):
    customer, _ = explained_card
    report = generate(customer)
    body = json.loads(admin_client.get(f"/api/v2/reports/{report.pk}/").content, parse_float=Decimal)
    services = {s["service_name"]: s for o in body["data"]["orders"] if o["order_id"] == "EX-1" for s in o["services"]}

    volume = services["Volume"]
    assert set(volume) == {"service_id", "service_name", "amount", "quantity", "cost_type", "explanation"}
    assert volume["explanation"]["tier_bands"] == [
        {"from": 0, "to": 10, "quantity": 10, "unit_price": Decimal("0.3000"), "amount": 3},
        {"from": 10, "to": 19, "quantity": 9, "unit_price": Decimal("0.2000"), "amount": Decimal("1.8")},
    ]
    assert sum(b["amount"] for b in volume["explanation"]["tier_bands"]) == volume["amount"]
    assert services["Order fee"]["explanation"]["applies_to_every_order"] is True
    paged = admin_client.get(f"/api/v2/reports/{report.pk}/?limit=1").json()["data"]
    assert (
        paged["orders"][0]["services"]
        == json.loads(admin_client.get(f"/api/v2/reports/{report.pk}/").content)["data"]["orders"][0]["services"]
    )


def test_graphql_charges_carry_the_explanation(explained_card, admin_client):
    customer, _ = explained_card
    report = generate(customer)
    query = """query($id: UUID!) { report(id: $id) { orders(first: 10) { edges { node { transactionId
      charges { serviceName amount explanation { text appliesToEveryOrder tierScope tierBasis
        ruleGroup { position of logic text rules { field operator value } }
        tierBands { from to quantity unitPrice amount } skus { sku units caseSize cases eaches } } } } } } } }"""
    data = data_of(gql(admin_client, query, {"id": str(report.pk)}))
    charges = {
        (order["transactionId"], c["serviceName"]): c["explanation"]
        for order in nodes(data["report"]["orders"])
        for c in order["charges"]
    }
    assert charges[("EX-1", "Heavy CA")]["ruleGroup"] == {
        "position": 1,
        "of": 1,
        "logic": "AND",
        "text": "ship_to_country eq CA AND weight_lb gt 50",
        "rules": [
            {"field": "ship_to_country", "operator": "eq", "value": "CA"},
            {"field": "weight_lb", "operator": "gt", "value": "50"},
        ],
    }
    assert charges[("EX-2", "Pick fee")]["tierScope"] == "ORDER"
    assert charges[("EX-2", "Pick fee")]["tierBands"] == [
        {"from": "0", "to": "1", "quantity": "1", "unitPrice": "2.5000", "amount": "2.5"},
        {"from": "1", "to": "5", "quantity": "4", "unitPrice": "0.5000", "amount": "2"},
    ]
    assert charges[("EX-1", "Cases")]["skus"][0] == {
        "sku": "BOX \\ 7",
        "units": 9,
        "caseSize": 4,
        "cases": 2,
        "eaches": 1,
    }
    assert charges[("EX-1", "Order fee")]["text"] == "Applies to every order."


def test_csv_has_an_explanation_column_and_json_export_the_field(explained_card):
    customer, _ = explained_card
    report = generate(customer)
    rows = list(csv.DictReader(io.StringIO(b"".join(export_csv(report)).decode())))
    lines = {(r["transaction_id"], r["service_name"]): r for r in rows if r["row_type"] == "line"}
    assert lines[("EX-1", "Heavy CA")]["explanation"] == (
        "Rule group 1 of 1 (AND) matched: ship_to_country eq CA AND weight_lb gt 50."
    )
    assert lines[("EX-2", "Pick fee")]["explanation"] == (
        "Applies to every order. Tiers (per_unit, restart for each order): "
        "0 to 1: 1 × 2.5000 = 2.5; 1 to 5: 4 × 0.5000 = 2."
    )
    assert lines[("EX-1", "Eaches")]["explanation"].endswith(
        "SKUs counted: BOX \\ 7: 9 units, case of 4, 2 cases + 1 eaches; "
        "LOOSE: 2 units, no case size, 0 cases + 2 eaches."
    )
    assert all(r["explanation"] == "" for r in rows if r["row_type"] != "line")

    exported = json.loads(b"".join(export_json(report)), parse_float=Decimal)
    services = [s for o in exported["orders"] for s in o["services"]]
    assert all(s["explanation"]["text"] for s in services)


def test_a_report_generated_before_explanations_shows_none(explained_card, admin_client):
    customer, _ = explained_card
    report = generate(customer)
    ReportLine.objects.filter(report=report).update(explanation=None, detail=None)
    ReportExplanation.objects.filter(report=report).delete()

    services = [
        s for o in admin_client.get(f"/api/v2/reports/{report.pk}/").json()["data"]["orders"] for s in o["services"]
    ]
    assert services and all(s["explanation"] is None for s in services)
    rows = list(csv.DictReader(io.StringIO(b"".join(export_csv(report)).decode())))
    assert all(r["explanation"] == "" for r in rows)


# --- per-order tiers through the rate-card document and the admin ---------------------------


def test_tier_scope_round_trips_through_the_rate_card_document(explained_card):
    customer, _ = explained_card
    document = rate_card_export(customer_ids=[customer.pk])
    lines = {line["service"]: line for line in document["customers"][0]["rate_card"]}
    assert lines["Pick fee"]["tier_scope"] == "order"
    assert lines["Volume"]["tier_scope"] == "period"

    lines["Volume"]["tier_scope"] = "order"
    summary = rate_card_import(document=document)
    assert summary.lines_updated == 1
    assert customer.rate_card.get(service__name="Volume").tier_scope == "order"
    assert rate_card_export(customer_ids=[customer.pk]) == document
    assert not rate_card_import(document=document).changed

    # a document without the key keeps the default: period
    del lines["Volume"]["tier_scope"]
    rate_card_import(document=document)
    assert customer.rate_card.get(service__name="Volume").tier_scope == "period"


def test_the_document_refuses_a_bad_tier_scope_naming_it(explained_card):
    from billing.errors import ValidationFailed

    customer, _ = explained_card
    document = rate_card_export(customer_ids=[customer.pk])
    lines = document["customers"][0]["rate_card"]
    index = next(i for i, line in enumerate(lines) if line["service"] == "Volume")
    fee = next(i for i, line in enumerate(lines) if line["service"] == "Order fee")
    lines[index]["tier_scope"] = "week"
    lines[fee]["tier_scope"] = "order"
    with pytest.raises(ValidationFailed) as caught:
        rate_card_import(document=document)
    fields = caught.value.fields
    assert any(path.endswith(f"rate_card[{index}].tier_scope") for path in fields)
    assert any("only used by tiered lines" in message for messages in fields.values() for message in messages)


def test_the_admin_edits_the_tier_scope(explained_card, admin_client):
    customer, _ = explained_card
    line = customer.rate_card.get(service__name="Volume")
    url = f"/admin/billing/customerservice/{line.pk}/change/"
    page = admin_client.get(url)
    assert page.status_code == 200
    assert b'name="tier_scope"' in page.content
    assert b"Restart for each order" in page.content
