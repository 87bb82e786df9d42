"""orders, customers, customerSummaries and me through /graphql/."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal

import pytest

from billing.models import OrderStatus
from billing.selectors import order_list
from graphql_schema.enums import OrderOrderField
from tests.factories import (
    CustomerFactory,
    CustomerServiceFactory,
    MembershipFactory,
    OrderFactory,
    PriceTierFactory,
    ProductFactory,
    RuleFactory,
    RuleGroupFactory,
    ServiceFactory,
    UserFactory,
    order_with_lines,
)
from tests.graphql_schema.helpers import data_of, error_codes, gql, nodes

pytestmark = pytest.mark.django_db

ORDERS = """
query Orders($filter: OrderFilter, $orderBy: OrderOrdering, $first: Int, $after: String) {
  orders(filter: $filter, orderBy: $orderBy, first: $first, after: $after) {
    totalCount
    pageInfo { hasNextPage endCursor }
    edges {
      node {
        id transactionId customer { id companyName } referenceNumber closeDate status priority
        shipToName shipToCompany shipToAddress shipToAddress2 shipToCity shipToState shipToZip shipToCountry
        carrier weightLb volumeCuft packages lineItems totalItemQty notes
        lines { sku quantity }
      }
    }
  }
}
"""


@pytest.fixture
def orders_dataset(customer_a, customer_b):
    """Five orders of A and one of B, with varied dates, statuses and references."""

    def at(day: int, hour: int = 12) -> dt.datetime:
        return dt.datetime(2025, 1, day, hour, 0, tzinfo=dt.UTC)

    return {
        "a1": order_with_lines(
            customer=customer_a, transaction_id="A-1", reference_number="PO-777", close_date=at(3), lines={"X": 1}
        ),
        "a2": order_with_lines(
            customer=customer_a, transaction_id="A-2", reference_number="po-778", close_date=at(10), lines={"Y": 2}
        ),
        "a3": order_with_lines(
            customer=customer_a,
            transaction_id="A-3",
            reference_number="WEB-1",
            close_date=at(20),
            status=OrderStatus.SHIPPED,
            lines={"X": 1, "Z": 4},
        ),
        "a4": OrderFactory(
            customer=customer_a,
            transaction_id="A-4",
            reference_number="WEB-2",
            close_date=at(31, 23),
            status=OrderStatus.CANCELLED,
        ),
        "a5": OrderFactory(
            customer=customer_a, transaction_id="A-5", reference_number="", close_date=None, status=OrderStatus.OPEN
        ),
        "b1": order_with_lines(
            customer=customer_b, transaction_id="B-1", reference_number="PO-777", close_date=at(5), lines={"Q": 9}
        ),
    }


def order_ids(body) -> list[str]:
    return [node["transactionId"] for node in nodes(data_of(body)["orders"])]


def test_orders_list_every_field_and_lines(client, staff, orders_dataset):
    client.force_login(staff)
    order = orders_dataset["a3"]

    node = nodes(data_of(gql(client, ORDERS, {"filter": {"reference": "A-3"}}))["orders"])[0]

    assert node == {
        "id": order.pk,
        "transactionId": "A-3",
        "customer": {"id": order.customer_id, "companyName": "Acme Outdoor"},
        "referenceNumber": "WEB-1",
        "closeDate": "2025-01-20T12:00:00+00:00",
        "status": "shipped",
        "priority": "",
        "shipToName": "John Smith",
        "shipToCompany": "",
        "shipToAddress": "123 Test St",
        "shipToAddress2": "",
        "shipToCity": "Springfield",
        "shipToState": "IL",
        "shipToZip": "",
        "shipToCountry": "US",
        "carrier": "UPS",
        "weightLb": "2.500",
        "volumeCuft": "0.800",
        "packages": 1,
        "lineItems": 2,
        "totalItemQty": 5,
        "notes": "",
        "lines": [{"sku": "X", "quantity": 1}, {"sku": "Z", "quantity": 4}],
    }


@pytest.mark.parametrize(
    ("order_filter", "expected"),
    [
        ({}, ["a5", "a1", "b1", "a2", "a3", "a4"]),
        ({"customerId": "A"}, ["a5", "a1", "a2", "a3", "a4"]),
        ({"customerId": "B"}, ["b1"]),
        ({"closeDateFrom": "2025-01-10"}, ["a2", "a3", "a4"]),
        ({"closeDateTo": "2025-01-10"}, ["a1", "b1", "a2"]),
        ({"closeDateFrom": "2025-01-05", "closeDateTo": "2025-01-20"}, ["b1", "a2", "a3"]),
        ({"closeDateFrom": "2025-01-31", "closeDateTo": "2025-01-31"}, ["a4"]),
        ({"status": "SHIPPED"}, ["a3"]),
        ({"status": "CANCELLED"}, ["a4"]),
        ({"status": "OPEN"}, ["a5"]),
        ({"reference": "po-77"}, ["a1", "b1", "a2"]),
        ({"reference": "PO-777", "customerId": "B"}, ["b1"]),
        ({"reference": "A-2"}, ["a2"]),
        ({"reference": "nothing"}, []),
    ],
)
def test_orders_filters(client, staff, orders_dataset, customer_a, customer_b, order_filter, expected):
    client.force_login(staff)
    ids = {"A": customer_a.pk, "B": customer_b.pk}
    if isinstance(order_filter.get("customerId"), str):
        order_filter = {**order_filter, "customerId": ids[order_filter["customerId"]]}

    body = gql(client, ORDERS, {"filter": order_filter})

    # Default ordering: close date (orders without one first on SQLite, last on PostgreSQL), then id.
    assert sorted(order_ids(body)) == sorted(orders_dataset[name].transaction_id for name in expected)
    assert data_of(body)["orders"]["totalCount"] == len(expected)


def test_orders_default_ordering_is_the_selectors(client, staff, orders_dataset):
    client.force_login(staff)

    expected = list(order_list(actor=staff).values_list("transaction_id", flat=True))

    assert order_ids(gql(client, ORDERS)) == expected


@pytest.mark.parametrize("field", [member.name for member in OrderOrderField])
@pytest.mark.parametrize("direction", ["ASC", "DESC"])
def test_orders_ordering(client, staff, orders_dataset, field, direction):
    client.force_login(staff)

    body = gql(client, ORDERS, {"orderBy": {"field": field, "direction": direction}})

    order_by = ("-" if direction == "DESC" else "") + field.lower()
    assert order_ids(body) == list(order_list(actor=staff, order_by=order_by).values_list("transaction_id", flat=True))


def test_orders_pagination(client, staff, orders_dataset):
    client.force_login(staff)
    everything = order_ids(gql(client, ORDERS))
    seen: list[str] = []
    after = None
    while True:
        connection = data_of(gql(client, ORDERS, {"first": 4, "after": after}))["orders"]
        seen += [node["transactionId"] for node in nodes(connection)]
        if not connection["pageInfo"]["hasNextPage"]:
            break
        after = connection["pageInfo"]["endCursor"]

    assert seen == everything
    assert len(seen) == 6


CUSTOMERS = """
query Customers($first: Int, $after: String) {
  customers(first: $first, after: $after) {
    totalCount
    pageInfo { hasNextPage endCursor }
    edges { node { id companyName legalBusinessName email isActive currency
                   products(first: 5) { totalCount edges { node { sku caseSize } } }
                   rateCard { service { name chargeType } unitPrice isActive tierBasis tiers { upTo unitPrice }
                              skus { sku } ruleGroups { logicOperator rules { field operator value } } } } }
  }
}
"""


def test_customers_connection_with_rate_card_and_products(client, staff, customer_a, customer_b):
    product = ProductFactory(customer=customer_a, sku="ABC1", case_size=6)
    line = CustomerServiceFactory(
        customer=customer_a,
        service=ServiceFactory(name="Pick", charge_type="tiered"),
        unit_price=Decimal("0.5000"),
        tier_basis="per_unit",
    )
    line.skus.add(product)
    PriceTierFactory(customer_service=line, up_to=Decimal("100"), unit_price=Decimal("0.4000"))
    PriceTierFactory(customer_service=line, up_to=None, unit_price=Decimal("0.3000"))
    RuleFactory(rule_group=RuleGroupFactory(customer_service=line, logic_operator="OR"), value="US;CA", operator="in")
    client.force_login(staff)

    connection = data_of(gql(client, CUSTOMERS, {"first": 1}))["customers"]

    assert connection["totalCount"] == 2
    assert connection["pageInfo"]["hasNextPage"] is True
    acme = nodes(connection)[0]
    assert acme["companyName"] == "Acme Outdoor"
    assert acme["legalBusinessName"] == "Acme Outdoor LLC"
    assert acme["products"] == {"totalCount": 1, "edges": [{"node": {"sku": "ABC1", "caseSize": 6}}]}
    assert acme["rateCard"] == [
        {
            "service": {"name": "Pick", "chargeType": "TIERED"},
            "unitPrice": "0.5000",
            "isActive": True,
            "tierBasis": "PER_UNIT",
            "tiers": [{"upTo": "100.0000", "unitPrice": "0.4000"}, {"upTo": None, "unitPrice": "0.3000"}],
            "skus": [{"sku": "ABC1"}],
            "ruleGroups": [
                {"logicOperator": "OR", "rules": [{"field": "ship_to_country", "operator": "in", "value": "US;CA"}]}
            ],
        }
    ]
    second = data_of(gql(client, CUSTOMERS, {"first": 1, "after": connection["pageInfo"]["endCursor"]}))["customers"]
    assert [node["companyName"] for node in nodes(second)] == ["Bravo Goods"]


SUMMARIES = """
query Summaries($customerId: Int) {
  customerSummaries(customerId: $customerId) {
    customerId customerName reportsCount totalBilled firstBillingDate lastBillingDate averageBillAmount
  }
}
"""


def test_customer_summaries_count_current_reports_only(client, staff, dataset, customer_a, customer_b):
    CustomerFactory(company_name="Charlie without reports")
    client.force_login(staff)

    summaries = data_of(gql(client, SUMMARIES))["customerSummaries"]

    a_total = sum(dataset[name].total_amount for name in ("a_jan", "a_feb", "a_q1"))
    assert summaries == [
        {
            "customerId": customer_a.pk,
            "customerName": "Acme Outdoor",
            "reportsCount": 3,
            "totalBilled": f"{a_total:.2f}",
            "firstBillingDate": "2025-01-01",
            "lastBillingDate": "2025-03-31",
            "averageBillAmount": f"{(a_total / 3).quantize(Decimal('0.01')):.2f}",
        },
        {
            "customerId": customer_b.pk,
            "customerName": "Bravo Goods",
            "reportsCount": 1,
            "totalBilled": f"{dataset['b_jan'].total_amount:.2f}",
            "firstBillingDate": "2025-01-01",
            "lastBillingDate": "2025-01-31",
            "averageBillAmount": f"{dataset['b_jan'].total_amount:.2f}",
        },
    ]


def test_customer_summary_of_one_customer_even_without_reports(client, staff, dataset, customer_b):
    charlie = CustomerFactory(company_name="Charlie")
    client.force_login(staff)

    only_b = data_of(gql(client, SUMMARIES, {"customerId": customer_b.pk}))["customerSummaries"]
    empty = data_of(gql(client, SUMMARIES, {"customerId": charlie.pk}))["customerSummaries"]
    unknown = gql(client, SUMMARIES, {"customerId": 987654})

    assert [item["customerName"] for item in only_b] == ["Bravo Goods"]
    assert empty == [
        {
            "customerId": charlie.pk,
            "customerName": "Charlie",
            "reportsCount": 0,
            "totalBilled": "0.00",
            "firstBillingDate": None,
            "lastBillingDate": None,
            "averageBillAmount": "0.00",
        }
    ]
    assert unknown["data"] is None and "No customer with id 987654." in str(unknown["errors"])  # staff are told


ME = """
{ me { username isStaff permissions { canViewAllReports canGenerateReports }
       customers { totalCount edges { node { companyName } } } } }
