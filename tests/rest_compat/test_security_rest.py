"""Session + CSRF, bearer tokens without CSRF, CORS for the frontend origin, request ids."""

from __future__ import annotations

import re

import pytest
from django.test import Client

from tests.rest_compat.conftest import FRONTEND_ORIGIN, assert_error, billed_report, body, written_counts

pytestmark = pytest.mark.django_db

GENERATE = "/api/v2/reports/generate/"


@pytest.fixture
def ready(customer_a):
    return billed_report(customer_a, orders=2)


@pytest.fixture
def browser(staff) -> Client:
    """The legacy SPA: a session cookie, and Django's CSRF checks enforced."""
    client = Client(enforce_csrf_checks=True)
    client.force_login(staff)
    return client


def generate_payload(customer) -> dict:
    return {"customer_id": customer.pk, "start_date": "2025-01-01", "end_date": "2025-01-31"}


def test_a_session_post_without_csrf_token_is_refused(browser, customer_a, ready):
    before = written_counts()

    response = browser.post(
        GENERATE, generate_payload(customer_a), content_type="application/json", headers={"Origin": FRONTEND_ORIGIN}
    )

    error = assert_error(response, 403, "CSRF_FAILED")
    assert "CSRF" in error["message"]
    assert written_counts() == before


def test_a_session_post_with_token_from_the_trusted_origin_is_accepted(browser, customer_a, ready):
    listing = browser.get("/api/v2/reports/", headers={"Origin": FRONTEND_ORIGIN})
    assert listing.status_code == 200
    token = browser.cookies["csrftoken"].value  # any read hands the SPA its CSRF cookie

    response = browser.post(
        GENERATE,
        generate_payload(customer_a),
        content_type="application/json",
        headers={"Origin": FRONTEND_ORIGIN, "X-CSRFToken": token},
    )

    assert response.status_code == 201, response.content
    assert body(response)["data"]["created_by"] == "staff"


def test_a_session_post_with_token_from_an_untrusted_origin_is_refused(browser, customer_a, ready):
    browser.get("/api/v2/reports/")
    token = browser.cookies["csrftoken"].value
    before = written_counts()

    response = browser.post(
        GENERATE,
        generate_payload(customer_a),
        content_type="application/json",
        headers={"Origin": "http://evil.example", "X-CSRFToken": token},
    )

    assert_error(response, 403, "CSRF_FAILED")
    assert written_counts() == before


def test_a_bearer_token_needs_no_csrf_token(staff_token, customer_a, ready):
    client = Client(enforce_csrf_checks=True, headers={"Authorization": f"Bearer {staff_token}"})

    response = client.post(GENERATE, generate_payload(customer_a), content_type="application/json")

    assert response.status_code == 201
    assert "csrftoken" not in response.cookies


def test_csrf_failures_outside_drf_are_enveloped_under_api():
    from django.test import RequestFactory

    from rest_compat.errors import csrf_failure

    api_response = csrf_failure(RequestFactory().post("/api/v2/anything/"), reason="CSRF token missing.")
    page = csrf_failure(RequestFactory().post("/admin/login/"), reason="CSRF token missing.")

    assert_error(api_response, 403, "CSRF_FAILED")
    assert page.status_code == 403 and page["Content-Type"].startswith("text/html")


def test_cors_preflight_from_the_frontend_origin_is_allowed(client):
    response = client.options(
        GENERATE,
        headers={
            "Origin": FRONTEND_ORIGIN,
            "Access-Control-Request-Method": "POST",
            "Access-Control-Request-Headers": "content-type,x-csrftoken,idempotency-key",
        },
    )

    assert response.status_code == 200
    assert response["Access-Control-Allow-Origin"] == FRONTEND_ORIGIN
    assert response["Access-Control-Allow-Credentials"] == "true"
    assert "POST" in response["Access-Control-Allow-Methods"]
    allowed = {name.strip() for name in response["Access-Control-Allow-Headers"].split(",")}
    assert {"content-type", "x-csrftoken", "idempotency-key", "authorization"} <= allowed


def test_cors_preflight_from_another_origin_gets_no_allow_header(client):
    response = client.options(
        GENERATE, headers={"Origin": "http://evil.example", "Access-Control-Request-Method": "POST"}
    )

    assert "Access-Control-Allow-Origin" not in response


def test_cross_origin_reads_expose_the_download_filename(api, ready):
    response = api.get(f"/api/v2/reports/{ready.id}/download/", headers={"Origin": FRONTEND_ORIGIN})

    assert response["Access-Control-Allow-Origin"] == FRONTEND_ORIGIN
    exposed = {name.strip().lower() for name in response["Access-Control-Expose-Headers"].split(",")}
    assert {"content-disposition", "x-request-id"} <= exposed


@pytest.mark.parametrize(
    ("sent", "echoed"),
    [
        ("abc-123_X.y", True),
        ("x" * 64, True),
        ("x" * 65, False),
        ("has space", False),
        ("<script>", False),
        ("", False),
    ],
)
def test_every_response_carries_a_request_id(api, sent, echoed):
    response = api.get("/api/v2/reports/", headers={"X-Request-ID": sent} if sent else {})

    if echoed:
        assert response["X-Request-ID"] == sent
    else:
        assert re.fullmatch(r"[0-9a-f]{32}", response["X-Request-ID"])


def test_the_browsable_api_is_off(api, ready):
    response = api.get("/api/v2/reports/", headers={"Accept": "text/html"})

    assert response.status_code == 200
    assert response["Content-Type"] == "application/json"
