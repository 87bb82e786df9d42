"""factory-boy factories for the billing domain, shared by every test package."""

import datetime as dt
from decimal import Decimal

import factory
from django.contrib.auth import get_user_model
from django.contrib.auth.models import Permission

from billing import models
from billing.pricing import normalize_sku


class UserFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = get_user_model()
        django_get_or_create = ("username",)
        skip_postgeneration_save = True

    username = factory.Sequence(lambda n: f"user{n}")
    email = factory.LazyAttribute(lambda u: f"{u.username}@example.com")
    password = factory.django.Password("correct-horse-battery")

    @factory.post_generation
    def permissions(self, create, extracted, **kwargs):
        """UserFactory(permissions=["view_billingreport", "generate_report"])."""
        if create and extracted:
            self.user_permissions.add(
                *Permission.objects.filter(content_type__app_label="billing", codename__in=extracted)
            )


def staff_user(*, generate: bool = True, **kwargs):
    """A billing staff member: may view every report, and generate when `generate`."""
    perms = ["view_billingreport", "view_order", "view_customer"] + (["generate_report"] if generate else [])
    return UserFactory(permissions=perms, **kwargs)


class CustomerFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = models.Customer

    company_name = factory.Sequence(lambda n: f"Merchant {n}")
    legal_business_name = factory.LazyAttribute(lambda c: f"{c.company_name} LLC")
    email = factory.Sequence(lambda n: f"billing{n}@merchant.example")


class MembershipFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = models.CustomerMembership

    user = factory.SubFactory(UserFactory)
    customer = factory.SubFactory(CustomerFactory)


class ProductFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = models.Product

    customer = factory.SubFactory(CustomerFactory)
    sku = factory.Sequence(lambda n: f"SKU{n:05d}")
    sku_key = factory.LazyAttribute(lambda p: normalize_sku(p.sku))
    case_size = 12


class ServiceFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = models.Service
        django_get_or_create = ("name",)

    name = factory.Sequence(lambda n: f"Service {n}")
    charge_type = models.ChargeType.PER_ORDER


class CustomerServiceFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = models.CustomerService

    customer = factory.SubFactory(CustomerFactory)
    service = factory.SubFactory(ServiceFactory)
    unit_price = Decimal("1.5000")


class PriceTierFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = models.PriceTier

    customer_service = factory.SubFactory(CustomerServiceFactory)
    up_to = None
    unit_price = Decimal("0.3000")


class RuleGroupFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = models.RuleGroup

    customer_service = factory.SubFactory(CustomerServiceFactory)
    logic_operator = models.RuleGroupLogic.AND


class RuleFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = models.Rule

    rule_group = factory.SubFactory(RuleGroupFactory)
    field = "ship_to_country"
    operator = "eq"
    value = "US"


class OrderFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = models.Order

    transaction_id = factory.Sequence(lambda n: f"TX{n:08d}")
    customer = factory.SubFactory(CustomerFactory)
    reference_number = factory.Sequence(lambda n: f"REF-{n}")
    close_date = factory.LazyFunction(lambda: dt.datetime(2025, 1, 15, 12, 0, tzinfo=dt.UTC))
    status = models.OrderStatus.COMPLETED
    ship_to_name = "John Smith"
    ship_to_address = "123 Test St"
    ship_to_city = "Springfield"
    ship_to_state = "IL"
    ship_to_country = "US"
    carrier = "UPS"
    weight_lb = Decimal("2.500")
    volume_cuft = Decimal("0.800")
    packages = 1
    line_items = 0
    total_item_qty = 0


class OrderLineFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = models.OrderLine

    order = factory.SubFactory(OrderFactory)
    sku = factory.Sequence(lambda n: f"SKU{n:05d}")
    quantity = 1


def order_with_lines(*, lines: dict[str, int], **kwargs) -> models.Order:
    """An order whose line_items and total_item_qty agree with its SKU lines."""
    order = OrderFactory(line_items=len(lines), total_item_qty=sum(lines.values()), **kwargs)
    for sku, qty in lines.items():
        OrderLineFactory(order=order, sku=sku, quantity=qty)
    return order


JANUARY = (dt.date(2025, 1, 1), dt.date(2025, 1, 31))


def make_orders(customer, count: int, *, month: int = 1, day: int = 15, prefix: str = "") -> list[models.Order]:
    """`count` orders closed on 2025-month-day, one minute apart, with two SKU lines each."""
    return [
        order_with_lines(
            customer=customer,
            transaction_id=f"{prefix or customer.pk}-TX{index:05d}",
            close_date=dt.datetime(2025, month, day, 12, 0, tzinfo=dt.UTC) + dt.timedelta(minutes=index),
            lines={f"SKU{index % 3}": 1 + index % 4, "BASE": 2},
        )
        for index in range(count)
    ]


def submit_job(*, actor, **fields) -> models.ReportJob:
    """Queue a report job as `actor` for the ReportRequest of `fields` (no rate limit)."""
    from billing.report_request import ReportRequest
    from billing.services.generate import report_job_submit

    return report_job_submit(actor, ReportRequest(**fields))


def repriced_report(
    customer, *, service_name: str = "Pick per unit", unit_price: str = "0.3000"
) -> models.BillingReport:
    """Set the price of the customer's rate-card line `service_name` and generate January again."""
    from billing.services.reports import report_generate

    line = models.CustomerService.objects.get(customer=customer, service__name=service_name)
    line.unit_price = Decimal(unit_price)
    line.save()
    return report_generate(actor=None, customer_id=customer.pk, start_date=JANUARY[0], end_date=JANUARY[1])
