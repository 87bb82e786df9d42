"""The reports list and report detail through /graphql/: fields, filters, ordering, pagination."""

from __future__ import annotations

import datetime as dt
import uuid
from decimal import Decimal

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from billing.models import BillingReport, ChargeType, ReportLine, ReportOrder
from billing.selectors import report_list
from billing.services.reports import report_generate
from graphql_schema.enums import ReportOrderField
from tests.factories import CustomerServiceFactory, RuleFactory, RuleGroupFactory, ServiceFactory
from tests.graphql_schema.conftest import JANUARY, billed_report, make_orders
from tests.graphql_schema.helpers import data_of, error_codes, gql, nodes

pytestmark = pytest.mark.django_db

REPORTS = """
query Reports($filter: ReportFilter, $orderBy: ReportOrdering, $first: Int, $after: String,
              $last: Int, $before: String) {
  reports(filter: $filter, orderBy: $orderBy, first: $first, after: $after, last: $last, before: $before) {
    totalCount
    pageInfo { hasNextPage hasPreviousPage startCursor endCursor }
    edges {
      cursor
      node {
        id
        customer { id companyName }
        period { startDate endDate }
        totals { totalAmount currency orderCount lineCount unbilledOrderCount }
        status outputFormat generatedAt createdAt createdBy supersededById billingTimeZone
        serviceTotals { serviceId serviceName chargeType quantity amount orderCount }
      }
    }
  }
}
"""

REPORT = """
query Report($id: UUID!, $first: Int, $after: String) {
  report(id: $id) {
    id
    customer { id companyName currency }
    period { startDate endDate }
    totals { totalAmount currency orderCount lineCount unbilledOrderCount }
    status outputFormat generatedAt createdAt createdBy supersededById
    serviceTotals { serviceId serviceName chargeType quantity amount orderCount }
    orders(first: $first, after: $after) {
      totalCount
      pageInfo { hasNextPage endCursor }
      edges {
        node {
          id orderId transactionId referenceNumber closeDate status shipToName shipToAddress
          totalItems lineItems totalAmount isBilled
          charges { serviceId serviceName chargeType quantity unitPrice amount }
        }
      }
    }
    unbilledOrders(first: 10) { totalCount edges { node { transactionId isBilled totalAmount charges { amount } } } }
  }
}
"""


def report_ids(body) -> list[str]:
    return [node["id"] for node in nodes(data_of(body)["reports"])]


def reports(client, **variables):
    return gql(client, REPORTS, variables)


# --- list: fields and scoping -------------------------------------------------------------


def test_reports_list_returns_every_field_of_a_report(client, staff, dataset):
    client.force_login(staff)
    report = dataset["b_jan"]

    body = reports(client, filter={"customerId": report.customer_id})

    connection = data_of(body)["reports"]
    assert connection["totalCount"] == 1
    node = connection["edges"][0]["node"]
    totals = list(report.service_totals.order_by("service_name"))
    assert node == {
        "id": str(report.pk),
        "customer": {"id": report.customer_id, "companyName": "Bravo Goods"},
        "period": {"startDate": "2025-01-01", "endDate": "2025-01-31"},
        "totals": {
            "totalAmount": f"{report.total_amount:.2f}",
            "currency": "USD",
            "orderCount": 4,
            "lineCount": report.line_count,
            "unbilledOrderCount": 0,
        },
        "status": "DRAFT",
        "outputFormat": "JSON",
        "generatedAt": report.generated_at.isoformat(),
        "createdAt": report.created_at.isoformat(),
        "createdBy": "system",
        "supersededById": None,
        "billingTimeZone": "UTC",
        "serviceTotals": [
            {
                "serviceId": total.service_id,
                "serviceName": total.service_name,
                "chargeType": ChargeType(total.charge_type).name,
                "quantity": str(total.quantity),
                "amount": f"{total.amount:.2f}",
                "orderCount": total.order_count,
            }
            for total in totals
        ],
    }
    assert [item["serviceName"] for item in node["serviceTotals"]] == ["Order fee", "Per SKU", "Pick per unit"]
    assert sum(Decimal(item["amount"]) for item in node["serviceTotals"]) == Decimal(node["totals"]["totalAmount"])


