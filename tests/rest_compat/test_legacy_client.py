"""The legacy React frontend's calls, each exactly as it sends them, and every field its components read.

The frontend (LedgerLink's billing_v2 screens) signs in with `POST /api/v1/auth/token/`, then sends
every call through `apiClient.request`: `Content-Type: application/json`, `X-CSRFToken` from the
csrftoken cookie, `Authorization: Bearer <access token>` (or `Bearer development_token`, which its
ProtectedRoute stores when it holds no token), with cookies. CSV generation uses a bare `fetch`
(cookies and X-CSRFToken, no Authorization) and downloads use `window.open` (cookies only).
Each test is named after the component and the call it covers.
"""

from __future__ import annotations

import datetime as dt
import json
from decimal import Decimal
from typing import Any

import pytest
from django.test import Client

from billing.models import BillingReport, JobStatus, ReportJob, ReportStatus
from tests.factories import CustomerServiceFactory, ServiceFactory, UserFactory, make_orders, staff_user
from tests.rest_compat.conftest import FRONTEND_ORIGIN, billed_report, body, rate_card, written_counts

pytestmark = pytest.mark.django_db

PASSWORD = "correct-horse-battery"
LEGACY = "/api/v1/billing-v2/reports/"


class Spa:
    """A browser running the legacy frontend: its cookie jar, its localStorage, its request helpers."""

    def __init__(self) -> None:
        self.browser = Client(enforce_csrf_checks=True)
        self.local_storage: dict[str, str] = {}

    # utils/auth.js login(): fetch without credentials options, JSON body, no CSRF header.
    def login(self, username: str, password: str = PASSWORD):
        response = self.browser.post(
            "/api/v1/auth/token/",
            json.dumps({"username": username, "password": password}),
            content_type="application/json",
            headers={"Origin": FRONTEND_ORIGIN},
        )
        if response.status_code == 200:
            data = body(response)
            self.local_storage.update(auth_token=data["access"], refresh_token=data["refresh"])
        return response

    # components/auth/ProtectedRoute.jsx
    def protected_route(self) -> None:
        self.local_storage.setdefault("auth_token", "development_token")

    def csrf_cookie(self) -> str | None:
        cookie = self.browser.cookies.get("csrftoken")
        return cookie.value if cookie else None

    # utils/apiClient.js request(): what every billingV2Api call but the CSV generation sends.
    def request(self, path: str, *, method: str = "GET", data: Any = None, headers: dict[str, str] | None = None):
        sent = {"X-CSRFToken": str(self.csrf_cookie()), **(headers or {})}
        token = self.local_storage.get("auth_token")
        if token:
            sent["Authorization"] = f"Bearer {token}"
        if method == "POST":
            sent["Origin"] = FRONTEND_ORIGIN
            return self.browser.post(path, json.dumps(data), content_type="application/json", headers=sent)
        return self.browser.get(path, content_type="application/json", headers=sent)

    # billingV2Api.generateBillingReport() for output_format "csv": fetch with cookies, no Authorization.
    def fetch_csv_generation(self, data: dict[str, Any]):
        return self.browser.post(
            f"{LEGACY}generate/",
            json.dumps(data),
            content_type="application/json",
            headers={"X-CSRFToken": str(self.csrf_cookie()), "Origin": FRONTEND_ORIGIN, "Accept": "*/*"},
        )

    # billingV2Api.downloadBillingReport(): window.open(url): a top-level GET with cookies only.
    def window_open(self, path: str):
        return self.browser.get(path)


@pytest.fixture
def billing_clerk():
    return staff_user(username="billing")


@pytest.fixture
def report(customer_a) -> BillingReport:
    return billed_report(customer_a, orders=3)


@pytest.fixture
def spa(billing_clerk) -> Spa:
    spa = Spa()
    assert spa.login("billing").status_code == 200
    return spa


def generate_body(customer, **extra) -> dict[str, Any]:
    return {"customer_id": customer.pk, "start_date": "2025-01-01", "end_date": "2025-01-31", **extra}


# --- Login.jsx / utils/auth.js -------------------------------------------------------------


def test_login_posts_credentials_and_gets_access_refresh_a_session_and_a_csrf_cookie(billing_clerk):
    spa = Spa()

    response = spa.login("billing")

    assert response.status_code == 200
    data = body(response)
    assert set(data) == {"access", "refresh"}
    assert data["access"].count(".") == 2 and data["refresh"].count(".") == 2
    assert spa.browser.cookies["sessionid"].value
    assert spa.csrf_cookie()


