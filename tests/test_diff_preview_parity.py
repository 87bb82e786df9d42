"""REST and GraphQL tell the same story about a diff and a preview (the pattern of test_api_parity)."""

from __future__ import annotations

import json
from decimal import Decimal

import pytest

from billing.models import CustomerService
from billing.services.reports import report_generate
from tests.factories import JANUARY, make_orders
from tests.graphql_schema.helpers import data_of, gql
from tests.rest_compat.conftest import billed_report

pytestmark = pytest.mark.django_db

GRAPHQL_DIFF = """
query($id: UUID!) { reportDiff(id: $id, limit: 1000) { ... on ReportDiffType {
  lineCount totalAmount { old new change } serviceTotals { serviceId oldAmount newAmount change }
  lines { transactionId serviceId change cause amountChange
          old { quantity unitPrice amount } new { quantity unitPrice amount } }
} } }
"""
GRAPHQL_PREVIEW = """
mutation($input: PreviewReportInput!) { previewReport(input: $input) { ... on ReportPreview {
  totals { totalAmount orderCount lineCount unbilledOrderCount }
  serviceTotals { serviceId amount orderCount }
  orders { transactionId totalAmount charges { serviceId quantity amount explanation { text } } }
  alreadyBilledPairs diff { lineCount totalAmount { change } lines { transactionId serviceId cause } }
} } }
"""


def exact(response) -> dict:
    assert response.status_code == 200, response.content
    return json.loads(response.content, parse_float=Decimal)["data"]


def number(value) -> Decimal | None:
    return None if value is None else Decimal(str(value))


def side(value) -> tuple | None:
    return (
        None
        if value is None
        else (
            number(value["quantity"]),
            number(value["unit_price" if "unit_price" in value else "unitPrice"]),
            number(value["amount"]),
        )
    )


@pytest.fixture
def changed(client, staff, customer_a):
    """A price change, an order gone from the period and two new ones, between two reports."""
    billed_report(customer_a, orders=6)
    pick = CustomerService.objects.get(customer=customer_a, service__name="Pick per unit")
    pick.unit_price = Decimal("0.3300")
    pick.save()
    gone = customer_a.orders.order_by("id").first()
    gone.close_date = gone.close_date.replace(month=3)
    gone.save()
    make_orders(customer_a, 2, prefix="LATE")
    client.force_login(staff)
    return report_generate(actor=None, customer_id=customer_a.pk, start_date=JANUARY[0], end_date=JANUARY[1])


def test_rest_and_graphql_give_the_same_diff(client, changed):
    rest = exact(client.get(f"/api/v2/reports/{changed.id}/diff/", {"limit": 1000}))
    graph = data_of(gql(client, GRAPHQL_DIFF, {"id": str(changed.id)}))["reportDiff"]

    assert rest["line_count"] == graph["lineCount"] > 0
    assert [
        (
            item["order_id"],
            item["service_id"],
            item["change"],
            item["cause"],
            item["amount_change"],
            side(item["old"]),
            side(item["new"]),
        )
        for item in rest["lines"]
    ] == [
        (
            item["transactionId"],
            item["serviceId"],
            item["change"].lower(),
            item["cause"].lower(),
            Decimal(item["amountChange"]),
            side(item["old"]),
            side(item["new"]),
        )
        for item in graph["lines"]
    ]
    assert {key: number(value) for key, value in rest["total_amount"].items()} == {
        key: Decimal(value) for key, value in graph["totalAmount"].items()
    }
    assert [(t["service_id"], t["old_amount"], t["new_amount"], t["change"]) for t in rest["service_totals"]] == [
        (t["serviceId"], Decimal(t["oldAmount"]), Decimal(t["newAmount"]), Decimal(t["change"]))
        for t in graph["serviceTotals"]
    ]


def test_rest_and_graphql_give_the_same_preview(client, changed, customer_a):
    pick = CustomerService.objects.get(customer=customer_a, service__name="Pick per unit")
    pick.unit_price = Decimal("0.4100")
    pick.save()
    period = {"customer_id": customer_a.pk, "start_date": "2025-01-01", "end_date": "2025-01-31", "orders_limit": 5}

    rest = exact(client.post("/api/v2/reports/preview/", data=json.dumps(period), content_type="application/json"))
    graph = data_of(
        gql(
            client,
            GRAPHQL_PREVIEW,
            {
                "input": {
                    "customerId": customer_a.pk,
                    "startDate": "2025-01-01",
                    "endDate": "2025-01-31",
                    "ordersLimit": 5,
                }
            },
        )
    )["previewReport"]

    totals = graph["totals"]
    assert (rest["total_amount"], rest["order_count"], rest["line_count"], rest["unbilled_order_count"]) == (
        Decimal(totals["totalAmount"]),
        totals["orderCount"],
        totals["lineCount"],
        totals["unbilledOrderCount"],
    )
    assert {int(key): (value["amount"], value["order_count"]) for key, value in rest["service_totals"].items()} == {
        item["serviceId"]: (Decimal(item["amount"]), item["orderCount"]) for item in graph["serviceTotals"]
    }
    assert [
        (
            order["order_id"],
            order["total_amount"],
            [(s["service_id"], number(s["quantity"]), s["amount"]) for s in order["services"]],
        )
        for order in rest["orders"]
    ] == [
        (
            order["transactionId"],
            Decimal(order["totalAmount"]),
            sorted(
                ((c["serviceId"], Decimal(c["quantity"]), Decimal(c["amount"])) for c in order["charges"]),
                key=lambda charge: [s["service_id"] for s in rest_order["services"]].index(charge[0]),
            ),
        )
        for order, rest_order in zip(graph["orders"], rest["orders"], strict=True)
    ]
    assert [[s["explanation"]["text"] for s in order["services"]] for order in rest["orders"]] == [
        sorted(
            (c["explanation"]["text"] for c in order["charges"]),
            key=[s["explanation"]["text"] for s in rest_order["services"]].index,
        )
        for order, rest_order in zip(graph["orders"], rest["orders"], strict=True)
    ]
    assert all(s["explanation"]["text"] for order in rest["orders"] for s in order["services"])
    assert rest["already_billed_pairs"] == graph["alreadyBilledPairs"]
    assert rest["diff"]["line_count"] == graph["diff"]["lineCount"] > 0
    assert rest["diff"]["total_amount"]["change"] == Decimal(graph["diff"]["totalAmount"]["change"])
    assert [(line["order_id"], line["service_id"], line["cause"]) for line in rest["diff"]["lines"]] == [
        (line["transactionId"], line["serviceId"], line["cause"].lower()) for line in graph["diff"]["lines"]
    ]
