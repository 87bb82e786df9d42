import datetime as dt
import html
import re
from decimal import Decimal

import pytest
from django.contrib import admin
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse

from billing import models
from billing.services.lifecycle import report_finalize, report_void
from billing.services.reports import report_generate
from billing.services.tokens import api_token_create
from tests.factories import (
    CustomerServiceFactory,
    MembershipFactory,
    PriceTierFactory,
    ProductFactory,
    RuleFactory,
    RuleGroupFactory,
    ServiceFactory,
    UserFactory,
    order_with_lines,
)

pytestmark = pytest.mark.django_db


@pytest.fixture
def superuser():
    return UserFactory(username="root", is_staff=True, is_superuser=True)


@pytest.fixture
def client(client, superuser):
    client.force_login(superuser)
    return client


@pytest.fixture
def data(superuser):
    """One row in every table."""
    membership = MembershipFactory()
    customer = membership.customer
    product = ProductFactory(customer=customer, sku="ABC1")
    line = CustomerServiceFactory(
        customer=customer, service=ServiceFactory(name="Pick", charge_type=models.ChargeType.PER_UNIT)
    )
    line.skus.add(product)
    tiered = CustomerServiceFactory(
        customer=customer, service=ServiceFactory(name="Tiered", charge_type=models.ChargeType.TIERED)
    )
    PriceTierFactory(customer_service=tiered, up_to=Decimal("10"), unit_price=Decimal("1"))
    PriceTierFactory(customer_service=tiered, up_to=None, unit_price=Decimal("0.5"))
    group = RuleGroupFactory(customer_service=line)
    RuleFactory(rule_group=group)
    order_with_lines(customer=customer, lines={"ABC1": 3}, close_date=dt.datetime(2026, 8, 5, 12, tzinfo=dt.UTC))
    order_with_lines(customer=customer, lines={"ABC1": 1}, close_date=None, status="draft")  # listed as not closed
    # a minimum the August report tops up: a ReportOtherCharge; and a discount
    models.RateCardAdjustment.objects.create(customer=customer, kind="minimum", amount=Decimal("500.00"))
    models.RateCardAdjustment.objects.create(customer=customer, kind="discount", percent=Decimal("1"))
    period = {"customer_id": customer.pk, "start_date": dt.date(2026, 8, 1), "end_date": dt.date(2026, 8, 31)}
    report_generate(actor=superuser, **period)
    report = report_generate(actor=superuser, **period)  # supersedes the first
    september = {**period, "start_date": dt.date(2026, 9, 1), "end_date": dt.date(2026, 9, 30)}
    voided = report_generate(actor=superuser, **september)
    report_finalize(actor=superuser, report_id=voided.pk)
    report_void(actor=superuser, report_id=voided.pk, reason="Billed to the wrong entity")  # a credit note
    run = models.BillingRun.objects.create(start_date=dt.date(2026, 8, 1), end_date=dt.date(2026, 8, 31))
    job = models.ReportJob.objects.create(
        customer=customer, start_date=run.start_date, end_date=run.end_date, billing_run=run, report=report
    )
    models.IdempotencyKey.objects.create(
        user=superuser, key="k1", request_hash="0" * 64, report=report, job=job, expires_at=dt.datetime.now(dt.UTC)
    )
    token, raw = api_token_create(user=superuser, name="ci")
    add_activity(customer, line.service)
    return {"report": report, "token": token, "raw": raw, "group": group, "line": line, "customer": customer}


def add_activity(customer, service):
    """One row of each kind of billable activity beyond orders."""
    day = dt.date(2026, 8, 5)
    moment = dt.datetime(2026, 8, 5, 9, tzinfo=dt.UTC)
    models.InventorySnapshot.objects.create(
        customer=customer, snapshot_date=day, sku="ABC1", sku_key="ABC1", quantity=3
    )
    receipt = models.Receipt.objects.create(customer=customer, reference="ASN-1", received_at=moment)
    models.ReceiptLine.objects.create(receipt=receipt, sku="ABC1", sku_key="ABC1", quantity=3)
    returned = models.CustomerReturn.objects.create(customer=customer, reference="RMA-1", received_at=moment)
    models.ReturnLine.objects.create(customer_return=returned, sku="ABC1", sku_key="ABC1", quantity=1)
    models.ExtraWorkEntry.objects.create(
        customer=customer, reference="JOB-1", work_date=day, service=service, quantity=Decimal("1.5")
    )