def test_login_with_a_wrong_password_shows_detail(billing_clerk):
    response = Spa().login("billing", "wrong")

    assert response.status_code == 401
    payload = body(response)
    assert payload["detail"] and payload["detail"] == payload["message"] == payload["error"]["message"]
    assert payload["error"]["code"] == "AUTHENTICATION_REQUIRED"


def test_refresh_access_token_posts_refresh_and_gets_access(spa):
    response = spa.browser.post(
        "/api/v1/auth/token/refresh/",
        json.dumps({"refresh": spa.local_storage["refresh_token"]}),
        content_type="application/json",
    )

    assert response.status_code == 200
    access = body(response)["access"]
    spa.local_storage["auth_token"] = access
    spa.browser.cookies.clear()  # the new access token alone authenticates
    assert spa.request(LEGACY).status_code == 200


# --- BillingPage.jsx -----------------------------------------------------------------------


def test_billing_page_fetch_reports_reads_the_list_fields(spa, report):
    response = spa.request(LEGACY)

    assert response.status_code == 200
    payload = body(response)
    assert payload["success"] is True
    [item] = payload["data"]
    assert item["id"] == str(report.id)
    assert item["customer_name"] == "Acme Outdoor"
    assert Decimal(str(item["total_amount"])) == report.total_amount
    assert (item["start_date"], item["end_date"]) == ("2025-01-01", "2025-01-31")
    assert dt.datetime.fromisoformat(item["created_at"]) == report.created_at
    assert item["customer_id"] == item["customer"] == report.customer_id
    assert item["currency"] == "USD"


def test_billing_page_fetch_customers_reads_id_and_company_name(spa, customer_a, customer_b):
    response = spa.request("/api/v1/customers/")

    assert response.status_code == 200
    payload = body(response)
    assert payload["success"] is True
    assert [(item["id"], item["company_name"]) for item in payload["data"]] == [
        (customer_a.pk, "Acme Outdoor"),
        (customer_b.pk, "Bravo Goods"),
    ]
    assert payload["data"][0]["currency"] == "USD" and payload["data"][0]["is_active"] is True


def test_billing_page_fetch_customers_shows_a_merchant_only_its_own(customer_a, customer_b, member_a):
    spa = Spa()
    spa.login("member-a")

    data = body(spa.request("/api/v1/customers/"))["data"]

    assert [item["id"] for item in data] == [customer_a.pk]


def test_billing_page_report_selected_reads_every_viewer_field(spa, report):
    """BillingReportViewer.jsx: header, customer card, period card, service totals, order accordions."""
    response = spa.request(f"{LEGACY}{report.id}/")

    assert response.status_code == 200
    data = body(response)["data"]
    assert data["id"] == str(report.id)
    assert data["customer_name"] == "Acme Outdoor"
    assert data["customer_id"] == report.customer_id
    assert dt.datetime.fromisoformat(data["created_at"]) == report.created_at
    assert (data["start_date"], data["end_date"]) == ("2025-01-01", "2025-01-31")
    assert Decimal(str(data["total_amount"])) == report.total_amount
    assert data["currency"] == "USD"
    totals = data["service_totals"]
    assert {total["service_name"] for total in totals.values()} == {"Order fee", "Pick per unit", "Per SKU", "Weight"}
    assert sum(Decimal(str(total["amount"])) for total in totals.values()) == report.total_amount
    assert len(data["orders"]) == 3
    references = set()
    for order in data["orders"]:
        assert order["order_id"].startswith(f"{report.customer_id}-TX")
        assert order["reference_number"].startswith("REF-")
        references.add(order["reference_number"])
        assert order["order_date"] == order["transaction_date"] == "2025-01-15"
        assert order["service_costs"] == order["services"]
        assert [cost["service_name"] for cost in order["service_costs"]] == [
            "Order fee",
            "Per SKU",
            "Pick per unit",
            "Weight",
        ]
        assert sum(Decimal(str(cost["amount"])) for cost in order["service_costs"]) == Decimal(
            str(order["total_amount"])
        )
    assert len(references) == 3


# --- BillingReportGenerator.jsx -------------------------------------------------------------


