"""Explicit request and response serializers: the frozen legacy shapes of /api/v2/reports/*.

Request serializers validate input. Response serializers declare every documented field with
its type and format; they drive the OpenAPI document, and the contract tests check that the
bodies the views send (built by rest_compat.shapes and billing.exporters.shapes, the functions
the JSON export uses too) have exactly these fields. Response bodies are not built through DRF serializers: a
10,000-order detail would take seconds that way.
"""

from __future__ import annotations

import datetime as dt
from typing import Any

from django.core.validators import RegexValidator
from drf_spectacular.utils import extend_schema_field
from rest_framework import serializers

from billing.errors import ErrorCode, ValidationFailed
from billing.ids import MAX_ID
from billing.models import (
    ChargeType,
    JobStatus,
    OtherChargeSource,
    OutputFormat,
    ReportStatus,
    RuleGroupLogic,
    TierScope,
)
from billing.periods import INVALID_DATE, parse_date
from billing.selectors.report_diff import DIFF_MAX_LIMIT
from billing.selectors.reports import REPORT_ORDERING_FIELDS, WHOLE_NUMBER
from billing.services.preview import PREVIEW_MAX_ORDERS
from rest_compat.shapes import LEGACY_JOB_STATUS

LIST_DEFAULT_LIMIT = 1000
LIST_MAX_LIMIT = 1000

REPORT_ORDER_BY_CHOICES = [name for field in REPORT_ORDERING_FIELDS for name in (field, f"-{field}")]


class DateField(serializers.DateField):
    """YYYY-MM-DD, parsed with billing's parser and message (the range is checked by billing)."""

    default_error_messages = {"invalid": INVALID_DATE, "datetime": INVALID_DATE}

    def to_internal_value(self, value: Any) -> dt.date:
        try:
            return parse_date(value)
        except ValueError:
            self.fail("invalid")
            raise  # not reached: fail raises


class QueryIntegerField(serializers.IntegerField):
    """An integer in a query string: ASCII digits with an optional minus and nothing else, not
    the " 5", "+5" or "5.0" that DRF's IntegerField also reads as 5. An empty value is still
    "not given" (DRF's reading of a QueryDict)."""

    def to_internal_value(self, data: Any) -> int:
        if isinstance(data, str) and not WHOLE_NUMBER.fullmatch(data):
            self.fail("invalid")
        return super().to_internal_value(data)


class JSONIntegerField(serializers.IntegerField):
    """An integer in a JSON body: a number, not a string of digits (as the document says)."""

    def to_internal_value(self, data: Any) -> int:
        if isinstance(data, str):
            self.fail("invalid")
        return super().to_internal_value(data)


class JSONBooleanField(serializers.BooleanField):
    """A boolean in a JSON body: true or false, not 0, 1 or "yes"."""

    def to_internal_value(self, data: Any) -> bool:
        if not isinstance(data, bool):
            self.fail("invalid", input=data)
        return data


class JSONStringField(serializers.CharField):
    """A string in a JSON body: not a number or a boolean turned into text."""

    def to_internal_value(self, data: Any) -> str:
        if not isinstance(data, str):
            self.fail("invalid")
        return super().to_internal_value(data)


class DateOrDateTimeField(serializers.CharField):
    """A date (YYYY-MM-DD) or an ISO 8601 date-time, as billing's list filters read it (documented in openapi.py)."""


class MoneyField(serializers.DecimalField):
    """A JSON number with exactly two decimal places, e.g. 1500.00 (documented in openapi.py)."""

    def __init__(self, **kwargs) -> None:
        kwargs.setdefault("max_digits", 16)
        super().__init__(decimal_places=2, coerce_to_string=False, **kwargs)


class PriceField(serializers.DecimalField):
    """A unit price: a JSON number with exactly four decimal places, e.g. 1.7500 (documented in openapi.py)."""

    def __init__(self, **kwargs) -> None:
        super().__init__(max_digits=12, decimal_places=4, coerce_to_string=False, **kwargs)


