"""The legacy /api/v2/reports/* endpoints: one thin view per endpoint.

Each view parses and validates the request, calls a billing selector or service, and wraps
the result in {"success": true, "data": ...}. Visibility, permissions per customer, money and
validation of the domain rules all live in billing/; errors are translated by
rest_compat.errors.exception_handler.
"""

from __future__ import annotations

from typing import Any

from django.conf import settings
from django.http import HttpRequest, HttpResponse, StreamingHttpResponse
from django.middleware.csrf import get_token
from drf_spectacular.renderers import (
    OpenApiJsonRenderer,
    OpenApiJsonRenderer2,
    OpenApiYamlRenderer,
    OpenApiYamlRenderer2,
)
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiParameter, OpenApiResponse, extend_schema
from drf_spectacular.views import SpectacularAPIView, SpectacularSwaggerView
from rest_framework import permissions
from rest_framework.authentication import SessionAuthentication
from rest_framework.parsers import JSONParser
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from billing.errors import ValidationFailed
from billing.exporters import report_export
from billing.exporters.shapes import (
    customer_summary_data,
    report_data,
    report_detail_data,
    report_job_data,
    report_list_data,
)
from billing.models import Interface
from billing.permissions import can_generate
from billing.selectors.customers import customer_summaries
from billing.selectors.jobs import report_job_get, report_job_latest
from billing.selectors.reports import (
    parse_report_filters,
    report_detail,
    report_get,
    report_lines_by_order,
    report_list,
    report_not_closed_orders,
    report_orders,
    report_service_totals,
)
from billing.services.jobs import report_generate_idempotent, report_job_submit
from billing.services.reports import report_generate
from rest_compat import openapi
from rest_compat.errors import field_errors, not_found, request_id_of
from rest_compat.renderers import FacadeJSONRenderer, JSONOnlyNegotiation
from rest_compat.serializers import (
    BIGINT_MAX,
    CustomerSummaryQuerySerializer,
    DownloadQuerySerializer,
    GenerateReportRequestSerializer,
    ProgressQuerySerializer,
    ReportDetailQuerySerializer,
    ReportDetailSerializer,
    ReportListQuerySerializer,
    ReportPageQuerySerializer,
)
from rest_compat.throttling import GenerateRateThrottle

IDEMPOTENCY_KEY_HEADER = "Idempotency-Key"
TOTAL_COUNT_HEADER = "X-Total-Count"

REPORT_ID_PARAMETER = OpenApiParameter(
    "report_id", OpenApiTypes.UUID, OpenApiParameter.PATH, description="Report id (a malformed id is a 404)."
)
LIST_TOTAL_HEADER = OpenApiParameter(
    "X-Total-Count",
    int,
    OpenApiParameter.HEADER,
    response=[200],
    description="Reports matching the filters, before limit/offset.",
)
ORDERS_TOTAL_HEADER = OpenApiParameter(
    "X-Total-Count",
    int,
    OpenApiParameter.HEADER,
    response=[200],
    description="Billed orders in the report; sent when orders_limit or orders_offset is given.",
)


def success(data: Any, *, status: int = 200, headers: dict[str, str] | None = None) -> Response:
    return Response({"success": True, "data": data}, status=status, headers=headers)


def validated_query(serializer_class: type, request: Request) -> dict[str, Any]:
    """Query parameters validated by `serializer_class`; ValidationFailed with per-field messages."""
    serializer = serializer_class(data=request.query_params)
    if not serializer.is_valid():
        raise ValidationFailed("Invalid query parameters.", fields=field_errors(serializer.errors))
    return dict(serializer.validated_data)


def checked_ids(filters: dict[str, Any]) -> dict[str, Any]:
    """`filters` after checking that customer_id fits a database id (a 64-bit integer)."""
    customer_id = filters.get("customer_id")
    if customer_id is not None and not -BIGINT_MAX - 1 <= customer_id <= BIGINT_MAX:
        raise ValidationFailed("Invalid report filters.", fields={"customer_id": ["Enter a valid customer id."]})
    return filters


class FacadeView(APIView):
    """JSON in (application/json only), JSON out (money as 2-decimal numbers), whatever `Accept` says."""

    renderer_classes = [FacadeJSONRenderer]
    parser_classes = [JSONParser]
    content_negotiation_class = JSONOnlyNegotiation
    permission_classes = [permissions.IsAuthenticated]

    def initial(self, request: Request, *args: Any, **kwargs: Any) -> None:
        super().initial(request, *args, **kwargs)
        if request.method in permissions.SAFE_METHODS and isinstance(
            request.successful_authenticator, SessionAuthentication
        ):
            # A cookie-authenticated SPA gets its CSRF token (csrftoken cookie) from any read,
            # so it can send X-CSRFToken on POST /api/v2/reports/generate/.
            get_token(request._request)


