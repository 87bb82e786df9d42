"""Preview: the report a generation would write, to the cent, with nothing written."""

from __future__ import annotations

import copy
from decimal import Decimal

import pytest
from django.apps import apps

from billing.errors import PermissionDenied, ValidationFailed
from billing.models import BillingReport, ChargeType, CustomerService, ReportStatus
from billing.selectors.reports import report_lines_by_order, report_orders, report_service_totals
from billing.services.preview import PreviewRequest, report_preview
from billing.services.rate_cards import rate_card_export, rate_card_import
from billing.services.reports import report_generate
from tests.factories import (
    JANUARY,
    CustomerFactory,
    CustomerServiceFactory,
    PriceTierFactory,
    RuleFactory,
    RuleGroupFactory,
    ServiceFactory,
    UserFactory,
    make_orders,
)


def card(customer) -> dict[str, CustomerService]:
    """A fee per order, a pick per unit, a tiered line and a fee for Canada only."""
    lines = {
        "order": CustomerServiceFactory(
            customer=customer,
            service=ServiceFactory(name="Order fee", charge_type=ChargeType.PER_ORDER),
            unit_price=Decimal("1.5000"),
        ),
        "pick": CustomerServiceFactory(
            customer=customer,
            service=ServiceFactory(name="Pick", charge_type=ChargeType.PER_UNIT),
            unit_price=Decimal("0.2500"),
        ),
        "volume": CustomerServiceFactory(
            customer=customer,
            service=ServiceFactory(name="Volume", charge_type=ChargeType.TIERED),
            unit_price=Decimal("0"),
            tier_basis="per_unit",
        ),
        "export": CustomerServiceFactory(
            customer=customer,
            service=ServiceFactory(name="Export fee", charge_type=ChargeType.PER_ORDER),
            unit_price=Decimal("3.3333"),
        ),
    }
    PriceTierFactory(customer_service=lines["volume"], up_to=Decimal("20"), unit_price=Decimal("0.4100"))
    PriceTierFactory(customer_service=lines["volume"], up_to=None, unit_price=Decimal("0.2333"))
    RuleFactory(rule_group=RuleGroupFactory(customer_service=lines["export"]), field="ship_to_country", value="CA")
    return lines


@pytest.fixture
def priced(customer_a):
    lines = card(customer_a)
    orders = make_orders(customer_a, 12)
    for order in orders[::4]:
        order.ship_to_country = "CA"
        order.save()
    return lines


def request_for(customer, **extra) -> PreviewRequest:
    return PreviewRequest(**{"customer_id": customer.pk, "start_date": JANUARY[0], "end_date": JANUARY[1], **extra})


def generate(customer, **extra) -> BillingReport:
    return report_generate(actor=None, customer_id=customer.pk, start_date=JANUARY[0], end_date=JANUARY[1], **extra)


def figures_of_preview(preview) -> dict:
    report = preview.report
    return {
        "totals": (report.total_amount, report.order_count, report.unbilled_order_count, report.line_count),
        "service_totals": [
            (t.service_id, t.service_name, t.quantity, t.amount, t.order_count) for t in preview.service_totals
        ],
        "orders": [
            (
                order.transaction_id,
                order.total_amount,
                [(ln.service_id, ln.quantity, ln.unit_price, ln.amount) for ln in lines],
            )
            for order, lines in preview.orders
        ],
    }


def figures_of_report(report: BillingReport, orders: int = 100) -> dict:
    page = list(report_orders(report=report, billed=True)[:orders])
    lines = report_lines_by_order(report=report, order_ids=[order.order_id for order in page])
    return {
        "totals": (report.total_amount, report.order_count, report.unbilled_order_count, report.line_count),
        "service_totals": [
            (t.service_id, t.service_name, t.quantity, t.amount, t.order_count)
            for t in report_service_totals(report=report)
        ],
        "orders": [
            (
                order.transaction_id,
                order.total_amount,
                [(ln.service_id, ln.quantity, ln.unit_price, ln.amount) for ln in lines[order.order_id]],
            )
            for order in page
        ],
    }


def row_counts() -> dict[str, int]:
    """Every table of the billing app and the users (a generation may create the system user)."""
    models = [*apps.get_app_config("billing").get_models(), apps.get_model("auth", "User")]
    return {model._meta.label: model._base_manager.count() for model in models}


@pytest.mark.django_db
def test_a_preview_equals_the_report_generate_then_writes(customer_a, priced):
    preview = report_preview(None, request_for(customer_a, orders_limit=5))

    report = generate(customer_a)

    assert figures_of_preview(preview) == figures_of_report(report, orders=5)
    assert len(preview.orders) == 5
    assert preview.report.total_amount > 0
    assert preview.live_report is None and preview.diff is None
    assert preview.already_billed_pairs == 0


