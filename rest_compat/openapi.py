"""OpenAPI (drf-spectacular) pieces describing what the facade really sends.

- the `{"success": true, "data": ...}` envelope of every JSON success response, built per
  endpoint by `envelope()`, and the `{"success": false, "error": {...}}` error envelope, listed
  for every status an endpoint can answer (`error_responses()`);
- money as a JSON number with two decimals, quantities as numbers;
- the bearer-token security scheme (accounts.authentication.BearerAuthentication).

Imported by rest_compat.views, so the extensions are registered before a schema is built.
"""

from __future__ import annotations

from drf_spectacular.extensions import OpenApiAuthenticationExtension, OpenApiSerializerFieldExtension
from drf_spectacular.openapi import AutoSchema
from drf_spectacular.utils import OpenApiResponse, extend_schema_field
from rest_framework import serializers

from rest_compat.serializers import (
    CreditNoteSerializer,
    CustomerSerializer,
    CustomerSummarySerializer,
    ErrorEnvelopeSerializer,
    LegacyCustomerSummarySerializer,
    LegacyErrorEnvelopeSerializer,
    LegacyPreviewSerializer,
    LegacyReportDetailSerializer,
    LegacyReportDiffSerializer,
    LegacyReportJobSerializer,
    LegacyReportSerializer,
    PreviewSerializer,
    RateCardLineSerializer,
    ReportDetailSerializer,
    ReportDiffSerializer,
    ReportJobSerializer,
    ReportSerializer,
)


class FacadeAutoSchema(AutoSchema):
    """drf-spectacular's schema, with `allowEmptyValue` on the query parameters a view ignores
    when they are blank (its `blank_query_parameters`): `?start_date=` means no filter."""

    def _get_parameters(self):
        parameters = super()._get_parameters()
        blank = getattr(self.view, "blank_query_parameters", ())
        for parameter in parameters:
            if parameter["in"] == "query" and parameter["name"] in blank:
                parameter["allowEmptyValue"] = True
        return parameters


class BearerTokenScheme(OpenApiAuthenticationExtension):
    target_class = "accounts.authentication.BearerAuthentication"
    name = "bearerAuth"

    def get_security_definition(self, auto_schema):
        return {
            "type": "http",
            "scheme": "bearer",
            "description": (
                "An API token (`Authorization: Bearer llb_...`) or a JWT access token from "
                "POST /api/v1/auth/token/. No CSRF token is needed. A value in neither format is ignored "
                "(the session cookie decides)."
            ),
        }


class MoneyFieldSchema(OpenApiSerializerFieldExtension):
    target_class = "rest_compat.serializers.MoneyField"

    def map_serializer_field(self, auto_schema, direction):
        return {
            "type": "number",
            "format": "decimal",
            "description": "Money: a JSON number written with exactly two decimals, e.g. 1500.00.",
        }


class PriceFieldSchema(OpenApiSerializerFieldExtension):
    target_class = "rest_compat.serializers.PriceField"

    def map_serializer_field(self, auto_schema, direction):
        return {
            "type": "number",
            "format": "decimal",
            "description": "A unit price: a JSON number written with exactly four decimals, e.g. 1.7500.",
        }


class QuantityFieldSchema(OpenApiSerializerFieldExtension):
    target_class = "rest_compat.serializers.QuantityField"

    def map_serializer_field(self, auto_schema, direction):
        return {
            "type": "number",
            "description": "An integer for whole quantities (units, orders), up to 4 decimals otherwise (weight).",
        }


# Years the server accepts (billing.periods, 1970 to 2100): JSON Schema cannot bound a date, a pattern can.
YEAR_PATTERN = "^(19[7-9][0-9]|20[0-9][0-9]|2100)-"


class DateFieldSchema(OpenApiSerializerFieldExtension):
    target_class = "rest_compat.serializers.DateField"

    def map_serializer_field(self, auto_schema, direction):
        return {"type": "string", "format": "date", "pattern": YEAR_PATTERN}


class DateOrDateTimeFieldSchema(OpenApiSerializerFieldExtension):
    target_class = "rest_compat.serializers.DateOrDateTimeField"

    def map_serializer_field(self, auto_schema, direction):
        return {
            "type": "string",
            "oneOf": [
                {"format": "date", "pattern": YEAR_PATTERN},
                {"format": "date-time", "pattern": YEAR_PATTERN},
            ],
        }


