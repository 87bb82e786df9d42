"""The billing domain's tables (docs/architecture.md, "Domain rules").

Models hold data and database constraints only: no signals and no logic in save().
Every write goes through a service in billing/services/.
"""

import uuid
from decimal import Decimal

from django.conf import settings
from django.core.validators import MinValueValidator
from django.db import models
from django.db.models import F, Q

ZERO = Decimal("0")


class Customer(models.Model):
    """A merchant whose orders the warehouse fulfils and bills."""

    company_name = models.CharField(max_length=255)
    legal_business_name = models.CharField(max_length=255, blank=True)
    email = models.EmailField(blank=True)
    phone = models.CharField(max_length=50, blank=True)
    billing_address = models.TextField(blank=True, help_text="Postal address printed on statements, one line per line.")
    is_active = models.BooleanField(default=True)
    currency = models.CharField(max_length=3, default="USD", help_text="ISO 4217 code.")
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["company_name", "id"]

    def __str__(self) -> str:
        return self.company_name


class CustomerMembership(models.Model):
    """Links a user to a customer: the user sees only that customer's data."""

    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="customer_memberships")
    customer = models.ForeignKey(Customer, on_delete=models.CASCADE, related_name="memberships")
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        constraints = [models.UniqueConstraint(fields=["user", "customer"], name="uniq_membership_user_customer")]

    def __str__(self) -> str:
        return f"{self.user} @ {self.customer}"


class Product(models.Model):
    """A customer's SKU; case_size is the number of units in a full case."""

    customer = models.ForeignKey(Customer, on_delete=models.CASCADE, related_name="products")
    sku = models.CharField(max_length=100, help_text="As entered (shown everywhere as it is).")
    sku_key = models.CharField(
        max_length=100,
        editable=False,
        help_text="The SKU normalised for comparison (billing.pricing.normalize_sku): unique per customer.",
    )
    description = models.CharField(max_length=255, blank=True)
    case_size = models.PositiveIntegerField(default=1, validators=[MinValueValidator(1)])

    class Meta:
        ordering = ["customer_id", "sku_key"]
        constraints = [
            models.UniqueConstraint(fields=["customer", "sku_key"], name="uniq_product_customer_sku_key"),
            models.CheckConstraint(condition=Q(case_size__gte=1), name="product_case_size_gte_1"),
        ]

    def __str__(self) -> str:
        return self.sku


class ChargeType(models.TextChoices):
    PER_ORDER = "per_order", "Per order"
    PER_UNIT = "per_unit", "Per unit"
    PER_SKU = "per_sku", "Per distinct SKU"
    PER_LINE = "per_line", "Per order line"
    PER_PACKAGE = "per_package", "Per package"
    PER_WEIGHT_LB = "per_weight_lb", "Per lb"
    PER_VOLUME_CUFT = "per_volume_cuft", "Per cubic foot"
    CASE_PICK = "case_pick", "Case pick"
    EACH_PICK = "each_pick", "Each pick"
    TIERED = "tiered", "Tiered (graduated)"
    # Activity beyond outbound orders (billing.pricing.activity): these lines price no order.
    STORAGE_PALLET = "storage_pallet", "Storage per pallet"
    STORAGE_LOCATION = "storage_location", "Storage per location"
    STORAGE_CUFT = "storage_cuft", "Storage per cubic foot"
    RECEIVING_RECEIPT = "receiving_receipt", "Receiving per receipt"
    RECEIVING_PALLET = "receiving_pallet", "Receiving per pallet"
    RECEIVING_CARTON = "receiving_carton", "Receiving per carton"
    RECEIVING_UNIT = "receiving_unit", "Receiving per unit"
    RECEIVING_HOUR = "receiving_hour", "Receiving per labour hour"
    RETURN_ORDER = "return_order", "Returns per return"
    RETURN_UNIT = "return_unit", "Returns per unit"
    EXTRA_WORK = "extra_work", "Extra work"


class StoragePeriod(models.TextChoices):
    """What a storage line's unit price is per (billing.pricing.charges.STORAGE_PERIODS)."""

    DAY = "day", "Per unit per day"
    MONTH = "month", "Per unit per month"


class StorageBasis(models.TextChoices):
    """How a storage line turns daily quantities into the quantity charged (STORAGE_BASES)."""

    DAILY_SUM = "daily_sum", "Sum of the daily quantities"
    AVERAGE = "average", "Average daily quantity"
    PEAK = "peak", "Highest daily quantity"
    END_OF_PERIOD = "end_of_period", "Quantity on the last day with a snapshot"


class TierScope(models.TextChoices):
    """Over what a tiered line's bands are graduated (billing.pricing.charges.TIER_SCOPES)."""

    PERIOD = "period", "Graduated over the period"
    ORDER = "order", "Restart for each order"


class Service(models.Model):
    """A billable service in the catalogue."""

    name = models.CharField(max_length=255, unique=True)
    description = models.TextField(blank=True)
    charge_type = models.CharField(max_length=32, choices=ChargeType.choices)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["name"]

    def __str__(self) -> str:
        return self.name