@pytest.mark.django_db(transaction=True)
def test_a_preview_writes_no_row(customer_a, priced):
    live = generate(customer_a)
    priced["pick"].unit_price = Decimal("0.3000")
    priced["pick"].save()
    before = row_counts()
    document = rate_card_export(customer_ids=[customer_a.pk])
    document["customers"][0]["rate_card"][0]["unit_price"] = "9.9900"

    current = report_preview(None, request_for(customer_a))
    drafted = report_preview(None, request_for(customer_a, rate_card_document=document))

    assert row_counts() == before
    assert current.live_report.pk == live.pk and current.diff is not None
    assert BillingReport.objects.get(pk=live.pk).status == ReportStatus.DRAFT  # not superseded
    assert drafted.report.total_amount != current.report.total_amount
    assert not BillingReport.objects.filter(pk__in=[current.report.pk, drafted.report.pk]).exists()
    assert CustomerService.objects.get(pk=priced["export"].pk).unit_price == Decimal("3.3333")


@pytest.mark.django_db
def test_the_preview_diffs_against_the_live_report(customer_a, priced):
    live = generate(customer_a)
    priced["pick"].unit_price = Decimal("0.3000")
    priced["pick"].save()

    preview = report_preview(None, request_for(customer_a))

    assert preview.live_report.pk == live.pk
    causes = {(line.service_name, line.cause) for line in preview.diff_lines}
    assert causes == {("Pick", "price_changed")}
    assert preview.diff.line_count == 12
    assert preview.diff.total_change == preview.report.total_amount - live.total_amount
    assert preview.already_billed_pairs == 0  # the live draft is the one a generation supersedes


@pytest.mark.django_db
def test_a_preview_under_a_draft_document_equals_a_generation_after_importing_it(customer_a, priced):
    document = rate_card_export(customer_ids=[customer_a.pk])
    draft = copy.deepcopy(document)
    lines = {line["service"]: line for line in draft["customers"][0]["rate_card"]}
    lines["Pick"]["unit_price"] = "0.3100"
    lines["Volume"]["tiers"][0]["unit_price"] = "0.5000"
    lines["Export fee"]["rule_groups"][0]["rules"][0]["value"] = "US"

    preview = report_preview(None, request_for(customer_a, rate_card_document=draft))

    rate_card_import(document=draft)
    report = generate(customer_a)
    assert figures_of_preview(preview) == figures_of_report(report)
    live = generate(customer_a)  # and without a document, the card now holds the draft
    assert report_preview(None, request_for(customer_a)).report.total_amount == live.total_amount


@pytest.mark.django_db
def test_a_bad_document_is_refused_with_its_errors(customer_a, priced):
    document = rate_card_export(customer_ids=[customer_a.pk])
    document["customers"][0]["rate_card"][0]["unit_price"] = "cheap"

    with pytest.raises(ValidationFailed) as raised:
        report_preview(
            None, request_for(customer_a, rate_card_document=document, end_date=JANUARY[0].replace(year=2024))
        )

    fields = raised.value.fields  # the document's errors and the period's, at once
    assert any(name.startswith("rate_card_document.customers[0].rate_card[0]") for name in fields), fields
    assert "end_date" in fields


@pytest.mark.django_db
def test_a_document_describing_another_customer_is_refused(customer_a, customer_b, priced):
    document = rate_card_export(customer_ids=[customer_a.pk, customer_b.pk])

    with pytest.raises(ValidationFailed) as raised:
        report_preview(None, request_for(customer_a, rate_card_document=document))

    assert list(raised.value.fields) == ["rate_card_document.customers[1]"]


@pytest.mark.django_db
def test_pairs_another_live_report_bills_are_counted_not_refused(customer_a, priced):
    partial = generate(customer_a, customer_service_ids=[priced["pick"].pk])

    preview = report_preview(None, request_for(customer_a))

    assert preview.already_billed_pairs == partial.line_count == 12
    assert preview.live_report is None  # the partial report has another scope


@pytest.mark.django_db
def test_a_preview_needs_generate_permission_for_the_customer(customer_a, priced, member_a):
    outsider = UserFactory(username="outsider", permissions=["generate_report"])
    with pytest.raises(PermissionDenied):
        report_preview(outsider, request_for(customer_a))
    other = CustomerFactory()
    with pytest.raises(PermissionDenied):
        report_preview(member_a, request_for(other))

    assert report_preview(member_a, request_for(customer_a)).report.order_count == 12
