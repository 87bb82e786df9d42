"""Every error in the envelope with its status and code; no refused request writes anything."""

from __future__ import annotations

import logging
import uuid

import pytest
from django.test import Client

from billing.models import AuditEvent, BillingReport
from rest_compat import views
from tests.rest_compat.conftest import assert_error, bearer, billed_report, written_counts

pytestmark = pytest.mark.django_db

GENERATE = "/api/v2/reports/generate/"
VALID = {"customer_id": None, "start_date": "2025-01-01", "end_date": "2025-01-31", "output_format": "json"}


def generate_body(customer: int, **changes) -> dict:
    payload = {**VALID, "customer_id": customer, **changes}
    return {key: value for key, value in payload.items() if value is not ...}


@pytest.fixture
def ready(customer_a):
    """Customer A with a rate card and three January orders, and one report already written."""
    return billed_report(customer_a, orders=3)


# --- 400 ----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("changes", "fields"),
    [
        ({"start_date": ...}, {"start_date"}),
        ({"end_date": ...}, {"end_date"}),
        ({"start_date": ..., "end_date": ..., "customer_id": ...}, {"start_date", "end_date", "customer_id"}),
        ({"start_date": "2025-13-01"}, {"start_date"}),
        ({"start_date": "01/02/2025"}, {"start_date"}),
        ({"end_date": "2025-02-30"}, {"end_date"}),
        ({"end_date": "2025-01-31T00:00:00"}, {"end_date"}),
        ({"start_date": None}, {"start_date"}),
        ({"start_date": "2025-02-01", "end_date": "2025-01-01"}, {"end_date"}),
        ({"customer_id": 987654}, {"customer_id"}),
        ({"customer_id": "abc"}, {"customer_id"}),
        ({"customer_id": 1.5}, {"customer_id"}),
        ({"customer_id": True}, {"customer_id"}),
        ({"customer_id": -3}, {"customer_id"}),
        ({"customer_id": 10**30}, {"customer_id"}),
        ({"output_format": "xml"}, {"output_format"}),
        ({"output_format": None}, {"output_format"}),
        ({"async": "maybe"}, {"async"}),
        ({"customer_service_ids": ["x"]}, {"customer_service_ids.0"}),
        ({"customer_service_ids": [999999]}, {"customer_service_ids"}),
    ],
)
def test_generate_rejects_invalid_input_field_by_field(api, customer_a, ready, changes, fields):
    before = written_counts()
    payload = generate_body(customer_a.pk, **changes)

    response = api.post(GENERATE, payload, content_type="application/json")

    error = assert_error(response, 400, "VALIDATION_ERROR")
    assert set(error["details"]) == fields, error
    for messages in error["details"].values():
        assert messages and all(isinstance(message, str) and message for message in messages)
    assert written_counts() == before


@pytest.mark.parametrize("raw", [b"[]", b'"text"', b"42", b"null"])
def test_generate_rejects_a_body_that_is_not_an_object(api, ready, raw):
    before = written_counts()

    response = api.post(GENERATE, raw, content_type="application/json")

    assert_error(response, 400, "VALIDATION_ERROR")
    assert written_counts() == before


def test_generate_rejects_malformed_json(api, ready):
    before = written_counts()

    response = api.post(GENERATE, b'{"customer_id": 1,', content_type="application/json")

    error = assert_error(response, 400, "VALIDATION_ERROR")
    assert "body" in error["details"]
    assert written_counts() == before


@pytest.mark.parametrize("key", ["", "é", "k" * 256])
def test_generate_rejects_an_invalid_idempotency_key(api, customer_a, ready, key):
    before = written_counts()

    response = api.post(
        GENERATE, generate_body(customer_a.pk), content_type="application/json", headers={"Idempotency-Key": key}
    )

    error = assert_error(response, 400, "VALIDATION_ERROR")
    assert set(error["details"]) == {"idempotency_key"}
    assert written_counts() == before


def test_reusing_an_idempotency_key_with_other_parameters_is_a_conflict(api, customer_a, ready):
    key = {"Idempotency-Key": "same-key"}
    api.post(GENERATE, generate_body(customer_a.pk), content_type="application/json", headers=key)
    before = written_counts()

    response = api.post(
        GENERATE, generate_body(customer_a.pk, output_format="pdf"), content_type="application/json", headers=key
    )

    assert_error(response, 409, "IDEMPOTENCY_CONFLICT")
    assert written_counts() == before