class CustomerService(models.Model):
    """A rate-card line: what one customer pays for one service, and when it applies."""

    customer = models.ForeignKey(Customer, on_delete=models.CASCADE, related_name="rate_card")
    service = models.ForeignKey(Service, on_delete=models.PROTECT, related_name="customer_services")
    unit_price = models.DecimalField(max_digits=12, decimal_places=4, default=ZERO)
    tier_basis = models.CharField(
        max_length=32,
        choices=ChargeType.choices,
        blank=True,
        help_text="For tiered services: the quantity the tiers are graduated over (default per_unit).",
    )
    tier_scope = models.CharField(
        max_length=16,
        choices=TierScope.choices,
        default=TierScope.PERIOD,
        help_text="For tiered services: 'period' graduates the bands over the period's cumulative quantity; "
        "'order' restarts them for each order (first unit at one price, each additional unit at another).",
    )
    skus = models.ManyToManyField(Product, blank=True, related_name="customer_services")
    storage_period = models.CharField(
        max_length=8,
        choices=StoragePeriod.choices,
        blank=True,
        default="",
        help_text="Storage lines: the price is per unit per day or per month (empty: month).",
    )
    storage_basis = models.CharField(
        max_length=16,
        choices=StorageBasis.choices,
        blank=True,
        default="",
        help_text="Storage lines: daily sum, average, peak or end of period (empty: average). "
        "See docs/rate-card-format.md.",
    )
    is_active = models.BooleanField(default=True)
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["customer_id", "service__name"]
        verbose_name = "rate-card line"
        constraints = [
            models.UniqueConstraint(fields=["customer", "service"], name="uniq_customer_service"),
            models.CheckConstraint(condition=Q(unit_price__gte=0), name="customer_service_price_gte_0"),
            models.CheckConstraint(
                condition=Q(tier_scope__in=["period", "order"]), name="customer_service_tier_scope_valid"
            ),
            models.CheckConstraint(
                condition=Q(storage_period__in=["", "day", "month"]), name="customer_service_storage_period_valid"
            ),
            models.CheckConstraint(
                condition=Q(storage_basis__in=["", "daily_sum", "average", "peak", "end_of_period"]),
                name="customer_service_storage_basis_valid",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.customer} / {self.service}"


class PriceTier(models.Model):
    """One band of a graduated price: quantities above the previous band up to `up_to`."""

    customer_service = models.ForeignKey(CustomerService, on_delete=models.CASCADE, related_name="tiers")
    up_to = models.DecimalField(
        max_digits=14, decimal_places=4, null=True, blank=True, help_text="Upper bound; empty for the last band."
    )
    unit_price = models.DecimalField(max_digits=12, decimal_places=4)

    class Meta:
        ordering = ["customer_service_id", F("up_to").asc(nulls_last=True)]
        constraints = [
            models.CheckConstraint(condition=Q(unit_price__gte=0), name="price_tier_price_gte_0"),
            models.CheckConstraint(condition=Q(up_to__isnull=True) | Q(up_to__gt=0), name="price_tier_up_to_gt_0"),
            models.UniqueConstraint(fields=["customer_service", "up_to"], name="uniq_price_tier_bound"),
        ]

    def __str__(self) -> str:
        return f"up to {self.up_to or '∞'} at {self.unit_price}"


class RuleGroupLogic(models.TextChoices):
    AND = "AND", "All rules true"
    OR = "OR", "Any rule true"
    NOT = "NOT", "No rule true"
    XOR = "XOR", "Exactly one rule true"
    NAND = "NAND", "Not all rules true"
    NOR = "NOR", "No rule true (NOR)"


class RuleGroup(models.Model):
    """Rules combined by one logic operator; a rate-card line applies when any group is true."""

    customer_service = models.ForeignKey(CustomerService, on_delete=models.CASCADE, related_name="rule_groups")
    logic_operator = models.CharField(max_length=4, choices=RuleGroupLogic.choices, default=RuleGroupLogic.AND)
    name = models.CharField(max_length=255, blank=True)

    class Meta:
        ordering = ["customer_service_id", "id"]

    def __str__(self) -> str:
        return self.name or f"{self.logic_operator} group #{self.pk}"


class Rule(models.Model):
    """(field, operator, value); several values are separated by ';'. Validated on save by services."""

    rule_group = models.ForeignKey(RuleGroup, on_delete=models.CASCADE, related_name="rules")
    field = models.CharField(max_length=32)
    operator = models.CharField(max_length=16)
    value = models.CharField(max_length=1000)

    class Meta:
        ordering = ["rule_group_id", "id"]

    def __str__(self) -> str:
        return f"{self.field} {self.operator} {self.value!r}"


class OrderStatus(models.TextChoices):
    """Common status values. An order's status is free text, stored as given (see
    billing.statuses for which statuses are billable)."""

    OPEN = "open", "Open"
    PROCESSING = "processing", "Processing"
    SHIPPED = "shipped", "Shipped"
    COMPLETED = "completed", "Completed"
    CANCELLED = "cancelled", "Cancelled"


STATUS_MAX_LENGTH = 64


class Order(models.Model):
    """An order the warehouse fulfilled, as exported by the WMS."""

    transaction_id = models.CharField(max_length=64)  # unique: uniq_order_transaction_id
    # Indexed by order_customer_close_idx (customer first): no index of its own to maintain on import.
    customer = models.ForeignKey(Customer, on_delete=models.PROTECT, related_name="orders", db_index=False)
    reference_number = models.CharField(max_length=100, blank=True)
    close_date = models.DateTimeField(null=True, blank=True, db_index=True)
    status = models.CharField(max_length=STATUS_MAX_LENGTH, blank=True, default=OrderStatus.COMPLETED)
    priority = models.CharField(max_length=32, blank=True)
    ship_to_name = models.CharField(max_length=255, blank=True)
    ship_to_company = models.CharField(max_length=255, blank=True)
    ship_to_address = models.CharField(max_length=255, blank=True)
    ship_to_address2 = models.CharField(max_length=255, blank=True)
    ship_to_city = models.CharField(max_length=100, blank=True)
    ship_to_state = models.CharField(max_length=100, blank=True)
    ship_to_zip = models.CharField(max_length=32, blank=True)
    ship_to_country = models.CharField(max_length=100, blank=True)
    carrier = models.CharField(max_length=100, blank=True)
    weight_lb = models.DecimalField(max_digits=12, decimal_places=3, default=ZERO)
    volume_cuft = models.DecimalField(max_digits=12, decimal_places=3, default=ZERO)
    packages = models.PositiveIntegerField(default=0)
    line_items = models.PositiveIntegerField(default=0)
    total_item_qty = models.PositiveIntegerField(default=0)
    notes = models.TextField(blank=True)
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["close_date", "id"]
        indexes = [models.Index(fields=["customer", "close_date"], name="order_customer_close_idx")]
        constraints = [
            # A constraint rather than unique=True: PostgreSQL then gets no second (LIKE) index on the column.
            models.UniqueConstraint(fields=["transaction_id"], name="uniq_order_transaction_id"),
            models.CheckConstraint(condition=Q(weight_lb__gte=0), name="order_weight_gte_0"),
            models.CheckConstraint(condition=Q(volume_cuft__gte=0), name="order_volume_gte_0"),
        ]

    def __str__(self) -> str:
        return self.transaction_id


class OrderLine(models.Model):
    """One SKU line of an order."""

    # Indexed by uniq_order_line_sku (order first). No foreign-key constraint in the database: its
    # per-row check at commit was a third of what PostgreSQL spent on an import. Lines are written
    # by the orders import, for orders it created or locked in the same transaction, and by the
    # admin, whose form checks the order; they are deleted with their order (on_delete, applied by
    # Django).
    order = models.ForeignKey(
        Order, on_delete=models.CASCADE, related_name="lines", db_index=False, db_constraint=False
    )
    sku = models.CharField(max_length=100)
    quantity = models.PositiveIntegerField()

    class Meta:
        ordering = ["order_id", "sku"]
        constraints = [
            models.UniqueConstraint(fields=["order", "sku"], name="uniq_order_line_sku"),
            models.CheckConstraint(condition=Q(quantity__gte=0), name="order_line_quantity_gte_0"),
        ]

    def __str__(self) -> str:
        return f"{self.sku} x {self.quantity}"


class OutputFormat(models.TextChoices):
    CSV = "csv", "CSV"
    JSON = "json", "JSON"
    PDF = "pdf", "PDF"


class ReportStatus(models.TextChoices):
    """A report's lifecycle: draft -> finalized -> voided; a draft may be superseded instead."""

    DRAFT = "draft", "Draft"
    FINALIZED = "finalized", "Finalized"
    SUPERSEDED = "superseded", "Superseded"
    VOIDED = "voided", "Voided"


# The former name of DRAFT (a generated report that was not replaced), kept for callers of the old name.
setattr(ReportStatus, "CURRENT", ReportStatus.DRAFT)  # noqa: B010 - not an enum member, an alias attribute

# The statuses of reports that count: totals, summaries and analytics read only these.
# A superseded report was replaced by a regeneration and a voided one was cancelled: neither counts.
LIVE_REPORT_STATUSES: tuple[str, ...] = (ReportStatus.DRAFT, ReportStatus.FINALIZED)
# The statuses of issued reports (a number was given): what a customer-linked user always sees.
ISSUED_REPORT_STATUSES: tuple[str, ...] = (ReportStatus.FINALIZED, ReportStatus.VOIDED)


class BillingReport(models.Model):
    """An immutable snapshot of what a customer owes for a period."""

    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    customer = models.ForeignKey(Customer, on_delete=models.PROTECT, related_name="reports")
    start_date = models.DateField()
    end_date = models.DateField()
    currency = models.CharField(max_length=3, default="USD")
    total_amount = models.DecimalField(max_digits=16, decimal_places=2, default=ZERO)
    order_count = models.PositiveIntegerField(default=0, help_text="Billable orders that at least one line priced.")
    line_count = models.PositiveIntegerField(default=0)
    unbilled_order_count = models.PositiveIntegerField(
        default=0, help_text="Billable orders that no rate-card line applied to."
    )
    not_closed_order_count = models.PositiveIntegerField(
        default=0, help_text="The customer's orders without a close date (never billable), listed apart."
    )
    unbilled_activity = models.JSONField(
        default=dict,
        blank=True,
        help_text="Activity of the period no rate-card line priced: receipts, returns, extra_work (records) "
        "and snapshot_days (days with snapshots no storage line counted).",
    )
    output_format = models.CharField(max_length=8, choices=OutputFormat.choices, default=OutputFormat.JSON)
    status = models.CharField(max_length=16, choices=ReportStatus.choices, default=ReportStatus.DRAFT)
    scope_key = models.TextField(
        blank=True,
        default="",
        help_text="Empty for the whole rate card; else the selected rate-card line ids, sorted, comma-separated.",
    )
    invoice_number = models.CharField(max_length=64, blank=True, default="", help_text="Assigned when finalized.")
    finalized_at = models.DateTimeField(null=True, blank=True)
    finalized_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    voided_at = models.DateTimeField(null=True, blank=True)
    voided_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    void_reason = models.TextField(blank=True, default="")
    superseded_by = models.ForeignKey("self", null=True, blank=True, on_delete=models.SET_NULL, related_name="+")
    billing_time_zone = models.CharField(max_length=64, default="UTC")
    generated_at = models.DateTimeField()
    created_at = models.DateTimeField(auto_now_add=True)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="billing_reports"
    )

    class Meta:
        ordering = ["-created_at", "id"]
        permissions = [
            ("generate_report", "Can generate billing reports"),
            ("finalize_report", "Can finalize billing reports (issue invoices)"),
            ("void_report", "Can void finalized billing reports (issue credit notes)"),
        ]
        indexes = [
            models.Index(fields=["customer", "start_date", "end_date"], name="report_customer_period_idx"),
            models.Index(fields=["created_at"], name="report_created_idx"),
        ]
        constraints = [
            models.CheckConstraint(condition=Q(start_date__lte=F("end_date")), name="report_period_start_lte_end"),
            models.UniqueConstraint(
                fields=["customer", "start_date", "end_date", "scope_key"],
                condition=Q(status="draft"),
                name="uniq_draft_report_per_scope",
            ),
            models.UniqueConstraint(
                fields=["invoice_number"], condition=~Q(invoice_number=""), name="uniq_invoice_number"
            ),
        ]

    def __str__(self) -> str:
        return f"{self.customer} {self.start_date}..{self.end_date} ({self.id})"

    @property
    def is_partial(self) -> bool:
        """True when the report prices only some rate-card lines (customer_service_ids was given)."""
        return bool(self.scope_key)

    @property
    def scope_line_ids(self) -> list[int]:
        return [int(part) for part in self.scope_key.split(",") if part]