def test_generator_fetch_customer_services_reads_id_name_charge_type_and_price(spa, customer_a):
    rate_card(customer_a)
    CustomerServiceFactory(customer=customer_a, service=ServiceFactory(name="Retired"), is_active=False)

    response = spa.request(f"{LEGACY}customer-services/{customer_a.pk}/")

    assert response.status_code == 200
    payload = body(response)
    assert payload["success"] is True
    lines = {line["service_name"]: line for line in payload["data"]}
    assert set(lines) == {"Order fee", "Pick per unit", "Per SKU", "Weight"}
    assert lines["Order fee"]["charge_type"] == "per_order"
    assert '"unit_price":1.5000' in response.content.decode()
    assert all(isinstance(line["id"], int) for line in payload["data"])


def test_generator_fetch_customer_services_of_another_customer_is_a_404_for_a_merchant(
    customer_a, customer_b, member_a
):
    rate_card(customer_b)
    spa = Spa()
    spa.login("member-a")

    response = spa.request(f"{LEGACY}customer-services/{customer_b.pk}/")

    assert response.status_code == 404
    assert body(response)["message"] == body(response)["error"]["message"]
    assert spa.request(f"{LEGACY}customer-services/{customer_a.pk}/").status_code == 200


def test_generator_submit_json_shows_the_new_report_with_its_orders(spa, customer_a):
    rate_card(customer_a)
    make_orders(customer_a, 2)

    response = spa.request(f"{LEGACY}generate/", method="POST", data=generate_body(customer_a, output_format="json"))

    assert response.status_code == 201
    payload = body(response)
    assert payload["success"] is True
    data = payload["data"]  # onReportGenerated(response.data): shown by the viewer as is
    report = BillingReport.objects.get(pk=data["id"])
    assert data["customer_id"] == customer_a.pk and data["customer_name"] == "Acme Outdoor"
    assert len(data["orders"]) == 2 and all(order["service_costs"] for order in data["orders"])
    assert {total["service_name"] for total in data["service_totals"].values()} == {
        "Order fee",
        "Pick per unit",
        "Per SKU",
        "Weight",
    }
    assert Decimal(str(data["total_amount"])) == report.total_amount
    assert response["X-Total-Count"] == "2"


def test_generator_submit_pdf_answers_the_envelope(spa, customer_a):
    rate_card(customer_a)
    make_orders(customer_a, 1)

    response = spa.request(f"{LEGACY}generate/", method="POST", data=generate_body(customer_a, output_format="pdf"))

    assert response.status_code == 201
    assert body(response)["data"]["output_format"] == "pdf"


def test_generator_submit_for_a_subset_of_services_prices_only_those(spa, customer_a):
    rate_card(customer_a)
    make_orders(customer_a, 2)
    services = body(spa.request(f"{LEGACY}customer-services/{customer_a.pk}/"))["data"]
    chosen = [line["id"] for line in services if line["service_name"] in {"Order fee", "Weight"}]

    response = spa.request(
        f"{LEGACY}generate/",
        method="POST",
        data=generate_body(customer_a, output_format="json", customer_services=chosen),
    )

    assert response.status_code == 201
    data = body(response)["data"]
    assert {total["service_name"] for total in data["service_totals"].values()} == {"Order fee", "Weight"}
    assert Decimal(str(data["total_amount"])) == 2 * (Decimal("1.50") + Decimal("0.88"))  # 2.5 lb x 0.35


def test_generator_submit_with_an_unknown_line_id_is_a_400_and_writes_nothing(spa, customer_a):
    rate_card(customer_a)
    make_orders(customer_a, 1)
    before = written_counts()

    response = spa.request(
        f"{LEGACY}generate/", method="POST", data=generate_body(customer_a, customer_services=[999999])
    )

    assert response.status_code == 400
    assert "999999" in json.dumps(body(response)["error"]["details"])
    assert written_counts() == before


def test_generator_submit_csv_downloads_the_file_by_cookie_and_csrf(spa, customer_a):
    rate_card(customer_a)
    make_orders(customer_a, 2)

    response = spa.fetch_csv_generation(generate_body(customer_a, output_format="csv"))

    assert response.status_code == 201
    assert response["Content-Type"] == "text/csv; charset=utf-8"
    report = BillingReport.objects.get(status=ReportStatus.DRAFT)
    assert response["Content-Disposition"] == f'attachment; filename="billing-report-{report.id}.csv"'
    text = b"".join(response.streaming_content).decode()
    assert f"{customer_a.pk}-TX00000" in text and "Order fee" in text


