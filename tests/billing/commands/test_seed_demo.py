import datetime as dt
import io

import pytest
from django.contrib.auth import get_user_model
from django.core.management import call_command

from billing.models import (
    BillingReport,
    ChargeType,
    Customer,
    CustomerService,
    InventorySnapshot,
    Order,
    OrderLine,
    OrderStatus,
    ReportOtherCharge,
    ReportStatus,
    Rule,
    RuleGroup,
    Service,
)
from billing.permissions import can_generate, visible_customer_ids
from billing.pricing import FIELD_KINDS
from billing.pricing.charges import ACTIVITY_CHARGE_TYPES

pytestmark = pytest.mark.django_db


def seed(*args):
    out, err = io.StringIO(), io.StringIO()
    call_command("seed_demo", *args, stdout=out, stderr=err)
    return out.getvalue(), err.getvalue()


def snapshot():
    orders = [
        (
            o.transaction_id,
            o.customer.company_name,
            o.close_date,
            o.status,
            o.weight_lb,
            o.volume_cuft,
            o.packages,
            o.ship_to_country,
            o.carrier,
            o.notes,
            o.reference_number,
        )
        for o in Order.objects.select_related("customer").order_by("transaction_id")
    ]
    lines = list(
        OrderLine.objects.order_by("order__transaction_id", "sku").values_list(
            "order__transaction_id", "sku", "quantity"
        )
    )
    rules = list(
        Rule.objects.order_by(
            "rule_group__customer_service__customer__company_name", "rule_group__customer_service__service__name", "id"
        ).values_list(
            "rule_group__customer_service__service__name", "rule_group__logic_operator", "field", "operator", "value"
        )
    )
    totals = list(
        BillingReport.objects.order_by("customer__company_name", "start_date", "status").values_list(
            "customer__company_name", "start_date", "status", "total_amount", "line_count"
        )
    )
    return orders, lines, rules, totals


def test_default_demo_data_set():
    out, err = seed()

    assert "local demos only" in err
    assert Customer.objects.count() == 3
    assert Order.objects.count() == 5000
    assert Service.objects.count() == 24
    assert set(Service.objects.values_list("charge_type", flat=True)) == set(ChargeType.values)
    closes = Order.objects.order_by("close_date").values_list("close_date", flat=True)
    assert closes.first() >= dt.datetime(2026, 8, 1, tzinfo=dt.UTC)
    assert closes.last() <= dt.datetime(2026, 11, 1, tzinfo=dt.UTC)
    assert Order.objects.filter(status__iexact=OrderStatus.CANCELLED).count() > 50
    assert Order.objects.filter(ship_to_country="CA").count() > 200
    assert Order.objects.filter(weight_lb__gt=50).count() > 50
    # Rules of every kind, with several logic operators.
    order_rules = Rule.objects.exclude(rule_group__customer_service__service__charge_type__in=ACTIVITY_CHARGE_TYPES)
    used_fields = set(order_rules.values_list("field", flat=True))
    assert {FIELD_KINDS[f] for f in used_fields} == {"text", "numeric", "sku"}
    # Every kind of activity is billed, and every kind of adjustment applied, in the demo reports.
    billed = ReportOtherCharge.objects.filter(report__status=ReportStatus.DRAFT)
    assert set(billed.values_list("source", flat=True)) == {
        "storage",
        "receiving",
        "returns",
        "extra_work",
        "adjustment",
    }
    assert set(billed.values_list("charge_type", flat=True)) == set(ACTIVITY_CHARGE_TYPES) | {
        "minimum",
        "surcharge",
        "discount",
    }
    assert InventorySnapshot.objects.count() > 1000
    assert len(set(RuleGroup.objects.values_list("logic_operator", flat=True))) >= 5
    assert CustomerService.objects.filter(service__charge_type=ChargeType.TIERED).get().tiers.count() == 3
    # Reports: one per customer and month for Aug and Sep, August of the first customer regenerated.
    assert BillingReport.objects.count() == 7
    superseded = BillingReport.objects.get(status=ReportStatus.SUPERSEDED)
    assert superseded.superseded_by.status == ReportStatus.DRAFT
    assert superseded.customer.company_name == "Northwind Outfitters"
    assert all(report.total_amount > 0 for report in BillingReport.objects.all())
    # Users.
    User = get_user_model()
    admin, billing, merchant = (User.objects.get(username=name) for name in ("admin", "billing", "merchant"))
    assert admin.is_superuser and admin.check_password("admin")
    assert billing.is_staff and not billing.is_superuser and billing.check_password("billing")
    assert can_generate(billing) and visible_customer_ids(billing) is None
    assert merchant.check_password("merchant") and not merchant.is_staff
    assert merchant.has_perm("billing.generate_report") and not merchant.has_perm("billing.view_billingreport")
    assert visible_customer_ids(merchant) == {Customer.objects.get(company_name="Northwind Outfitters").pk}
    assert "Seeded 3 customers, 24 services, 5000 orders" in out


def test_second_run_is_a_no_op():
    seed("--orders", "200")
    before = snapshot()
    report_ids = set(BillingReport.objects.values_list("pk", flat=True))

    out, _ = seed("--orders", "200")

    assert "already present" in out
    assert snapshot() == before
    assert set(BillingReport.objects.values_list("pk", flat=True)) == report_ids
    assert get_user_model().objects.filter(username="admin").count() == 1


def test_reset_recreates_the_same_data():
    seed("--orders", "300")
    first = snapshot()
    first_reports = set(BillingReport.objects.values_list("pk", flat=True))

    out, _ = seed("--orders", "300", "--reset")

    assert "Removed the previous demo data" in out
    assert snapshot() == first
    assert Order.objects.count() == 300
    assert first_reports.isdisjoint(BillingReport.objects.values_list("pk", flat=True))