class BilledPair(models.Model):
    """An (order, rate-card line) pair billed by a live report: the database's guarantee that one
    piece of work is billed once. The primary key refuses a second live report billing the pair;
    superseding, voiding or deleting a report deletes its rows, which releases the pairs for
    billing again.

    `service_id` stands for the rate-card line: a customer has one line per service and an order
    belongs to one customer.
    """

    # The pair is the whole row and its primary key, the guarantee, with no surrogate id and
    # sequence to keep up for the half a million rows a large report claims. Which report holds
    # a pair is not stored: a live report holds exactly the pairs of its lines (it claims them
    # in the transaction that writes them, and releases them when it stops being live), so the
    # holder is found through the lines (billing.generation.claims.report_pairs, already_billed).
    # A report column cost a third of the claim: 16 more bytes to parse and store per pair.
    pk = models.CompositePrimaryKey("order_id", "service_id")
    order_id = models.BigIntegerField()
    service_id = models.BigIntegerField()

    def __str__(self) -> str:
        return f"order {self.order_id} / service {self.service_id}"


class NumberSequence(models.Model):
    """A gapless counter per (issuer, kind), incremented under a row lock in the issuing transaction."""

    issuer = models.CharField(max_length=64)
    kind = models.CharField(max_length=16)
    last_value = models.PositiveBigIntegerField(default=0)

    class Meta:
        constraints = [models.UniqueConstraint(fields=["issuer", "kind"], name="uniq_number_sequence")]

    def __str__(self) -> str:
        return f"{self.issuer} {self.kind}: {self.last_value}"