def test_generator_submit_csv_without_the_csrf_token_is_refused(spa, customer_a):
    rate_card(customer_a)
    before = written_counts()

    response = spa.browser.post(
        f"{LEGACY}generate/",
        json.dumps(generate_body(customer_a, output_format="csv")),
        content_type="application/json",
        headers={"Origin": FRONTEND_ORIGIN},
    )

    assert response.status_code == 403
    assert body(response)["error"]["code"] == "CSRF_FAILED"
    assert written_counts() == before


def test_generator_check_progress_reads_the_legacy_progress_names(spa, customer_a, billing_clerk):
    report = billed_report(customer_a, orders=2)
    ReportJob.objects.create(
        customer=customer_a,
        start_date=dt.date(2025, 1, 1),
        end_date=dt.date(2025, 1, 31),
        status=JobStatus.SUCCEEDED,
        processed_orders=2,
        total_orders=2,
        report=report,
        requested_by=billing_clerk,
    )

    response = spa.request(
        f"{LEGACY}progress/?customer_id={customer_a.pk}&start_date=2025-01-01&end_date=2025-01-31&_t=1733040000000",
        headers={"Cache-Control": "no-cache, no-store, must-revalidate", "Pragma": "no-cache", "Expires": "0"},
    )

    assert response.status_code == 200
    data = body(response)["data"]
    assert data["status"] == "completed" and data["job_status"] == "succeeded"
    assert data["percent_complete"] == data["progress_percent"] == 100
    assert (data["processed_orders"], data["total_orders"]) == (2, 2)
    assert data["report_id"] == str(report.id)
    assert data["current_step"]


def test_generator_check_progress_of_a_failed_job_shows_why(spa, customer_a):
    ReportJob.objects.create(
        customer=customer_a,
        start_date=dt.date(2025, 1, 1),
        end_date=dt.date(2025, 1, 31),
        status=JobStatus.FAILED,
        error="The rate card has no active line.",
    )

    data = body(
        spa.request(f"{LEGACY}progress/?customer_id={customer_a.pk}&start_date=2025-01-01&end_date=2025-01-31")
    )["data"]

    assert data["status"] == "error"
    assert data["current_step"] == "The rate card has no active line."


# --- BillingReportList.jsx / BillingReportViewer.jsx downloads --------------------------------


@pytest.mark.parametrize(("fmt", "content_type"), [("csv", "text/csv; charset=utf-8"), ("json", "application/json")])
def test_report_list_and_viewer_download_by_window_open(spa, report, fmt, content_type):
    response = spa.window_open(f"{LEGACY}{report.id}/download/?format={fmt}")

    assert response.status_code == 200
    assert response["Content-Type"] == content_type
    assert response["Content-Disposition"] == f'attachment; filename="billing-report-{report.id}.{fmt}"'
    assert b"".join(response.streaming_content)


def test_report_list_download_without_a_session_is_a_401(report):
    response = Client().get(f"{LEGACY}{report.id}/download/?format=csv")

    assert response.status_code == 401


# --- the stray bearer header (ProtectedRoute's development_token) ----------------------------


def test_protected_route_development_token_falls_back_to_the_session(report):
    spa = Spa()
    user = staff_user(username="clerk")
    spa.browser.force_login(user)  # signed in through /accounts/login/, not through the SPA
    spa.protected_route()

    response = spa.request(LEGACY)

    assert response.status_code == 200
    assert [item["id"] for item in body(response)["data"]] == [str(report.id)]


def test_protected_route_development_token_post_needs_the_csrf_token(customer_a):
    rate_card(customer_a)
    spa = Spa()
    spa.browser.force_login(staff_user(username="clerk"))
    spa.protected_route()
    before = written_counts()

    refused = spa.request(f"{LEGACY}generate/", method="POST", data=generate_body(customer_a))  # no csrftoken yet

    assert refused.status_code == 403 and body(refused)["error"]["code"] == "CSRF_FAILED"
    assert written_counts() == before
    spa.request(LEGACY)  # any read sets the csrftoken cookie
    assert spa.request(f"{LEGACY}generate/", method="POST", data=generate_body(customer_a)).status_code == 201


def test_protected_route_development_token_without_a_session_is_a_401():
    spa = Spa()
    spa.protected_route()

    response = spa.request(LEGACY)

    assert response.status_code == 401
    payload = body(response)
    assert payload["message"] == payload["detail"] == payload["error"]["message"]