class QuantityField(serializers.DecimalField):
    """A JSON number: an integer for whole quantities (3), up to 4 decimals otherwise (2.5)."""

    def __init__(self, **kwargs) -> None:
        super().__init__(max_digits=18, decimal_places=4, coerce_to_string=False, **kwargs)


# --- Requests -----------------------------------------------------------------------------


class ReportListQuerySerializer(serializers.Serializer):
    """Query parameters of GET /api/v2/reports/ (the filters are parsed by billing's parse_report_filters)."""

    customer_id = QueryIntegerField(
        required=False, min_value=1, max_value=MAX_ID, help_text="Only this customer's reports."
    )
    start_date = DateField(required=False, help_text="Reports whose period starts on or after this date.")
    end_date = DateField(required=False, help_text="Reports whose period ends on or before this date.")
    created_after = DateOrDateTimeField(
        required=False, help_text="YYYY-MM-DD (from 00:00 UTC that day) or an ISO 8601 datetime (inclusive)."
    )
    created_before = DateOrDateTimeField(
        required=False, help_text="YYYY-MM-DD (the whole day included) or an ISO 8601 datetime (exclusive)."
    )
    status = serializers.ChoiceField(
        choices=ReportStatus.values, required=False, help_text="Only reports with this status."
    )
    order_by = serializers.ChoiceField(
        choices=REPORT_ORDER_BY_CHOICES,
        required=False,
        help_text="Sort field; '-' prefix for descending. Default -created_at.",
    )
    limit = QueryIntegerField(
        required=False,
        min_value=1,
        max_value=LIST_MAX_LIMIT,
        default=LIST_DEFAULT_LIMIT,
        help_text=f"At most this many reports (default and maximum {LIST_MAX_LIMIT}); X-Total-Count has the total.",
    )
    offset = QueryIntegerField(
        required=False, min_value=0, max_value=MAX_ID, default=0, help_text="Skip this many reports."
    )


class ReportPageQuerySerializer(serializers.Serializer):
    """The paging part of ReportListQuerySerializer, validated by the list view."""

    limit = QueryIntegerField(required=False, min_value=1, max_value=LIST_MAX_LIMIT, default=LIST_DEFAULT_LIMIT)
    offset = QueryIntegerField(required=False, min_value=0, max_value=MAX_ID, default=0)


class ReportDetailQuerySerializer(serializers.Serializer):
    orders_limit = QueryIntegerField(
        required=False,
        min_value=1,
        max_value=MAX_ID,
        help_text="Return at most this many orders (default: every order). X-Total-Count has the number of orders.",
    )
    orders_offset = QueryIntegerField(
        required=False, min_value=0, max_value=MAX_ID, help_text="Skip this many orders (default 0)."
    )


def _rate_card_line_ids(**kwargs) -> serializers.ListField:
    return serializers.ListField(
        child=JSONIntegerField(min_value=1, max_value=MAX_ID),
        required=False,
        allow_null=True,
        allow_empty=False,
        min_length=1,
        max_length=1000,
        **kwargs,
    )


# Names that are not fields of a request but that a client may mean: the hint in the 400.
_DID_YOU_MEAN = {"customer_services": "customer_service_ids"}


class KnownFieldsOnly(serializers.Serializer):
    """A body whose unknown fields are a 400 naming them, never ignored."""

    def to_internal_value(self, data):
        if isinstance(data, dict):
            unknown = sorted(str(name) for name in data if name not in self.fields)
            if unknown:
                raise ValidationFailed(
                    f"Unknown field{'s' if len(unknown) > 1 else ''}: {', '.join(unknown)}.",
                    fields={name: [_unknown_field_message(name, self.fields)] for name in unknown},
                )
        return super().to_internal_value(data)


