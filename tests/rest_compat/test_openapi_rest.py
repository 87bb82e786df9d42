"""The OpenAPI document: served to authenticated users, valid, and true (a schemathesis fuzz run over it)."""

from __future__ import annotations

import json
import os
import re
import sys

import pytest
import schemathesis
import schemathesis.specs.openapi.checks
from django.core.handlers.wsgi import WSGIHandler
from django.core.signals import request_finished, request_started
from django.db import close_old_connections
from drf_spectacular.generators import SchemaGenerator
from drf_spectacular.validation import validate_schema
from hypothesis import HealthCheck, settings
from schemathesis.checks import CHECKS as ALL_CHECKS
from schemathesis.config import SchemathesisConfig

from billing.models import Interface
from rest_compat.serializers import VOID_REASON_PATTERN
from tests.factories import submit_job
from tests.rest_compat.conftest import JANUARY, assert_error, billed_report, body

pytestmark = pytest.mark.django_db

SCHEMA_URL = "/api/v2/schema/"
PATHS = {
    "/api/v2/reports/",
    "/api/v2/reports/{report_id}/",
    "/api/v2/reports/{report_id}/download/",
    "/api/v2/reports/{report_id}/diff/",
    "/api/v2/reports/{report_id}/diff/download/",
    "/api/v2/reports/preview/",
    "/api/v2/reports/{report_id}/finalize/",
    "/api/v2/reports/{report_id}/void/",
    "/api/v2/reports/{report_id}/credit-note/download/",
    "/api/v2/reports/generate/",
    "/api/v2/reports/customer-summary/",
    "/api/v2/reports/jobs/{job_id}/",
    "/api/v2/reports/progress/",
    "/api/v2/reports/customer-services/{customer_id}/",
    # The legacy frontend's paths.
    "/api/v1/billing-v2/reports/",
    "/api/v1/billing-v2/reports/{report_id}/",
    "/api/v1/billing-v2/reports/{report_id}/download/",
    "/api/v1/billing-v2/reports/{report_id}/diff/",
    "/api/v1/billing-v2/reports/{report_id}/diff/download/",
    "/api/v1/billing-v2/reports/preview/",
    "/api/v1/billing-v2/reports/{report_id}/finalize/",
    "/api/v1/billing-v2/reports/{report_id}/void/",
    "/api/v1/billing-v2/reports/{report_id}/credit-note/download/",
    "/api/v1/billing-v2/reports/generate/",
    "/api/v1/billing-v2/reports/customer-summary/",
    "/api/v1/billing-v2/reports/jobs/{job_id}/",
    "/api/v1/billing-v2/reports/progress/",
    "/api/v1/billing-v2/reports/customer-services/{customer_id}/",
    "/api/v1/customers/",
    "/api/v1/auth/token/",
    "/api/v1/auth/token/refresh/",
    "/api/v1/auth/logout/",
}


def test_the_schema_is_served_to_authenticated_users_only(api, anonymous):
    assert_error(anonymous.get(SCHEMA_URL), 401, "AUTHENTICATION_REQUIRED")

    response = api.get(SCHEMA_URL)

    assert response.status_code == 200
    schema = json.loads(response.content)
    assert schema["openapi"].startswith("3.")
    assert set(schema["paths"]) == PATHS
    assert api.get(SCHEMA_URL, {"format": "yaml"}).content.startswith(b"openapi: 3.")


def test_the_schema_is_a_valid_openapi_document(api):
    schema = json.loads(api.get(SCHEMA_URL).content)

    validate_schema(schema)  # drf-spectacular's OpenAPI 3.0 JSON-schema validation; raises when invalid


def test_the_schema_describes_the_envelopes_and_errors(api):
    schema = json.loads(api.get(SCHEMA_URL).content)
    components = schema["components"]["schemas"]

    assert components["ReportListResponse"]["required"] == ["data", "success"]
    assert components["SuccessTrueEnum"]["enum"] == [True]
    assert components["ErrorEnvelope"]["properties"]["error"] == {"$ref": "#/components/schemas/Error"}
    assert set(components["ErrorCodeEnum"]["enum"]) >= {"VALIDATION_ERROR", "CSRF_FAILED", "INTERNAL_ERROR"}
    assert components["Report"]["properties"]["total_amount"]["type"] == "number"
    generate = schema["paths"]["/api/v2/reports/generate/"]["post"]
    assert set(generate["responses"]) == {"201", "202", "400", "401", "403", "405", "409", "415", "429", "500"}
    download = schema["paths"]["/api/v2/reports/{report_id}/download/"]["get"]
    assert set(download["responses"]["200"]["content"]) == {"text/csv", "application/json", "application/pdf"}
    assert {"bearerAuth", "cookieAuth"} <= set(schema["components"]["securitySchemes"])


def _patterns(node):
    if isinstance(node, dict):
        for key, value in node.items():
            if key == "pattern" and isinstance(value, str):
                yield value
            else:
                yield from _patterns(value)
    elif isinstance(node, list):
        for item in node:
            yield from _patterns(item)


def test_the_schemas_patterns_mean_the_same_in_every_regex_dialect(api):
    """A client validates against the document in its own dialect (ECMA's, for JSON Schema):
    the character classes that differ between dialects (`\\s`, `\\w`, `\\d`, `\\b` and their
    negations) would let it send what the server refuses, or refuse what it accepts."""
    schema = json.loads(api.get(SCHEMA_URL).content)
    patterns = list(_patterns(schema))

    assert patterns
    for pattern in patterns:
        assert not re.search(r"(?<!\\)\\[sSwWdDbB]", pattern), pattern