"""


def test_me_for_staff(client, staff, customer_a, customer_b):
    client.force_login(staff)

    assert data_of(gql(client, ME))["me"] == {
        "username": "staff",
        "isStaff": False,
        "permissions": {"canViewAllReports": True, "canGenerateReports": True},
        "customers": {
            "totalCount": 2,
            "edges": [{"node": {"companyName": "Acme Outdoor"}}, {"node": {"companyName": "Bravo Goods"}}],
        },
    }


def test_me_for_a_customer_user(client, member_a, customer_b):
    client.force_login(member_a)

    assert data_of(gql(client, ME))["me"] == {
        "username": "member-a",
        "isStaff": False,
        "permissions": {"canViewAllReports": False, "canGenerateReports": True},
        "customers": {"totalCount": 1, "edges": [{"node": {"companyName": "Acme Outdoor"}}]},
    }


def test_me_for_a_superuser_and_a_user_without_rights(client, customer_a):
    admin = UserFactory(username="root", is_superuser=True, is_staff=True)
    nobody = UserFactory(username="nobody")
    MembershipFactory(user=UserFactory(username="someone-else"), customer=customer_a)

    client.force_login(admin)
    assert data_of(gql(client, ME))["me"]["permissions"] == {"canViewAllReports": True, "canGenerateReports": True}
    client.force_login(nobody)
    me = data_of(gql(client, ME))["me"]
    assert me["permissions"] == {"canViewAllReports": False, "canGenerateReports": False}
    assert me["customers"] == {"totalCount": 0, "edges": []}


def test_me_needs_authentication(client):
    body = gql(client, ME)

    assert body["data"] == {"me": None}
    assert error_codes(body) == ["AUTHENTICATION_REQUIRED"]
