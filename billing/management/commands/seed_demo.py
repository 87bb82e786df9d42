"""manage.py seed_demo [--orders N] [--reset]: a realistic, deterministic demo data set."""

from __future__ import annotations

import datetime as dt
from typing import Any

from django.contrib.auth import get_user_model
from django.contrib.auth.models import Permission, User
from django.core.management.base import BaseCommand, CommandError, CommandParser
from django.db import transaction

from billing.errors import BillingError, error_text
from billing.management.demo import (
    CUSTOMERS,
    DEMO_USERS,
    SEED,
    SERVICES,
    TRANSACTION_PREFIX,
    order_rows,
    rate_card_document,
)
from billing.management.demo_activity import ACTIVITY_SERVICES, NORTHWIND, SUMMIT, activity_rows
from billing.models import (
    AuditEvent,
    BillingReport,
    Customer,
    CustomerMembership,
    CustomerReturn,
    CustomerService,
    ExtraWorkEntry,
    IdempotencyKey,
    Interface,
    InventorySnapshot,
    Order,
    OutputFormat,
    Product,
    Receipt,
    ReportJob,
    Service,
)
from billing.services.activity import activity_upsert
from billing.services.orders import orders_upsert
from billing.services.rate_cards import rate_card_import
from billing.services.reports import report_generate

DEFAULT_ORDERS = 5000
STAFF_PERMISSIONS = (
    "view_billingreport",
    "generate_report",
    "view_customer",
    "view_order",
    "view_service",
    "view_customerservice",
    "view_product",
)
# (customer index, start, end, output format); the first is generated twice so one report is superseded.
REPORTS = (
    (0, dt.date(2026, 8, 1), dt.date(2026, 8, 31), OutputFormat.PDF),
    (1, dt.date(2026, 8, 1), dt.date(2026, 8, 31), OutputFormat.CSV),
    (2, dt.date(2026, 8, 1), dt.date(2026, 8, 31), OutputFormat.JSON),
    (0, dt.date(2026, 9, 1), dt.date(2026, 9, 30), OutputFormat.JSON),
    (1, dt.date(2026, 9, 1), dt.date(2026, 9, 30), OutputFormat.PDF),
    (2, dt.date(2026, 9, 1), dt.date(2026, 9, 30), OutputFormat.CSV),
)