def test_reports_list_defaults_to_newest_first_and_includes_superseded(client, staff, dataset):
    client.force_login(staff)

    body = reports(client)

    expected = ["b_jan", "a_q1", "a_feb", "a_jan", "a_jan_old"]
    assert report_ids(body) == [str(dataset[name].pk) for name in expected]
    assert data_of(body)["reports"]["totalCount"] == 5
    old = nodes(data_of(body)["reports"])[-1]
    assert old["status"] == "SUPERSEDED"
    assert old["supersededById"] == str(dataset["a_jan"].pk)


def test_created_by_is_the_generating_users_name(client, staff, customer_a):
    rate_card_report = billed_report(customer_a)  # generated by a command: no user
    client.force_login(staff)
    generated = report_generate(actor=staff, customer_id=customer_a.pk, start_date=JANUARY[0], end_date=JANUARY[1])

    by_id = {node["id"]: node["createdBy"] for node in nodes(data_of(reports(client))["reports"])}

    assert by_id == {str(generated.pk): "staff", str(rate_card_report.pk): "system"}  # made without a user


# --- list: filters --------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("report_filter", "expected"),
    [
        ({}, {"a_jan_old", "a_jan", "a_feb", "a_q1", "b_jan"}),
        ({"customerId": "A"}, {"a_jan_old", "a_jan", "a_feb", "a_q1"}),
        ({"customerId": "B"}, {"b_jan"}),
        ({"startDate": "2025-02-01"}, {"a_feb"}),
        ({"startDate": "2025-01-01"}, {"a_jan_old", "a_jan", "a_feb", "a_q1", "b_jan"}),
        ({"endDate": "2025-01-31"}, {"a_jan_old", "a_jan", "b_jan"}),
        ({"endDate": "2025-02-28"}, {"a_jan_old", "a_jan", "a_feb", "b_jan"}),
        ({"startDate": "2025-01-01", "endDate": "2025-01-31", "customerId": "A"}, {"a_jan_old", "a_jan"}),
        # created: a_jan_old 03-01, a_jan 03-02, a_feb 03-03, a_q1 03-04, b_jan 03-05 (09:00 UTC)
        ({"createdAfter": "2025-03-03"}, {"a_feb", "a_q1", "b_jan"}),
        ({"createdAfter": "2025-03-03T09:00:01Z"}, {"a_q1", "b_jan"}),
        ({"createdBefore": "2025-03-02"}, {"a_jan_old", "a_jan"}),
        ({"createdBefore": "2025-03-02T09:00:00+00:00"}, {"a_jan_old"}),
        ({"createdAfter": "2025-03-02", "createdBefore": "2025-03-03"}, {"a_jan", "a_feb"}),
        ({"includeSuperseded": False}, {"a_jan", "a_feb", "a_q1", "b_jan"}),
        ({"includeSuperseded": False, "customerId": "A", "endDate": "2025-01-31"}, {"a_jan"}),
    ],
)
def test_reports_filters_match_the_rest_list(client, staff, dataset, customer_a, customer_b, report_filter, expected):
    client.force_login(staff)
    ids = {"A": customer_a.pk, "B": customer_b.pk}
    if isinstance(report_filter.get("customerId"), str):
        report_filter = {**report_filter, "customerId": ids[report_filter["customerId"]]}

    body = reports(client, filter=report_filter)

    assert set(report_ids(body)) == {str(dataset[name].pk) for name in expected}
    assert data_of(body)["reports"]["totalCount"] == len(expected)


def test_malformed_filter_values_are_rejected_before_execution(client, staff, dataset):
    client.force_login(staff)

    body = reports(client, filter={"createdAfter": "2025-13-01"})

    assert body["data"] is None
    assert "2025-13-01" in body["errors"][0]["message"]
    body = reports(client, filter={"startDate": "yesterday"})
    assert body["data"] is None