class CreditNote(models.Model):
    """The credit issued when a finalized report is voided: the report's full amount, negated."""

    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    report = models.OneToOneField(BillingReport, on_delete=models.PROTECT, related_name="credit_note")
    number = models.CharField(max_length=64, unique=True)
    reason = models.TextField()
    currency = models.CharField(max_length=3)
    amount = models.DecimalField(max_digits=16, decimal_places=2)
    issued_at = models.DateTimeField()
    issued_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )

    class Meta:
        ordering = ["-issued_at", "id"]

    def __str__(self) -> str:
        return self.number


class ReportOrder(models.Model):
    """One billable order of a report, snapshotted as it was when the report was generated."""

    # Written only by report generation, in the transaction that creates the report: no
    # per-row foreign-key check on the report (100,000 of them at commit for a large report);
    # deleting a report deletes its orders through the ORM's cascade, as for its lines.
    report = models.ForeignKey(
        BillingReport, on_delete=models.CASCADE, related_name="orders", db_index=False, db_constraint=False
    )  # indexed by report_order_billed_idx
    # The order is protected by the database without a per-row foreign-key check: a trigger on
    # the order table refuses to delete (or renumber) an order a report holds, after waiting for
    # a generation of the order's customer (migrations 0012 and 0014).
    # Indexed by uniq_order_report, which finds the reports holding an order (the trigger, the
    # claim's holders) and a report's row of an order: one index where (report, order) and
    # (order) were two, each written at a random place per row (rows come in pricing order).
    order = models.ForeignKey(Order, on_delete=models.PROTECT, related_name="+", db_constraint=False, db_index=False)
    transaction_id = models.CharField(max_length=64)
    reference_number = models.CharField(max_length=100, blank=True)
    close_date = models.DateTimeField(null=True)
    status = models.CharField(max_length=STATUS_MAX_LENGTH)
    ship_to_name = models.CharField(max_length=255, blank=True)
    ship_to_address = models.CharField(max_length=255, blank=True)
    total_items = models.PositiveIntegerField(default=0)
    line_items = models.PositiveIntegerField(default=0)
    total_amount = models.DecimalField(max_digits=16, decimal_places=2, default=ZERO)
    is_billed = models.BooleanField(default=True, help_text="False when no rate-card line applied to the order.")

    class Meta:
        ordering = ["report_id", "id"]
        constraints = [models.UniqueConstraint(fields=["order", "report"], name="uniq_order_report")]
        indexes = [models.Index(fields=["report", "is_billed", "id"], name="report_order_billed_idx")]

    def __str__(self) -> str:
        return self.transaction_id


class ReportNotClosedOrder(models.Model):
    """An order of the report's customer that had no close date when the report was generated.

    Such an order is never billable; the report lists it apart from its billed and unbilled orders.
    """

    report = models.ForeignKey(BillingReport, on_delete=models.CASCADE, related_name="not_closed_orders")
    order_id = models.BigIntegerField(help_text="Order id at generation time (not a foreign key: a snapshot).")
    transaction_id = models.CharField(max_length=64)
    reference_number = models.CharField(max_length=100, blank=True)
    status = models.CharField(max_length=STATUS_MAX_LENGTH, blank=True)

    class Meta:
        ordering = ["report_id", "id"]

    def __str__(self) -> str:
        return self.transaction_id


