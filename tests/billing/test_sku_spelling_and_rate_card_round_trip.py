"""SKUs are kept as entered wherever shown and compared normalised; rate cards travel between databases."""

import io
import json
from decimal import Decimal

import pytest
from django.core.management import CommandError, call_command
from django.test import Client
from django.urls import reverse
from pypdf import PdfReader

from billing.errors import ValidationFailed
from billing.exporters import report_export_unchecked
from billing.models import (
    AuditEvent,
    BillingReport,
    Customer,
    CustomerService,
    Interface,
    Order,
    PriceTier,
    Product,
    ReportLine,
    ReportNotClosedOrder,
    ReportOrder,
    ReportServiceTotal,
    Rule,
    RuleGroup,
    Service,
)
from billing.services.rate_cards import rate_card_import
from billing.services.reports import report_generate
from tests.billing.ledgerlink import order, product_line, write_orders, write_products
from tests.factories import JANUARY, CustomerFactory, staff_user
from tests.graphql_schema.helpers import data_of, gql

pytestmark = pytest.mark.django_db


def call(command, *args, stdin=None):
    out, err = io.StringIO(), io.StringIO()
    options = {"stdin": stdin} if stdin is not None else {}
    call_command(command, *map(str, args), stdout=out, stderr=err, **options)
    return out.getvalue(), err.getvalue()


def card_document(customer):
    return {
        "version": 1,
        "services": [
            {"name": "Case pick", "description": "", "charge_type": "case_pick"},
            {"name": "Kit fee", "description": "Orders with the kit", "charge_type": "per_order"},
        ],
        "customers": [
            {
                "id": customer.pk,
                "company_name": customer.company_name,
                "products": [{"sku": "Widget 7", "description": "widget", "case_size": 5}],
                "rate_card": [
                    {"service": "Case pick", "unit_price": "1.00", "skus": ["kit-a1"]},
                    {
                        "service": "Kit fee",
                        "unit_price": "3",
                        "rule_groups": [{"rules": [{"field": "sku", "operator": "contains", "value": "KIT-A1"}]}],
                    },
                ],
            }
        ],
    }


@pytest.fixture
def billed(tmp_path):
    """Products, a rate card and orders imported with different spellings of the same SKUs."""
    customer = CustomerFactory(company_name="Spelling Co")
    call(
        "import_products", write_products(tmp_path / "p.csv", [product_line(1, "KIT-A1", customer.pk, [("Case", 12)])])
    )
    document = tmp_path / "card.json"
    document.write_text(json.dumps(card_document(customer)))
    call("import_rate_card", document)
    rows = [
        order("K1", customer.pk, close_date="2025-01-10 12:00:00+00", sku_quantity='{"kit a1": 30, "widget-7": 11}'),
        order(
            "K2", customer.pk, close_date="2025-01-11 12:00:00+00", sku_quantity='[{"sku": "Widget 7", "quantity": 1}]'
        ),
    ]
    call("import_orders", write_orders(tmp_path / "orders.csv", rows))
    report = report_generate(actor=None, customer_id=customer.pk, start_date=JANUARY[0], end_date=JANUARY[1])
    return customer, report


def test_skus_are_compared_normalised_for_rules_assigned_skus_and_case_sizes(billed):
    customer, report = billed
    # K1: kit fee 3 (rule on "KIT-A1" matches "kit a1") + case pick of the assigned kit: 30 // 12 = 2 cases.
    # K2: no kit, and Widget 7 is not assigned to the case-pick line: nothing charged.
    assert (report.order_count, report.unbilled_order_count) == (1, 1)
    assert report.total_amount == Decimal("5.00")
    assert Product.objects.get(customer=customer, sku_key="KITA1").sku == "KIT-A1"


def test_skus_are_shown_as_entered_in_graphql_the_admin_the_exports_and_the_rate_card(billed):
    customer, report = billed
    client = Client()
    client.force_login(staff_user(is_superuser=True, is_staff=True))

    body = gql(
        client,
        "query($id: Int!) { orders(first: 5, filter: {customerId: $id}) { edges { node { transactionId "
        "lines { sku quantity } } } } }",
        {"id": customer.pk},
    )
    lines = {edge["node"]["transactionId"]: edge["node"]["lines"] for edge in data_of(body)["orders"]["edges"]}
    assert lines["K1"] == [{"sku": "kit a1", "quantity": 30}, {"sku": "widget-7", "quantity": 11}]

    page = client.get(reverse("admin:billing_product_changelist")).content.decode()
    assert "KIT-A1" in page and "Widget 7" in page and "KITA1" not in page

    out, _ = call("export_rate_card", "--customer", customer.pk)
    exported = json.loads(out)["customers"][0]
    assert [p["sku"] for p in exported["products"]] == ["KIT-A1", "Widget 7"]
    lines_by_service = {line["service"]: line for line in exported["rate_card"]}
    assert lines_by_service["Case pick"]["skus"] == ["KIT-A1"]
    assert lines_by_service["Kit fee"]["rule_groups"][0]["rules"][0]["value"] == "KIT-A1"

    for fmt in ("csv", "json"):
        text = b"".join(report_export_unchecked(report=report, fmt=fmt, actor=None, interface=Interface.COMMAND).chunks)
        assert b"KITA1" not in text and b"5.00" in text
    pdf = b"".join(report_export_unchecked(report=report, fmt="pdf", actor=None, interface=Interface.COMMAND).chunks)
    pdf_text = "".join(page.extract_text() for page in PdfReader(io.BytesIO(pdf)).pages)
    assert "KITA1" not in pdf_text and "5.00" in pdf_text