class GenerateReportRequestSerializer(KnownFieldsOnly):
    """The generate body. A field the endpoint does not know is a 400 naming it, never ignored:
    a client asking for part of a bill must not silently get all of it."""

    customer_id = JSONIntegerField(min_value=1, max_value=MAX_ID)
    start_date = DateField(help_text="First day of the period (YYYY-MM-DD).")
    end_date = DateField(help_text="Last day of the period, inclusive (YYYY-MM-DD).")
    output_format = serializers.ChoiceField(choices=OutputFormat.values, default=OutputFormat.JSON)
    customer_service_ids = _rate_card_line_ids(
        help_text="Optional: price only these rate-card lines of the customer (default: all active ones)."
    )
    only_unbilled = JSONBooleanField(
        required=False,
        default=False,
        help_text="Bill only the (order, rate-card line) pairs no live report bills yet, instead of a 409.",
    )

    def get_fields(self):
        fields = super().get_fields()
        # "async" is a Python keyword, so it cannot be declared as a class attribute.
        fields["async"] = JSONBooleanField(
            default=False,
            help_text="true: queue the generation and answer 202 with the job (poll /api/v2/reports/jobs/{id}/).",
        )
        return fields


def _unknown_field_message(name: str, fields) -> str:
    hint = _DID_YOU_MEAN.get(name)
    suffix = f" Did you mean {hint}?" if hint in fields else ""
    return f"Unknown field.{suffix} Known fields: {', '.join(sorted(fields))}."


class LegacyGenerateReportRequestSerializer(GenerateReportRequestSerializer):
    """The generate body on /api/v1/billing-v2/: also the legacy frontend's name of the line subset."""

    customer_services = _rate_card_line_ids(help_text="The legacy name of customer_service_ids (give one of them).")

    def validate(self, attrs):
        legacy = attrs.pop("customer_services", None)
        if legacy is not None:
            if attrs.get("customer_service_ids") is not None:
                raise serializers.ValidationError(
                    {"customer_services": ["Give either customer_services or customer_service_ids, not both."]}
                )
            attrs["customer_service_ids"] = legacy
        return attrs


DIFF_DEFAULT_LIMIT = 100


def _against_field() -> serializers.UUIDField:
    return serializers.UUIDField(
        required=False,
        help_text="The report to compare with (the old side), of the same customer; default: the report "
        "this one superseded.",
    )


class ReportDiffQuerySerializer(serializers.Serializer):
    against = _against_field()
    limit = QueryIntegerField(
        required=False,
        min_value=1,
        max_value=DIFF_MAX_LIMIT,
        default=DIFF_DEFAULT_LIMIT,
        help_text=f"At most this many lines (default {DIFF_DEFAULT_LIMIT}, maximum {DIFF_MAX_LIMIT}); "
        "X-Total-Count has the number of lines.",
    )
    offset = QueryIntegerField(
        required=False, min_value=0, max_value=MAX_ID, default=0, help_text="Skip this many lines."
    )


class ReportDiffDownloadQuerySerializer(serializers.Serializer):
    against = _against_field()
    bom = serializers.BooleanField(
        required=False, default=False, help_text="Start with a UTF-8 byte-order mark, so that Excel reads UTF-8."
    )


class PreviewReportRequestSerializer(KnownFieldsOnly):
    """The preview body: generate's, without output or asynchrony, plus an optional draft rate card."""

    customer_id = JSONIntegerField(min_value=1, max_value=MAX_ID)
    start_date = DateField(help_text="First day of the period (YYYY-MM-DD).")
    end_date = DateField(help_text="Last day of the period, inclusive (YYYY-MM-DD).")
    customer_service_ids = _rate_card_line_ids(
        help_text="Optional: price only these rate-card lines of the customer (default: all active ones)."
    )
    rate_card_document = serializers.DictField(
        required=False,
        allow_null=True,
        help_text="Optional: a draft rate-card document in the import format (docs/rate-card-format.md), "
        "describing only this customer; the period is priced as if it were imported. Default: the current card.",
    )
    orders_limit = JSONIntegerField(
        required=False,
        min_value=1,
        max_value=PREVIEW_MAX_ORDERS,
        default=100,
        help_text="How many of the first orders to return (default 100).",
    )