@pytest.mark.parametrize(
    ("query", "fields"),
    [
        ({"customer_id": "abc"}, {"customer_id"}),
        ({"customer_id": str(10**20)}, {"customer_id"}),
        ({"start_date": "2025-1-x"}, {"start_date"}),
        ({"end_date": "yesterday"}, {"end_date"}),
        ({"created_after": "not-a-date"}, {"created_after"}),
        ({"created_before": "2025-99-99"}, {"created_before"}),
        ({"order_by": "password"}, {"order_by"}),
        ({"order_by": "-customer__company_name"}, {"order_by"}),
        ({"limit": "0"}, {"limit"}),
        ({"limit": "5000"}, {"limit"}),
        ({"offset": "-1"}, {"offset"}),
        ({"customer_id": "\x0c"}, {"customer_id"}),
        ({"start_date": " "}, {"start_date"}),
        ({"limit": " 5"}, {"limit"}),
        ({"limit": "5.0"}, {"limit"}),
        ({"offset": "+1"}, {"offset"}),
        (
            {"customer_id": "x", "start_date": "x", "order_by": "x", "limit": "x"},
            {"customer_id", "start_date", "order_by", "limit"},
        ),
    ],
)
def test_list_rejects_invalid_filters_field_by_field(api, ready, query, fields):
    before = written_counts()

    response = api.get("/api/v2/reports/", query)

    error = assert_error(response, 400, "VALIDATION_ERROR")
    assert set(error["details"]) == fields
    assert written_counts() == before


@pytest.mark.parametrize(
    "query",
    [{"orders_limit": "0"}, {"orders_offset": "-2"}, {"orders_limit": "many"}, {"orders_limit": "2\n"}],
)
def test_detail_rejects_invalid_paging(api, ready, query):
    response = api.get(f"/api/v2/reports/{ready.id}/", query)

    error = assert_error(response, 400, "VALIDATION_ERROR")
    assert set(error["details"]) == set(query)


@pytest.mark.parametrize("customer_id", [" 1", "+1", "1.0"])
def test_customer_services_reads_a_padded_id_as_unknown(api, ready, customer_id):
    response = api.get(f"/api/v2/reports/customer-services/{customer_id}/")

    assert_error(response, 404, "NOT_FOUND")


@pytest.mark.parametrize("fmt", ["xml", "xlsx", "CSV;drop"])
def test_download_rejects_an_unknown_format(api, ready, fmt):
    before = written_counts()

    response = api.get(f"/api/v2/reports/{ready.id}/download/", {"format": fmt})

    error = assert_error(response, 400, "VALIDATION_ERROR")
    assert set(error["details"]) == {"format"}
    assert written_counts() == before


@pytest.mark.parametrize("customer_id", ["1.5", "x", str(-(10**20)), "\x0c", " 1"])
def test_customer_summary_rejects_a_non_integer_customer(api, ready, customer_id):
    response = api.get("/api/v2/reports/customer-summary/", {"customer_id": customer_id})

    error = assert_error(response, 400, "VALIDATION_ERROR")
    assert set(error["details"]) == {"customer_id"}


def test_progress_needs_customer_and_period(api, ready):
    response = api.get("/api/v2/reports/progress/", {"customer_id": "a", "start_date": "2025-01-01"})

    error = assert_error(response, 400, "VALIDATION_ERROR")
    assert set(error["details"]) == {"customer_id", "end_date"}


# --- 401 ----------------------------------------------------------------------------------


def _endpoints(report_id) -> list[tuple[str, str]]:
    return [
        ("get", "/api/v2/reports/"),
        ("get", f"/api/v2/reports/{report_id}/"),
        ("get", f"/api/v2/reports/{report_id}/download/"),
        ("get", "/api/v2/reports/customer-summary/"),
        ("get", f"/api/v2/reports/jobs/{uuid.uuid4()}/"),
        ("get", "/api/v2/reports/progress/"),
        ("post", GENERATE),
        ("get", "/api/v2/schema/"),
    ]


