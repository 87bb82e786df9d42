"""The Django admin for operators.

Rate cards, customers and orders are editable; rules are validated by the pricing engine
before they are saved. Reports, report jobs, billing runs and audit events are snapshots or
history: read-only. API tokens are created with `manage.py create_api_token` (the secret is
shown once there) and can be revoked here. Large tables use raw-id widgets, joined list
columns and no full result counts, so their pages stay fast.
"""

from __future__ import annotations

import uuid
from typing import Any

from django import forms
from django.contrib import admin, messages
from django.db.models import QuerySet
from django.forms.models import BaseInlineFormSet
from django.http import Http404, HttpRequest, HttpResponse, StreamingHttpResponse
from django.http.response import HttpResponseBase
from django.template.response import TemplateResponse
from django.urls import URLPattern, path

from billing.errors import NotFound, ValidationFailed
from billing.exporters import EXPORT_FORMATS, report_export
from billing.exporters.report_diff import export_diff_csv
from billing.generation.activity import OTHER_CHARGE_FIELDS
from billing.generation.claims import report_pairs
from billing.models import (
    ApiToken,
    AuditEvent,
    BillingReport,
    BillingRun,
    CreditNote,
    Customer,
    CustomerMembership,
    CustomerService,
    IdempotencyKey,
    Interface,
    NumberSequence,
    Order,
    OrderLine,
    PriceTier,
    Product,
    RateCardAdjustment,
    ReportDay,
    ReportDayService,
    ReportExplanation,
    ReportJob,
    ReportLine,
    ReportMonth,
    ReportMonthService,
    ReportNotClosedOrder,
    ReportOrder,
    ReportOtherCharge,
    ReportServiceTotal,
    Rule,
    RuleGroup,
    Service,
)
from billing.pricing import (
    FIELDS,
    OPERATORS,
    RateLineData,
    RuleValidationError,
    normalize_sku,
    validate_rate_line,
)
from billing.pricing.explain import EVERY_ORDER, group_text
from billing.pricing.fields import ACTIVITY_FIELD_KINDS
from billing.selectors.report_diff import report_diff
from billing.selectors.reports import report_get, reports_visible_to
from billing.services.rate_cards import adjustment_check, rule_check
from billing.services.tokens import api_token_revoke

BLANK_CHOICE = ("", "---------")

# --- read-only base classes -----------------------------------------------------------------


class ReadOnlyAdminMixin:
    """Viewable, never added, changed or deleted through the admin."""

    def has_add_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False

    def has_delete_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False


class ReadOnlyTabularInline(ReadOnlyAdminMixin, admin.TabularInline):
    extra = 0
    can_delete = False
    show_change_link = False
    classes = ("plain-rows",)  # no object title above every row (billing/static/billing/admin.css)

    class Media:
        css = {"all": ("billing/admin.css",)}


# --- customers and products ----------------------------------------------------------------


class MembershipInline(admin.TabularInline):
    model = CustomerMembership
    extra = 0
    raw_id_fields = ("user",)
    readonly_fields = ("created_at",)


class ProductForm(forms.ModelForm):
    class Meta:
        model = Product
        fields = ("customer", "sku", "description", "case_size")

    def clean_sku(self) -> str:
        """The SKU as entered (trimmed); its normalised form is the key products are compared by."""
        sku = self.cleaned_data["sku"].strip()
        key = normalize_sku(sku)
        if not key:
            raise forms.ValidationError("Enter a SKU.")
        self.instance.sku_key = key
        return sku

    def clean(self) -> dict[str, Any]:
        cleaned = super().clean() or {}
        customer = cleaned.get("customer") or getattr(self.instance, "customer", None)
        key = self.instance.sku_key
        if customer is not None and customer.pk and key and "sku" in cleaned:
            clash = Product.objects.filter(customer=customer, sku_key=key).exclude(pk=self.instance.pk).first()
            if clash is not None:
                self.add_error("sku", f"This customer already has the SKU {clash.sku!r} (the same once normalised).")
        return cleaned