class DownloadQuerySerializer(serializers.Serializer):
    format = serializers.ChoiceField(choices=["csv", "json", "pdf"], default="csv", required=False)
    bom = serializers.BooleanField(
        required=False,
        default=False,
        help_text="CSV only: start with a UTF-8 byte-order mark, so that Excel reads the file as UTF-8.",
    )


class CustomerSummaryQuerySerializer(serializers.Serializer):
    customer_id = QueryIntegerField(
        required=False, min_value=1, max_value=MAX_ID, help_text="Only this customer (listed even without reports)."
    )


class ProgressQuerySerializer(serializers.Serializer):
    customer_id = QueryIntegerField(min_value=1, max_value=MAX_ID)
    start_date = DateField()
    end_date = DateField()


# --- Responses (the `data` of the envelope) -----------------------------------------------


class ReportSerializer(serializers.Serializer):
    id = serializers.UUIDField()
    customer = serializers.IntegerField(help_text="Customer id.")
    customer_name = serializers.CharField()
    start_date = serializers.DateField()
    end_date = serializers.DateField()
    total_amount = MoneyField()
    generated_at = serializers.DateTimeField()
    output_format = serializers.ChoiceField(choices=OutputFormat.values)
    created_at = serializers.DateTimeField()
    created_by = serializers.CharField(
        allow_null=True,
        help_text="Username of who made the report (the system user for commands); null only for older reports.",
    )
    status = serializers.ChoiceField(
        choices=ReportStatus.values,
        help_text="draft (generated), finalized (issued), superseded (replaced by a regeneration) or voided.",
    )
    invoice_number = serializers.CharField(allow_null=True, help_text="The invoice number once finalized, else null.")
    is_partial = serializers.BooleanField(help_text="True when the report prices only some rate-card lines.")


class RuleSerializer(serializers.Serializer):
    field = serializers.CharField()
    operator = serializers.CharField()
    value = serializers.CharField()


class MatchedRuleGroupSerializer(serializers.Serializer):
    position = serializers.IntegerField(help_text="The group's position among the line's groups (1 = first).")
    of = serializers.IntegerField(help_text="How many rule groups the line had.")
    logic = serializers.ChoiceField(choices=RuleGroupLogic.values)
    rules = RuleSerializer(many=True)
    text = serializers.CharField(help_text="e.g. 'ship_to_country eq CA AND weight_lb gt 50'.")


class TierBandSerializer(serializers.Serializer):
    from_ = serializers.DecimalField(max_digits=18, decimal_places=4, coerce_to_string=False)
    to = serializers.DecimalField(max_digits=18, decimal_places=4, coerce_to_string=False)
    quantity = QuantityField()
    unit_price = PriceField()
    amount = serializers.DecimalField(
        max_digits=24, decimal_places=8, coerce_to_string=False, help_text="Exact, before rounding."
    )

    def get_fields(self) -> dict[str, Any]:
        fields = super().get_fields()
        fields["from"] = fields.pop("from_")
        return fields


class SkuCountSerializer(serializers.Serializer):
    sku = serializers.CharField(help_text="As on the order.")
    units = serializers.IntegerField()
    case_size = serializers.IntegerField(required=False, allow_null=True, help_text="Pick lines only.")
    cases = serializers.IntegerField(required=False, help_text="Pick lines only: full cases.")
    eaches = serializers.IntegerField(required=False, help_text="Pick lines only: units beyond full cases.")


class ExplanationSerializer(serializers.Serializer):
    """Why a line was charged, as recorded when the report was generated (docs/explanations.md)."""

    text = serializers.CharField()
    applies_to_every_order = serializers.BooleanField()
    rule_group = MatchedRuleGroupSerializer(allow_null=True)
    unit_price = PriceField(allow_null=True, help_text="The line's price; null for tiered lines.")
    tier_basis = serializers.CharField(allow_null=True)
    tier_scope = serializers.ChoiceField(choices=TierScope.values, allow_null=True)
    tier_bands = TierBandSerializer(many=True, allow_null=True)
    skus = SkuCountSerializer(many=True, allow_null=True)