@pytest.mark.parametrize(
    "credentials", [{}, bearer("llb_not-a-real-token"), bearer(""), {"Authorization": "Basic eDp5"}]
)
def test_every_endpoint_needs_credentials(ready, customer_a, credentials):
    client = Client(headers=credentials)
    before = written_counts()

    for method, path in _endpoints(ready.id):
        extra = {"data": generate_body(customer_a.pk), "content_type": "application/json"} if method == "post" else {}
        response = getattr(client, method)(path, **extra)

        assert_error(response, 401, "AUTHENTICATION_REQUIRED")
        assert response["WWW-Authenticate"] == 'Bearer realm="api"', path
    assert written_counts() == before


def test_a_revoked_token_is_refused(ready, staff):
    from billing.services.tokens import api_token_create, api_token_revoke

    token, raw = api_token_create(user=staff)
    api_token_revoke(token_id=token.pk)

    response = Client(headers=bearer(raw)).get("/api/v2/reports/")

    assert_error(response, 401, "AUTHENTICATION_REQUIRED")


# --- 403 ----------------------------------------------------------------------------------


def test_generate_needs_the_generate_permission(client, viewer, customer_a, ready):
    client.force_login(viewer)
    before = written_counts()

    response = client.post(GENERATE, generate_body(customer_a.pk), content_type="application/json")

    assert_error(response, 403, "PERMISSION_DENIED")
    assert written_counts() == before


def test_a_member_may_not_generate_for_another_customer(client, member_a, customer_b, ready):
    billed_report(customer_b, orders=1, prefix="B ")
    client.force_login(member_a)
    before = written_counts()

    response = client.post(GENERATE, generate_body(customer_b.pk), content_type="application/json")

    assert_error(response, 403, "PERMISSION_DENIED")
    assert written_counts() == before


# --- 404 ----------------------------------------------------------------------------------


UNKNOWN_ID = "7d3c0f5e-1b2a-4c3d-8e4f-5a6b7c8d9e0f"


@pytest.mark.parametrize("report_id", [UNKNOWN_ID, "not-a-uuid", "123", "00000000-0000-0000-0000-00000000000g"])
def test_unknown_or_malformed_report_ids_are_404(api, ready, report_id):
    before = written_counts()

    assert_error(api.get(f"/api/v2/reports/{report_id}/"), 404, "NOT_FOUND")
    assert_error(api.get(f"/api/v2/reports/{report_id}/download/"), 404, "NOT_FOUND")
    assert_error(api.get(f"/api/v2/reports/jobs/{report_id}/"), 404, "NOT_FOUND")
    assert written_counts() == before


def test_a_member_gets_404_for_another_customers_report(client, member_a, ready, customer_b):
    other = billed_report(customer_b, orders=1, prefix="B ")
    client.force_login(member_a)
    before = written_counts()

    for path in (f"/api/v2/reports/{other.id}/", f"/api/v2/reports/{other.id}/download/"):
        error = assert_error(client.get(path), 404, "NOT_FOUND")
        assert "Bravo" not in str(error)
    assert client.get(f"/api/v2/reports/{ready.id}/").status_code == 200
    assert written_counts() == before


@pytest.mark.parametrize(
    "path", ["/api/v2/nothing-here/", "/api/v2/reports/abc/def/", "/api/v2/reports/generate/extra/", "/api/v3/reports/"]
)
@pytest.mark.parametrize("debug", [False, True])
def test_unknown_paths_under_api_are_404_in_the_envelope(api, path, settings, debug):
    settings.DEBUG = debug  # DEBUG answers Django's HTML debug page unless the envelope is forced

    assert_error(api.get(path), 404, "NOT_FOUND")


def test_a_missing_slash_under_api_is_still_redirected(api, settings):
    settings.DEBUG = True

    response = api.get("/api/v2/reports")

    assert response.status_code == 301 and response["Location"] == "/api/v2/reports/"


@pytest.mark.parametrize("debug", [False, True])
def test_unknown_paths_elsewhere_keep_djangos_page(api, settings, debug):
    settings.DEBUG = debug

    response = api.get("/definitely-not-here/")

    assert response.status_code == 404
    assert response["Content-Type"].startswith("text/html")