class CanGenerateReports(permissions.BasePermission):
    """Declared at the edge: the user holds billing.generate_report (per-customer checks are in billing)."""

    message = "You do not have permission to generate billing reports."

    def has_permission(self, request, view) -> bool:
        return can_generate(request.user)


class ReportListView(FacadeView):
    """GET /api/v2/reports/: the reports the caller may see, filtered and ordered, as a plain array."""

    @extend_schema(
        operation_id="reports_list",
        summary="List billing reports",
        parameters=[ReportListQuerySerializer, LIST_TOTAL_HEADER],
        responses={
            200: OpenApiResponse(
                openapi.ReportListEnvelope, description="Reports the caller may see, newest first by default."
            ),
            **openapi.error_responses(400),
        },
    )
    def get(self, request: Request) -> Response:
        errors: dict[str, list[str]] = {}
        filters: dict[str, Any] = {}
        page: dict[str, Any] = {}
        try:
            filters = checked_ids(parse_report_filters(request.query_params))
        except ValidationFailed as exc:
            errors.update(exc.fields)
        try:
            page = validated_query(ReportPageQuerySerializer, request)
        except ValidationFailed as exc:
            errors.update(exc.fields)
        if errors:
            raise ValidationFailed("Invalid report filters.", fields=errors)
        reports = report_list(actor=request.user, **filters)
        total = reports.count()
        offset, limit = page["offset"], page["limit"]
        data = report_list_data(reports[offset : offset + limit])
        return success(data, headers={TOTAL_COUNT_HEADER: str(total)})


class ReportDetailView(FacadeView):
    """GET /api/v2/reports/{id}/: one report with its orders (and their services) and per-service totals."""

    @extend_schema(
        operation_id="reports_retrieve",
        summary="A billing report with its orders and per-service totals",
        parameters=[REPORT_ID_PARAMETER, ReportDetailQuerySerializer, ORDERS_TOTAL_HEADER],
        responses={
            200: OpenApiResponse(
                openapi.ReportDetailEnvelope,
                description="Every billed order by default; orders_limit / orders_offset page them.",
            ),
            **openapi.error_responses(400, 404),
        },
    )
    def get(self, request: Request, report_id: str) -> Response:
        paging = validated_query(ReportDetailQuerySerializer, request)
        if not paging:
            detail = report_detail(actor=request.user, report_id=report_id, billed=True)
            data = report_detail_data(
                detail.report,
                service_totals=detail.service_totals,
                orders=detail.orders,
                not_closed_orders=detail.not_closed_orders,
            )
            return success(data)
        report = report_get(actor=request.user, report_id=report_id)
        offset = paging.get("orders_offset", 0)
        limit = paging.get("orders_limit")
        orders_queryset = report_orders(report=report, billed=True)
        orders = list(orders_queryset[offset : offset + limit] if limit is not None else orders_queryset[offset:])
        lines = report_lines_by_order(report=report, order_ids=[order.order_id for order in orders])
        data = report_detail_data(
            report,
            service_totals=report_service_totals(report=report),
            orders=[(order, lines[order.order_id]) for order in orders],
            not_closed_orders=report_not_closed_orders(report=report),
        )
        return success(data, headers={TOTAL_COUNT_HEADER: str(report.order_count)})


class GenerateReportView(FacadeView):
    """POST /api/v2/reports/generate/: price a customer's period now (201), or queue it with "async": true (202)."""

    permission_classes = [permissions.IsAuthenticated, CanGenerateReports]
    throttle_classes = [GenerateRateThrottle]

    @extend_schema(
        operation_id="reports_generate",
        summary="Generate a billing report",
        request=GenerateReportRequestSerializer,
        parameters=[
            OpenApiParameter(
                IDEMPOTENCY_KEY_HEADER,
                str,
                OpenApiParameter.HEADER,
                required=False,
                description="Makes the request safe to retry: the same key and body return the first result.",
            )
        ],
        responses={
            201: OpenApiResponse(openapi.ReportEnvelope, description="The new report (or a replay of the same key)."),
            202: OpenApiResponse(openapi.ReportJobEnvelope, description='"async": true: the queued job.'),
            **openapi.error_responses(400, 409, 415, 429),
        },
    )
    def post(self, request: Request) -> Response:
        serializer = GenerateReportRequestSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        values = serializer.validated_data
        arguments = {
            "actor": request.user,
            "customer_id": values["customer_id"],
            "start_date": values["start_date"],
            "end_date": values["end_date"],
            "output_format": values["output_format"],
            "customer_service_ids": values.get("customer_service_ids"),
            "interface": Interface.REST,
            "request_id": request_id_of(request),
        }
        key = request.headers.get(IDEMPOTENCY_KEY_HEADER)
        if values["async"]:
            job = report_job_submit(**arguments, idempotency_key=key)
            return success(report_job_data(job), status=202)
        if key is not None:
            report, replayed = report_generate_idempotent(**arguments, idempotency_key=key)
            headers = {"Idempotent-Replayed": "true"} if replayed else None
            return success(report_data(report), status=201, headers=headers)
        report = report_generate(**arguments)
        return success(report_data(report), status=201)


