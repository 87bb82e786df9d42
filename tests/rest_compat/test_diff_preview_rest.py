"""REST: GET .../reports/{id}/diff/ (and its CSV), POST .../reports/preview/, on both prefixes."""

from __future__ import annotations

import csv
import io
import json
from decimal import Decimal

import pytest

from billing.models import CustomerService, ReportLine
from billing.services.rate_cards import rate_card_export
from tests.factories import repriced_report, staff_user
from tests.rest_compat.conftest import assert_error, billed_report, body, written_counts

pytestmark = pytest.mark.django_db

PREFIXES = ["/api/v2/reports", "/api/v1/billing-v2/reports"]


def exact(response) -> dict:
    assert response.status_code == 200, response.content
    payload = json.loads(response.content, parse_float=Decimal)
    assert payload["success"] is True
    return payload["data"]


@pytest.fixture
def regenerated(customer_a):
    """Report A of 3 orders, then B after the pick price rose: B superseded A."""
    old = billed_report(customer_a, orders=3)
    return old, repriced_report(customer_a)


@pytest.mark.parametrize("prefix", PREFIXES)
def test_the_diff_against_the_superseded_report(api, regenerated, prefix):
    old, new = regenerated

    response = api.get(f"{prefix}/{new.id}/diff/", {"limit": 2})

    data = exact(response)
    assert response["X-Total-Count"] == "3"
    assert data["report"]["id"] == str(new.id) and data["against"]["id"] == str(old.id)
    assert data["line_count"] == 3 and len(data["lines"]) == 2
    assert data["counts"] == {
        "added": 0,
        "removed": 0,
        "changed": 3,
        "by_cause": {
            "order_new": 0,
            "rule_now_matches": 0,
            "order_gone": 0,
            "rule_no_longer_matches": 0,
            "order_changed": 0,
            "price_changed": 3,
        },
    }
    line = data["lines"][0]
    assert line["service_name"] == "Pick per unit" and line["cause"] == "price_changed"
    assert line["old"]["unit_price"] == Decimal("0.2500") and line["new"]["unit_price"] == Decimal("0.3000")
    assert line["amount_change"] == line["new"]["amount"] - line["old"]["amount"]
    total = data["total_amount"]
    assert total["change"] == total["new"] - total["old"] == new.total_amount - old.total_amount
    assert sum(item["change"] for item in data["service_totals"]) == total["change"]
    rest = exact(api.get(f"{prefix}/{new.id}/diff/", {"offset": 2, "against": str(old.id)}))
    assert [item["order_id"] for item in data["lines"] + rest["lines"]] == [
        order["order_id"] for order in exact(api.get(f"{prefix}/{new.id}/"))["orders"]
    ]
    if prefix.startswith("/api/v1/"):
        assert data["report"]["customer_id"] == new.customer_id


def test_the_diff_as_csv_is_streamed(api, regenerated):
    old, new = regenerated

    response = api.get(f"/api/v2/reports/{new.id}/diff/download/", {"against": str(old.id)})

    assert response.status_code == 200 and response.streaming
    assert response["Content-Type"] == "text/csv; charset=utf-8"
    assert f'billing-report-diff-{new.id}-{old.id}.csv"' in response["Content-Disposition"]
    rows = list(csv.DictReader(io.StringIO(b"".join(response.streaming_content).decode())))
    lines = [row for row in rows if row["row_type"] == "line"]
    assert len(lines) == 3 and {row["cause"] for row in lines} == {"price_changed"}
    [total] = [row for row in rows if row["row_type"] == "total"]
    assert Decimal(total["amount_change"]) == new.total_amount - old.total_amount
    assert sum(Decimal(row["amount_change"]) for row in rows if row["row_type"] == "service_total") == Decimal(
        total["amount_change"]
    )


def test_the_diff_of_two_customers_reports_is_a_400(api, report_a, report_b):
    error = assert_error(
        api.get(f"/api/v2/reports/{report_a.id}/diff/", {"against": str(report_b.id)}), 400, "VALIDATION_ERROR"
    )
    assert "against" in error["details"]
    assert_error(api.get(f"/api/v2/reports/{report_a.id}/diff/"), 400, "VALIDATION_ERROR")  # superseded none
    assert_error(api.get(f"/api/v2/reports/{report_a.id}/diff/", {"against": "nope"}), 400, "VALIDATION_ERROR")