class ProductInline(admin.TabularInline):
    model = Product
    form = ProductForm
    extra = 0
    fields = ("sku", "description", "case_size")


@admin.register(Customer)
class CustomerAdmin(admin.ModelAdmin):
    list_display = ("company_name", "legal_business_name", "email", "currency", "is_active", "created_at")
    list_filter = ("is_active", "currency")
    search_fields = ("company_name", "legal_business_name", "email")
    readonly_fields = ("created_at", "updated_at")
    inlines = (MembershipInline, ProductInline)


@admin.register(CustomerMembership)
class CustomerMembershipAdmin(admin.ModelAdmin):
    list_display = ("user", "customer", "created_at")
    list_select_related = ("user", "customer")
    raw_id_fields = ("user", "customer")
    search_fields = ("user__username", "customer__company_name")


@admin.register(Product)
class ProductAdmin(admin.ModelAdmin):
    form = ProductForm
    list_display = ("sku", "customer", "description", "case_size")
    list_select_related = ("customer",)
    list_filter = ("customer",)
    search_fields = ("sku", "description", "customer__company_name")
    raw_id_fields = ("customer",)


@admin.register(Service)
class ServiceAdmin(admin.ModelAdmin):
    list_display = ("name", "charge_type", "created_at")
    list_filter = ("charge_type",)
    search_fields = ("name", "description")
    readonly_fields = ("created_at",)


# --- rate cards ------------------------------------------------------------------------------


class PriceTierFormSet(BaseInlineFormSet):
    """Checks the tiers of a tiered line together: increasing bounds, one open last band."""

    def clean(self) -> None:
        super().clean()
        if any(self.errors):
            return
        line: CustomerService = self.instance
        service = getattr(line, "service", None) if line.service_id else None
        if service is None:
            return
        tiers = []
        for form in self.forms:
            data = getattr(form, "cleaned_data", None)
            if data and not data.get("DELETE"):
                tiers.append((data.get("up_to"), data["unit_price"]))
        candidate = RateLineData.build(
            customer_service_id=line.pk or 0,
            service_id=service.pk,
            service_name=service.name,
            charge_type=service.charge_type,
            unit_price=line.unit_price,
            tier_basis=line.tier_basis,
            tier_scope=line.tier_scope,
            tiers=tiers,
            open_band_last=True,
            storage_period=line.storage_period,
            storage_basis=line.storage_basis,
        )
        try:
            validate_rate_line(candidate, str(line))
        except RuleValidationError as exc:
            raise forms.ValidationError(str(exc)) from None


class PriceTierInline(admin.TabularInline):
    model = PriceTier
    formset = PriceTierFormSet
    extra = 0
    fields = ("up_to", "unit_price")


class RuleGroupInline(admin.TabularInline):
    model = RuleGroup
    extra = 0
    fields = ("name", "logic_operator", "rule_summary")
    readonly_fields = ("rule_summary",)
    show_change_link = True  # rules are edited on the rule group's page

    @admin.display(description="Rules")
    def rule_summary(self, group: RuleGroup) -> str:
        if not group.pk:
            return "Save, then open the group to add rules."
        rules = list(group.rules.all())
        return "; ".join(str(rule) for rule in rules) or "(no rules: always true)"

    def get_queryset(self, request: HttpRequest) -> QuerySet[RuleGroup]:
        return super().get_queryset(request).prefetch_related("rules")


@admin.register(CustomerService)
class CustomerServiceAdmin(admin.ModelAdmin):
    list_display = ("customer", "service", "charge_type", "unit_price", "is_active", "updated_at")
    list_select_related = ("customer", "service")
    list_filter = ("is_active", "service__charge_type", "service")
    search_fields = ("customer__company_name", "service__name")
    raw_id_fields = ("customer", "skus")
    readonly_fields = ("created_at", "updated_at")
    inlines = (PriceTierInline, RuleGroupInline)

    @admin.display(description="Charge type", ordering="service__charge_type")
    def charge_type(self, line: CustomerService) -> str:
        return line.service.get_charge_type_display()