class ServiceChargeSerializer(serializers.Serializer):
    service_id = serializers.IntegerField()
    service_name = serializers.CharField()
    amount = MoneyField()
    quantity = QuantityField()
    cost_type = serializers.ChoiceField(choices=ChargeType.values, help_text="The service's charge type.")
    explanation = ExplanationSerializer(
        allow_null=True, help_text="Why it was charged; null on reports generated before explanations were recorded."
    )


class ReportOrderSerializer(serializers.Serializer):
    order_id = serializers.CharField(help_text="The order's transaction id.")
    transaction_date = serializers.DateField(allow_null=True, help_text="Close date in the billing time zone.")
    status = serializers.CharField(help_text='The status as the WMS gave it, e.g. "delivered".')
    ship_to_name = serializers.CharField(allow_blank=True)
    ship_to_address = serializers.CharField(allow_blank=True)
    total_items = serializers.IntegerField()
    line_items = serializers.IntegerField()
    services = ServiceChargeSerializer(many=True)
    total_amount = MoneyField()


class ServiceTotalSerializer(serializers.Serializer):
    name = serializers.CharField()
    amount = MoneyField()
    order_count = serializers.IntegerField()


class NotClosedOrderSerializer(serializers.Serializer):
    order_id = serializers.CharField(help_text="The order's transaction id.")
    reference_number = serializers.CharField(allow_blank=True)
    status = serializers.CharField(allow_blank=True, help_text="As the WMS gave it.")


class OtherChargeExplanationSerializer(serializers.Serializer):
    text = serializers.CharField(help_text="Why it was charged, in one sentence.")
    detail = serializers.DictField(help_text="The figures it was computed from (docs/explanations.md).")


class OtherChargeSerializer(serializers.Serializer):
    source = serializers.ChoiceField(choices=OtherChargeSource.values)
    reference = serializers.CharField(
        allow_blank=True, help_text="The receipt's, return's or entry's reference; storage: the month (YYYY-MM)."
    )
    date = serializers.DateField(help_text="The activity's day; storage: the month's last day billed.")
    service_id = serializers.IntegerField(allow_null=True, help_text="Null for adjustments over several services.")
    service_name = serializers.CharField(allow_blank=True)
    charge_type = serializers.CharField(help_text="An activity charge type, or minimum / surcharge / discount.")
    quantity = QuantityField()
    unit = serializers.CharField(help_text="e.g. pallet-month, receipt, hour; adjustments: amount or adjustment.")
    unit_price = PriceField(help_text="Adjustments: the rate (a percent / 100) or the amount; negative for discounts.")
    amount = MoneyField(help_text="quantity x unit_price, rounded half-up to the cent.")
    explanation = OtherChargeExplanationSerializer()


class UnbilledActivitySerializer(serializers.Serializer):
    receipts = serializers.IntegerField(help_text="Receipts of the period no rate-card line priced.")
    returns = serializers.IntegerField()
    extra_work = serializers.IntegerField()
    snapshot_days = serializers.IntegerField(help_text="Days with inventory snapshots no storage line counted.")


class ReportDetailSerializer(ReportSerializer):
    orders = ReportOrderSerializer(
        many=True, help_text="The billed orders, in generation order (orders no rate-card line applied to are omitted)."
    )
    service_totals = serializers.DictField(
        child=ServiceTotalSerializer(), help_text="Keyed by service id; order lines and other charges."
    )
    not_closed_orders = NotClosedOrderSerializer(
        many=True,
        help_text="The customer's orders without a close date when the report was made: never billable, listed apart.",
    )
    other_charges = OtherChargeSerializer(
        many=True,
        help_text="Storage, receiving, returns, extra work and adjustments; total_amount includes them.",
    )
    unbilled_activity = UnbilledActivitySerializer(help_text="Activity of the period no rate-card line priced.")


class CustomerSummarySerializer(serializers.Serializer):
    customer_id = serializers.IntegerField()
    customer_name = serializers.CharField()
    reports_count = serializers.IntegerField()
    total_billed = MoneyField()
    first_billing_date = serializers.DateField(allow_null=True)
    last_billing_date = serializers.DateField(allow_null=True)
    average_bill_amount = MoneyField()


