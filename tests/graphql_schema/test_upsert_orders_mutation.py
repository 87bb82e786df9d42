"""upsertOrders: bulk create/update by transactionId, per-order errors, permissions, limits."""

from __future__ import annotations

import pytest

from billing.models import Order, OrderLine
from graphql_schema.mutations.upsert_orders import MAX_ORDERS_PER_CALL
from tests.factories import MembershipFactory, UserFactory
from tests.graphql_schema.helpers import data_of, gql

pytestmark = pytest.mark.django_db

UPSERT = """
mutation Upsert($input: [OrderInput!]!) {
  upsertOrders(input: $input) {
    __typename
    ... on UpsertOrdersPayload { created updated unchanged rejected errors { index transactionId reason } }
    ... on Error { code message }
    ... on ValidationError { fields { field messages } }
  }
}
"""


@pytest.fixture
def importer(customer_a, customer_b):
    """A warehouse integration account: sees every customer, may add and change orders."""
    return UserFactory(username="wms", permissions=["view_billingreport", "view_order", "add_order", "change_order"])


def order(customer, transaction_id: str, **fields) -> dict:
    return {
        "transactionId": transaction_id,
        "customerId": customer.pk,
        "closeDate": "2025-01-15T10:30:00Z",
        "status": "Completed",
        "referenceNumber": f"REF-{transaction_id}",
        "shipToName": "Jane Doe",
        "shipToCountry": "US",
        "weightLb": "1.250",
        "packages": 1,
        "lines": [{"sku": "abc-1", "quantity": 2}, {"sku": "XYZ 9", "quantity": 1}],
        **fields,
    }


def upsert(client, orders: list[dict]) -> dict:
    return data_of(gql(client, UPSERT, {"input": orders}))["upsertOrders"]


def test_creates_orders_with_their_lines(client, importer, customer_a):
    client.force_login(importer)

    payload = upsert(client, [order(customer_a, "WMS-1"), order(customer_a, "WMS-2", status="shipped")])

    assert payload == {
        "__typename": "UpsertOrdersPayload",
        "created": 2,
        "updated": 0,
        "unchanged": 0,
        "rejected": 0,
        "errors": [],
    }
    stored = Order.objects.get(transaction_id="WMS-1")
    assert stored.customer == customer_a
    assert stored.status == "Completed"  # as given
    assert stored.reference_number == "REF-WMS-1"
    assert stored.line_items == 2
    assert stored.total_item_qty == 3
    assert sorted(stored.lines.values_list("sku", "quantity")) == [("XYZ 9", 1), ("abc-1", 2)]
    assert Order.objects.get(transaction_id="WMS-2").status == "shipped"


def test_sending_the_same_orders_again_changes_nothing(client, importer, customer_a):
    client.force_login(importer)
    batch = [order(customer_a, "WMS-1"), order(customer_a, "WMS-2")]
    upsert(client, batch)

    again = upsert(client, batch)

    assert (again["created"], again["updated"], again["unchanged"]) == (0, 0, 2)
    assert Order.objects.count() == 2
    assert OrderLine.objects.count() == 4


def test_a_known_transaction_id_updates_the_order_and_replaces_its_lines(client, importer, customer_a):
    client.force_login(importer)
    upsert(client, [order(customer_a, "WMS-1")])

    payload = upsert(client, [order(customer_a, "WMS-1", shipToName="John Roe", lines=[{"sku": "NEW", "quantity": 5}])])

    assert (payload["created"], payload["updated"], payload["unchanged"]) == (0, 1, 0)
    stored = Order.objects.get(transaction_id="WMS-1")
    assert stored.ship_to_name == "John Roe"
    assert list(stored.lines.values_list("sku", "quantity")) == [("NEW", 5)]


def test_bad_orders_are_reported_and_skipped_the_good_ones_written(client, importer, customer_a):
    client.force_login(importer)

    payload = upsert(
        client,
        [
            order(customer_a, "GOOD-1"),
            order(customer_a, "BAD-STATUS", status="x" * 65),
            order(customer_a, "BAD-CUSTOMER", customerId=987654),
            order(customer_a, "BAD-QTY", lines=[{"sku": "A", "quantity": -1}]),
            order(customer_a, "BAD-WEIGHT", weightLb="1e30"),
            order(customer_a, "GOOD-2"),
        ],
    )

    assert (payload["created"], payload["rejected"]) == (2, 4)
    assert [(error["index"], error["transactionId"]) for error in payload["errors"]] == [
        (1, "BAD-STATUS"),
        (2, "BAD-CUSTOMER"),
        (3, "BAD-QTY"),
        (4, "BAD-WEIGHT"),
    ]
    assert "status is longer than 64 characters" in payload["errors"][0]["reason"]
    assert "weight_lb is too large" in payload["errors"][3]["reason"]  # the valid orders of the call are kept
    assert sorted(Order.objects.values_list("transaction_id", flat=True)) == ["GOOD-1", "GOOD-2"]


def test_ill_typed_orders_are_refused_by_the_schema_and_nothing_is_written(client, importer, customer_a):
    client.force_login(importer)

    body = gql(client, UPSERT, {"input": [order(customer_a, "OK"), order(customer_a, "X", packages="many")]})

    assert body["data"] is None
    assert "packages" in body["errors"][0]["message"]
    assert Order.objects.count() == 0


def test_orders_of_a_customer_the_user_cannot_see_are_rejected(client, customer_a, customer_b):
    member = UserFactory(username="wms-a", permissions=["add_order", "change_order"])
    MembershipFactory(user=member, customer=customer_a)
    client.force_login(member)

    payload = upsert(client, [order(customer_a, "OWN"), order(customer_b, "OTHER")])

    assert (payload["created"], payload["rejected"]) == (1, 1)
    assert payload["errors"][0]["transactionId"] == "OTHER"
    assert list(Order.objects.values_list("transaction_id", flat=True)) == ["OWN"]


@pytest.mark.parametrize("permissions", [[], ["add_order"], ["change_order"], ["view_billingreport", "view_order"]])
def test_without_add_and_change_permissions_nothing_is_written(client, customer_a, permissions):
    client.force_login(UserFactory(username="reader", permissions=permissions, is_staff=True))

    payload = upsert(client, [order(customer_a, "WMS-1")])

    assert payload == {
        "__typename": "PermissionDeniedError",
        "code": "PERMISSION_DENIED",
        "message": "You do not have permission to perform this action.",
    }
    assert Order.objects.count() == 0


def test_anonymous_cannot_upsert(client, customer_a):
    payload = upsert(client, [order(customer_a, "WMS-1")])

    assert payload["__typename"] == "AuthenticationRequiredError"
    assert payload["code"] == "AUTHENTICATION_REQUIRED"
    assert Order.objects.count() == 0


def test_too_many_orders_in_one_call_is_a_validation_error(client, importer, customer_a):
    client.force_login(importer)
    batch = [order(customer_a, f"WMS-{index}", lines=None) for index in range(MAX_ORDERS_PER_CALL + 1)]

    payload = upsert(client, batch)

    assert payload["__typename"] == "ValidationError"
    assert payload["fields"] == [
        {"field": "input", "messages": [f"Send at most {MAX_ORDERS_PER_CALL} orders per call; got 1001."]}
    ]
    assert Order.objects.count() == 0