_ACTIVITY_ONLY_FIELDS = sorted({name for kinds in ACTIVITY_FIELD_KINDS.values() for name in kinds} - set(FIELDS))


class RuleForm(forms.ModelForm):
    """A rule is saved only if the pricing engine can evaluate it; the error names the rule.

    Both selects start with a blank choice, so the blank extra row of an inline formset is
    submitted unchanged and skipped, instead of as an incomplete rule `reference_number eq ''`.
    """

    # The order's fields, then those only activity lines test (the engine checks which apply).
    field = forms.ChoiceField(
        choices=[
            BLANK_CHOICE,
            *((name, name) for name in FIELDS),
            *((name, f"{name} (activity)") for name in _ACTIVITY_ONLY_FIELDS),
        ]
    )
    operator = forms.ChoiceField(
        choices=[BLANK_CHOICE, *((name, f"{name} ({meaning})") for name, meaning in OPERATORS.items())]
    )

    class Meta:
        model = Rule
        fields = ("field", "operator", "value")
        help_texts = {"value": "Several values are separated by ';'."}

    def clean(self) -> dict[str, Any]:
        super().clean()  # ModelForm.clean returns (and may update) cleaned_data
        cleaned = self.cleaned_data
        field, operator, value = cleaned.get("field"), cleaned.get("operator"), cleaned.get("value")
        if field is None or operator is None or value is None:
            return cleaned
        label = f"#{self.instance.pk}" if self.instance.pk else ""  # new rules are named by their text
        group = cleaned.get("rule_group") or (self.instance.rule_group if self.instance.rule_group_id else None)
        charge_type = group.customer_service.service.charge_type if group is not None else ""
        try:
            rule_check(field=field, operator=operator, value=value, label=label, charge_type=charge_type)
        except ValidationFailed as exc:
            raise forms.ValidationError(exc.message, code="invalid_rule") from None
        return cleaned


class RuleInline(admin.TabularInline):
    model = Rule
    form = RuleForm
    extra = 1


@admin.register(RuleGroup)
class RuleGroupAdmin(admin.ModelAdmin):
    list_display = ("__str__", "customer_service", "logic_operator")
    list_select_related = ("customer_service__customer", "customer_service__service")
    list_filter = ("logic_operator",)
    search_fields = ("name", "customer_service__customer__company_name", "customer_service__service__name")
    raw_id_fields = ("customer_service",)
    inlines = (RuleInline,)


@admin.register(Rule)
class RuleAdmin(admin.ModelAdmin):
    form = RuleForm
    fields = ("rule_group", "field", "operator", "value")
    list_display = ("__str__", "rule_group", "field", "operator", "value")
    list_select_related = ("rule_group",)
    list_filter = ("field", "operator")
    raw_id_fields = ("rule_group",)


@admin.register(PriceTier)
class PriceTierAdmin(admin.ModelAdmin):
    list_display = ("customer_service", "up_to", "unit_price")
    list_select_related = ("customer_service__customer", "customer_service__service")
    raw_id_fields = ("customer_service",)


# --- orders --------------------------------------------------------------------------------


class OrderLineInline(admin.TabularInline):
    model = OrderLine
    extra = 0
    fields = ("sku", "quantity")


@admin.register(Order)
class OrderAdmin(admin.ModelAdmin):
    list_display = ("transaction_id", "customer", "close_date", "status", "ship_to_country", "total_item_qty")
    list_select_related = ("customer",)
    list_filter = ("status", "customer")
    search_fields = ("=transaction_id", "reference_number", "ship_to_name")
    raw_id_fields = ("customer",)
    readonly_fields = ("created_at", "updated_at")
    show_full_result_count = False
    inlines = (OrderLineInline,)


