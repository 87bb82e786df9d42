"""Who sees what: anonymous, a customer-linked user, staff with and without permissions, tokens."""

from __future__ import annotations

import uuid

import pytest

from billing.services.tokens import api_token_create
from tests.factories import UserFactory
from tests.graphql_schema.helpers import data_of, error_codes, gql, nodes

pytestmark = pytest.mark.django_db

UNKNOWN = uuid.uuid4()
ROOT_FIELDS = {
    "me": "{ me { username } }",
    "reports": "{ reports { totalCount } }",
    "report": f'{{ report(id: "{UNKNOWN}") {{ id }} }}',
    "orders": "{ orders { totalCount } }",
    "customers": "{ customers { totalCount } }",
    "customerSummaries": "{ customerSummaries { customerId } }",
    "reportJob": f'{{ reportJob(id: "{UNKNOWN}") {{ id }} }}',
    "billingRun": f'{{ billingRun(id: "{UNKNOWN}") {{ id }} }}',
}

REPORT = '{ report(id: "%s") { id totals { totalAmount } orders(first: 5) { totalCount } } }'
VISIBLE = """
{ reports { totalCount edges { node { id customer { companyName } } } }
  orders { totalCount edges { node { transactionId customer { companyName } } } }
  customers { totalCount edges { node { companyName } } }
  customerSummaries { customerName } }
"""


@pytest.mark.parametrize("field", sorted(ROOT_FIELDS))
def test_every_root_field_needs_authentication(client, dataset, field):
    body = gql(client, ROOT_FIELDS[field])

    assert error_codes(body) == ["AUTHENTICATION_REQUIRED"]
    assert body["errors"][0]["message"] == "Authentication required."
    assert body["errors"][0]["path"] == [field]
    assert body["data"] in (None, {field: None})


def test_anonymous_sees_no_data_even_in_a_multi_field_document(client, dataset):
    body = gql(client, VISIBLE)

    assert body["data"] is None
    assert set(error_codes(body)) == {"AUTHENTICATION_REQUIRED"}


def visible_names(body) -> dict[str, set[str]]:
    data = data_of(body)
    return {
        "reports": {node["customer"]["companyName"] for node in nodes(data["reports"])},
        "orders": {node["customer"]["companyName"] for node in nodes(data["orders"])},
        "customers": {node["companyName"] for node in nodes(data["customers"])},
        "summaries": {item["customerName"] for item in data["customerSummaries"]},
    }


def test_customer_user_sees_only_its_customer(client, member_a, dataset):
    client.force_login(member_a)

    body = gql(client, VISIBLE)

    assert visible_names(body) == {key: {"Acme Outdoor"} for key in ("reports", "orders", "customers", "summaries")}
    assert data_of(body)["reports"]["totalCount"] == 4


def test_customer_user_asking_for_another_customers_report_gets_null(client, member_a, dataset):
    client.force_login(member_a)

    own = gql(client, REPORT % dataset["a_jan"].pk)
    other = gql(client, REPORT % dataset["b_jan"].pk)

    assert data_of(own)["report"]["id"] == str(dataset["a_jan"].pk)
    assert other == {"data": {"report": None}}


def test_customer_user_filtering_on_another_customer_gets_nothing(client, member_a, dataset, customer_b):
    client.force_login(member_a)

    body = gql(
        client,
        "query($c: Int) { reports(filter: {customerId: $c}) { totalCount } customerSummaries(customerId: $c) "
        "{ customerId } orders(filter: {customerId: $c}) { totalCount } }",
        {"c": customer_b.pk},
    )

    assert data_of(body) == {"reports": {"totalCount": 0}, "customerSummaries": [], "orders": {"totalCount": 0}}


def test_staff_without_billing_permissions_sees_nothing(client, plain_staff, dataset):
    client.force_login(plain_staff)

    body = gql(client, VISIBLE)

    assert visible_names(body) == {key: set() for key in ("reports", "orders", "customers", "summaries")}
    assert gql(client, REPORT % dataset["a_jan"].pk) == {"data": {"report": None}}


@pytest.mark.parametrize("user_fixture", ["staff", "staff_no_generate"])
def test_staff_with_view_permission_sees_every_customer(client, dataset, request, user_fixture):
    client.force_login(request.getfixturevalue(user_fixture))

    body = gql(client, VISIBLE)

    both = {"Acme Outdoor", "Bravo Goods"}
    assert visible_names(body) == {key: both for key in ("reports", "orders", "customers", "summaries")}
    assert data_of(gql(client, REPORT % dataset["b_jan"].pk))["report"]["orders"]["totalCount"] == 4


def test_superuser_sees_everything(client, dataset):
    client.force_login(UserFactory(username="root", is_superuser=True))

    assert data_of(gql(client, VISIBLE))["reports"]["totalCount"] == 5


def test_inactive_user_is_anonymous(client, dataset):
    user = UserFactory(username="gone", permissions=["view_billingreport"])
    client.force_login(user)
    user.is_active = False
    user.save()

    assert error_codes(gql(client, "{ reports { totalCount } }")) == ["AUTHENTICATION_REQUIRED"]


def test_bearer_token_authenticates_with_the_same_visibility(client, member_a, dataset):
    _, raw = api_token_create(user=member_a, name="dashboard")

    body = gql(client, VISIBLE, HTTP_AUTHORIZATION=f"Bearer {raw}")

    assert visible_names(body)["reports"] == {"Acme Outdoor"}


def test_an_invalid_bearer_token_is_anonymous_even_with_a_session(client, staff, dataset):
    client.force_login(staff)

    body = gql(client, "{ reports { totalCount } }", HTTP_AUTHORIZATION="Bearer llb_not-a-real-token")

    assert error_codes(body) == ["AUTHENTICATION_REQUIRED"]