class ReportLine(models.Model):
    """One (order, service) charge of a report, with the price it was charged at."""

    # Lines are written only by report generation, in the transaction that writes their
    # ReportOrder rows; (report, order) always names one of those. Per-row foreign-key checks
    # and single-column indexes on the largest table cost more than half of generation time,
    # so referential integrity is held by ReportOrder (whose `order` FK protects billed orders)
    # and lookups use the (report, order) index.
    report = models.ForeignKey(
        BillingReport, on_delete=models.CASCADE, related_name="lines", db_constraint=False, db_index=False
    )
    order = models.ForeignKey(Order, on_delete=models.DO_NOTHING, related_name="+", db_constraint=False, db_index=False)
    service_id = models.BigIntegerField(help_text="Service id at generation time (not a foreign key: a snapshot).")
    service_name = models.CharField(max_length=255)
    charge_type = models.CharField(max_length=32)
    quantity = models.DecimalField(max_digits=16, decimal_places=4)
    unit_price = models.DecimalField(max_digits=12, decimal_places=4)
    amount = models.DecimalField(max_digits=16, decimal_places=2)
    # Why the line was charged (docs/explanations.md): the key of its report's ReportExplanation
    # (what the lines of one rate-card line and rule group share), and what is the line's own:
    # the tier bands it touched, the SKUs it counted, as JSON text (compact: less than half the
    # size of jsonb for these small arrays, and nothing to parse while a report is written).
    # Both null on reports generated before; detail also on lines with nothing of their own.
    explanation = models.PositiveSmallIntegerField(null=True, blank=True)
    detail = models.TextField(null=True, blank=True)

    class Meta:
        ordering = ["report_id", "order_id", "service_name", "id"]
        indexes = [models.Index(fields=["report", "order"], name="report_line_order_idx")]

    def __str__(self) -> str:
        return f"{self.service_name}: {self.amount}"


# What a report line says about its charge, in the order the COPY writer writes and
# billing.selectors.reports.iter_report_values reads (after the line's report / order).
REPORT_LINE_CHARGE_FIELDS = (
    "service_id",
    "service_name",
    "charge_type",
    "quantity",
    "unit_price",
    "amount",
    "explanation",
    "detail",
)


class ReportExplanation(models.Model):
    """What the lines of one rate-card line and matched rule group have in common, as it stood
    when the report was generated: the rule group (its logic and rules), the price or the tier
    table and scope. A report has one row per such explanation; its lines refer to it by key."""

    report = models.ForeignKey(BillingReport, on_delete=models.CASCADE, related_name="explanations", db_index=False)
    key = models.PositiveSmallIntegerField()
    payload = models.JSONField()

    class Meta:
        ordering = ["report_id", "key"]
        constraints = [models.UniqueConstraint(fields=["report", "key"], name="uniq_report_explanation_key")]

    def __str__(self) -> str:
        return f"{self.report_id} #{self.key}"


class ReportServiceTotal(models.Model):
    """Per-service totals of a report; always the sums of its lines."""

    report = models.ForeignKey(BillingReport, on_delete=models.CASCADE, related_name="service_totals")
    service_id = models.BigIntegerField()
    service_name = models.CharField(max_length=255)
    charge_type = models.CharField(max_length=32)
    quantity = models.DecimalField(max_digits=18, decimal_places=4)
    amount = models.DecimalField(max_digits=16, decimal_places=2)
    order_count = models.PositiveIntegerField()

    class Meta:
        ordering = ["report_id", "service_name"]
        constraints = [models.UniqueConstraint(fields=["report", "service_id"], name="uniq_report_service_total")]

    def __str__(self) -> str:
        return f"{self.service_name}: {self.amount}"


class ReportDay(models.Model):
    """A report's totals for one day (its orders' close date in the report's billing time zone).

    Written with the report (billing.services.analytics); the sums of a report's days are the
    report's totals. Analytics bucket by these rows, so a report whose period straddles two
    buckets is split by the days its orders closed on.
    """

    report = models.ForeignKey(BillingReport, on_delete=models.CASCADE, related_name="days", db_index=False)
    day = models.DateField()
    amount = models.DecimalField(max_digits=16, decimal_places=2)
    order_count = models.PositiveIntegerField(help_text="Billed orders closed that day.")
    unbilled_order_count = models.PositiveIntegerField(help_text="Billable orders no rate-card line applied to.")
    line_count = models.PositiveIntegerField()

    class Meta:
        ordering = ["report_id", "day"]
        constraints = [models.UniqueConstraint(fields=["report", "day"], name="uniq_report_day")]
        indexes = [models.Index(fields=["day", "report"], name="report_day_day_idx")]

    def __str__(self) -> str:
        return f"{self.report_id} {self.day}: {self.amount}"


class ReportDayService(models.Model):
    """A report's totals for one service on one day; sums to the report's ReportServiceTotal rows."""

    report = models.ForeignKey(BillingReport, on_delete=models.CASCADE, related_name="service_days", db_index=False)
    day = models.DateField()
    service_id = models.BigIntegerField()
    service_name = models.CharField(max_length=255)
    amount = models.DecimalField(max_digits=16, decimal_places=2)
    quantity = models.DecimalField(max_digits=18, decimal_places=4)
    order_count = models.PositiveIntegerField(help_text="Orders the service charged that day.")
    line_count = models.PositiveIntegerField()

    class Meta:
        ordering = ["report_id", "day", "service_name"]
        constraints = [models.UniqueConstraint(fields=["report", "day", "service_id"], name="uniq_report_day_service")]
        indexes = [models.Index(fields=["day", "report"], name="report_day_service_day_idx")]

    def __str__(self) -> str:
        return f"{self.report_id} {self.day} {self.service_name}: {self.amount}"