@extend_schema_field({"type": "boolean", "enum": [True]})
class SuccessTrueField(serializers.BooleanField):
    pass


def envelope(name: str, data: serializers.Field) -> type[serializers.Serializer]:
    """A serializer documenting {"success": true, "data": <data>} as the component `name`."""
    attrs = {"success": SuccessTrueField(), "data": data, "__module__": __name__, "__doc__": None}
    return type(f"{name}Serializer", (serializers.Serializer,), attrs)


ReportListEnvelope = envelope("ReportListResponse", ReportSerializer(many=True))
ReportEnvelope = envelope("ReportResponse", ReportSerializer())
ReportDetailEnvelope = envelope("ReportDetailResponse", ReportDetailSerializer())
CustomerSummaryEnvelope = envelope("CustomerSummaryResponse", CustomerSummarySerializer(many=True))
ReportJobEnvelope = envelope("ReportJobResponse", ReportJobSerializer())
CreditNoteEnvelope = envelope("CreditNoteResponse", CreditNoteSerializer())
RateCardEnvelope = envelope("RateCardResponse", RateCardLineSerializer(many=True))
# The legacy prefix /api/v1/: the same envelopes with the legacy names beside the spec's.
LegacyReportListEnvelope = envelope("LegacyReportListResponse", LegacyReportSerializer(many=True))
LegacyReportEnvelope = envelope("LegacyReportResponse", LegacyReportSerializer())
LegacyReportDetailEnvelope = envelope("LegacyReportDetailResponse", LegacyReportDetailSerializer())
LegacyCustomerSummaryEnvelope = envelope("LegacyCustomerSummaryResponse", LegacyCustomerSummarySerializer(many=True))
LegacyReportJobEnvelope = envelope("LegacyReportJobResponse", LegacyReportJobSerializer())
CustomerListEnvelope = envelope("CustomerListResponse", CustomerSerializer(many=True))
ReportDiffEnvelope = envelope("ReportDiffResponse", ReportDiffSerializer())
LegacyReportDiffEnvelope = envelope("LegacyReportDiffResponse", LegacyReportDiffSerializer())
PreviewEnvelope = envelope("PreviewResponse", PreviewSerializer())
LegacyPreviewEnvelope = envelope("LegacyPreviewResponse", LegacyPreviewSerializer())

ERROR_DESCRIPTIONS: dict[int, str] = {
    400: "VALIDATION_ERROR: invalid input; `details` maps each invalid field to its messages.",
    401: "AUTHENTICATION_REQUIRED: no or invalid credentials (`WWW-Authenticate: Bearer`).",
    403: "PERMISSION_DENIED, or CSRF_FAILED for a session request without a valid CSRF token.",
    404: "NOT_FOUND: unknown, malformed or not visible id.",
    405: "METHOD_NOT_ALLOWED.",
    409: "IDEMPOTENCY_CONFLICT: the Idempotency-Key was used with different parameters.",
    415: "UNSUPPORTED_MEDIA_TYPE: the body must be application/json.",
    429: "RATE_LIMITED: too many generate requests; see `Retry-After`.",
    500: "INTERNAL_ERROR: unexpected; `details.request_id` identifies the logged error.",
}
COMMON_ERRORS = (401, 403, 405, 500)


def error_response(status: int, *, legacy: bool = False) -> OpenApiResponse:
    envelope_class = LegacyErrorEnvelopeSerializer if legacy else ErrorEnvelopeSerializer
    return OpenApiResponse(envelope_class, description=ERROR_DESCRIPTIONS[status])


def error_responses(*statuses: int, media_type: str | None = None, legacy: bool = False) -> dict:
    """Error envelope responses for `statuses` plus the ones every endpoint can answer
    (`legacy`: the envelope of the /api/v1/ paths, with `message` and `detail` at the top level)."""
    codes = sorted({*statuses, *COMMON_ERRORS})
    if media_type is None:
        return {status: error_response(status, legacy=legacy) for status in codes}
    return {(status, media_type): error_response(status, legacy=legacy) for status in codes}
