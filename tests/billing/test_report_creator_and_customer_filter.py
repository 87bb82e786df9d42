"""Every new report records who made it; a customer filter tells staff about a customer that does not exist."""

import io
import json

import pytest
from django.contrib.auth.models import User
from django.core.management import CommandError, call_command
from django.test import Client

from billing.models import BillingReport, Order
from tests.factories import JANUARY, CustomerFactory, MembershipFactory, UserFactory, make_orders, staff_user
from tests.graphql_schema.helpers import gql
from tests.rest_compat.conftest import assert_error, rate_card

pytestmark = pytest.mark.django_db


@pytest.fixture
def customer():
    customer = CustomerFactory(company_name="Acme")
    rate_card(customer)
    make_orders(customer, 2)
    return customer


def generate(customer, *extra):
    call_command(
        "generate_report",
        "--customer",
        str(customer.pk),
        "--start",
        JANUARY[0].isoformat(),
        "--end",
        JANUARY[1].isoformat(),
        "--format",
        "json",
        "--no-progress",
        *extra,
        stdout=io.StringIO(),
        stderr=io.StringIO(),
    )


def rest_created_by(client):
    data = json.loads(client.get("/api/v2/reports/").content)["data"]
    return [report["created_by"] for report in data]


@pytest.fixture
def staff_client():
    client = Client()
    client.force_login(staff_user(username="staff"))
    return client


def test_a_command_records_the_system_user_by_default_and_nobody_can_sign_in_as_it(customer, staff_client):
    generate(customer)

    assert rest_created_by(staff_client) == ["system"]
    system = User.objects.get(username="system")
    assert not system.is_active and not system.has_usable_password()


def test_generate_report_records_the_user_named_by_user(customer, staff_client):
    UserFactory(username="alice")

    generate(customer, "--user", "alice")

    assert rest_created_by(staff_client) == ["alice"]


def test_an_unknown_user_is_refused_and_no_report_is_made(customer):
    with pytest.raises(CommandError, match="No user named 'nobody'"):
        generate(customer, "--user", "nobody")
    assert not BillingReport.objects.exists()


def test_billing_run_records_the_user_on_every_report(customer, staff_client, django_capture_on_commit_callbacks):
    other = CustomerFactory(company_name="Bravo")
    rate_card(other, prefix="B ")
    UserFactory(username="bob")
    args = ["--start", JANUARY[0].isoformat(), "--end", JANUARY[1].isoformat(), "--no-progress"]

    with django_capture_on_commit_callbacks(execute=True):  # the jobs run when the run is committed
        call_command("billing_run", *args, "--user", "bob", stdout=io.StringIO(), stderr=io.StringIO())

    assert sorted(rest_created_by(staff_client)) == ["bob", "bob"]
    with django_capture_on_commit_callbacks(execute=True):
        call_command("billing_run", *args, stdout=io.StringIO(), stderr=io.StringIO())
    assert sorted(rest_created_by(staff_client)) == ["bob", "bob", "system", "system"]


def test_the_system_user_name_is_a_setting(customer, staff_client, settings):
    settings.BILLING_SYSTEM_USERNAME = "billing-bot"

    generate(customer)

    assert rest_created_by(staff_client) == ["billing-bot"]


# --- customer filter: 400 for staff, no difference for a customer-linked user -----------------


@pytest.mark.parametrize("path", ["/api/v2/reports/", "/api/v2/reports/customer-summary/"])
def test_staff_get_400_for_a_customer_that_does_not_exist(customer, staff_client, path):
    generate(customer)

    error = assert_error(staff_client.get(path, {"customer_id": 999999}), 400, "VALIDATION_ERROR")

    assert error["details"] == {"customer_id": ["No customer with id 999999."]}
    assert staff_client.get(path, {"customer_id": customer.pk}).status_code == 200


@pytest.mark.parametrize("path", ["/api/v2/reports/", "/api/v2/reports/customer-summary/"])
def test_for_a_customer_linked_user_invisible_and_nonexistent_customers_look_alike(customer, path):
    generate(customer)
    own = CustomerFactory()
    user = UserFactory(username="member")
    MembershipFactory(user=user, customer=own)
    client = Client()
    client.force_login(user)

    invisible = client.get(path, {"customer_id": customer.pk})
    nonexistent = client.get(path, {"customer_id": 999999})

    assert invisible.status_code == nonexistent.status_code == 200
    assert invisible.content == nonexistent.content == b'{"success":true,"data":[]}'


def test_graphql_reports_filter_follows_the_same_rule(customer, staff_client):
    body = gql(staff_client, "{ reports(filter: {customerId: 999999}) { totalCount } }")

    assert body["data"] is None
    assert "No customer with id 999999." in json.dumps(body["errors"])


# --- upsertOrders never says whose order a transaction id names -----------------------------

UPSERT = """
mutation($input: [OrderInput!]!) {
  upsertOrders(input: $input) { ... on UpsertOrdersPayload { created rejected errors { transactionId reason } } }
}
"""


def test_upsert_answers_the_same_whether_or_not_the_importer_sees_the_owner(customer):
    own = CustomerFactory()
    importer = UserFactory(username="wms-a", permissions=["add_order", "change_order", "view_order"])
    MembershipFactory(user=importer, customer=own)
    staff_importer = UserFactory(
        username="wms-all", permissions=["add_order", "change_order", "view_order", "view_billingreport"]
    )
    taken = Order.objects.filter(customer=customer).first().transaction_id
    answers = []
    for user in (importer, staff_importer):
        client = Client()
        client.force_login(user)
        row = {"transactionId": taken, "customerId": own.pk, "closeDate": "2025-01-02T00:00:00Z", "lines": []}
        answers.append(gql(client, UPSERT, {"input": [row]})["data"]["upsertOrders"])

    assert answers[0] == answers[1]
    (error,) = answers[0]["errors"]
    assert str(customer.pk) not in error["reason"].replace(str(own.pk), "")
    assert Order.objects.get(transaction_id=taken).customer_id == customer.pk