def test_progress_without_any_job_is_404(api, customer_a):
    query = {"customer_id": customer_a.pk, "start_date": "2025-01-01", "end_date": "2025-01-31"}

    assert_error(api.get("/api/v2/reports/progress/", query), 404, "NOT_FOUND")


# --- 405 / 415 ----------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("method", "path"),
    [
        ("delete", "/api/v2/reports/"),
        ("post", "/api/v2/reports/"),
        ("get", GENERATE),
        ("put", GENERATE),
        ("delete", "/api/v2/reports/{id}/"),
        ("patch", "/api/v2/reports/{id}/"),
        ("post", "/api/v2/reports/{id}/download/"),
        ("post", "/api/v2/reports/customer-summary/"),
    ],
)
def test_other_methods_are_405(api, ready, method, path):
    before = written_counts()

    response = getattr(api, method)(path.format(id=ready.id))

    assert_error(response, 405, "METHOD_NOT_ALLOWED")
    assert "Allow" in response
    assert written_counts() == before


@pytest.mark.parametrize(
    ("content", "content_type"),
    [
        ("customer_id=1&start_date=2025-01-01&end_date=2025-01-31", "application/x-www-form-urlencoded"),
        ("customer_id,start_date\n1,2025-01-01", "text/csv"),
        ("<report/>", "application/xml"),
        ('{"customer_id": 1}', "text/plain"),
    ],
)
def test_generate_needs_a_json_body(api, ready, content, content_type):
    before = written_counts()

    response = api.post(GENERATE, content, content_type=content_type)

    assert_error(response, 415, "UNSUPPORTED_MEDIA_TYPE")
    assert written_counts() == before


# --- 429 ----------------------------------------------------------------------------------


def test_generate_is_rate_limited_per_user(api, customer_a, ready, settings, client, staff_user_b):
    settings.GENERATE_RATE_LIMIT = "2/min"
    payload = generate_body(customer_a.pk)

    statuses = [api.post(GENERATE, payload, content_type="application/json").status_code for _ in range(2)]
    before = written_counts()
    limited = api.post(GENERATE, payload, content_type="application/json")

    assert statuses == [201, 201]
    error = assert_error(limited, 429, "RATE_LIMITED")
    retry_after = int(limited["Retry-After"])
    assert 0 < retry_after <= 60
    assert error["details"] == {"retry_after": retry_after}
    assert written_counts() == before
    client.force_login(staff_user_b)  # another user has a budget of their own
    assert client.post(GENERATE, payload, content_type="application/json").status_code == 201
    assert api.get("/api/v2/reports/").status_code == 200  # reads are not limited


@pytest.fixture
def staff_user_b():
    from tests.factories import staff_user

    return staff_user(username="staff-b")


# --- 500 ----------------------------------------------------------------------------------


def test_unexpected_errors_are_500_with_a_request_id_and_no_internals(api, ready, monkeypatch, caplog):
    def broken(**kwargs):
        raise RuntimeError("connection string postgres://secret@db/ledger exploded")

    monkeypatch.setattr(views, "report_list", broken)

    with caplog.at_level(logging.ERROR, logger="rest_compat"):
        response = api.get("/api/v2/reports/", headers={"X-Request-ID": "trace-500"})

    error = assert_error(response, 500, "INTERNAL_ERROR")
    assert error["details"] == {"request_id": "trace-500"}
    assert response["X-Request-ID"] == "trace-500"
    assert "secret" not in response.content.decode() and "RuntimeError" not in response.content.decode()
    logged = [record for record in caplog.records if record.name == "rest_compat"]
    assert logged and logged[0].request_id == "trace-500" and "trace-500" in logged[0].getMessage()
    assert logged[0].exc_info[0] is RuntimeError


def test_a_failing_download_writes_nothing(api, ready, monkeypatch):
    def broken(*args, **kwargs):
        raise RuntimeError("boom")

    monkeypatch.setattr("billing.exporters.report_get", broken)
    before = written_counts()

    assert_error(api.get(f"/api/v2/reports/{ready.id}/download/"), 500, "INTERNAL_ERROR")
    assert written_counts() == before
    assert AuditEvent.objects.filter(report=ready, action="downloaded").count() == 0
    assert BillingReport.objects.count() == 1
