"""No N+1: the number of SQL statements does not grow with the page size."""

from __future__ import annotations

import datetime as dt

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from billing.services.reports import report_generate
from tests.factories import CustomerFactory
from tests.graphql_schema.conftest import JANUARY, billed_report, make_orders, rate_card
from tests.graphql_schema.helpers import data_of, gql, nodes

pytestmark = pytest.mark.django_db

REPORTS = """
query($first: Int) { reports(first: $first) { totalCount edges { node {
  id status outputFormat generatedAt createdAt createdBy supersededById
  customer { id companyName } period { startDate endDate }
  totals { totalAmount currency orderCount lineCount unbilledOrderCount }
  serviceTotals { serviceId serviceName chargeType quantity amount orderCount }
} } } }
"""

REPORT_ORDERS = """
query($id: UUID!, $first: Int) { report(id: $id) {
  id totals { totalAmount } customer { companyName } serviceTotals { serviceName amount }
  orders(first: $first) { totalCount pageInfo { hasNextPage endCursor } edges { node {
    transactionId closeDate status totalAmount charges { serviceId serviceName chargeType quantity unitPrice amount }
  } } }
  unbilledOrders(first: $first) { totalCount edges { node { transactionId } } }
} }
"""

ORDERS = """
query($first: Int) { orders(first: $first) { totalCount edges { node {
  transactionId status closeDate customer { companyName } lines { sku quantity }
} } } }
"""

SUMMARIES = """
{ customerSummaries { customerId customerName reportsCount totalBilled firstBillingDate lastBillingDate
                      averageBillAmount } }
"""


def count_statements(client, query: str, variables: dict | None = None) -> tuple[int, dict]:
    with CaptureQueriesContext(connection) as captured:
        body = gql(client, query, variables)
    return len(captured.captured_queries), data_of(body)


def test_report_list_is_constant_in_page_size(client, staff, customer_a):
    rate_card(customer_a)
    make_orders(customer_a, 2)
    start = dt.date(2025, 1, 1)
    for offset in range(50):
        day = start + dt.timedelta(days=offset)
        report_generate(actor=staff, customer_id=customer_a.pk, start_date=day, end_date=day)
    client.force_login(staff)

    small, small_data = count_statements(client, REPORTS, {"first": 10})
    large, large_data = count_statements(client, REPORTS, {"first": 50})

    assert len(nodes(small_data["reports"])) == 10
    assert len(nodes(large_data["reports"])) == 50
    assert small == large


def test_a_report_with_100_orders_on_a_page_is_constant_in_page_size(client, staff, customer_a):
    report = billed_report(customer_a, orders=100)
    client.force_login(staff)

    small, small_data = count_statements(client, REPORT_ORDERS, {"id": str(report.pk), "first": 10})
    large, large_data = count_statements(client, REPORT_ORDERS, {"id": str(report.pk), "first": 100})

    page = nodes(large_data["report"]["orders"])
    assert len(nodes(small_data["report"]["orders"])) == 10
    assert len(page) == 100
    assert all(len(node["charges"]) == 3 for node in page)
    assert small == large


def test_orders_with_lines_are_constant_in_page_size(client, staff, customer_a, customer_b):
    make_orders(customer_a, 30)
    make_orders(customer_b, 30)
    client.force_login(staff)

    small, small_data = count_statements(client, ORDERS, {"first": 10})
    large, large_data = count_statements(client, ORDERS, {"first": 50})

    assert len(nodes(small_data["orders"])) == 10
    assert len(nodes(large_data["orders"])) == 50
    assert all(len(node["lines"]) == 2 for node in nodes(large_data["orders"]))
    assert small == large


def test_customer_summaries_are_constant_in_customer_count(client, staff):
    def add_customers(count: int) -> None:
        for _ in range(count):
            customer = CustomerFactory()
            rate_card(customer)
            make_orders(customer, 1)
            report_generate(actor=None, customer_id=customer.pk, start_date=JANUARY[0], end_date=JANUARY[1])

    client.force_login(staff)
    add_customers(3)
    few, few_data = count_statements(client, SUMMARIES)
    add_customers(9)
    many, many_data = count_statements(client, SUMMARIES)

    assert len(few_data["customerSummaries"]) == 3
    assert len(many_data["customerSummaries"]) == 12
    assert few == many