def test_a_report_one_may_not_see_is_a_404(client, member_a, report_a, report_b):
    client.force_login(member_a)
    assert_error(client.get(f"/api/v2/reports/{report_a.id}/diff/", {"against": str(report_b.id)}), 404, "NOT_FOUND")
    assert_error(client.get(f"/api/v2/reports/{report_b.id}/diff/", {"against": str(report_a.id)}), 404, "NOT_FOUND")
    assert_error(client.get(f"/api/v2/reports/{report_b.id}/diff/download/"), 404, "NOT_FOUND")


# --- preview ----------------------------------------------------------------------------------


def preview(api, prefix="/api/v2/reports", **fields):
    return api.post(f"{prefix}/preview/", data=json.dumps(fields), content_type="application/json")


@pytest.mark.parametrize("prefix", PREFIXES)
def test_a_preview_is_the_report_generate_then_writes(api, customer_a, regenerated, prefix):
    _, live = regenerated
    pick = CustomerService.objects.get(customer=customer_a, service__name="Pick per unit")
    pick.unit_price = Decimal("0.3500")
    pick.save()
    before = written_counts()
    period = {"customer_id": customer_a.pk, "start_date": "2025-01-01", "end_date": "2025-01-31"}

    data = exact(preview(api, prefix, **period, orders_limit=2))

    assert written_counts() == before
    assert data["live_report"]["id"] == str(live.id)
    assert data["diff"]["counts"]["by_cause"]["price_changed"] == 3
    assert data["diff"]["total_amount"]["old"] == live.total_amount
    response = api.post("/api/v2/reports/generate/", data=json.dumps(period), content_type="application/json")
    assert response.status_code == 201, response.content
    detail = exact(api.get(f"{prefix}/{body(response)['data']['id']}/", {"orders_limit": 2}))
    assert data["total_amount"] == detail["total_amount"] == data["diff"]["total_amount"]["new"]
    assert data["orders"] == detail["orders"]
    assert data["service_totals"] == detail["service_totals"]


def test_a_preview_under_a_draft_document(api, customer_a, regenerated):
    _, live = regenerated
    document = rate_card_export(customer_ids=[customer_a.pk])
    for line in document["customers"][0]["rate_card"]:
        line["unit_price"] = "0.0100"
    before = written_counts()

    data = exact(
        preview(
            api, customer_id=customer_a.pk, start_date="2025-01-01", end_date="2025-01-31", rate_card_document=document
        )
    )

    assert written_counts() == before
    assert data["total_amount"] < live.total_amount
    assert data["diff"]["counts"]["by_cause"]["price_changed"] == ReportLine.objects.filter(report=live).count()


def test_a_bad_document_is_a_400_with_the_documents_errors(api, customer_a, report_a):
    document = rate_card_export(customer_ids=[customer_a.pk])
    document["customers"][0]["rate_card"][0]["unit_price"] = "-1"

    response = preview(
        api, customer_id=customer_a.pk, start_date="2025-01-01", end_date="2025-01-31", rate_card_document=document
    )

    error = assert_error(response, 400, "VALIDATION_ERROR")
    assert [name for name in error["details"] if name.startswith("rate_card_document.customers[0].rate_card[0]")]
    error = assert_error(
        preview(api, customer_id=customer_a.pk, start_date="2025-01-01", end_date="2025-01-31", rate_card_document="x"),
        400,
        "VALIDATION_ERROR",
    )
    assert "rate_card_document" in error["details"]
    error = assert_error(
        preview(api, customer_id=customer_a.pk, start_date="2025-01-01", end_date="2025-01-31", output_format="csv"),
        400,
        "VALIDATION_ERROR",
    )
    assert "output_format" in error["details"]


def test_a_preview_needs_the_generate_permission(client, customer_a, report_a):
    client.force_login(staff_user(username="viewer", generate=False))
    response = preview(client, customer_id=customer_a.pk, start_date="2025-01-01", end_date="2025-01-31")
    assert_error(response, 403, "PERMISSION_DENIED")