def test_every_model_is_registered():
    # The admin cannot list a model keyed by several columns: BilledPair is shown per report.
    concrete = {
        model
        for model in models.__dict__.values()
        if isinstance(model, type) and issubclass(model, models.models.Model) and not model._meta.abstract
    }
    assert {model for model in concrete if model._meta.is_composite_pk} == {models.BilledPair}
    assert set(admin.site._registry) >= {model for model in concrete if not model._meta.is_composite_pk}


def test_changelist_and_change_pages_load_for_every_model(client, data):
    for model, model_admin in admin.site._registry.items():
        if model._meta.app_label != "billing":
            continue
        info = (model._meta.app_label, model._meta.model_name)
        response = client.get(reverse(f"admin:{info[0]}_{info[1]}_changelist"))
        assert response.status_code == 200, model
        obj = model_admin.get_queryset(response.wsgi_request).first()
        assert obj is not None, f"no {model.__name__} in the fixture"
        response = client.get(reverse(f"admin:{info[0]}_{info[1]}_change", args=[obj.pk]))
        assert response.status_code == 200, model
        if model_admin.has_add_permission(response.wsgi_request):
            assert client.get(reverse(f"admin:{info[0]}_{info[1]}_add")).status_code == 200, model


def test_search_and_filters_work(client, data):
    report = data["report"]
    url = reverse("admin:billing_billingreport_changelist")
    assert client.get(url, {"q": str(report.pk)[:8]}).status_code == 200
    assert client.get(url, {"status__exact": "superseded"}).status_code == 200
    assert client.get(url, {"customer__id__exact": report.customer_id}).status_code == 200
    assert client.get(reverse("admin:billing_order_changelist"), {"q": "TX"}).status_code == 200
    assert client.get(reverse("admin:billing_reportjob_changelist"), {"q": "not-a-uuid"}).status_code == 200


def test_reports_are_read_only(client, data):
    report = data["report"]
    change = reverse("admin:billing_billingreport_change", args=[report.pk])

    response = client.get(change)
    assert b"Service name" in response.content or b"service name" in response.content.lower()
    lines = set(models.ReportLine.objects.filter(report=report).values_list("order_id", "service_id"))
    held = len(lines & set(models.BilledPair.objects.values_list("order_id", "service_id")))
    assert held == len(lines) > 0
    assert re.search(rf"pairs held:?</label>\s*<div class=\"readonly\">{held}</div>", response.content.decode()), held
    assert client.get(reverse("admin:billing_billingreport_add")).status_code == 403
    assert client.post(change, {"total_amount": "0"}).status_code == 403
    assert (
        client.post(reverse("admin:billing_billingreport_delete", args=[report.pk]), {"post": "yes"}).status_code == 403
    )
    report.refresh_from_db()
    assert report.total_amount > 0


def test_api_token_shows_the_prefix_never_the_hash_and_can_be_revoked(client, data):
    token = data["token"]

    listing = client.get(reverse("admin:billing_apitoken_changelist")).content.decode()
    page = client.get(reverse("admin:billing_apitoken_change", args=[token.pk])).content.decode()

    assert token.prefix in listing and token.prefix in page
    assert token.key_hash not in listing and token.key_hash not in page
    assert data["raw"] not in listing and data["raw"] not in page
    assert client.get(reverse("admin:billing_apitoken_add")).status_code == 403

    response = client.post(
        reverse("admin:billing_apitoken_changelist"),
        {"action": "revoke", "_selected_action": [token.pk]},
        follow=True,
    )
    assert response.status_code == 200
    assert "Revoked 1 token." in response.content.decode()
    token.refresh_from_db()
    assert token.revoked_at is not None


def rule_formset(group, rows, *, existing=()):
    data = {
        "name": group.name,
        "customer_service": group.customer_service_id,
        "logic_operator": group.logic_operator,
        "rules-TOTAL_FORMS": str(len(existing) + len(rows)),
        "rules-INITIAL_FORMS": str(len(existing)),
        "rules-MIN_NUM_FORMS": "0",
        "rules-MAX_NUM_FORMS": "1000",
    }
    for index, (pk, field, operator, value) in enumerate([*existing, *[(None, *row) for row in rows]]):
        prefix = f"rules-{index}"
        data.update({f"{prefix}-field": field, f"{prefix}-operator": operator, f"{prefix}-value": value})
        data[f"{prefix}-rule_group"] = group.pk
        if pk is not None:
            data[f"{prefix}-id"] = pk
    return data