class ReportJobSerializer(serializers.Serializer):
    id = serializers.UUIDField()
    status = serializers.ChoiceField(choices=JobStatus.choices)
    customer = serializers.IntegerField()
    customer_name = serializers.CharField()
    start_date = serializers.DateField()
    end_date = serializers.DateField()
    output_format = serializers.ChoiceField(choices=OutputFormat.values)
    processed_orders = serializers.IntegerField()
    total_orders = serializers.IntegerField()
    progress_percent = serializers.IntegerField(min_value=0, max_value=100)
    report_id = serializers.UUIDField(allow_null=True, help_text="The report, once the job has succeeded.")
    error = serializers.CharField(allow_blank=True, help_text="Why the job failed; empty otherwise.")
    created_at = serializers.DateTimeField()
    started_at = serializers.DateTimeField(allow_null=True)
    finished_at = serializers.DateTimeField(allow_null=True)
    requested_by = serializers.CharField(allow_null=True)


# --- Responses of the legacy prefix /api/v1/ (the spec's fields, and beside them the legacy names) ---


class LegacyReportSerializer(ReportSerializer):
    customer_id = serializers.IntegerField(help_text="Same as `customer`.")
    currency = serializers.CharField(help_text="ISO 4217 code of the report's amounts.")


class LegacyReportOrderSerializer(ReportOrderSerializer):
    reference_number = serializers.CharField(allow_blank=True, help_text="The order's reference number.")
    order_date = serializers.DateField(allow_null=True, help_text="Same as `transaction_date`.")
    service_costs = ServiceChargeSerializer(many=True, help_text="Same as `services`.")


class LegacyServiceTotalSerializer(ServiceTotalSerializer):
    service_name = serializers.CharField(help_text="Same as `name`.")


class LegacyReportDetailSerializer(LegacyReportSerializer):
    orders = LegacyReportOrderSerializer(many=True, help_text=ReportDetailSerializer().fields["orders"].help_text)
    service_totals = serializers.DictField(child=LegacyServiceTotalSerializer(), help_text="Keyed by service id.")
    other_charges = OtherChargeSerializer(
        many=True, help_text=ReportDetailSerializer().fields["other_charges"].help_text
    )
    unbilled_activity = UnbilledActivitySerializer()


class LegacyCustomerSummarySerializer(CustomerSummarySerializer):
    currency = serializers.CharField(help_text="ISO 4217 code the customer is billed in.")


class LegacyReportJobSerializer(ReportJobSerializer):
    status = serializers.ChoiceField(
        choices=sorted(LEGACY_JOB_STATUS.values()),
        help_text="Legacy names: pending, in_progress, completed (report_id is set) or error (see current_step).",
    )
    job_status = serializers.ChoiceField(choices=JobStatus.choices, help_text="`status` of /api/v2/.")
    percent_complete = serializers.IntegerField(min_value=0, max_value=100, help_text="Same as `progress_percent`.")
    current_step = serializers.CharField(help_text="What the job is doing; for a failed job, why it failed.")


DIFF_CHANGES = ["added", "removed", "changed"]
DIFF_CAUSES = [
    "order_new",
    "rule_now_matches",
    "order_gone",
    "rule_no_longer_matches",
    "order_changed",
    "price_changed",
]


class DiffSideSerializer(serializers.Serializer):
    quantity = QuantityField()
    unit_price = PriceField()
    amount = MoneyField()