class Command(BaseCommand):
    help = (
        "Load a deterministic demo data set for local development: 3 customers with rate cards covering "
        "every charge model and rule kind, about 5,000 orders closed Aug-Oct 2026, generated reports (one "
        "superseded), and the users admin/admin (superuser), billing/billing (staff) and merchant/merchant "
        "(linked to Northwind Outfitters). Does nothing when the demo data is already there, unless --reset. "
        "FOR LOCAL DEMOS ONLY: the passwords are public."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument(
            "--orders", type=int, default=DEFAULT_ORDERS, help=f"Number of orders (default {DEFAULT_ORDERS})."
        )
        parser.add_argument("--reset", action="store_true", help="Delete the demo data first and seed it again.")

    def handle(self, *args: Any, **options: Any) -> None:
        count: int = options["orders"]
        if count < 0:
            raise CommandError("--orders must be 0 or more.")
        self.stderr.write(
            "seed_demo is for local demos only: it creates the users admin/admin, billing/billing and "
            "merchant/merchant with well-known passwords. Never run it against a real deployment.",
            style_func=self.style.WARNING,
        )
        names = [customer.company_name for customer in CUSTOMERS]
        if Customer.objects.filter(company_name__in=names).exists():
            if not options["reset"]:
                self.stdout.write("Demo data is already present; nothing to do (use --reset to recreate it).")
                return
            self._reset(names)
        try:
            self._seed(count)
        except BillingError as exc:
            raise CommandError(f"Seeding failed: {error_text(exc)}") from None

    @transaction.atomic
    def _reset(self, names: list[str]) -> None:
        customers = list(Customer.objects.filter(company_name__in=names).values_list("pk", flat=True))
        reports = BillingReport.objects.filter(customer_id__in=customers)
        AuditEvent.objects.filter(report__in=reports).delete()
        IdempotencyKey.objects.filter(report__in=reports).delete()
        ReportJob.objects.filter(customer_id__in=customers).delete()
        reports.update(superseded_by=None)
        reports.delete()
        Order.objects.filter(customer_id__in=customers).delete()
        for model in (InventorySnapshot, Receipt, CustomerReturn, ExtraWorkEntry):  # they protect their customer
            model.objects.filter(customer_id__in=customers).delete()
        CustomerService.objects.filter(customer_id__in=customers).delete()
        Product.objects.filter(customer_id__in=customers).delete()
        CustomerMembership.objects.filter(customer_id__in=customers).delete()
        Customer.objects.filter(pk__in=customers).delete()
        demo_services = [service["name"] for service in SERVICES + ACTIVITY_SERVICES]
        Service.objects.filter(name__in=demo_services, customer_services__isnull=True).delete()
        self.stdout.write("Removed the previous demo data.")

    def _seed(self, count: int) -> None:
        with transaction.atomic():
            rate_card_import(document=rate_card_document())
            customer_ids = dict(
                Customer.objects.filter(company_name__in=[c.company_name for c in CUSTOMERS]).values_list(
                    "company_name", "pk"
                )
            )
            admin = self._users(customer_ids[CUSTOMERS[0].company_name])
        result = orders_upsert(rows=order_rows(count, customer_ids), source="seed_demo", batch_size=2000)
        if result.errors:
            raise CommandError(f"Demo orders were rejected: {result.errors[:3]}")

        self._activity(customer_ids)

        ordered = [customer_ids[c.company_name] for c in CUSTOMERS]
        for index, start, end, output_format in (*REPORTS, REPORTS[0]):
            report_generate(
                actor=admin,
                customer_id=ordered[index],
                start_date=start,
                end_date=end,
                output_format=output_format,
                interface=Interface.COMMAND,
            )
        services = Service.objects.filter(name__in=[s["name"] for s in SERVICES + ACTIVITY_SERVICES]).count()
        orders = result.created + result.updated + result.unchanged
        self.stdout.write(
            f"Seeded {len(CUSTOMERS)} customers, {services} services, {orders} orders ({TRANSACTION_PREFIX}*) "
            f"and {len(REPORTS) + 1} reports (one superseded)."
        )
        self.stdout.write("Users: " + ", ".join(f"{name}/{name} ({role})" for name, role in DEMO_USERS) + ".")

    def _activity(self, customer_ids: dict[str, int]) -> None:
        """Storage, receiving, returns and extra work of the period (billing.management.demo_activity)."""
        skus = {
            name: [sku for sku, _, _ in c.products]
            for c in CUSTOMERS
            for name in [c.company_name]
            if name in (NORTHWIND, SUMMIT)
        }
        counts = []
        for kind, rows in activity_rows(customer_ids, skus, SEED).items():
            result = activity_upsert(kind, rows=rows, source="seed_demo")
            if result.errors:
                raise CommandError(f"Demo {kind} were rejected: {result.errors[:3]}")
            counts.append(f"{len(rows)} {kind.replace('_', ' ')}")
        self.stdout.write(f"Seeded activity: {', '.join(counts)}.")

    def _users(self, merchant_customer_id: int) -> User:
        """Create the demo users when missing; existing accounts keep their passwords."""
        admin = self._user("admin", is_staff=True, is_superuser=True)
        billing = self._user("billing", is_staff=True, is_superuser=False)
        billing.user_permissions.add(
            *Permission.objects.filter(content_type__app_label="billing", codename__in=STAFF_PERMISSIONS)
        )
        merchant = self._user("merchant", is_staff=False, is_superuser=False)
        CustomerMembership.objects.get_or_create(user=merchant, customer_id=merchant_customer_id)
        # A merchant may generate its own customer's reports (never another's), as the SPA's form offers.
        merchant.user_permissions.add(
            Permission.objects.get(content_type__app_label="billing", codename="generate_report")
        )
        return admin

    def _user(self, username: str, *, is_staff: bool, is_superuser: bool) -> User:
        user_model = get_user_model()
        user = user_model._default_manager.filter(username=username).first()
        if user is None:
            user = user_model(
                username=username, email=f"{username}@demo.example", is_staff=is_staff, is_superuser=is_superuser
            )
            user.set_password(username)
            user.save()
            self.stdout.write(f"Created user {username!r} with password {username!r}.")
        return user