def test_invalid_rule_is_refused_with_a_message_naming_it(client, data):
    group = data["group"]
    existing = group.rules.get()
    url = reverse("admin:billing_rulegroup_change", args=[group.pk])

    response = client.post(
        url,
        rule_formset(
            group,
            [("weight_lb", "gt", "heavy")],
            existing=[(existing.pk, "ship_to_country", "gt", "US")],
        ),
    )

    assert response.status_code == 200  # the form is shown again with errors
    content = html.unescape(response.content.decode())
    assert f"Rule '#{existing.pk}': operator 'gt' is not valid for text field 'ship_to_country'" in content
    assert "Rule (weight_lb gt 'heavy'): value 'heavy' is not a number (numeric field 'weight_lb')" in content
    existing.refresh_from_db()
    assert (existing.operator, group.rules.count()) == ("eq", 1)


def test_valid_rules_are_saved_through_the_admin(client, data):
    group = data["group"]
    url = reverse("admin:billing_rulegroup_change", args=[group.pk])

    response = client.post(url, rule_formset(group, [("sku", "contains", "ABC-1"), ("weight_lb", "ge", "50")]))

    assert response.status_code == 302
    assert sorted(group.rules.values_list("field", "operator", "value")) == [
        ("ship_to_country", "eq", "US"),
        ("sku", "contains", "ABC-1"),
        ("weight_lb", "ge", "50"),
    ]


def test_standalone_rule_form_validates_too(client, data):
    group = data["group"]

    response = client.post(
        reverse("admin:billing_rule_add"),
        {"rule_group": group.pk, "field": "packages", "operator": "contains", "value": "2"},
    )

    assert response.status_code == 200
    assert "is not valid for numeric field" in response.content.decode()
    assert group.rules.count() == 1


def test_tier_order_is_validated_in_the_rate_card_line(client, data):
    line = models.CustomerService.objects.get(service__name="Tiered")
    tiers = list(line.tiers.all())
    post = {
        "customer": line.customer_id,
        "service": line.service_id,
        "unit_price": "0",
        "tier_basis": "",
        "is_active": "on",
        "tiers-TOTAL_FORMS": "2",
        "tiers-INITIAL_FORMS": "2",
        "tiers-MIN_NUM_FORMS": "0",
        "tiers-MAX_NUM_FORMS": "1000",
        "tiers-0-id": tiers[0].pk,
        "tiers-0-customer_service": line.pk,
        "tiers-0-up_to": "",
        "tiers-0-unit_price": "1",
        "tiers-1-id": tiers[1].pk,
        "tiers-1-customer_service": line.pk,
        "tiers-1-up_to": "",
        "tiers-1-unit_price": "0.5",
        "rule_groups-TOTAL_FORMS": "0",
        "rule_groups-INITIAL_FORMS": "0",
        "rule_groups-MIN_NUM_FORMS": "0",
        "rule_groups-MAX_NUM_FORMS": "1000",
    }

    response = client.post(reverse("admin:billing_customerservice_change", args=[line.pk]), post)

    assert response.status_code == 200
    assert "no upper bound but is not the last tier" in response.content.decode()


def test_changelist_queries_do_not_grow_with_rows(client, data):
    names = ("order", "orderline", "customerservice", "rulegroup", "rule", "product", "apitoken")

    def counts():
        result = {}
        for name in names:
            with CaptureQueriesContext(connection) as queries:
                assert client.get(reverse(f"admin:billing_{name}_changelist")).status_code == 200
            result[name] = len(queries)
        return result

    before = counts()
    customer = data["customer"]
    for index in range(20):
        order_with_lines(customer=customer, lines={f"S{index}": 1, "T": 2}, transaction_id=f"BULK{index}")
        line = CustomerServiceFactory(customer=customer, service=ServiceFactory(name=f"Extra {index}"))
        RuleFactory(rule_group=RuleGroupFactory(customer_service=line))
        ProductFactory(customer=customer)
        api_token_create(user=UserFactory())

    assert counts() == before