class ReportMonth(models.Model):
    """A report's totals for one calendar month: the sums of its ReportDay rows of that month.

    Analytics read these instead of the day rows when a range is made of whole months and the
    buckets are months or quarters (about 30 times fewer rows for monthly reports)."""

    report = models.ForeignKey(BillingReport, on_delete=models.CASCADE, related_name="months", db_index=False)
    month = models.DateField(help_text="The first day of the month.")
    amount = models.DecimalField(max_digits=16, decimal_places=2)
    order_count = models.PositiveIntegerField()
    unbilled_order_count = models.PositiveIntegerField()
    line_count = models.PositiveIntegerField()

    class Meta:
        ordering = ["report_id", "month"]
        constraints = [models.UniqueConstraint(fields=["report", "month"], name="uniq_report_month")]
        indexes = [models.Index(fields=["month", "report"], name="report_month_month_idx")]

    def __str__(self) -> str:
        return f"{self.report_id} {self.month:%Y-%m}: {self.amount}"


class ReportMonthService(models.Model):
    """A report's totals for one service in one calendar month (sums of its ReportDayService rows)."""

    report = models.ForeignKey(BillingReport, on_delete=models.CASCADE, related_name="service_months", db_index=False)
    month = models.DateField(help_text="The first day of the month.")
    service_id = models.BigIntegerField()
    service_name = models.CharField(max_length=255)
    amount = models.DecimalField(max_digits=16, decimal_places=2)
    quantity = models.DecimalField(max_digits=18, decimal_places=4)
    order_count = models.PositiveIntegerField()
    line_count = models.PositiveIntegerField()

    class Meta:
        ordering = ["report_id", "month", "service_name"]
        constraints = [
            models.UniqueConstraint(fields=["report", "month", "service_id"], name="uniq_report_month_service")
        ]
        indexes = [models.Index(fields=["month", "report"], name="report_month_service_idx")]

    def __str__(self) -> str:
        return f"{self.report_id} {self.month:%Y-%m} {self.service_name}: {self.amount}"


# Pricing activity beyond outbound orders: adjustments on the rate card, other charges on reports.


class AdjustmentKind(models.TextChoices):
    """Applied in this order after every line (billing.pricing.activity)."""

    MINIMUM = "minimum", "Minimum total (true-up)"
    SURCHARGE = "surcharge", "Surcharge (percent)"
    DISCOUNT = "discount", "Discount (percent or amount)"


class RateCardAdjustment(models.Model):
    """A minimum, surcharge or discount applied after a report's lines, as one explained line.

    Validated by billing.pricing.activity.validate_adjustment when saved (services and admin).
    """

    customer = models.ForeignKey(Customer, on_delete=models.CASCADE, related_name="adjustments")
    kind = models.CharField(max_length=16, choices=AdjustmentKind.choices)
    percent = models.DecimalField(
        max_digits=7, decimal_places=2, null=True, blank=True, help_text="Surcharges and percentage discounts."
    )
    amount = models.DecimalField(
        max_digits=12, decimal_places=2, null=True, blank=True, help_text="Minimums and fixed discounts."
    )
    services = models.ManyToManyField(
        CustomerService, blank=True, related_name="adjustments", help_text="Empty: every rate-card line."
    )
    start_date = models.DateField(null=True, blank=True, help_text="Surcharges only: first day it applies to.")
    end_date = models.DateField(null=True, blank=True, help_text="Surcharges only: last day it applies to.")
    description = models.CharField(max_length=255, blank=True)
    position = models.PositiveIntegerField(default=0, help_text="Order among adjustments of the same kind.")
    is_active = models.BooleanField(default=True)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["customer_id", "kind", "position", "id"]
        constraints = [
            models.CheckConstraint(
                condition=Q(kind__in=["minimum", "surcharge", "discount"]), name="adjustment_kind_valid"
            ),
            models.CheckConstraint(
                condition=Q(percent__isnull=True) | Q(percent__gt=0), name="adjustment_percent_gt_0"
            ),
            models.CheckConstraint(condition=Q(amount__isnull=True) | Q(amount__gt=0), name="adjustment_amount_gt_0"),
        ]

    def __str__(self) -> str:
        return self.description or f"{self.get_kind_display()} #{self.pk}"


class OtherChargeSource(models.TextChoices):
    STORAGE = "storage", "Storage"
    RECEIVING = "receiving", "Receiving"
    RETURNS = "returns", "Returns"
    EXTRA_WORK = "extra_work", "Extra work"
    ADJUSTMENT = "adjustment", "Adjustment"


class ReportOtherCharge(models.Model):
    """One charge of a report that is not an order line: priced activity or an adjustment.

    Written with the report, in its transaction (billing.generation.activity); a snapshot, so it
    names the rate-card line and service by id and name without foreign keys."""

    report = models.ForeignKey(BillingReport, on_delete=models.CASCADE, related_name="other_charges", db_index=False)
    position = models.PositiveIntegerField()
    source = models.CharField(max_length=16, choices=OtherChargeSource.choices)
    reference = models.CharField(max_length=255, blank=True)
    date = models.DateField()
    customer_service_id = models.BigIntegerField(null=True, blank=True)
    service_id = models.BigIntegerField(null=True, blank=True)
    service_name = models.CharField(max_length=255, blank=True)
    charge_type = models.CharField(max_length=32)
    quantity = models.DecimalField(max_digits=18, decimal_places=4)
    unit = models.CharField(max_length=32)
    unit_price = models.DecimalField(max_digits=12, decimal_places=4)
    amount = models.DecimalField(max_digits=16, decimal_places=2)
    explanation = models.JSONField(default=dict)

    class Meta:
        ordering = ["report_id", "position"]
        constraints = [models.UniqueConstraint(fields=["report", "position"], name="uniq_report_other_charge")]

    def __str__(self) -> str:
        return f"{self.source} {self.reference}: {self.amount}"


