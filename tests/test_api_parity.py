"""REST and GraphQL tell the same story about the same report: the one parity suite.

Two views of it: a report of 120 orders (more than one GraphQL page, unbilled orders, a fee
only some orders pay) compared figure by figure, and a small one compared field by field with
the customer summaries.
"""

from __future__ import annotations

import json
from decimal import Decimal

import pytest

from billing.models import ChargeType
from tests.factories import CustomerServiceFactory, RuleFactory, RuleGroupFactory, ServiceFactory
from tests.graphql_schema.conftest import JANUARY, make_orders, rate_card
from tests.graphql_schema.helpers import data_of, gql, nodes
from tests.rest_compat.conftest import api, billed_report, body, staff_token  # noqa: F401 - api, staff_token: fixtures

pytestmark = pytest.mark.django_db

# --- a report of several GraphQL pages ------------------------------------------------------

REPORT = """
query($id: UUID!, $after: String) { report(id: $id) {
  id customer { id companyName } period { startDate endDate } outputFormat createdBy generatedAt createdAt
  totals { totalAmount orderCount unbilledOrderCount }
  serviceTotals { serviceId serviceName amount orderCount chargeType }
  orders(first: 100, after: $after) { pageInfo { hasNextPage endCursor } edges { node {
    transactionId totalAmount totalItems lineItems shipToName shipToAddress
    charges { serviceId serviceName chargeType quantity amount } } } }
  unbilledOrders(first: 100) { edges { node { transactionId totalAmount charges { amount } } } }
} }
"""


def graphql_report(client, report_id) -> dict:
    pages = []
    after = None
    while True:
        data = data_of(gql(client, REPORT, {"id": str(report_id), "after": after}))["report"]
        pages += nodes(data["orders"])
        if not data["orders"]["pageInfo"]["hasNextPage"]:
            break
        after = data["orders"]["pageInfo"]["endCursor"]
    data["billed_orders"] = pages
    return data


def rest_report(client, report_id) -> dict:
    response = client.get(f"/api/v2/reports/{report_id}/")
    assert response.status_code == 200, response.content
    body = json.loads(response.content, parse_float=Decimal)  # compare exact decimals, not floats
    assert body["success"] is True
    return body["data"]


@pytest.fixture
def mixed_report(client, staff, customer_a):
    """120 orders (more than one GraphQL page), a Canadian-only fee, and unbilled orders (to Mexico)."""
    rate_card(customer_a)
    for line in customer_a.rate_card.all():
        RuleFactory(
            rule_group=RuleGroupFactory(customer_service=line), field="ship_to_country", operator="ne", value="MX"
        )
    export_fee = CustomerServiceFactory(
        customer=customer_a,
        service=ServiceFactory(name="Export fee", charge_type=ChargeType.PER_ORDER),
        unit_price=Decimal("3.3333"),
    )
    RuleFactory(rule_group=RuleGroupFactory(customer_service=export_fee), field="ship_to_country", value="CA")
    orders = make_orders(customer_a, 120)
    for order in orders[::7]:
        order.ship_to_country = "CA"
        order.save()
    for order in orders[3::10]:
        order.ship_to_country = "MX"
        order.save()
    client.force_login(staff)
    response = gql(
        client,
        "mutation($c: Int!, $s: Date!, $e: Date!) { generateReport(input: {customerId: $c, startDate: $s, endDate: $e})"
        " { ... on BillingReport { id } } }",
        {"c": customer_a.pk, "s": JANUARY[0].isoformat(), "e": JANUARY[1].isoformat()},
    )
    return data_of(response)["generateReport"]["id"]


def test_totals_service_figures_and_order_amounts_agree(client, mixed_report):
    graphql = graphql_report(client, mixed_report)
    rest = rest_report(client, mixed_report)

    # report header
    assert rest["id"] == graphql["id"]
    assert rest["customer"] == graphql["customer"]["id"]
    assert rest["customer_name"] == graphql["customer"]["companyName"]
    assert (rest["start_date"], rest["end_date"]) == (graphql["period"]["startDate"], graphql["period"]["endDate"])
    assert rest["output_format"] == graphql["outputFormat"].lower()
    assert rest["created_by"] == graphql["createdBy"]
    assert rest["total_amount"] == Decimal(graphql["totals"]["totalAmount"])

    # per-service totals
    assert {
        int(service_id): (total["name"], total["amount"], total["order_count"])
        for service_id, total in rest["service_totals"].items()
    } == {
        total["serviceId"]: (total["serviceName"], Decimal(total["amount"]), total["orderCount"])
        for total in graphql["serviceTotals"]
    }
    assert len(graphql["serviceTotals"]) == 4
    assert graphql["totals"]["unbilledOrderCount"] == 12

    # per-order amounts and charges (REST lists the billed orders, as GraphQL's `orders` does)
    rest_orders = {order["order_id"]: order for order in rest["orders"]}
    graphql_orders = {order["transactionId"]: order for order in graphql["billed_orders"]}
    assert len(graphql_orders) == 108
    assert rest_orders.keys() == graphql_orders.keys()
    unbilled = nodes(graphql["unbilledOrders"])
    assert len(unbilled) == 12
    assert all(order["totalAmount"] == "0.00" and order["charges"] == [] for order in unbilled)
    assert rest_orders.keys().isdisjoint(order["transactionId"] for order in unbilled)
    for transaction_id, order in graphql_orders.items():
        legacy = rest_orders[transaction_id]
        assert legacy["total_amount"] == Decimal(order["totalAmount"]), transaction_id
        assert sorted(
            (charge["service_id"], charge["service_name"], charge["amount"], Decimal(charge["quantity"]))
            for charge in legacy["services"]
        ) == sorted(
            (charge["serviceId"], charge["serviceName"], Decimal(charge["amount"]), Decimal(charge["quantity"]))
            for charge in order["charges"]
        ), transaction_id
    assert sum(Decimal(order["totalAmount"]) for order in graphql_orders.values()) == rest["total_amount"]