# --- list: ordering -----------------------------------------------------------------------------


@pytest.mark.parametrize("field", [member.name for member in ReportOrderField])
@pytest.mark.parametrize("direction", ["ASC", "DESC"])
def test_reports_ordering_uses_the_selector_whitelist(client, staff, dataset, field, direction):
    client.force_login(staff)

    body = reports(client, orderBy={"field": field, "direction": direction})

    order_by = ("-" if direction == "DESC" else "") + field.lower()
    expected = [str(pk) for pk in report_list(actor=staff, order_by=order_by).values_list("pk", flat=True)]
    assert report_ids(body) == expected
    assert len(expected) == 5


def test_ordering_by_total_amount_sorts_amounts(client, staff, dataset):
    client.force_login(staff)

    ascending = [
        Decimal(node["totals"]["totalAmount"])
        for node in nodes(data_of(reports(client, orderBy={"field": "TOTAL_AMOUNT"}))["reports"])
    ]
    descending = [
        Decimal(node["totals"]["totalAmount"])
        for node in nodes(data_of(reports(client, orderBy={"field": "TOTAL_AMOUNT", "direction": "DESC"}))["reports"])
    ]

    assert ascending == sorted(ascending)
    assert descending == sorted(ascending, reverse=True)
    assert len(set(ascending)) > 1


def test_unknown_ordering_field_is_a_graphql_error(client, staff, dataset):
    client.force_login(staff)

    body = reports(client, orderBy={"field": "CUSTOMER"})

    assert body["data"] is None
    assert "CUSTOMER" in body["errors"][0]["message"]


# --- list: pagination -----------------------------------------------------------------------


def test_paging_forward_with_first_and_after_visits_every_report_once(client, staff, dataset):
    client.force_login(staff)
    seen: list[str] = []
    after = None
    pages = 0
    while True:
        body = reports(client, first=2, after=after)
        connection = data_of(body)["reports"]
        assert connection["totalCount"] == 5
        seen += [node["id"] for node in nodes(connection)]
        pages += 1
        assert connection["pageInfo"]["hasPreviousPage"] is (pages > 1)
        if not connection["pageInfo"]["hasNextPage"]:
            break
        after = connection["pageInfo"]["endCursor"]

    assert pages == 3
    assert seen == report_ids(reports(client))


def test_total_count_is_a_separate_count_not_a_window_over_every_row(client, staff, dataset):
    client.force_login(staff)
    january = {"startDate": "2025-01-01", "endDate": "2025-01-31"}

    with CaptureQueriesContext(connection) as queries:
        body = reports(client, first=1, filter=january)

    page = data_of(body)["reports"]
    expected = report_list(actor=staff, start_date=dt.date(2025, 1, 1), end_date=dt.date(2025, 1, 31)).count()
    assert page["totalCount"] == expected == 3
    assert len(page["edges"]) == 1
    statements = [query["sql"].upper() for query in queries.captured_queries]
    assert not any(" OVER " in sql for sql in statements)
    assert sum(sql.startswith("SELECT COUNT(*)") for sql in statements) == 1
    assert data_of(reports(client, last=2, filter=january))["reports"]["totalCount"] == 3


def test_paging_backward_with_last_and_before(client, staff, dataset):
    client.force_login(staff)
    everything = report_ids(reports(client))

    last_two = data_of(reports(client, last=2))["reports"]
    assert [node["id"] for node in nodes(last_two)] == everything[-2:]
    assert last_two["pageInfo"]["hasPreviousPage"] is True

    before = data_of(reports(client, last=2, before=last_two["pageInfo"]["startCursor"]))["reports"]
    assert [node["id"] for node in nodes(before)] == everything[1:3]