class ApiToken(models.Model):
    """A bearer token for machine clients. Only a SHA-256 hash of the secret is stored."""

    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="api_tokens")
    name = models.CharField(max_length=100, blank=True)
    prefix = models.CharField(max_length=12, help_text="First characters of the token, to recognise it.")
    key_hash = models.CharField(max_length=64, unique=True)
    created_at = models.DateTimeField(auto_now_add=True)
    expires_at = models.DateTimeField(null=True, blank=True)
    revoked_at = models.DateTimeField(null=True, blank=True)
    last_used_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-created_at"]

    def __str__(self) -> str:
        return f"{self.prefix}… ({self.user})"


class Interface(models.TextChoices):
    REST = "rest", "REST"
    GRAPHQL = "graphql", "GraphQL"
    COMMAND = "command", "Management command"
    WORKER = "worker", "Background worker"
    ADMIN = "admin", "Admin"


class JobStatus(models.TextChoices):
    QUEUED = "queued", "Queued"
    RUNNING = "running", "Running"
    SUCCEEDED = "succeeded", "Succeeded"
    FAILED = "failed", "Failed"


class BillingRun(models.Model):
    """A month-end run: one report job per customer for one period."""

    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    start_date = models.DateField()
    end_date = models.DateField()
    customer_ids = models.JSONField(default=list, blank=True, help_text="Empty: every active customer.")
    requested_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["-created_at"]
        constraints = [
            models.CheckConstraint(condition=Q(start_date__lte=F("end_date")), name="billing_run_start_lte_end"),
        ]

    def __str__(self) -> str:
        return f"Billing run {self.start_date}..{self.end_date} ({self.id})"


class ReportJob(models.Model):
    """A persisted request to generate one report in the background, with its progress."""

    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    customer = models.ForeignKey(Customer, on_delete=models.PROTECT, related_name="report_jobs")
    start_date = models.DateField()
    end_date = models.DateField()
    output_format = models.CharField(max_length=8, choices=OutputFormat.choices, default=OutputFormat.JSON)
    customer_service_ids = models.JSONField(null=True, blank=True)
    only_unbilled = models.BooleanField(default=False, help_text="Bill only pairs no live report bills yet.")
    status = models.CharField(max_length=16, choices=JobStatus.choices, default=JobStatus.QUEUED)
    processed_orders = models.PositiveIntegerField(default=0)
    total_orders = models.PositiveIntegerField(default=0)
    report = models.ForeignKey(BillingReport, null=True, blank=True, on_delete=models.SET_NULL, related_name="+")
    error = models.TextField(blank=True)
    attempts = models.PositiveIntegerField(default=0)
    billing_run = models.ForeignKey(BillingRun, null=True, blank=True, on_delete=models.CASCADE, related_name="jobs")
    requested_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    interface = models.CharField(
        max_length=16, choices=Interface.choices, default=Interface.COMMAND, help_text="Where the job was requested."
    )
    request_id = models.CharField(max_length=64, blank=True, help_text="Id of the request that submitted the job.")
    created_at = models.DateTimeField(auto_now_add=True)
    started_at = models.DateTimeField(null=True, blank=True)
    finished_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-created_at"]
        indexes = [models.Index(fields=["customer", "start_date", "end_date", "created_at"], name="job_request_idx")]
        constraints = [
            models.CheckConstraint(condition=Q(start_date__lte=F("end_date")), name="report_job_start_lte_end"),
        ]

    def __str__(self) -> str:
        return f"Job {self.id} ({self.status})"


class IdempotencyKey(models.Model):
    """A client-chosen key making one generate request safe to retry; unique per user."""

    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="+")
    key = models.CharField(max_length=255)
    request_hash = models.CharField(max_length=64, help_text="SHA-256 of the canonical request parameters.")
    report = models.ForeignKey(BillingReport, null=True, blank=True, on_delete=models.CASCADE, related_name="+")
    job = models.ForeignKey(ReportJob, null=True, blank=True, on_delete=models.CASCADE, related_name="+")
    created_at = models.DateTimeField(auto_now_add=True)
    expires_at = models.DateTimeField(db_index=True)

    class Meta:
        constraints = [models.UniqueConstraint(fields=["user", "key"], name="uniq_idempotency_user_key")]

    def __str__(self) -> str:
        return self.key


class AuditAction(models.TextChoices):
    GENERATED = "generated", "Generated"
    REGENERATED = "regenerated", "Regenerated"
    SUPERSEDED = "superseded", "Superseded"
    DOWNLOADED = "downloaded", "Downloaded"
    FINALIZED = "finalized", "Finalized"
    VOIDED = "voided", "Voided"


class AuditEvent(models.Model):
    """Who did what to which report, when and through which interface. Append-only."""

    action = models.CharField(max_length=16, choices=AuditAction.choices)
    report = models.ForeignKey(BillingReport, on_delete=models.PROTECT, related_name="audit_events")
    actor = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    interface = models.CharField(max_length=16, choices=Interface.choices)
    format = models.CharField(max_length=8, blank=True)
    request_id = models.CharField(max_length=64, blank=True)
    created_at = models.DateTimeField(auto_now_add=True, db_index=True)

    class Meta:
        ordering = ["-created_at", "-id"]

    def __str__(self) -> str:
        return f"{self.action} {self.report_id} via {self.interface}"


# Billable activity beyond outbound orders
#
# Storage, receiving, returns and extra work, each imported or upserted by its natural key
# (billing.services.activity) and priced on the customer's rate card. SKUs are kept as entered
# (sku) and normalised for comparison (sku_key, billing.pricing.normalize_sku) as on Product.


