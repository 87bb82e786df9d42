"""The admin of billable activity beyond orders: inventory snapshots, receipts, returns, extra work.

Registered from billing.admin. SKUs are kept as entered and compared normalised (as products);
an extra-work entry's service is checked by the activity service (on the customer's rate card),
and an entry added here is entered by the signed-in admin user.
"""

from __future__ import annotations

from typing import Any

from django import forms
from django.contrib import admin
from django.forms.models import BaseInlineFormSet
from django.http import HttpRequest

from billing.admin import ProductForm
from billing.models import (
    CustomerReturn,
    ExtraWorkEntry,
    InventorySnapshot,
    Receipt,
    ReceiptLine,
    ReturnLine,
)
from billing.services.activity import extra_work_check, extra_work_entry_save, generated_reference


class SnapshotForm(forms.ModelForm):
    class Meta:
        model = InventorySnapshot
        fields = ("customer", "snapshot_date", "sku", "location", "quantity", "pallets", "cubic_feet")

    clean_sku = ProductForm.clean_sku

    def clean(self) -> dict[str, Any]:
        cleaned = super().clean() or {}
        cleaned["location"] = (cleaned.get("location") or "").strip()
        customer, day, key = cleaned.get("customer"), cleaned.get("snapshot_date"), self.instance.sku_key
        if customer is not None and day is not None and key and "sku" in cleaned:
            clash = (
                InventorySnapshot.objects.filter(
                    customer=customer, snapshot_date=day, sku_key=key, location=cleaned["location"]
                )
                .exclude(pk=self.instance.pk)
                .first()
            )
            if clash is not None:
                self.add_error("sku", f"This customer already has a snapshot of {clash.sku!r} here on that day.")
        return cleaned


@admin.register(InventorySnapshot)
class InventorySnapshotAdmin(admin.ModelAdmin):
    form = SnapshotForm
    list_display = ("snapshot_date", "customer", "sku", "location", "quantity", "pallets", "cubic_feet")
    list_select_related = ("customer",)
    list_filter = ("customer",)
    date_hierarchy = "snapshot_date"
    search_fields = ("=sku", "location", "customer__company_name")
    raw_id_fields = ("customer",)
    show_full_result_count = False


class LineForm(forms.ModelForm):
    """A receipt's or return's SKU line: the SKU as entered, its normalised form as the key."""

    clean_sku = ProductForm.clean_sku

    def clean(self) -> dict[str, Any]:
        cleaned = super().clean() or {}
        parent = "receipt" if isinstance(self.instance, ReceiptLine) else "customer_return"
        owner = cleaned.get(parent) or getattr(self.instance, parent, None)
        key = self.instance.sku_key
        if owner is not None and owner.pk and key and "sku" in cleaned:
            lines = type(self.instance)._default_manager.filter(**{parent: owner, "sku_key": key})
            clash = lines.exclude(pk=self.instance.pk).first()
            if clash is not None:
                self.add_error("sku", f"{clash.sku!r} is already a line (the same SKU once normalised).")
        return cleaned


class DistinctSkuFormSet(BaseInlineFormSet):
    """Refuses two lines of one SKU (once normalised) in one receipt or return."""

    def clean(self) -> None:
        super().clean()
        seen: dict[str, str] = {}
        for form in self.forms:
            if not form.is_valid() or not form.has_changed() or form.cleaned_data.get("DELETE"):
                continue
            key = form.instance.sku_key
            if key in seen:
                form.add_error("sku", f"{seen[key]!r} is already a line (the same SKU once normalised).")
            else:
                seen[key] = form.cleaned_data["sku"]


class _LineInline(admin.TabularInline):
    form = LineForm
    formset = DistinctSkuFormSet
    extra = 1
    fields = ("sku", "quantity")


class ReceiptLineInline(_LineInline):
    model = ReceiptLine


@admin.register(Receipt)
class ReceiptAdmin(admin.ModelAdmin):
    list_display = ("reference", "customer", "received_at", "pallets", "cartons", "units", "labour_minutes")
    list_select_related = ("customer",)
    list_filter = ("customer",)
    date_hierarchy = "received_at"
    search_fields = ("=reference", "customer__company_name")
    raw_id_fields = ("customer",)
    inlines = (ReceiptLineInline,)


class ReturnLineInline(_LineInline):
    model = ReturnLine


@admin.register(CustomerReturn)
class CustomerReturnAdmin(admin.ModelAdmin):
    list_display = ("reference", "customer", "received_at", "original_order_reference", "units")
    list_select_related = ("customer",)
    list_filter = ("customer",)
    date_hierarchy = "received_at"
    search_fields = ("=reference", "=original_order_reference", "customer__company_name")
    raw_id_fields = ("customer",)
    inlines = (ReturnLineInline,)


class ExtraWorkForm(forms.ModelForm):
    class Meta:
        model = ExtraWorkEntry
        fields = ("customer", "reference", "work_date", "service", "quantity", "description")

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.fields["reference"].required = False
        self.fields["reference"].help_text = "Natural key, unique per customer; left empty, one is generated."

    def clean(self) -> dict[str, Any]:
        cleaned = super().clean() or {}
        if not (cleaned.get("reference") or "").strip():
            cleaned["reference"] = self.instance.reference or generated_reference()
        customer, service = cleaned.get("customer"), cleaned.get("service")
        if customer is not None and service is not None:
            problem = extra_work_check(customer.pk, service)
            if problem is not None:
                self.add_error("service", problem[0].upper() + problem[1:] + ".")
        return cleaned


@admin.register(ExtraWorkEntry)
class ExtraWorkEntryAdmin(admin.ModelAdmin):
    form = ExtraWorkForm
    list_display = ("reference", "customer", "work_date", "service", "quantity", "entered_by", "created_at")
    list_select_related = ("customer", "service", "entered_by")
    list_filter = ("customer", "service")
    date_hierarchy = "work_date"
    search_fields = ("=reference", "description", "customer__company_name")
    raw_id_fields = ("customer",)
    readonly_fields = ("entered_by", "created_at")

    def save_model(self, request: HttpRequest, obj: ExtraWorkEntry, form: Any, change: bool) -> None:
        extra_work_entry_save(obj, actor=request.user)  # type: ignore[arg-type]


class _LineAdmin(admin.ModelAdmin):
    form = LineForm
    show_full_result_count = False


@admin.register(ReceiptLine)
class ReceiptLineAdmin(_LineAdmin):
    list_display = ("receipt", "sku", "quantity")
    list_select_related = ("receipt",)
    search_fields = ("=receipt__reference", "=sku")
    raw_id_fields = ("receipt",)


@admin.register(ReturnLine)
class ReturnLineAdmin(_LineAdmin):
    list_display = ("customer_return", "sku", "quantity")
    list_select_related = ("customer_return",)
    search_fields = ("=customer_return__reference", "=sku")
    raw_id_fields = ("customer_return",)