def test_first_is_capped_at_100_with_a_readable_error(client, staff, dataset):
    client.force_login(staff)

    assert len(report_ids(reports(client, first=100))) == 5
    body = reports(client, first=101)

    assert body["data"] is None
    assert error_codes(body) == ["VALIDATION_ERROR"]
    assert body["errors"][0]["message"] == "Argument 'first' cannot be higher than 100."


@pytest.mark.parametrize(
    ("cursor", "message"),
    [
        ("not-a-cursor", "Invalid cursor"),
        ("b3JkZXJlZGN1cnNvcjpbIjEiXQ==", "Argument 'after' contains a non-existing value."),  # another kind
    ],
)
def test_reports_reject_a_malformed_cursor(client, staff, dataset, cursor, message):
    client.force_login(staff)

    body = reports(client, first=2, after=cursor)

    assert body["data"] is None
    assert error_codes(body) == ["VALIDATION_ERROR"]
    assert body["errors"][0]["message"] == message


def test_a_list_without_first_returns_at_most_100_reports(client, staff, customer_a):
    client.force_login(staff)
    make_orders(customer_a, 1)
    for day in range(1, 29):
        for month in range(1, 5):
            report_generate(
                actor=None,
                customer_id=customer_a.pk,
                start_date=dt.date(2025, month, day),
                end_date=dt.date(2025, month, day),
            )

    connection = data_of(reports(client))["reports"]

    assert connection["totalCount"] == 112
    assert len(connection["edges"]) == 100
    assert connection["pageInfo"]["hasNextPage"] is True


# --- detail -----------------------------------------------------------------------------------


def test_report_detail_has_totals_service_totals_and_orders_with_charges(client, staff, customer_a):
    report = billed_report(customer_a, orders=3)
    client.force_login(staff)

    data = data_of(gql(client, REPORT, {"id": str(report.pk), "first": 10}))["report"]

    assert data["id"] == str(report.pk)
    assert data["customer"] == {"id": customer_a.pk, "companyName": "Acme Outdoor", "currency": "USD"}
    assert data["totals"]["orderCount"] == 3
    assert data["orders"]["totalCount"] == 3
    assert data["unbilledOrders"] == {"totalCount": 0, "edges": []}
    stored = {row.transaction_id: row for row in ReportOrder.objects.filter(report=report)}
    for node in nodes(data["orders"]):
        row = stored[node["transactionId"]]
        assert node["orderId"] == row.order_id
        assert node["totalAmount"] == f"{row.total_amount:.2f}"
        assert node["isBilled"] is True
        lines = ReportLine.objects.filter(report=report, order_id=row.order_id).order_by("service_name")
        assert node["charges"] == [
            {
                "serviceId": line.service_id,
                "serviceName": line.service_name,
                "chargeType": ChargeType(line.charge_type).name,
                "quantity": str(line.quantity),
                "unitPrice": str(line.unit_price),
                "amount": f"{line.amount:.2f}",
            }
            for line in lines
        ]
        assert sum(Decimal(charge["amount"]) for charge in node["charges"]) == Decimal(node["totalAmount"])
    first = nodes(data["orders"])[0]
    assert first["transactionId"] == f"{customer_a.pk}-TX00000"
    # 1.50 per order + 0.25 x 3 units (SKU0 x1, BASE x2) + 0.10 x 2 SKUs
    assert first["totalAmount"] == "2.45"
    assert sum(Decimal(node["totalAmount"]) for node in nodes(data["orders"])) == Decimal(data["totals"]["totalAmount"])


def test_report_orders_page_by_page(client, staff, customer_a):
    report = billed_report(customer_a, orders=5)
    client.force_login(staff)

    seen: list[str] = []
    after = None
    while True:
        page = data_of(gql(client, REPORT, {"id": str(report.pk), "first": 2, "after": after}))["report"]["orders"]
        assert page["totalCount"] == 5
        seen += [node["transactionId"] for node in nodes(page)]
        assert all(node["charges"] for node in nodes(page))
        if not page["pageInfo"]["hasNextPage"]:
            break
        after = page["pageInfo"]["endCursor"]

    assert seen == [f"{customer_a.pk}-TX{index:05d}" for index in range(5)]


