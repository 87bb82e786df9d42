"""Explicit request and response serializers: the frozen legacy shapes of /api/v2/reports/*.

Request serializers validate input. Response serializers declare every documented field with
its type and format; they drive the OpenAPI document, and the contract tests check that the
bodies the views send (built by billing.exporters.shapes, the functions the JSON export uses
too) have exactly these fields. Response bodies are not built through DRF serializers: a
10,000-order detail would take seconds that way.
"""

from __future__ import annotations

from drf_spectacular.utils import extend_schema_field
from rest_framework import serializers

from billing.errors import ErrorCode
from billing.models import ChargeType, JobStatus, OutputFormat
from billing.selectors.reports import REPORT_ORDERING_FIELDS

LIST_DEFAULT_LIMIT = 1000
LIST_MAX_LIMIT = 1000
BIGINT_MAX = 2**63 - 1

REPORT_ORDER_BY_CHOICES = [name for field in REPORT_ORDERING_FIELDS for name in (field, f"-{field}")]


class MoneyField(serializers.DecimalField):
    """A JSON number with exactly two decimal places, e.g. 1500.00 (documented in openapi.py)."""

    def __init__(self, **kwargs) -> None:
        kwargs.setdefault("max_digits", 16)
        super().__init__(decimal_places=2, coerce_to_string=False, **kwargs)


class QuantityField(serializers.DecimalField):
    """A JSON number: an integer for whole quantities (3), up to 4 decimals otherwise (2.5)."""

    def __init__(self, **kwargs) -> None:
        super().__init__(max_digits=18, decimal_places=4, coerce_to_string=False, **kwargs)


# --- Requests -----------------------------------------------------------------------------


class ReportListQuerySerializer(serializers.Serializer):
    """Query parameters of GET /api/v2/reports/ (the filters are parsed by billing's parse_report_filters)."""

    customer_id = serializers.IntegerField(required=False, help_text="Only this customer's reports.")
    start_date = serializers.DateField(required=False, help_text="Reports whose period starts on or after this date.")
    end_date = serializers.DateField(required=False, help_text="Reports whose period ends on or before this date.")
    created_after = serializers.CharField(
        required=False, help_text="YYYY-MM-DD (from 00:00 UTC that day) or an ISO 8601 datetime (inclusive)."
    )
    created_before = serializers.CharField(
        required=False, help_text="YYYY-MM-DD (the whole day included) or an ISO 8601 datetime (exclusive)."
    )
    order_by = serializers.ChoiceField(
        choices=REPORT_ORDER_BY_CHOICES,
        required=False,
        help_text="Sort field; '-' prefix for descending. Default -created_at.",
    )
    limit = serializers.IntegerField(
        required=False,
        min_value=1,
        max_value=LIST_MAX_LIMIT,
        default=LIST_DEFAULT_LIMIT,
        help_text=f"At most this many reports (default and maximum {LIST_MAX_LIMIT}); X-Total-Count has the total.",
    )
    offset = serializers.IntegerField(
        required=False, min_value=0, max_value=BIGINT_MAX, default=0, help_text="Skip this many reports."
    )


class ReportPageQuerySerializer(serializers.Serializer):
    """The paging part of ReportListQuerySerializer, validated by the list view."""

    limit = serializers.IntegerField(required=False, min_value=1, max_value=LIST_MAX_LIMIT, default=LIST_DEFAULT_LIMIT)
    offset = serializers.IntegerField(required=False, min_value=0, max_value=BIGINT_MAX, default=0)


class ReportDetailQuerySerializer(serializers.Serializer):
    orders_limit = serializers.IntegerField(
        required=False,
        min_value=1,
        max_value=BIGINT_MAX,
        help_text="Return at most this many orders (default: every order). X-Total-Count has the number of orders.",
    )
    orders_offset = serializers.IntegerField(
        required=False, min_value=0, max_value=BIGINT_MAX, help_text="Skip this many orders (default 0)."
    )


class GenerateReportRequestSerializer(serializers.Serializer):
    customer_id = serializers.IntegerField(min_value=1, max_value=BIGINT_MAX)
    start_date = serializers.DateField(help_text="First day of the period (YYYY-MM-DD).")
    end_date = serializers.DateField(help_text="Last day of the period, inclusive (YYYY-MM-DD).")
    output_format = serializers.ChoiceField(choices=OutputFormat.values, default=OutputFormat.JSON)
    customer_service_ids = serializers.ListField(
        child=serializers.IntegerField(min_value=1, max_value=BIGINT_MAX),
        required=False,
        allow_null=True,
        allow_empty=False,
        max_length=1000,
        help_text="Optional: price only these rate-card lines of the customer (default: all active ones).",
    )

    def get_fields(self):
        fields = super().get_fields()
        # "async" is a Python keyword, so it cannot be declared as a class attribute.
        fields["async"] = serializers.BooleanField(
            default=False,
            help_text="true: queue the generation and answer 202 with the job (poll /api/v2/reports/jobs/{id}/).",
        )
        return fields


class DownloadQuerySerializer(serializers.Serializer):
    format = serializers.ChoiceField(choices=["csv", "json", "pdf"], default="csv", required=False)


class CustomerSummaryQuerySerializer(serializers.Serializer):
    customer_id = serializers.IntegerField(
        required=False, help_text="Only this customer (listed even without reports)."
    )


class ProgressQuerySerializer(serializers.Serializer):
    customer_id = serializers.IntegerField(min_value=1, max_value=BIGINT_MAX)
    start_date = serializers.DateField()
    end_date = serializers.DateField()


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


class ServiceChargeSerializer(serializers.Serializer):
    service_id = serializers.IntegerField()
    service_name = serializers.CharField()
    amount = MoneyField()
    quantity = QuantityField()
    cost_type = serializers.ChoiceField(choices=ChargeType.values, help_text="The service's charge type.")


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


class ReportDetailSerializer(ReportSerializer):
    orders = ReportOrderSerializer(
        many=True, help_text="The billed orders, in generation order (orders no rate-card line applied to are omitted)."
    )
    service_totals = serializers.DictField(child=ServiceTotalSerializer(), help_text="Keyed by service id.")
    not_closed_orders = NotClosedOrderSerializer(
        many=True,
        help_text="The customer's orders without a close date when the report was made: never billable, listed apart.",
    )


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