def test_product_skus_are_kept_as_entered_in_the_admin_and_compared_normalised(client, data):
    customer = data["customer"]

    response = client.post(
        reverse("admin:billing_product_add"),
        {"customer": customer.pk, "sku": " new-sku 1 ", "description": "", "case_size": "6"},
    )

    assert response.status_code == 302
    assert models.Product.objects.filter(customer=customer, sku="new-sku 1", sku_key="NEWSKU1", case_size=6).exists()

    clash = client.post(
        reverse("admin:billing_product_add"),
        {"customer": customer.pk, "sku": "NEW SKU-1", "description": "", "case_size": "6"},
    )
    assert clash.status_code == 200
    assert "already has the SKU &#x27;new-sku 1&#x27;" in clash.content.decode()
    assert models.Product.objects.filter(customer=customer, sku_key="NEWSKU1").count() == 1


def test_report_page_offers_downloads_through_the_audited_exporter(client, data, superuser):
    report = data["report"]
    page = client.get(reverse("admin:billing_billingreport_change", args=[report.pk])).content.decode()

    for fmt, content_type in (("csv", "text/csv"), ("json", "application/json"), ("pdf", "application/pdf")):
        url = reverse("admin:billing_billingreport_download", args=[report.pk, fmt])
        assert f'href="{url}"' in page and f"Download {fmt.upper()}" in page
        response = client.get(url)
        assert response.status_code == 200 and response["Content-Type"].startswith(content_type)
        assert response["Content-Disposition"] == f'attachment; filename="billing-report-{report.pk}.{fmt}"'
        assert b"".join(response.streaming_content)
    events = models.AuditEvent.objects.filter(report=report, action=models.AuditAction.DOWNLOADED)
    assert sorted(events.values_list("format", "interface", "actor")) == [
        ("csv", "admin", superuser.pk),
        ("json", "admin", superuser.pk),
        ("pdf", "admin", superuser.pk),
    ]
    assert client.get(reverse("admin:billing_billingreport_download", args=[report.pk, "xml"])).status_code == 404


def test_report_downloads_need_the_right_to_see_the_report(client, data):
    report = data["report"]
    client.force_login(UserFactory(username="clerk", is_staff=True))  # staff, without view_billingreport

    response = client.get(reverse("admin:billing_billingreport_download", args=[report.pk, "csv"]))

    assert response.status_code in (403, 404)
    assert not models.AuditEvent.objects.filter(report=report, action=models.AuditAction.DOWNLOADED).exists()


def test_reports_list_has_a_short_id_and_the_period_in_one_column(client, data):
    report = data["report"]

    page = client.get(reverse("admin:billing_billingreport_changelist")).content.decode()

    assert f">{str(report.pk)[:8]}</a>" in page
    assert "2026-08-01 – 2026-08-31" in page


def test_report_page_links_its_diff_against_the_report_it_superseded(client, data):
    report = data["report"]
    superseded = models.BillingReport.objects.get(superseded_by=report)
    page = client.get(reverse("admin:billing_billingreport_change", args=[report.pk])).content.decode()
    url = reverse("admin:billing_billingreport_diff", args=[report.pk])
    assert f'href="{url}"' in page

    line = models.CustomerService.objects.get(customer=report.customer, service__name="Pick")
    line.unit_price = Decimal("0.7700")
    line.save()
    newer = report_generate(
        actor=None, customer_id=report.customer_id, start_date=report.start_date, end_date=report.end_date
    )
    diff_page = client.get(reverse("admin:billing_billingreport_diff", args=[newer.pk]))

    assert diff_page.status_code == 200
    text = diff_page.content.decode()
    assert "price_changed" in text and "1 line: 0 added, 0 removed, 1 changed" in text
    chosen = client.get(url, {"against": str(superseded.pk)}).content.decode()
    assert "The two reports charge the same." in chosen
    csv_url = reverse("admin:billing_billingreport_diff_download", args=[newer.pk])
    response = client.get(csv_url, {"against": str(report.pk)})
    assert response.status_code == 200 and response["Content-Type"].startswith("text/csv")
    rows = b"".join(response.streaming_content).decode().splitlines()
    assert rows[0].startswith("row_type,") and rows[1].startswith("line,") and rows[-1].startswith("total,")


def test_a_report_diff_needs_the_right_to_see_the_report(client, data):
    client.force_login(UserFactory(username="clerk", is_staff=True))  # staff, without view_billingreport

    response = client.get(reverse("admin:billing_billingreport_diff", args=[data["report"].pk]))

    assert response.status_code in (403, 404)