# --- rate cards: into an empty database, byte-identical ----------------------------------


def wipe_rate_cards():
    Order.objects.all().delete()
    for model in (Rule, RuleGroup, PriceTier, CustomerService, Product, Service):
        model.objects.all().delete()
    Customer.objects.all().delete()


def test_a_rate_card_exported_from_one_database_imports_into_an_empty_one_byte_identical(billed, tmp_path):
    customer, _ = billed
    CustomerFactory(company_name="Second", currency="CAD", email="ap@second.example", legal_business_name="")
    exported, _ = call("export_rate_card")
    path = tmp_path / "card.json"
    path.write_text(exported, encoding="utf-8")

    for model in (AuditEvent, ReportLine, ReportOrder, ReportNotClosedOrder, ReportServiceTotal, BillingReport):
        model.objects.all().delete()
    wipe_rate_cards()

    out, _ = call("import_rate_card", path)

    assert out.startswith("Imported. services: 2 created")
    assert "customers: 2 created" in out
    again, _ = call("export_rate_card")
    assert again.encode() == exported.encode()
    assert Customer.objects.get(pk=customer.pk).company_name == "Spelling Co"  # created with its id
    assert Customer.objects.create(company_name="After").pk > max(c["id"] for c in json.loads(exported)["customers"])

    out, _ = call("import_rate_card", path)
    assert out.startswith("Unchanged: the database already holds this rate card.")


def test_duplicate_keys_in_a_rate_card_document_are_refused_naming_the_key(tmp_path):
    path = tmp_path / "card.json"
    path.write_text(
        '{"version": 1, "services": [{"name": "A", "charge_type": "per_order", "charge_type": "per_unit"}],'
        ' "customers": []}'
    )

    err = io.StringIO()
    with pytest.raises(CommandError, match="1 error"):
        call_command("import_rate_card", str(path), stdout=io.StringIO(), stderr=err)

    assert err.getvalue().strip() == "services[0].charge_type: duplicate key: the document gives it more than once"
    assert not Service.objects.exists()


@pytest.mark.parametrize(
    ("text", "message"),
    [
        (
            '{"version": 1, "services": [{"name": "A\\u0000", "charge_type": "per_order"}], "customers": []}',
            "services[0].name: contains a NUL character",
        ),
        (
            '{"version": 1, "services": [], "customers": [], "x": ' + "[" * 50_000 + "]" * 50_000 + "}",
            "document: nested too deeply",
        ),
        (
            '{"version": 1, "services": [], "customers": [{"company_name": "C", "rate_card": [{"rule_groups": '
            '[{"rules": [[[[[[[[[["deep"]]]]]]]]]]}]}]}]}',
            "is nested too deeply",
        ),
    ],
)
def test_bad_rate_card_documents_are_refused_with_a_clear_message_and_nothing_written(tmp_path, text, message):
    path = tmp_path / "card.json"
    path.write_text(text)
    err = io.StringIO()

    with pytest.raises(CommandError) as caught:
        call_command("import_rate_card", str(path), stdout=io.StringIO(), stderr=err)

    assert "nothing was imported" in str(caught.value)
    assert message in err.getvalue()
    assert not Service.objects.exists() and not Customer.objects.exists()


def test_a_recursive_document_built_in_code_is_refused():
    document = {"version": 1, "services": [], "customers": []}
    document["customers"].append(document)

    with pytest.raises(ValidationFailed) as caught:
        rate_card_import(document=document)

    assert any("nested too deeply" in message for messages in caught.value.fields.values() for message in messages)
    assert not Customer.objects.exists()


def test_a_rate_card_file_that_is_not_utf8_is_refused(tmp_path):
    path = tmp_path / "card.json"
    path.write_bytes(b'{"version": 1, "services": [], "customers": [{"company_name": "\xff"}]}')

    with pytest.raises(CommandError, match="not UTF-8 text"):
        call("import_rate_card", path)
    assert not Customer.objects.exists()