def test_report_orders_page_backward_with_last_and_before(client, staff, customer_a):
    report = billed_report(customer_a, orders=5)
    client.force_login(staff)
    document = """
    query($id: UUID!, $last: Int, $before: String) { report(id: $id) { orders(last: $last, before: $before) {
      totalCount pageInfo { hasPreviousPage startCursor } edges { node { transactionId } } } } }
    """

    last_two = data_of(gql(client, document, {"id": str(report.pk), "last": 2}))["report"]["orders"]
    before = data_of(
        gql(client, document, {"id": str(report.pk), "last": 2, "before": last_two["pageInfo"]["startCursor"]})
    )["report"]["orders"]

    ids = [f"{customer_a.pk}-TX{index:05d}" for index in range(5)]
    assert [node["transactionId"] for node in nodes(last_two)] == ids[3:]
    assert last_two["pageInfo"]["hasPreviousPage"] is True
    assert [node["transactionId"] for node in nodes(before)] == ids[1:3]
    assert before["totalCount"] == 5


@pytest.mark.parametrize("cursor", ["not-a-cursor", "YXJyYXljb25uZWN0aW9uOjI="])
def test_report_orders_reject_a_malformed_cursor(client, staff, customer_a, cursor):
    report = billed_report(customer_a, orders=2)
    client.force_login(staff)

    body = gql(client, REPORT, {"id": str(report.pk), "after": cursor})

    assert body["data"] == {"report": None}
    assert error_codes(body) == ["VALIDATION_ERROR"]
    assert body["errors"][0]["message"] == "Invalid cursor"


def test_report_orders_first_is_capped_at_100(client, staff, customer_a):
    report = billed_report(customer_a, orders=1)
    client.force_login(staff)

    body = gql(client, REPORT, {"id": str(report.pk), "first": 500})

    assert body["data"]["report"] is None
    assert error_codes(body) == ["VALIDATION_ERROR"]


def test_unbilled_orders_are_listed_apart_without_charges(client, staff, customer_a):
    # The only rate-card line applies to orders shipped to Canada.
    line = CustomerServiceFactory(
        customer=customer_a, service=ServiceFactory(name="Export fee", charge_type=ChargeType.PER_ORDER)
    )
    RuleFactory(rule_group=RuleGroupFactory(customer_service=line), field="ship_to_country", operator="eq", value="CA")
    canadian = make_orders(customer_a, 1, prefix="CA")[0]
    canadian.ship_to_country = "CA"
    canadian.save()
    make_orders(customer_a, 2, prefix="US", day=16)
    report = report_generate(actor=None, customer_id=customer_a.pk, start_date=JANUARY[0], end_date=JANUARY[1])
    client.force_login(staff)

    data = data_of(gql(client, REPORT, {"id": str(report.pk)}))["report"]

    assert data["totals"]["unbilledOrderCount"] == 2
    assert [node["transactionId"] for node in nodes(data["orders"])] == ["CA-TX00000"]
    assert data["unbilledOrders"]["totalCount"] == 2
    assert nodes(data["unbilledOrders"]) == [
        {"transactionId": "US-TX00000", "isBilled": False, "totalAmount": "0.00", "charges": []},
        {"transactionId": "US-TX00001", "isBilled": False, "totalAmount": "0.00", "charges": []},
    ]


def test_unknown_report_is_null_without_error(client, staff, dataset):
    client.force_login(staff)

    body = gql(client, REPORT, {"id": str(uuid.uuid4())})

    assert body == {"data": {"report": None}}


def test_malformed_report_id_is_rejected_as_invalid_input(client, staff, dataset):
    client.force_login(staff)

    body = gql(client, REPORT, {"id": "not-a-uuid"})

    assert body["data"] is None
    assert "not-a-uuid" in body["errors"][0]["message"]
    assert BillingReport.objects.count() == 5