# --- errors: apiClient shows data.detail || data.message ----------------------------------------


def test_api_client_error_bodies_carry_message_at_the_top_level(spa):
    response = spa.request(f"{LEGACY}00000000-0000-0000-0000-000000000000/")

    assert response.status_code == 404
    payload = body(response)
    assert payload["success"] is False
    assert payload["message"] == payload["error"]["message"] and payload["error"]["code"] == "NOT_FOUND"


def test_api_client_unknown_generate_field_is_a_400_naming_it(spa, customer_a):
    rate_card(customer_a)
    before = written_counts()

    response = spa.request(f"{LEGACY}generate/", method="POST", data=generate_body(customer_a, services=[1]))

    assert response.status_code == 400
    assert set(body(response)["error"]["details"]) == {"services"}
    assert "services" in body(response)["message"]
    assert written_counts() == before


def test_customer_summary_items_carry_the_currency(spa, customer_a, report):
    customer_a.currency = "CAD"
    customer_a.save()

    [item] = body(spa.request(f"{LEGACY}customer-summary/"))["data"]

    assert item["customer_id"] == customer_a.pk and item["currency"] == "CAD"


def test_a_user_without_billing_access_sees_no_customers(customer_a):
    UserFactory(username="nobody")
    spa = Spa()
    spa.login("nobody")

    assert body(spa.request("/api/v1/customers/"))["data"] == []
    assert spa.request(f"{LEGACY}customer-services/{customer_a.pk}/").status_code == 404


# --- the prefix rule: /api/v2/ is the spec, /api/v1/billing-v2/ the legacy behaviour; Accept wins ---


def test_spec_prefix_answers_the_envelope_for_csv_and_the_file_on_accept_text_csv(spa, customer_a):
    rate_card(customer_a)
    make_orders(customer_a, 1)
    request = generate_body(customer_a, output_format="csv")

    envelope = spa.request("/api/v2/reports/generate/", method="POST", data=request)
    file = spa.request("/api/v2/reports/generate/", method="POST", data=request, headers={"Accept": "text/csv"})

    assert envelope.status_code == 201 and body(envelope)["data"]["output_format"] == "csv"
    assert "orders" not in body(envelope)["data"]
    assert file.status_code == 201 and file["Content-Type"] == "text/csv; charset=utf-8"
    assert file["Content-Disposition"].startswith('attachment; filename="billing-report-')


def test_legacy_prefix_csv_with_accept_json_answers_the_envelope(spa, customer_a):
    rate_card(customer_a)
    make_orders(customer_a, 1)

    response = spa.request(
        f"{LEGACY}generate/",
        method="POST",
        data=generate_body(customer_a, output_format="csv"),
        headers={"Accept": "application/json"},
    )

    assert response.status_code == 201 and body(response)["data"]["output_format"] == "csv"


def test_legacy_generate_answer_is_bounded(spa, customer_a, settings):
    settings.LEGACY_GENERATE_MAX_ORDERS = 2
    rate_card(customer_a)
    make_orders(customer_a, 5)

    response = spa.request(f"{LEGACY}generate/", method="POST", data=generate_body(customer_a))

    data = body(response)["data"]
    report = BillingReport.objects.get(pk=data["id"])
    assert len(data["orders"]) == 2 and response["X-Total-Count"] == "5"
    assert sum(Decimal(str(total["amount"])) for total in data["service_totals"].values()) == report.total_amount


def test_both_names_of_the_line_subset_is_a_400(spa, customer_a):
    rate_card(customer_a)

    response = spa.request(
        f"{LEGACY}generate/",
        method="POST",
        data=generate_body(customer_a, customer_services=[1], customer_service_ids=[1]),
    )

    assert response.status_code == 400 and set(body(response)["error"]["details"]) == {"customer_services"}


def test_spec_prefix_refuses_the_legacy_field_name_with_a_hint(spa, customer_a):
    rate_card(customer_a)
    before = written_counts()

    response = spa.request(
        "/api/v2/reports/generate/", method="POST", data=generate_body(customer_a, customer_services=[1])
    )

    assert response.status_code == 400
    [message] = body(response)["error"]["details"]["customer_services"]
    assert "Did you mean customer_service_ids?" in message
    assert "message" not in body(response)  # /api/v2/ keeps the spec's envelope exactly
    assert written_counts() == before