class ReportDownloadView(FacadeView):
    """GET /api/v2/reports/{id}/download/?format=csv|json|pdf: the report as a file attachment (CSV by default)."""

    @extend_schema(
        operation_id="reports_download",
        summary="Download a billing report as CSV, JSON or PDF",
        parameters=[REPORT_ID_PARAMETER, DownloadQuerySerializer],
        responses={
            (200, "text/csv"): OpenApiResponse(
                OpenApiTypes.BINARY, description="CSV: one row per report line, then summary rows (docs/exports.md)."
            ),
            (200, "application/json"): OpenApiResponse(
                ReportDetailSerializer, description="JSON: the report detail `data` object (no envelope)."
            ),
            (200, "application/pdf"): OpenApiResponse(OpenApiTypes.BINARY, description="PDF document."),
            **openapi.error_responses(400, 404, media_type="application/json"),
        },
    )
    def get(self, request: Request, report_id: str) -> HttpResponse:
        result = report_export(
            actor=request.user,
            report_id=report_id,
            fmt=request.query_params.get("format") or "csv",
            interface=Interface.REST,
            request_id=request_id_of(request),
        )
        response = StreamingHttpResponse(result.chunks, content_type=result.content_type)
        response["Content-Disposition"] = f'attachment; filename="{result.filename}"'
        response["Cache-Control"] = "private, no-store"
        response["X-Content-Type-Options"] = "nosniff"
        return response


class CustomerSummaryView(FacadeView):
    """GET /api/v2/reports/customer-summary/: per customer, what its current reports bill."""

    @extend_schema(
        operation_id="reports_customer_summary",
        summary="Billing summary per customer (current reports only)",
        parameters=[CustomerSummaryQuerySerializer],
        responses={200: openapi.CustomerSummaryEnvelope, **openapi.error_responses(400)},
    )
    def get(self, request: Request) -> Response:
        query = {"customer_id": request.query_params.get("customer_id", "")}
        customer_id = checked_ids(parse_report_filters(query)).get("customer_id")
        customers = customer_summaries(actor=request.user, customer_id=customer_id)
        return success([customer_summary_data(customer) for customer in customers])


class ReportJobView(FacadeView):
    """GET /api/v2/reports/jobs/{id}/: a generation job (from "async": true) and its progress."""

    @extend_schema(
        operation_id="reports_jobs_retrieve",
        summary="A report generation job and its progress",
        parameters=[OpenApiParameter("job_id", OpenApiTypes.UUID, OpenApiParameter.PATH)],
        responses={200: openapi.ReportJobEnvelope, **openapi.error_responses(404)},
    )
    def get(self, request: Request, job_id: str) -> Response:
        return success(report_job_data(report_job_get(actor=request.user, job_id=job_id)))


class ReportProgressView(FacadeView):
    """GET /api/v2/reports/progress/: the latest generation job of a customer and period."""

    @extend_schema(
        operation_id="reports_progress",
        summary="Progress of the latest generation job for a customer and period",
        parameters=[ProgressQuerySerializer],
        responses={200: openapi.ReportJobEnvelope, **openapi.error_responses(400, 404)},
    )
    def get(self, request: Request) -> Response:
        query = validated_query(ProgressQuerySerializer, request)
        job = report_job_latest(
            actor=request.user,
            customer_id=query["customer_id"],
            start_date=query["start_date"],
            end_date=query["end_date"],
        )
        return success(report_job_data(job))


class SchemaView(SpectacularAPIView):
    """The OpenAPI 3 document of the facade (JSON by default, ?format=yaml), for authenticated users."""

    permission_classes = [permissions.IsAuthenticated]
    renderer_classes = [OpenApiJsonRenderer, OpenApiJsonRenderer2, OpenApiYamlRenderer, OpenApiYamlRenderer2]

    def handle_exception(self, exc: Exception) -> Response:
        response = super().handle_exception(exc)
        # Errors are the JSON envelope, whatever schema format was asked for.
        self.request.accepted_renderer = FacadeJSONRenderer()
        self.request.accepted_media_type = FacadeJSONRenderer.media_type
        return response


_swagger_ui = SpectacularSwaggerView.as_view(url_name="rest_compat:schema")


def swagger_ui(request: HttpRequest, *args: Any, **kwargs: Any) -> HttpResponse:
    """Swagger UI, when SWAGGER_UI_ENABLED (default: DEBUG); a 404 otherwise."""
    if not settings.SWAGGER_UI_ENABLED:
        return not_found(request)
    return _swagger_ui(request, *args, **kwargs)