@admin.register(OrderLine)
class OrderLineAdmin(admin.ModelAdmin):
    list_display = ("order", "sku", "quantity")
    list_select_related = ("order",)
    search_fields = ("=order__transaction_id", "=sku")
    raw_id_fields = ("order",)
    show_full_result_count = False


class RateCardAdjustmentForm(forms.ModelForm):
    """An adjustment is saved only if it can be applied (billing.pricing.activity.validate_adjustment)."""

    class Meta:
        model = RateCardAdjustment
        fields = (
            "customer",
            "kind",
            "percent",
            "amount",
            "services",
            "start_date",
            "end_date",
            "description",
            "position",
            "is_active",
        )

    def clean(self) -> dict[str, Any]:
        super().clean()
        cleaned = self.cleaned_data
        services = cleaned.get("services") or []
        customer = cleaned.get("customer")
        try:
            adjustment_check(
                kind=cleaned.get("kind") or "",
                percent=cleaned.get("percent"),
                amount=cleaned.get("amount"),
                start_date=cleaned.get("start_date"),
                end_date=cleaned.get("end_date"),
                customer_id=customer.pk if customer is not None else None,
                customer_service_ids=[line.pk for line in services],
                label=str(self.instance.pk or "new"),
            )
        except ValidationFailed as exc:
            raise forms.ValidationError(exc.message, code="invalid_adjustment") from None
        return cleaned


@admin.register(RateCardAdjustment)
class RateCardAdjustmentAdmin(admin.ModelAdmin):
    form = RateCardAdjustmentForm
    list_display = ("__str__", "customer", "kind", "percent", "amount", "start_date", "end_date", "position")
    list_select_related = ("customer",)
    list_filter = ("kind", "is_active")
    search_fields = ("description", "customer__company_name")
    raw_id_fields = ("customer",)
    filter_horizontal = ("services",)


# --- reports (immutable) ---------------------------------------------------------------------


class ServiceTotalInline(ReadOnlyTabularInline):
    model = ReportServiceTotal
    fields = ("service_name", "charge_type", "quantity", "amount", "order_count")
    readonly_fields = fields


# A report's other charges as the admin lists them: without the report and the ids of the rate-card line.
_OTHER_CHARGE_COLUMNS: tuple[str, ...] = tuple(
    name for name in OTHER_CHARGE_FIELDS if name not in ("report", "customer_service_id", "service_id")
)


class OtherChargeInline(ReadOnlyTabularInline):
    model = ReportOtherCharge
    fields = _OTHER_CHARGE_COLUMNS
    readonly_fields = fields


class AuditEventInline(ReadOnlyTabularInline):
    model = AuditEvent
    fields = ("created_at", "action", "actor", "interface", "format", "request_id")
    readonly_fields = fields

    def get_queryset(self, request: HttpRequest) -> QuerySet[AuditEvent]:
        return super().get_queryset(request).select_related("actor")


