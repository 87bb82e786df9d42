"""The REST facade and GraphQL tell the same story about the same report."""

from __future__ import annotations

import json
from decimal import Decimal

import pytest

from tests.rest_compat.conftest import billed_report, body

pytestmark = pytest.mark.django_db

REPORT_QUERY = """
query Report($id: UUID!) {
  report(id: $id) {
    id
    outputFormat
    createdBy
    customer { id companyName }
    period { startDate endDate }
    totals { totalAmount orderCount }
    serviceTotals { serviceId serviceName amount orderCount }
    orders(first: 100) {
      totalCount
      edges { node { transactionId status totalItems lineItems totalAmount
                     charges { serviceId serviceName chargeType quantity amount } } }
    }
  }
  customerSummaries { customerId customerName reportsCount totalBilled averageBillAmount }
}
"""


def number(value) -> Decimal:
    return Decimal(str(value))


def graph_charge(charge: dict) -> tuple:
    return (
        charge["serviceId"],
        charge["serviceName"],
        charge["chargeType"].lower(),
        number(charge["quantity"]),
        number(charge["amount"]),
    )


def rest_service(service: dict) -> tuple:
    return (
        service["service_id"],
        service["service_name"],
        service["cost_type"],
        number(service["quantity"]),
        number(service["amount"]),
    )


def graph_summary(item: dict) -> tuple:
    return (
        item["customerId"],
        item["customerName"],
        item["reportsCount"],
        number(item["totalBilled"]),
        number(item["averageBillAmount"]),
    )


def rest_summary(item: dict) -> tuple:
    return (
        item["customer_id"],
        item["customer_name"],
        item["reports_count"],
        number(item["total_billed"]),
        number(item["average_bill_amount"]),
    )


def test_rest_and_graphql_agree_on_a_report(api, customer_a, customer_b):
    report = billed_report(customer_a, orders=6)
    billed_report(customer_b, orders=2, prefix="B ")

    rest = body(api.get(f"/api/v2/reports/{report.id}/"))["data"]
    summaries = body(api.get("/api/v2/reports/customer-summary/"))["data"]
    response = api.post(
        "/graphql/",
        json.dumps({"query": REPORT_QUERY, "variables": {"id": str(report.id)}}),
        content_type="application/json",
    )
    graph = response.json()
    assert "errors" not in graph, graph
    node = graph["data"]["report"]

    assert node["id"] == rest["id"]
    assert node["customer"] == {"id": rest["customer"], "companyName": rest["customer_name"]}
    assert node["period"] == {"startDate": rest["start_date"], "endDate": rest["end_date"]}
    assert node["outputFormat"].lower() == rest["output_format"]
    assert node["createdBy"] == rest["created_by"]
    assert Decimal(node["totals"]["totalAmount"]) == Decimal(str(rest["total_amount"]))
    assert node["orders"]["totalCount"] == node["totals"]["orderCount"] == len(rest["orders"])
    assert {
        str(total["serviceId"]): {
            "name": total["serviceName"],
            "amount": Decimal(total["amount"]),
            "order_count": total["orderCount"],
        }
        for total in node["serviceTotals"]
    } == {
        key: {"name": value["name"], "amount": Decimal(str(value["amount"])), "order_count": value["order_count"]}
        for key, value in rest["service_totals"].items()
    }
    graph_orders = [edge["node"] for edge in node["orders"]["edges"]]
    for graph_order, rest_order in zip(graph_orders, rest["orders"], strict=True):
        assert graph_order["transactionId"] == rest_order["order_id"]
        assert graph_order["status"].lower() == rest_order["status"].lower()
        assert (graph_order["totalItems"], graph_order["lineItems"]) == (
            rest_order["total_items"],
            rest_order["line_items"],
        )
        assert Decimal(graph_order["totalAmount"]) == Decimal(str(rest_order["total_amount"]))
        assert [graph_charge(charge) for charge in graph_order["charges"]] == [
            rest_service(service) for service in rest_order["services"]
        ]

    assert [graph_summary(item) for item in graph["data"]["customerSummaries"]] == [
        rest_summary(item) for item in summaries
    ]
