"""The legacy /api/v2/reports/* endpoints: one thin view per endpoint.

Each view parses and validates the request, calls a billing selector or service, and wraps
the result in {"success": true, "data": ...}. Visibility, permissions per customer, money and
validation of the domain rules all live in billing/; errors are translated by
rest_compat.errors.exception_handler.

The same views serve /api/v1/billing-v2/reports/* (the paths the legacy frontend calls): the
`Legacy...` subclasses at the end set `legacy = True`, which adds the names that frontend reads
beside the spec's (billing.exporters.shapes) and keeps its behaviour where the two differ
(generate answers the detail, or the CSV file itself). See docs/rest-api.md.
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
from drf_spectacular.settings import spectacular_settings
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiParameter, OpenApiResponse, extend_schema, extend_schema_view
from drf_spectacular.views import SpectacularAPIView, SpectacularSwaggerView
from rest_framework import permissions
from rest_framework.authentication import SessionAuthentication
from rest_framework.parsers import JSONParser
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from backend.csp import with_content_security_policy
from billing.errors import NotFound, ValidationFailed
from billing.exporters import ExportResult, credit_note_export, parse_flag, report_export
from billing.exporters.report_diff import diff_data, export_diff_csv, preview_data
from billing.exporters.shapes import credit_note_data, report_data, report_detail_data
from billing.ids import MAX_ID
from billing.models import BillingReport, Interface, ReportJob
from billing.permissions import can_generate
from billing.report_request import IDEMPOTENCY_KEY_MAX_LENGTH, ReportRequest
from billing.selectors.customers import customer_list, customer_rate_card, customer_summaries
from billing.selectors.jobs import report_job_get, report_job_latest
from billing.selectors.report_diff import report_diff
from billing.selectors.reports import (
    WHOLE_NUMBER,
    parse_report_filters,
    report_detail,
    report_get,
    report_lines_by_order,
    report_list,
    report_not_closed_orders,
    report_orders,
    report_service_totals,
)
from billing.services.generate import report_request_submit
from billing.services.lifecycle import report_finalize, report_void
from billing.services.preview import PreviewRequest, report_preview
from rest_compat import openapi
from rest_compat.errors import field_errors, not_found, request_id_of
from rest_compat.renderers import FacadeJSONRenderer, JSONOnlyNegotiation
from rest_compat.serializers import (
    CreditNoteSerializer,
    CustomerListQuerySerializer,
    CustomerSummaryQuerySerializer,
    DownloadQuerySerializer,
    GenerateReportRequestSerializer,
    LegacyGenerateReportRequestSerializer,
    PreviewReportRequestSerializer,
    ProgressQuerySerializer,
    ReportDetailQuerySerializer,
    ReportDetailSerializer,
    ReportDiffDownloadQuerySerializer,
    ReportDiffQuerySerializer,
    ReportListQuerySerializer,
    ReportPageQuerySerializer,
    VoidReportRequestSerializer,
)
from rest_compat.shapes import (
    customer_data,
    customer_summary_data,
    rate_card_line_data,
    report_job_data,
    report_list_data,
)

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
DIFF_TOTAL_HEADER = OpenApiParameter(
    "X-Total-Count", int, OpenApiParameter.HEADER, response=[200], description="Lines in the diff."
)
REPLAYED_HEADER = OpenApiParameter(
    "Idempotent-Replayed",
    str,
    OpenApiParameter.HEADER,
    response=[201, 202],
    enum=["true"],
    description="Sent (true) when the response replays an earlier request with the same Idempotency-Key.",
)


def success(data: Any, *, status: int = 200, headers: dict[str, str] | None = None) -> Response:
    return Response({"success": True, "data": data}, status=status, headers=headers)


def replay_headers(replayed: bool) -> dict[str, str] | None:
    """Idempotent-Replayed: true on a response that replays an earlier request with the same key."""
    return {"Idempotent-Replayed": "true"} if replayed else None


def validated_query(serializer_class: type, request: Request) -> dict[str, Any]:
    """Query parameters validated by `serializer_class`; ValidationFailed with per-field messages.

    A parameter given more than once is refused rather than read as its last value."""
    repeated = sorted(name for name, values in request.query_params.lists() if len(values) > 1)
    if repeated:
        raise ValidationFailed(
            "Invalid query parameters.", fields={name: ["Give this parameter once."] for name in repeated}
        )
    serializer = serializer_class(data=request.query_params)
    if not serializer.is_valid():
        raise ValidationFailed("Invalid query parameters.", fields=field_errors(serializer.errors))
    return dict(serializer.validated_data)


def file_response(result: ExportResult, *, status: int = 200) -> StreamingHttpResponse:
    """A report export as a streamed attachment."""
    response = StreamingHttpResponse(result.chunks, content_type=result.content_type, status=status)
    response["Content-Disposition"] = f'attachment; filename="{result.filename}"'
    response["Cache-Control"] = "private, no-store"
    response["X-Content-Type-Options"] = "nosniff"
    return response


def explicit_csv_or_json(request: Request) -> bool | None:
    """True when `Accept` names text/csv and not application/json, False for the reverse, None otherwise
    (no Accept, */*, or both named)."""
    named = {part.split(";")[0].strip().lower() for part in request.headers.get("Accept", "").split(",")}
    wants_csv, wants_json = "text/csv" in named, "application/json" in named
    return wants_csv if wants_csv != wants_json else None


def paged_detail(report: BillingReport, *, offset: int, limit: int | None, legacy: bool) -> dict[str, Any]:
    """The detail `data` of a report with a slice of its billed orders (service totals stay complete)."""
    orders_queryset = report_orders(report=report, billed=True)
    orders = list(orders_queryset[offset : offset + limit] if limit is not None else orders_queryset[offset:])
    lines = report_lines_by_order(report=report, order_ids=[order.order_id for order in orders])
    return report_detail_data(
        report,
        service_totals=report_service_totals(report=report),
        orders=[(order, lines[order.order_id]) for order in orders],
        not_closed_orders=report_not_closed_orders(report=report),
        legacy=legacy,
    )


class FacadeView(APIView):
    """JSON in (application/json only), JSON out (money as 2-decimal numbers), whatever `Accept` says."""

    renderer_classes = [FacadeJSONRenderer]
    parser_classes = [JSONParser]
    content_negotiation_class = JSONOnlyNegotiation
    permission_classes = [permissions.IsAuthenticated]
    # True on the legacy prefix /api/v1/: the legacy frontend's names beside the spec's.
    legacy = False
    schema = openapi.FacadeAutoSchema()
    blank_query_parameters: tuple[str, ...] = ()  # ignored when blank (documented with allowEmptyValue)

    def initial(self, request: Request, *args: Any, **kwargs: Any) -> None:
        super().initial(request, *args, **kwargs)
        if request.method in permissions.SAFE_METHODS and (
            isinstance(request.successful_authenticator, SessionAuthentication) or request.auth == "jwt"
        ):
            # A browser SPA gets its CSRF token (csrftoken cookie) from any read, so it can send
            # X-CSRFToken on the cookie-only POST /api/v1/billing-v2/reports/generate/ (CSV).
            get_token(request._request)


class CanGenerateReports(permissions.BasePermission):
    """Declared at the edge: the user holds billing.generate_report (per-customer checks are in billing)."""

    message = "You do not have permission to generate billing reports."

    def has_permission(self, request, view) -> bool:
        return can_generate(request.user)


class ReportListView(FacadeView):
    """GET /api/v2/reports/: the reports the caller may see, filtered and ordered, as a plain array."""

    blank_query_parameters = (
        "customer_id",
        "status",
        "start_date",
        "end_date",
        "created_after",
        "created_before",
        "order_by",
        "limit",
        "offset",
    )

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
            filters = parse_report_filters(request.query_params)
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
        data = report_list_data(reports[offset : offset + limit], legacy=self.legacy)
        return success(data, headers={TOTAL_COUNT_HEADER: str(total)})


class ReportDetailView(FacadeView):
    """GET /api/v2/reports/{id}/: one report with its orders (and their services) and per-service totals."""

    blank_query_parameters = ("orders_limit", "orders_offset")

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
                legacy=self.legacy,
            )
            return success(data)
        report = report_get(actor=request.user, report_id=report_id)
        data = paged_detail(
            report, offset=paging.get("orders_offset", 0), limit=paging.get("orders_limit"), legacy=self.legacy
        )
        return success(data, headers={TOTAL_COUNT_HEADER: str(report.order_count)})


class GenerateReportView(FacadeView):
    """POST /api/v2/reports/generate/: price a customer's period now (201), or queue it with "async": true (202)."""

    permission_classes = [permissions.IsAuthenticated, CanGenerateReports]
    request_serializer: type[GenerateReportRequestSerializer] = GenerateReportRequestSerializer

    @extend_schema(
        operation_id="reports_generate",
        summary="Generate a billing report",
        request=GenerateReportRequestSerializer,
        parameters=[
            OpenApiParameter(
                IDEMPOTENCY_KEY_HEADER,
                {"type": "string", "minLength": 1, "maxLength": IDEMPOTENCY_KEY_MAX_LENGTH, "pattern": "^[ -~]+$"},
                OpenApiParameter.HEADER,
                required=False,
                description="Makes the request safe to retry: the same key and body return the first result.",
            ),
            REPLAYED_HEADER,
        ],
        responses={
            (201, "application/json"): OpenApiResponse(
                openapi.ReportEnvelope, description="The new report (or a replay of the same key)."
            ),
            (201, "text/csv"): OpenApiResponse(
                OpenApiTypes.BINARY, description="With `Accept: text/csv`: the new report as a CSV attachment."
            ),
            (202, "application/json"): OpenApiResponse(
                openapi.ReportJobEnvelope, description='"async": true: the queued job.'
            ),
            **openapi.error_responses(400, 409, 415, 429, media_type="application/json"),
        },
        description="409 ALREADY_BILLED: the period would bill (order, rate-card line) pairs another live "
        "report bills (details name the reports and count the pairs); send only_unbilled to bill the rest. "
        "409 INVALID_REPORT_TRANSITION: the same scope is finalized.",
    )
    def post(self, request: Request) -> HttpResponse | StreamingHttpResponse:
        serializer = self.request_serializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        values = serializer.validated_data
        submission = report_request_submit(
            request.user,
            ReportRequest(
                customer_id=values["customer_id"],
                start_date=values["start_date"],
                end_date=values["end_date"],
                output_format=values["output_format"],
                customer_service_ids=values.get("customer_service_ids"),
                only_unbilled=values.get("only_unbilled", False),
                asynchronous=values["async"],
                idempotency_key=request.headers.get(IDEMPOTENCY_KEY_HEADER),
                interface=Interface.REST,
                request_id=request_id_of(request),
            ),
        )
        headers = replay_headers(submission.replayed) or {}
        if isinstance(submission.result, ReportJob):
            return success(report_job_data(submission.result, legacy=self.legacy), status=202, headers=headers)
        report = submission.result
        if self.answers_csv(request, values["output_format"]):
            result = report_export(
                actor=request.user,
                report_id=report.id,
                fmt="csv",
                interface=Interface.REST,
                request_id=request_id_of(request),
            )
            response = file_response(result, status=201)
            for name, value in headers.items():
                response[name] = value
            return response
        if not self.legacy:
            return success(report_data(report), status=201, headers=headers)
        # The legacy frontend shows this body as the new report: the detail, with a bounded number of orders.
        data = paged_detail(report, offset=0, limit=settings.LEGACY_GENERATE_MAX_ORDERS, legacy=True)
        headers[TOTAL_COUNT_HEADER] = str(report.order_count)
        return success(data, status=201, headers=headers)

    def answers_csv(self, request: Request, output_format: str) -> bool:
        """The CSV file instead of the JSON envelope? An explicit Accept decides; otherwise the
        legacy prefix answers the file for output_format "csv", as the legacy frontend expects."""
        explicit = explicit_csv_or_json(request)
        if explicit is not None:
            return explicit
        return self.legacy and output_format == "csv"


class PreviewReportView(FacadeView):
    """POST /api/v2/reports/preview/: price a period as generate would (or under a draft rate card), saving nothing."""

    permission_classes = [permissions.IsAuthenticated, CanGenerateReports]

    @extend_schema(
        operation_id="reports_preview",
        summary="Preview a billing report: price a period without saving anything",
        request=PreviewReportRequestSerializer,
        responses={
            200: OpenApiResponse(
                openapi.PreviewEnvelope,
                description="What the report would be, and its diff against the live report of the same scope.",
            ),
            **openapi.error_responses(400, 415, 429),
        },
        description="Runs the real generation (and, with rate_card_document, the real rate-card import) in a "
        "transaction that is rolled back. 400 with `details` keyed rate_card_document.<path> for a bad document. "
        "Counts against the generation rate limit.",
    )
    def post(self, request: Request) -> Response:
        serializer = PreviewReportRequestSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        values = serializer.validated_data
        preview = report_preview(
            request.user,
            PreviewRequest(
                customer_id=values["customer_id"],
                start_date=values["start_date"],
                end_date=values["end_date"],
                customer_service_ids=values.get("customer_service_ids"),
                rate_card_document=values.get("rate_card_document"),
                orders_limit=values["orders_limit"],
            ),
            interface=Interface.REST,
        )
        return success(preview_data(preview, legacy=self.legacy))


class ReportDiffView(FacadeView):
    """GET /api/v2/reports/{id}/diff/?against={id}: what changed against another report of the customer."""

    blank_query_parameters = ("against", "limit", "offset")

    @extend_schema(
        operation_id="reports_diff",
        summary="What changed between two reports of one customer",
        parameters=[REPORT_ID_PARAMETER, ReportDiffQuerySerializer, DIFF_TOTAL_HEADER],
        responses={
            200: OpenApiResponse(
                openapi.ReportDiffEnvelope,
                description="Totals per service and overall, counts per cause, and a page of lines.",
            ),
            **openapi.error_responses(400, 404),
        },
        description="400 on `against` when the reports belong to different customers, or when it is omitted "
        "and the report superseded none.",
    )
    def get(self, request: Request, report_id: str) -> Response:
        query = validated_query(ReportDiffQuerySerializer, request)
        diff = report_diff(actor=request.user, report_id=report_id, against_id=query.get("against"))
        lines = diff.lines(offset=query["offset"], limit=query["limit"])
        return success(diff_data(diff, lines, legacy=self.legacy), headers={TOTAL_COUNT_HEADER: str(diff.line_count)})


def diff_download_responses(*, legacy: bool) -> dict:
    return {
        (200, "text/csv"): OpenApiResponse(
            OpenApiTypes.BINARY,
            description="CSV: one row per diff line, then a row per service and a total row (docs/exports.md).",
        ),
        **openapi.error_responses(400, 404, media_type="application/json", legacy=legacy),
    }


class ReportDiffDownloadView(FacadeView):
    """GET /api/v2/reports/{id}/diff/download/?against={id}: the whole diff as a CSV attachment (streamed)."""

    blank_query_parameters = ("against", "bom")

    @extend_schema(
        operation_id="reports_diff_download",
        summary="Download the diff of two reports as CSV",
        parameters=[REPORT_ID_PARAMETER, ReportDiffDownloadQuerySerializer],
        responses=diff_download_responses(legacy=False),
    )
    def get(self, request: Request, report_id: str) -> StreamingHttpResponse:
        query = validated_query(ReportDiffDownloadQuerySerializer, request)
        diff = report_diff(actor=request.user, report_id=report_id, against_id=query.get("against"))
        filename = f"billing-report-diff-{diff.report.id}-{diff.against.id}.csv"
        return file_response(ExportResult("text/csv; charset=utf-8", filename, export_diff_csv(diff, bom=query["bom"])))


class FinalizeReportView(FacadeView):
    """POST /api/v2/reports/{id}/finalize/: issue a draft as an invoice with the next invoice number."""

    parser_classes = [JSONParser]

    @extend_schema(
        operation_id="reports_finalize",
        summary="Finalize a draft report (issue the invoice)",
        parameters=[REPORT_ID_PARAMETER],
        request=None,
        responses={
            200: OpenApiResponse(openapi.ReportEnvelope, description="The finalized report with its invoice_number."),
            **openapi.error_responses(403, 404, 409),
        },
    )
    def post(self, request: Request, report_id: str) -> Response:
        report = report_finalize(
            actor=request.user, report_id=report_id, interface=Interface.REST, request_id=request_id_of(request)
        )
        return success(report_data(report, legacy=self.legacy))


class VoidReportView(FacadeView):
    """POST /api/v2/reports/{id}/void/: void a finalized report with a reason; answers its credit note."""

    parser_classes = [JSONParser]

    @extend_schema(
        operation_id="reports_void",
        summary="Void a finalized report (issue its credit note)",
        parameters=[REPORT_ID_PARAMETER],
        request=VoidReportRequestSerializer,
        responses={
            200: OpenApiResponse(openapi.CreditNoteEnvelope, description="The credit note for the full amount."),
            **openapi.error_responses(400, 403, 404, 409, 415),
        },
    )
    def post(self, request: Request, report_id: str) -> Response:
        serializer = VoidReportRequestSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        note = report_void(
            actor=request.user,
            report_id=report_id,
            reason=serializer.validated_data["reason"],
            interface=Interface.REST,
            request_id=request_id_of(request),
        )
        return success(credit_note_data(note))


def file_responses(*, csv: str, json: type, json_description: str, legacy: bool) -> dict:
    """The documented answers of a download: the file in each format, or the error envelope."""
    return {
        (200, "text/csv"): OpenApiResponse(OpenApiTypes.BINARY, description=csv),
        (200, "application/json"): OpenApiResponse(json, description=json_description),
        (200, "application/pdf"): OpenApiResponse(OpenApiTypes.BINARY, description="PDF document."),
        **openapi.error_responses(400, 404, media_type="application/json", legacy=legacy),
    }


def credit_note_responses(*, legacy: bool) -> dict:
    return file_responses(
        csv="CSV: the credit note's facts.",
        json=CreditNoteSerializer,
        json_description="JSON (no envelope).",
        legacy=legacy,
    )


class CreditNoteDownloadView(FacadeView):
    """GET /api/v2/reports/{id}/credit-note/download/?format=csv|json|pdf: the credit note of a voided report."""

    blank_query_parameters = ("format",)

    @extend_schema(
        operation_id="reports_credit_note_download",
        summary="Download the credit note of a voided report as CSV, JSON or PDF",
        parameters=[REPORT_ID_PARAMETER, DownloadQuerySerializer],
        responses=credit_note_responses(legacy=False),
    )
    def get(self, request: Request, report_id: str) -> StreamingHttpResponse:
        result = credit_note_export(
            actor=request.user,
            report_id=report_id,
            fmt=request.query_params.get("format") or "csv",
            interface=Interface.REST,
            request_id=request_id_of(request),
        )
        return file_response(result)


def download_responses(*, legacy: bool) -> dict:
    return file_responses(
        csv="CSV: one row per report line, then summary rows (docs/exports.md).",
        json=ReportDetailSerializer,
        json_description="JSON: the report detail `data` object (no envelope).",
        legacy=legacy,
    )


class ReportDownloadView(FacadeView):
    """GET /api/v2/reports/{id}/download/?format=csv|json|pdf: the report as a file attachment (CSV by default)."""

    blank_query_parameters = ("format",)

    @extend_schema(
        operation_id="reports_download",
        summary="Download a billing report as CSV, JSON or PDF",
        parameters=[REPORT_ID_PARAMETER, DownloadQuerySerializer],
        responses=download_responses(legacy=False),
    )
    def get(self, request: Request, report_id: str) -> StreamingHttpResponse:
        result = report_export(
            actor=request.user,
            report_id=report_id,
            fmt=request.query_params.get("format") or "csv",
            interface=Interface.REST,
            request_id=request_id_of(request),
            bom=parse_flag("bom", request.query_params.get("bom")),
        )
        return file_response(result)


class CustomerSummaryView(FacadeView):
    """GET /api/v2/reports/customer-summary/: per customer, what its current reports bill."""

    blank_query_parameters = ("customer_id",)

    @extend_schema(
        operation_id="reports_customer_summary",
        summary="Billing summary per customer (current reports only)",
        parameters=[CustomerSummaryQuerySerializer],
        responses={200: openapi.CustomerSummaryEnvelope, **openapi.error_responses(400)},
    )
    def get(self, request: Request) -> Response:
        query = {"customer_id": request.query_params.get("customer_id", "")}
        customer_id = parse_report_filters(query).get("customer_id")
        customers = customer_summaries(actor=request.user, customer_id=customer_id)
        return success([customer_summary_data(customer, legacy=self.legacy) for customer in customers])


class ReportJobView(FacadeView):
    """GET /api/v2/reports/jobs/{id}/: a generation job (from "async": true) and its progress."""

    @extend_schema(
        operation_id="reports_jobs_retrieve",
        summary="A report generation job and its progress",
        parameters=[OpenApiParameter("job_id", OpenApiTypes.UUID, OpenApiParameter.PATH)],
        responses={200: openapi.ReportJobEnvelope, **openapi.error_responses(404)},
    )
    def get(self, request: Request, job_id: str) -> Response:
        return success(report_job_data(report_job_get(actor=request.user, job_id=job_id), legacy=self.legacy))


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
        return success(report_job_data(job, legacy=self.legacy))


def _customer_id(raw: str) -> int:
    """A customer id from the path: a malformed or out-of-range one reads as unknown (404)."""
    customer_id = int(raw) if WHOLE_NUMBER.fullmatch(raw) else 0
    if not 1 <= customer_id <= MAX_ID:
        raise NotFound(f"Customer {raw!r} does not exist.")
    return customer_id


class CustomerServicesView(FacadeView):
    """GET /api/v2/reports/customer-services/{customer_id}/: the rate-card lines one may ask to price."""

    @extend_schema(
        operation_id="reports_customer_services",
        summary="A customer's active rate-card lines (for customer_service_ids)",
        parameters=[OpenApiParameter("customer_id", int, OpenApiParameter.PATH)],
        responses={200: openapi.RateCardEnvelope, **openapi.error_responses(404)},
    )
    def get(self, request: Request, customer_id: str) -> Response:
        lines = customer_rate_card(actor=request.user, customer_id=_customer_id(customer_id))
        return success([rate_card_line_data(line) for line in lines])


class CustomerListView(FacadeView):
    """GET /api/v1/customers/: the customers the caller may see (the generate form's picker)."""

    legacy = True
    blank_query_parameters = ("search",)

    @extend_schema(
        operation_id="customers_list",
        summary="Customers the caller may see, by name",
        parameters=[CustomerListQuerySerializer],
        responses={200: openapi.CustomerListEnvelope, **openapi.error_responses(400, legacy=True)},
    )
    def get(self, request: Request) -> Response:
        query = validated_query(CustomerListQuerySerializer, request)
        customers = customer_list(actor=request.user, search=query.get("search", ""))
        return success([customer_data(customer) for customer in customers])


# --- /api/v1/billing-v2/reports/*: the same endpoints as the legacy frontend reads them --------------


def _legacy(
    view: type[FacadeView],
    method: str,
    operation_id: str,
    responses: dict,
    attrs: dict[str, Any] | None = None,
    **extra: Any,
) -> type:
    """A subclass of `view` for the legacy prefix (with `attrs`), documented with its own operation id and bodies."""
    doc = (view.__doc__ or "").replace("/api/v2/", "/api/v1/billing-v2/")
    description = f"{doc} With the legacy frontend's field names beside the spec's (docs/rest-api.md)."
    schema = extend_schema(operation_id=operation_id, responses=responses, description=description, **extra)
    body = {"legacy": True, "__module__": __name__, "__doc__": doc, **(attrs or {})}
    subclass = type(f"Legacy{view.__name__}", (view,), body)
    return extend_schema_view(**{method: schema})(subclass)


LegacyReportListView = _legacy(
    ReportListView,
    "get",
    "legacy_reports_list",
    {200: openapi.LegacyReportListEnvelope, **openapi.error_responses(400, legacy=True)},
)
LegacyReportDetailView = _legacy(
    ReportDetailView,
    "get",
    "legacy_reports_retrieve",
    {200: openapi.LegacyReportDetailEnvelope, **openapi.error_responses(400, 404, legacy=True)},
)
LegacyGenerateReportView = _legacy(
    GenerateReportView,
    "post",
    "legacy_reports_generate",
    {
        (201, "application/json"): OpenApiResponse(
            openapi.LegacyReportDetailEnvelope,
            description="The new report with its detail: service totals, and its first orders "
            "(at most LEGACY_GENERATE_MAX_ORDERS; X-Total-Count has the number of billed orders).",
        ),
        (201, "text/csv"): OpenApiResponse(
            OpenApiTypes.BINARY,
            description='output_format "csv" (unless Accept asks for application/json), or Accept: text/csv: '
            "the new report as a CSV attachment.",
        ),
        (202, "application/json"): OpenApiResponse(
            openapi.LegacyReportJobEnvelope, description='"async": true: the queued job.'
        ),
        **openapi.error_responses(400, 409, 415, 429, media_type="application/json", legacy=True),
    },
    attrs={"request_serializer": LegacyGenerateReportRequestSerializer},
    request=LegacyGenerateReportRequestSerializer,
)
LegacyPreviewReportView = _legacy(
    PreviewReportView,
    "post",
    "legacy_reports_preview",
    {200: openapi.LegacyPreviewEnvelope, **openapi.error_responses(400, 415, 429, legacy=True)},
)
LegacyReportDiffView = _legacy(
    ReportDiffView,
    "get",
    "legacy_reports_diff",
    {200: openapi.LegacyReportDiffEnvelope, **openapi.error_responses(400, 404, legacy=True)},
)
LegacyReportDiffDownloadView = _legacy(
    ReportDiffDownloadView,
    "get",
    "legacy_reports_diff_download",
    diff_download_responses(legacy=True),
)
LegacyReportDownloadView = _legacy(
    ReportDownloadView,
    "get",
    "legacy_reports_download",
    download_responses(legacy=True),
)
LegacyCustomerSummaryView = _legacy(
    CustomerSummaryView,
    "get",
    "legacy_reports_customer_summary",
    {200: openapi.LegacyCustomerSummaryEnvelope, **openapi.error_responses(400, legacy=True)},
)
LegacyReportJobView = _legacy(
    ReportJobView,
    "get",
    "legacy_reports_jobs_retrieve",
    {200: openapi.LegacyReportJobEnvelope, **openapi.error_responses(404, legacy=True)},
)
LegacyReportProgressView = _legacy(
    ReportProgressView,
    "get",
    "legacy_reports_progress",
    {200: openapi.LegacyReportJobEnvelope, **openapi.error_responses(400, 404, legacy=True)},
)
LegacyFinalizeReportView = _legacy(
    FinalizeReportView,
    "post",
    "legacy_reports_finalize",
    {200: openapi.LegacyReportEnvelope, **openapi.error_responses(403, 404, 409, legacy=True)},
)
LegacyVoidReportView = _legacy(
    VoidReportView,
    "post",
    "legacy_reports_void",
    {200: openapi.CreditNoteEnvelope, **openapi.error_responses(400, 403, 404, 409, 415, legacy=True)},
)
LegacyCreditNoteDownloadView = _legacy(
    CreditNoteDownloadView,
    "get",
    "legacy_reports_credit_note_download",
    credit_note_responses(legacy=True),
)
LegacyCustomerServicesView = _legacy(
    CustomerServicesView,
    "get",
    "legacy_reports_customer_services",
    {200: openapi.RateCardEnvelope, **openapi.error_responses(404, legacy=True)},
)


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
    """Swagger UI, when SWAGGER_UI_ENABLED (default: DEBUG), with a Content-Security-Policy; a 404 otherwise."""
    if not settings.SWAGGER_UI_ENABLED:
        return not_found(request)
    assets = (spectacular_settings.SWAGGER_UI_DIST, spectacular_settings.SWAGGER_UI_FAVICON_HREF)
    return with_content_security_policy(_swagger_ui(request, *args, **kwargs), asset_urls=assets)