# --- a small report, field by field, and the customer summaries ----------------------------

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


def test_rest_and_graphql_agree_on_a_report(api, customer_a, customer_b):  # noqa: F811 - the fixture imported above
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


# --- explanations: the same in REST and GraphQL -----------------------------------------------

EXPLANATIONS = """
query($id: UUID!, $after: String) { report(id: $id) { orders(first: 10, after: $after) {
  pageInfo { hasNextPage endCursor } edges { node { transactionId
  charges { serviceId explanation { text appliesToEveryOrder unitPrice tierBasis tierScope
    ruleGroup { position of logic text rules { field operator value } }
    tierBands { from to quantity unitPrice amount } skus { sku units caseSize cases eaches } } } } } } } }
"""


GRAPH_NAMES = {"every": "appliesToEveryOrder", "price": "unitPrice", "basis": "tierBasis", "scope": "tierScope"}
GRAPH_NAMES |= {"group": "ruleGroup", "bands": "tierBands", "case_size": "caseSize"}
REST_NAMES = {"every": "applies_to_every_order", "price": "unit_price", "basis": "tier_basis", "scope": "tier_scope"}
REST_NAMES |= {"group": "rule_group", "bands": "tier_bands", "case_size": "case_size"}


def _explanation(data: dict | None, names: dict[str, str]) -> tuple | None:
    """An explanation as comparable values, whichever API's field names (`names`) it has."""
    if data is None:
        return None
    group, bands, skus = data[names["group"]], data[names["bands"]], data["skus"]
    band_keys = ("from", "to", "quantity", names["price"], "amount")
    return (
        data["text"],
        data[names["every"]],
        None if data[names["price"]] is None else number(data[names["price"]]),
        (data[names["basis"]] or "").lower() or None,
        (data[names["scope"]] or "").lower() or None,
        None if group is None else (group["position"], group["of"], group["logic"], group["text"], group["rules"]),
        None if bands is None else [tuple(number(band[k]) for k in band_keys) for band in bands],
        None
        if skus is None
        else [(s["sku"], s["units"], s.get(names["case_size"]), s.get("cases"), s.get("eaches")) for s in skus],
    )


def test_explanations_agree(client, staff, customer_a):
    from billing.models import PriceTier, Product

    rate_card(customer_a)
    fee = customer_a.rate_card.get(service__name="Order fee")
    group = RuleGroupFactory(customer_service=fee, logic_operator="NOR")
    RuleFactory(rule_group=group, field="ship_to_country", operator="eq", value="MX")
    RuleFactory(rule_group=group, field="carrier", operator="eq", value="DHL")
    RuleGroupFactory(customer_service=fee, logic_operator="AND")  # a second group: always true
    tiered = CustomerServiceFactory(
        customer=customer_a,
        service=ServiceFactory(name="Volume", charge_type=ChargeType.TIERED),
        unit_price=Decimal("0"),
        tier_scope="order",
    )
    PriceTier.objects.create(customer_service=tiered, up_to=Decimal("2"), unit_price=Decimal("0.7500"))
    PriceTier.objects.create(customer_service=tiered, up_to=None, unit_price=Decimal("0.1250"))
    Product.objects.create(customer=customer_a, sku="BASE", sku_key="BASE", case_size=2)
    CustomerServiceFactory(
        customer=customer_a,
        service=ServiceFactory(name="Cases", charge_type=ChargeType.CASE_PICK),
        unit_price=Decimal("0.5000"),
    )
    orders = make_orders(customer_a, 30)
    for order in orders[::4]:
        order.ship_to_country = "MX"
        order.save()
    client.force_login(staff)
    report_id = data_of(
        gql(
            client,
            "mutation($c: Int!, $s: Date!, $e: Date!) { generateReport(input: {customerId: $c, startDate: $s,"
            " endDate: $e}) { ... on BillingReport { id } } }",
            {"c": customer_a.pk, "s": JANUARY[0].isoformat(), "e": JANUARY[1].isoformat()},
        )
    )["generateReport"]["id"]

    graph_lines, after = {}, None
    while True:  # pages of 10: explanations nest three lists, the cost limit counts them
        page = data_of(gql(client, EXPLANATIONS, {"id": report_id, "after": after}))["report"]["orders"]
        for order in nodes(page):
            for charge in order["charges"]:
                graph_lines[order["transactionId"], charge["serviceId"]] = _explanation(
                    charge["explanation"], GRAPH_NAMES
                )
        if not page["pageInfo"]["hasNextPage"]:
            break
        after = page["pageInfo"]["endCursor"]
    rest_lines = {
        (order["order_id"], service["service_id"]): _explanation(service["explanation"], REST_NAMES)
        for order in rest_report(client, report_id)["orders"]
        for service in order["services"]
    }
    assert rest_lines == graph_lines
    assert len(rest_lines) == 30 * 5
    fee_groups = [rest_lines[order.transaction_id, fee.service_id][5][0] for order in orders]
    # NOR (not MX, not DHL) explains the US orders; the always-true second group the MX ones
    assert fee_groups == [2 if index % 4 == 0 else 1 for index in range(30)]
    assert any(line[6] and len(line[6]) == 2 for line in rest_lines.values())  # bands of the order tiers
    assert any(line[7] for line in rest_lines.values())  # the SKUs a pick counted