@admin.register(BillingReport)
class BillingReportAdmin(ReadOnlyAdminMixin, admin.ModelAdmin):
    # Fits a 1280 px screen: a short id, the period in one column, status before the figures.
    list_display = (
        "short_id",
        "status",
        "invoice_number",
        "period",
        "customer",
        "total_amount",
        "currency",
        "order_count",
        "output_format",
        "created_by",
        "created_at",
    )
    list_display_links = ("short_id",)
    list_select_related = ("customer", "created_by")
    list_filter = ("status", "output_format", "customer")
    search_fields = ("id", "invoice_number", "customer__company_name")
    date_hierarchy = "created_at"
    inlines = (ServiceTotalInline, OtherChargeInline, AuditEventInline)
    # The claim table has the pair as its primary key, which the admin cannot list; each report
    # shows how many pairs it holds instead (its lines are listed under Report lines).
    readonly_fields = ("billed_pairs",)

    class Media:
        css = {"all": ("billing/admin.css",)}

    @admin.display(description="Billed (order, rate-card line) pairs held")
    def billed_pairs(self, report: BillingReport) -> int:
        return report_pairs(report).count()

    @admin.display(description="Report", ordering="id")
    def short_id(self, report: BillingReport) -> str:
        return str(report.id)[:8]

    @admin.display(description="Period", ordering="start_date")
    def period(self, report: BillingReport) -> str:
        return f"{report.start_date:%Y-%m-%d} – {report.end_date:%Y-%m-%d}"

    def get_queryset(self, request: HttpRequest) -> QuerySet[BillingReport]:
        return super().get_queryset(request).select_related("customer", "created_by", "superseded_by")

    def get_urls(self) -> list[URLPattern]:
        download = self.admin_site.admin_view(self.download_view)
        diff = self.admin_site.admin_view(self.diff_view)
        diff_csv = self.admin_site.admin_view(self.diff_download_view)
        return [
            path("<uuid:report_id>/download/<str:fmt>/", download, name="billing_billingreport_download"),
            path("<uuid:report_id>/diff/", diff, name="billing_billingreport_diff"),
            path("<uuid:report_id>/diff/download/", diff_csv, name="billing_billingreport_diff_download"),
            *super().get_urls(),
        ]

    def diff_view(self, request: HttpRequest, report_id: uuid.UUID) -> HttpResponse:
        """What changed against another report of the customer (default: the one this report
        superseded), through the selector the APIs use; 100 lines a page (?page=N)."""
        against = request.GET.get("against") or None
        page = _page_number(request.GET.get("page"))
        error = ""
        diff = None
        try:
            diff = report_diff(actor=request.user, report_id=report_id, against_id=against)
        except NotFound as exc:
            raise Http404(exc.message) from None
        except ValidationFailed as exc:
            error = exc.message
        report = diff.report if diff is not None else report_get(actor=request.user, report_id=report_id)
        others = (
            reports_visible_to(request.user)
            .filter(customer_id=report.customer_id)
            .exclude(pk=report.pk)
            .order_by("-start_date", "-created_at")[:200]
        )
        pages = max(1, -(-diff.line_count // ADMIN_DIFF_PAGE)) if diff is not None else 1
        page = min(page, pages)
        context = {
            **self.admin_site.each_context(request),
            "opts": self.model._meta,
            "title": f"Diff of report {str(report.pk)[:8]}",
            "original": report,
            "diff": diff,
            "lines": diff.lines(offset=(page - 1) * ADMIN_DIFF_PAGE, limit=ADMIN_DIFF_PAGE) if diff else [],
            "page": page,
            "pages": pages,
            "others": others,
            "error": error,
        }
        return TemplateResponse(request, "admin/billing/billingreport/diff.html", context)

    def diff_download_view(self, request: HttpRequest, report_id: uuid.UUID) -> HttpResponseBase:
        try:
            diff = report_diff(actor=request.user, report_id=report_id, against_id=request.GET.get("against") or None)
        except (NotFound, ValidationFailed) as exc:
            raise Http404(exc.message) from None
        response = StreamingHttpResponse(export_diff_csv(diff), content_type="text/csv; charset=utf-8")
        filename = f"billing-report-diff-{diff.report.pk}-{diff.against.pk}.csv"
        response["Content-Disposition"] = f'attachment; filename="{filename}"'
        response["Cache-Control"] = "private, no-store"
        return response

    def change_view(
        self, request: HttpRequest, object_id: str, form_url: str = "", extra_context: dict[str, Any] | None = None
    ) -> HttpResponse:
        context = {**(extra_context or {}), "download_formats": [(fmt, fmt.upper()) for fmt in EXPORT_FORMATS]}
        return super().change_view(request, object_id, form_url, context)

    def download_view(self, request: HttpRequest, report_id: uuid.UUID, fmt: str) -> HttpResponseBase:
        """The report file, through the same exporter as the APIs (visibility checked, audited)."""
        try:
            result = report_export(
                actor=request.user,
                report_id=report_id,
                fmt=fmt,
                interface=Interface.ADMIN,
                request_id=getattr(request, "request_id", ""),
            )
        except (NotFound, ValidationFailed) as exc:
            raise Http404(exc.message) from None
        response = StreamingHttpResponse(result.chunks, content_type=result.content_type)
        response["Content-Disposition"] = f'attachment; filename="{result.filename}"'
        response["Cache-Control"] = "private, no-store"
        return response


ADMIN_DIFF_PAGE = 100


def _page_number(raw: str | None) -> int:
    try:
        return max(1, int(raw or 1))
    except ValueError:
        return 1


@admin.register(ReportOrder)
class ReportOrderAdmin(ReadOnlyAdminMixin, admin.ModelAdmin):
    list_display = ("transaction_id", "report", "close_date", "total_amount", "is_billed")
    list_select_related = ("report__customer",)
    list_filter = ("is_billed",)
    search_fields = ("=transaction_id", "=report__id")
    raw_id_fields = ("report", "order")
    show_full_result_count = False


@admin.register(ReportNotClosedOrder)
class ReportNotClosedOrderAdmin(ReadOnlyAdminMixin, admin.ModelAdmin):
    list_display = ("transaction_id", "report", "status", "reference_number")
    list_select_related = ("report__customer",)
    search_fields = ("=transaction_id", "=report__id")
    raw_id_fields = ("report",)
    show_full_result_count = False


@admin.register(ReportLine)
class ReportLineAdmin(ReadOnlyAdminMixin, admin.ModelAdmin):
    list_display = ("report", "order", "service_name", "charge_type", "quantity", "unit_price", "amount")
    list_select_related = ("report__customer", "order")
    search_fields = ("=order__transaction_id", "=report__id")
    raw_id_fields = ("report", "order")
    show_full_result_count = False


@admin.register(ReportExplanation)
class ReportExplanationAdmin(ReadOnlyAdminMixin, admin.ModelAdmin):
    """What a report's lines of one rate-card line and rule group share (docs/explanations.md)."""

    list_display = ("report", "key", "service_name", "rule_group")
    list_select_related = ("report__customer",)
    search_fields = ("=report__id",)
    raw_id_fields = ("report",)

    @admin.display(description="Service")
    def service_name(self, explanation: ReportExplanation) -> str:
        return explanation.payload.get("service_name", "")

    @admin.display(description="Rule group")
    def rule_group(self, explanation: ReportExplanation) -> str:
        group = explanation.payload.get("rule_group")
        return EVERY_ORDER if group is None else group_text(group["logic"], group["rules"])


@admin.register(CreditNote)
class CreditNoteAdmin(ReadOnlyAdminMixin, admin.ModelAdmin):
    list_display = ("number", "report", "amount", "currency", "issued_at", "issued_by")
    list_select_related = ("report__customer", "issued_by")
    search_fields = ("number", "=report__id", "report__invoice_number")
    raw_id_fields = ("report", "issued_by")


@admin.register(NumberSequence)
class NumberSequenceAdmin(ReadOnlyAdminMixin, admin.ModelAdmin):
    list_display = ("issuer", "kind", "last_value")


@admin.register(ReportOtherCharge)
class ReportOtherChargeAdmin(ReadOnlyAdminMixin, admin.ModelAdmin):
    """A report's storage, receiving, returns, extra-work and adjustment lines (immutable)."""

    list_display = ("report", "position", "source", "date", "reference", "service_name", "amount")
    list_select_related = ("report__customer",)
    list_filter = ("source",)
    search_fields = ("reference", "=report__id")
    raw_id_fields = ("report",)


@admin.register(ReportServiceTotal)
class ReportServiceTotalAdmin(ReadOnlyAdminMixin, admin.ModelAdmin):
    list_display = ("report", "service_name", "charge_type", "quantity", "amount", "order_count")
    list_select_related = ("report__customer",)
    search_fields = ("service_name", "=report__id")
    raw_id_fields = ("report",)


class StoredTotalsAdmin(ReadOnlyAdminMixin, admin.ModelAdmin):
    """Per-day and per-month totals written with each report (what analytics read)."""

    list_select_related = ("report__customer",)
    search_fields = ("=report__id",)
    raw_id_fields = ("report",)


for _model, _period in ((ReportDay, "day"), (ReportMonth, "month")):
    admin.site.register(
        _model,
        StoredTotalsAdmin,
        list_display=("report", _period, "amount", "order_count", "unbilled_order_count", "line_count"),
    )
for _service_model, _period in ((ReportDayService, "day"), (ReportMonthService, "month")):
    admin.site.register(
        _service_model,
        StoredTotalsAdmin,
        list_display=("report", _period, "service_name", "amount", "quantity", "order_count"),
        search_fields=("service_name", "=report__id"),
    )


@admin.register(ReportJob)
class ReportJobAdmin(ReadOnlyAdminMixin, admin.ModelAdmin):
    list_display = (
        "id",
        "customer",
        "start_date",
        "end_date",
        "status",
        "processed_orders",
        "total_orders",
        "attempts",
        "created_at",
        "finished_at",
    )
    list_select_related = ("customer",)
    list_filter = ("status",)
    search_fields = ("=id", "customer__company_name")
    raw_id_fields = ("customer", "report", "billing_run", "requested_by")


@admin.register(BillingRun)
class BillingRunAdmin(ReadOnlyAdminMixin, admin.ModelAdmin):
    list_display = ("id", "start_date", "end_date", "requested_by", "created_at")
    list_select_related = ("requested_by",)
    raw_id_fields = ("requested_by",)


@admin.register(AuditEvent)
class AuditEventAdmin(ReadOnlyAdminMixin, admin.ModelAdmin):
    list_display = ("created_at", "action", "report", "actor", "interface", "format", "request_id")
    list_select_related = ("report__customer", "actor")
    list_filter = ("action", "interface")
    search_fields = ("=report__id", "actor__username", "=request_id")
    raw_id_fields = ("report", "actor")
    show_full_result_count = False


@admin.register(IdempotencyKey)
class IdempotencyKeyAdmin(ReadOnlyAdminMixin, admin.ModelAdmin):
    list_display = ("key", "user", "report", "job", "created_at", "expires_at")
    list_select_related = ("user",)
    raw_id_fields = ("user", "report", "job")
    exclude = ("request_hash",)


# --- API tokens ----------------------------------------------------------------------------


@admin.register(ApiToken)
class ApiTokenAdmin(admin.ModelAdmin):
    """Tokens are created with `manage.py create_api_token`; the admin shows and revokes them."""

    list_display = ("prefix_display", "name", "user", "created_at", "expires_at", "revoked_at", "last_used_at")
    list_select_related = ("user",)
    list_filter = ("revoked_at",)
    search_fields = ("prefix", "name", "user__username")
    fields = ("prefix_display", "name", "user", "created_at", "expires_at", "revoked_at", "last_used_at")
    readonly_fields = fields
    actions = ("revoke",)

    @admin.display(description="Token", ordering="prefix")
    def prefix_display(self, token: ApiToken) -> str:
        return f"{token.prefix}…"

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False

    def has_delete_permission(self, request: HttpRequest, obj: ApiToken | None = None) -> bool:
        return False

    @admin.action(description="Revoke selected tokens", permissions=["change"])
    def revoke(self, request: HttpRequest, queryset: QuerySet[ApiToken]) -> None:
        revoked = 0
        for token_id in queryset.filter(revoked_at__isnull=True).values_list("pk", flat=True):
            try:
                api_token_revoke(token_id=token_id)
            except NotFound:
                continue  # deleted meanwhile (with its user)
            revoked += 1
        self.message_user(request, f"Revoked {revoked} token{'' if revoked == 1 else 's'}.", messages.SUCCESS)


# Billable activity beyond orders (registered by importing it; it reuses ProductForm above).
from billing import admin_activity  # noqa: E402, F401