class InventorySnapshot(models.Model):
    """What one customer had in store on one day: one SKU at one location."""

    customer = models.ForeignKey(Customer, on_delete=models.PROTECT, related_name="inventory_snapshots", db_index=False)
    snapshot_date = models.DateField()
    sku = models.CharField(max_length=100, help_text="As entered.")
    sku_key = models.CharField(max_length=100, editable=False, help_text="The SKU normalised for comparison.")
    location = models.CharField(max_length=100, blank=True)
    quantity = models.PositiveIntegerField()
    pallets = models.DecimalField(max_digits=12, decimal_places=3, default=ZERO)
    cubic_feet = models.DecimalField(max_digits=12, decimal_places=3, default=ZERO)

    class Meta:
        ordering = ["customer_id", "snapshot_date", "sku_key", "location"]
        indexes = [models.Index(fields=["customer", "snapshot_date"], name="snapshot_customer_date_idx")]
        constraints = [
            models.UniqueConstraint(
                fields=["customer", "snapshot_date", "sku_key", "location"], name="uniq_snapshot_natural_key"
            ),
            models.CheckConstraint(condition=Q(quantity__gte=0), name="snapshot_quantity_gte_0"),
            models.CheckConstraint(condition=Q(pallets__gte=0), name="snapshot_pallets_gte_0"),
            models.CheckConstraint(condition=Q(cubic_feet__gte=0), name="snapshot_cubic_feet_gte_0"),
        ]

    def __str__(self) -> str:
        where = f" @ {self.location}" if self.location else ""
        return f"{self.snapshot_date} {self.sku}{where} x {self.quantity}"


class Receipt(models.Model):
    """An inbound shipment received for a customer."""

    customer = models.ForeignKey(Customer, on_delete=models.PROTECT, related_name="receipts", db_index=False)
    reference = models.CharField(max_length=100)
    received_at = models.DateTimeField()
    pallets = models.PositiveIntegerField(default=0)
    cartons = models.PositiveIntegerField(default=0)
    units = models.PositiveIntegerField(default=0)
    labour_minutes = models.DecimalField(max_digits=10, decimal_places=2, default=ZERO)
    notes = models.TextField(blank=True)

    class Meta:
        ordering = ["received_at", "id"]
        indexes = [models.Index(fields=["customer", "received_at"], name="receipt_customer_received_idx")]
        constraints = [
            models.UniqueConstraint(fields=["customer", "reference"], name="uniq_receipt_customer_reference"),
            models.CheckConstraint(condition=Q(labour_minutes__gte=0), name="receipt_labour_minutes_gte_0"),
        ]

    def __str__(self) -> str:
        return self.reference


class ActivityLine(models.Model):
    """One SKU line of a receipt or return: the SKU as entered, normalised, and its quantity."""

    sku = models.CharField(max_length=100)
    sku_key = models.CharField(max_length=100, editable=False)
    quantity = models.PositiveIntegerField()

    class Meta:
        abstract = True

    def __str__(self) -> str:
        return f"{self.sku} x {self.quantity}"


class ReceiptLine(ActivityLine):
    """One SKU line of a receipt."""

    receipt = models.ForeignKey(Receipt, on_delete=models.CASCADE, related_name="lines", db_index=False)

    class Meta:
        ordering = ["receipt_id", "sku_key"]
        constraints = [models.UniqueConstraint(fields=["receipt", "sku_key"], name="uniq_receipt_line_sku_key")]


class CustomerReturn(models.Model):
    """A return received back from a customer's buyer."""

    customer = models.ForeignKey(Customer, on_delete=models.PROTECT, related_name="returns", db_index=False)
    reference = models.CharField(max_length=100)
    received_at = models.DateTimeField()
    original_order_reference = models.CharField(max_length=100, blank=True)
    units = models.PositiveIntegerField(default=0)
    notes = models.TextField(blank=True)

    class Meta:
        db_table = "billing_return"
        verbose_name = "return"
        ordering = ["received_at", "id"]
        indexes = [models.Index(fields=["customer", "received_at"], name="return_customer_received_idx")]
        constraints = [
            models.UniqueConstraint(fields=["customer", "reference"], name="uniq_return_customer_reference"),
        ]

    def __str__(self) -> str:
        return self.reference


class ReturnLine(ActivityLine):
    """One SKU line of a return."""

    customer_return = models.ForeignKey(CustomerReturn, on_delete=models.CASCADE, related_name="lines", db_index=False)

    class Meta:
        ordering = ["customer_return_id", "sku_key"]
        constraints = [
            models.UniqueConstraint(fields=["customer_return", "sku_key"], name="uniq_return_line_sku_key"),
        ]


class ExtraWorkEntry(models.Model):
    """Work staff did for a customer beyond fulfilment, billed at the rate-card price of its service."""

    customer = models.ForeignKey(Customer, on_delete=models.PROTECT, related_name="extra_work", db_index=False)
    reference = models.CharField(
        max_length=100, help_text="Natural key, unique per customer; generated when none is given."
    )
    work_date = models.DateField()
    service = models.ForeignKey(Service, on_delete=models.PROTECT, related_name="extra_work")
    quantity = models.DecimalField(max_digits=12, decimal_places=3)
    description = models.TextField(blank=True)
    entered_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        verbose_name = "extra-work entry"
        verbose_name_plural = "extra-work entries"
        ordering = ["work_date", "id"]
        indexes = [models.Index(fields=["customer", "work_date"], name="extra_work_customer_date_idx")]
        constraints = [
            models.UniqueConstraint(fields=["customer", "reference"], name="uniq_extra_work_customer_reference"),
            models.CheckConstraint(condition=Q(quantity__gt=0), name="extra_work_quantity_gt_0"),
        ]

    def __str__(self) -> str:
        return self.reference