class DiffLineSerializer(serializers.Serializer):
    order_id = serializers.CharField(help_text="The order's transaction id.")
    service_id = serializers.IntegerField()
    service_name = serializers.CharField()
    cost_type = serializers.ChoiceField(choices=ChargeType.values, help_text="The service's charge type.")
    change = serializers.ChoiceField(choices=DIFF_CHANGES)
    cause = serializers.ChoiceField(
        choices=DIFF_CAUSES,
        help_text="order_new / order_gone: the order is only in the new / old report; rule_now_matches / "
        "rule_no_longer_matches: the order is in both, the line only in the new / old one; order_changed: "
        "the quantity differs; price_changed: the unit price or amount differs at the same quantity.",
    )
    old = DiffSideSerializer(allow_null=True, help_text="The line in the old report (`against`); null when added.")
    new = DiffSideSerializer(allow_null=True, help_text="The line in the new report; null when removed.")
    amount_change = MoneyField(help_text="New amount minus old amount (an absent line counts 0).")


class AmountChangeSerializer(serializers.Serializer):
    old = MoneyField()
    new = MoneyField()
    change = MoneyField()


class ServiceTotalChangeSerializer(serializers.Serializer):
    service_id = serializers.IntegerField()
    service_name = serializers.CharField()
    old_amount = MoneyField()
    new_amount = MoneyField()
    change = MoneyField()


class DiffCausesSerializer(serializers.Serializer):
    order_new = serializers.IntegerField()
    rule_now_matches = serializers.IntegerField()
    order_gone = serializers.IntegerField()
    rule_no_longer_matches = serializers.IntegerField()
    order_changed = serializers.IntegerField()
    price_changed = serializers.IntegerField()


class DiffCountsSerializer(serializers.Serializer):
    added = serializers.IntegerField()
    removed = serializers.IntegerField()
    changed = serializers.IntegerField()
    by_cause = DiffCausesSerializer()


class DiffSummarySerializer(serializers.Serializer):
    currency = serializers.CharField()
    total_amount = AmountChangeSerializer(help_text="The reports' totals and their difference.")
    service_totals = ServiceTotalChangeSerializer(many=True, help_text="Per service, by name.")
    counts = DiffCountsSerializer(help_text="Lines per change and per cause.")
    line_count = serializers.IntegerField(help_text="Every line of the diff (the page holds `lines`).")
    lines = DiffLineSerializer(many=True, help_text="A page of lines, by order id, then service id.")


class ReportDiffSerializer(DiffSummarySerializer):
    report = ReportSerializer(help_text="The new side.")
    against = ReportSerializer(help_text="The old side.")


class PreviewSerializer(serializers.Serializer):
    customer = serializers.IntegerField(help_text="Customer id.")
    customer_name = serializers.CharField()
    start_date = serializers.DateField()
    end_date = serializers.DateField()
    currency = serializers.CharField()
    is_partial = serializers.BooleanField(help_text="True when only some rate-card lines are priced.")
    total_amount = MoneyField()
    order_count = serializers.IntegerField()
    unbilled_order_count = serializers.IntegerField()
    line_count = serializers.IntegerField()
    orders = ReportOrderSerializer(many=True, help_text="The first billed orders (orders_limit), in generation order.")
    service_totals = serializers.DictField(child=ServiceTotalSerializer(), help_text="Keyed by service id.")
    already_billed_pairs = serializers.IntegerField(
        help_text="(order, rate-card line) pairs another live report bills: a generation would refuse them "
        "(ALREADY_BILLED) unless only_unbilled."
    )
    live_report = ReportSerializer(allow_null=True, help_text="The live report of the same scope, or null.")
    diff = DiffSummarySerializer(allow_null=True, help_text="Against live_report (null without one).")


class LegacyReportDiffSerializer(DiffSummarySerializer):
    report = LegacyReportSerializer()
    against = LegacyReportSerializer()


class LegacyPreviewSerializer(PreviewSerializer):
    orders = LegacyReportOrderSerializer(many=True)
    service_totals = serializers.DictField(child=LegacyServiceTotalSerializer())
    live_report = LegacyReportSerializer(allow_null=True)


class CustomerSerializer(serializers.Serializer):
    id = serializers.IntegerField()
    company_name = serializers.CharField()
    legal_business_name = serializers.CharField(allow_blank=True)
    email = serializers.CharField(allow_blank=True)
    is_active = serializers.BooleanField()
    currency = serializers.CharField(help_text="ISO 4217 code.")