def test_the_void_reason_pattern_refuses_exactly_what_the_server_strips_to_nothing():
    pattern = re.compile(VOID_REASON_PATTERN)
    for code in range(sys.maxunicode + 1):
        if 0xD800 <= code < 0xE000:  # surrogates: not text
            continue
        text = chr(code)
        assert bool(pattern.match(text)) == (code != 0 and text.strip() != ""), hex(code)


def test_swagger_ui_is_served_only_when_enabled(api, settings):
    settings.SWAGGER_UI_ENABLED = False
    assert_error(api.get("/api/v2/docs/"), 404, "NOT_FOUND")

    settings.SWAGGER_UI_ENABLED = True
    page = api.get("/api/v2/docs/")
    assert page.status_code == 200
    assert b"swagger-ui" in page.content and SCHEMA_URL.encode() in page.content


# --- schemathesis -----------------------------------------------------------------------------


@pytest.fixture
def wsgi_app(settings):
    """Django's real WSGI handler, keeping the test's database connection open between requests."""
    settings.ALLOWED_HOSTS = ["localhost", "testserver"]
    settings.REST_FRAMEWORK = {**settings.REST_FRAMEWORK, "DEFAULT_THROTTLE_RATES": {"generate": "10000/min"}}
    request_started.disconnect(close_old_connections)
    request_finished.disconnect(close_old_connections)
    yield WSGIHandler()
    request_started.connect(close_old_connections)
    request_finished.connect(close_old_connections)


@pytest.fixture
def fuzz_data(customer_a, customer_b, staff):
    """Reports and a job the fuzzer's requests can find, so 200 responses are checked too."""
    report = billed_report(customer_a, orders=3)
    billed_report(customer_b, orders=2, prefix="B ")
    job = submit_job(
        actor=staff, customer_id=customer_a.pk, start_date=JANUARY[0], end_date=JANUARY[1], interface=Interface.REST
    )
    return {"report_id": str(report.id), "job_id": str(job.id)}


# The document as the schema endpoint serves it (same generator, no database needed), fuzzed with
# every check schemathesis has except the stateful ones (they need links between operations):
# positive data must be accepted and negative data refused, statuses, headers, content types and
# bodies must be documented. Exceptions, where JSON Schema cannot state the rule: a request valid
# against the document may still be refused with 400 for what only the database or another field
# knows. Generate: an unknown customer, rate-card lines of another customer, an end date before the
# start, a period longer than 366 days, or both names of the line subset. The report list and the
# customer summary: a customer id that names no customer (staff are told so). Download: a
# byte-order mark asked for a format other than CSV. Preview: as generate, and a draft document
# only the import's checks can judge. Diff: a report of another customer, or none superseded.
_REFUSED_WITH_400_ON_VALID_DATA = (
    r"/reports/generate/$",
    r"/reports/preview/$",
    r"/reports/\{report_id\}/diff/(download/)?$",
    r"/reports/(customer-summary/)?$",
    r"/reports/\{report_id\}/download/$",
)
FUZZ_CONFIG = SchemathesisConfig.from_dict(
    {
        "operations": [
            {
                "include-path-regex": pattern,
                "checks": {
                    "positive_data_acceptance": {"expected-statuses": ["2xx", "400", "401", "403", "404", "409", "429"]}
                },
            }
            for pattern in _REFUSED_WITH_400_ON_VALID_DATA
        ]
    }
)
schema = schemathesis.openapi.from_dict(SchemaGenerator().get_schema(request=None, public=True), config=FUZZ_CONFIG)
STATEFUL = {"use_after_free", "ensure_resource_availability"}
CHECKS = [check for check in ALL_CHECKS.get_all() if check.__name__ not in STATEFUL]
# The customer picker's `search` is free text, blank allowed: every query string is valid, and the
# only "invalid" values schemathesis makes for it (objects, arrays) reach the server as their text.
FREE_TEXT_QUERY_PATHS = {"/api/v1/customers/"}
FREE_TEXT_CHECKS = [check for check in CHECKS if check.__name__ != "negative_data_rejection"]


@schema.parametrize()
@settings(
    max_examples=int(os.environ.get("FUZZ_EXAMPLES", "25")),
    # The same cases on every run, so CI is repeatable; FUZZ_RANDOM=1 explores new ones.
    derandomize=not os.environ.get("FUZZ_RANDOM"),
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow, HealthCheck.filter_too_much],
)
def test_fuzzing_finds_no_server_error_and_no_undocumented_response(case, wsgi_app, staff_token, fuzz_data):
    headers = {"Authorization": f"Bearer {staff_token}"}
    checks = FREE_TEXT_CHECKS if case.path in FREE_TEXT_QUERY_PATHS else CHECKS
    case.operation.schema.app = wsgi_app  # the requests some checks send of their own go to the app too
    case.call_and_validate(headers=headers, checks=checks, app=wsgi_app)
    known = {name: value for name, value in fuzz_data.items() if name in (case.path_parameters or {})}
    if known and case.meta is not None and case.meta.generation.mode.is_positive:  # again, on an id that exists
        case.path_parameters = {**case.path_parameters, **known}
        case.call_and_validate(headers=headers, checks=checks, app=wsgi_app)


def test_the_fuzz_data_is_reachable(api, fuzz_data):
    assert body(api.get(f"/api/v2/reports/{fuzz_data['report_id']}/"))["success"] is True
    assert body(api.get(f"/api/v2/reports/jobs/{fuzz_data['job_id']}/"))["success"] is True
