"""GraphQL reportDiff and previewReport: the figures, the typed errors, nothing written."""

from __future__ import annotations

from decimal import Decimal

import pytest

from billing.services.rate_cards import rate_card_export
from tests.factories import repriced_report, staff_user
from tests.graphql_schema.conftest import billed_report
from tests.graphql_schema.helpers import data_of, gql
from tests.rest_compat.conftest import written_counts

pytestmark = pytest.mark.django_db

DIFF = """
query($id: UUID!, $against: UUID, $offset: Int, $limit: Int) {
  reportDiff(id: $id, against: $against, offset: $offset, limit: $limit) {
    __typename
    ... on ReportDiffType { report { id } against { id } currency lineCount
      totalAmount { old new change } serviceTotals { serviceId serviceName oldAmount newAmount change }
      counts { added removed changed priceChanged orderNew }
      lines { transactionId serviceName chargeType change cause amountChange old { quantity unitPrice amount }
              new { quantity unitPrice amount } } }
    ... on Error { code message }
    ... on ValidationError { fields { field messages } }
  }
}
"""

PREVIEW = """
mutation($input: PreviewReportInput!) { previewReport(input: $input) {
  __typename
  ... on ReportPreview { customer { id } period { startDate endDate } isPartial alreadyBilledPairs
    totals { totalAmount orderCount lineCount unbilledOrderCount }
    serviceTotals { serviceId serviceName amount orderCount }
    orders { transactionId totalAmount charges { serviceId chargeType quantity unitPrice amount } }
    liveReport { id }
    diff { report { id } against { id } lineCount counts { priceChanged } totalAmount { old new change }
           lines { transactionId cause } } }
  ... on Error { code message }
  ... on ValidationError { fields { field messages } }
} }
"""


@pytest.fixture
def regenerated(customer_a):
    """Report A of 3 orders, then B after the pick price rose: B superseded A."""
    old = billed_report(customer_a, orders=3)
    return old, repriced_report(customer_a)


def test_report_diff_against_the_superseded_report(client, staff, regenerated):
    old, new = regenerated
    client.force_login(staff)

    diff = data_of(gql(client, DIFF, {"id": str(new.id), "limit": 2}))["reportDiff"]

    assert diff["__typename"] == "ReportDiffType"
    assert diff["against"]["id"] == str(old.id) and diff["lineCount"] == 3 and len(diff["lines"]) == 2
    assert diff["counts"] == {"added": 0, "removed": 0, "changed": 3, "priceChanged": 3, "orderNew": 0}
    assert diff["lines"][0]["cause"] == "PRICE_CHANGED" and diff["lines"][0]["change"] == "CHANGED"
    assert diff["lines"][0]["old"]["unitPrice"] == "0.2500" and diff["lines"][0]["new"]["unitPrice"] == "0.3000"
    assert Decimal(diff["totalAmount"]["change"]) == new.total_amount - old.total_amount


def test_report_diff_errors_are_typed(client, staff, member_a, regenerated, customer_b):
    _, new = regenerated
    other = billed_report(customer_b, orders=1)
    client.force_login(staff)

    refused = data_of(gql(client, DIFF, {"id": str(new.id), "against": str(other.id)}))["reportDiff"]
    assert refused["__typename"] == "ValidationError" and refused["fields"][0]["field"] == "against"
    too_many = data_of(gql(client, DIFF, {"id": str(new.id), "limit": 5000}))["reportDiff"]
    assert too_many["__typename"] == "ValidationError" and too_many["fields"][0]["field"] == "limit"
    client.force_login(member_a)
    hidden = data_of(gql(client, DIFF, {"id": str(other.id), "against": str(new.id)}))["reportDiff"]
    assert hidden == {"__typename": "NotFoundError", "code": "NOT_FOUND", "message": hidden["message"]}


def test_preview_report_writes_nothing_and_diffs_against_the_live_report(client, staff, regenerated, customer_a):
    _, live = regenerated
    client.force_login(staff)
    before = written_counts()
    period = {"customerId": customer_a.pk, "startDate": "2025-01-01", "endDate": "2025-01-31"}

    preview = data_of(gql(client, PREVIEW, {"input": {**period, "ordersLimit": 2}}))["previewReport"]

    assert written_counts() == before
    assert preview["__typename"] == "ReportPreview"
    assert preview["liveReport"]["id"] == str(live.id)
    assert preview["diff"]["report"] is None and preview["diff"]["lineCount"] == 0
    assert Decimal(preview["totals"]["totalAmount"]) == live.total_amount
    assert len(preview["orders"]) == 2


def test_preview_report_under_a_draft_document_and_its_errors(client, staff, regenerated, customer_a):
    _, live = regenerated
    client.force_login(staff)
    document = rate_card_export(customer_ids=[customer_a.pk])
    for line in document["customers"][0]["rate_card"]:
        line["unit_price"] = "0.0100"
    period = {"customerId": customer_a.pk, "startDate": "2025-01-01", "endDate": "2025-01-31"}

    drafted = data_of(gql(client, PREVIEW, {"input": {**period, "rateCardDocument": document}}))["previewReport"]
    assert Decimal(drafted["totals"]["totalAmount"]) < live.total_amount
    assert drafted["diff"]["counts"]["priceChanged"] == drafted["diff"]["lineCount"] > 0

    document["customers"][0]["rate_card"][0]["unit_price"] = "-1"
    refused = data_of(gql(client, PREVIEW, {"input": {**period, "rateCardDocument": document}}))["previewReport"]
    assert refused["__typename"] == "ValidationError" and refused["code"] == "VALIDATION_ERROR"
    assert any(item["field"].startswith("rateCardDocument.customers[0].rateCard[0]") for item in refused["fields"])


def test_preview_report_needs_the_generate_permission(client, customer_a, regenerated):
    client.force_login(staff_user(username="viewer", generate=False))
    period = {"customerId": customer_a.pk, "startDate": "2025-01-01", "endDate": "2025-01-31"}

    body = gql(client, PREVIEW, {"input": period})

    refused = data_of(body)["previewReport"]
    assert (refused["__typename"], refused["code"]) == ("PermissionDeniedError", "PERMISSION_DENIED")