class CustomerListQuerySerializer(serializers.Serializer):
    search = serializers.CharField(
        required=False,
        allow_blank=True,  # blank or only spaces: no filter
        # DRF refuses NUL characters in text; the pattern says so in the document.
        validators=[RegexValidator(r"^[^\x00]*$", message="Null characters are not allowed.")],
        help_text="Only customers whose name contains this text.",
    )


class RateCardLineSerializer(serializers.Serializer):
    id = serializers.IntegerField(
        help_text="The rate-card line id: what customer_service_ids / customer_services take."
    )
    service_id = serializers.IntegerField()
    service_name = serializers.CharField()
    charge_type = serializers.ChoiceField(choices=ChargeType.choices)
    unit_price = PriceField()


# --- Sign-in (/api/v1/auth/) ----------------------------------------------------------------


class LoginRequestSerializer(serializers.Serializer):
    username = JSONStringField(min_length=1)
    password = JSONStringField(min_length=1)


class JWTField(JSONStringField):
    """A JSON Web Token in a JSON body: three base64url parts separated by dots."""

    def __init__(self, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.validators.append(
            RegexValidator(JWT_PATTERN, message="Not a token: expected three parts separated by dots.")
        )


JWT_PATTERN = r"^[A-Za-z0-9_-]+\.[A-Za-z0-9_-]+\.[A-Za-z0-9_-]+$"


class RefreshRequestSerializer(serializers.Serializer):
    refresh = JWTField()


class TokenPairSerializer(serializers.Serializer):
    access = serializers.CharField(help_text="JWT access token: `Authorization: Bearer <access>`.")
    refresh = serializers.CharField(help_text="JWT refresh token, for POST /api/v1/auth/token/refresh/ (used once).")


# --- Errors -------------------------------------------------------------------------------


class ErrorSerializer(serializers.Serializer):
    code = serializers.ChoiceField(choices=[code.value for code in ErrorCode])
    message = serializers.CharField()
    details = serializers.DictField(
        help_text="Validation errors: {field: [messages]}; 500: {request_id}; 429: {retry_after}."
    )


@extend_schema_field({"type": "boolean", "enum": [False]})
class SuccessFalseField(serializers.BooleanField):
    pass


class ErrorEnvelopeSerializer(serializers.Serializer):
    success = SuccessFalseField()
    error = ErrorSerializer()


class LegacyErrorEnvelopeSerializer(ErrorEnvelopeSerializer):
    message = serializers.CharField(help_text="Same as error.message (where the legacy frontend reads it).")
    detail = serializers.CharField(help_text="Same as error.message (simplejwt's name).")


# What Python strips (str.isspace), spelled out: `\s` means other characters in the OpenAPI
# document's regex dialect (ECMA's has U+FEFF and lacks U+001C-U+001F and U+0085), and a
# client validating against the document must refuse exactly the reasons the server does.
_WHITESPACE = r"\t\n\x0b\x0c\r\x1c-\x1f \x85\xa0\u1680\u2000-\u200a\u2028\u2029\u202f\u205f\u3000"
# Not blank (something besides whitespace) and no NUL anywhere.
VOID_REASON_PATTERN = rf"^[^\x00]*[^\x00{_WHITESPACE}][^\x00]*$"


class VoidReportRequestSerializer(serializers.Serializer):
    """The void body: why the finalized report is cancelled (required)."""

    reason = serializers.RegexField(
        VOID_REASON_PATTERN,
        max_length=2000,
        help_text="Why the report is voided (printed on the credit note); not blank.",
    )


class CreditNoteSerializer(serializers.Serializer):
    id = serializers.UUIDField()
    number = serializers.CharField()
    report = serializers.UUIDField(help_text="The voided report.")
    invoice_number = serializers.CharField(help_text="The number of the invoice this note credits.")
    reason = serializers.CharField()
    currency = serializers.CharField()
    amount = MoneyField(help_text="The amount credited: the invoice's full total.")
    issued_at = serializers.DateTimeField()
    issued_by = serializers.CharField(allow_null=True)
