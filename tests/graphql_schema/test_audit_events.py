"""The audit trail through GraphQL: auditEvents (staff only) and report(id).auditEvents."""

from __future__ import annotations

import datetime as dt

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from billing.exporters import report_export
from billing.models import AuditEvent, BillingReport, Interface
from billing.services.reports import report_generate
from tests.factories import UserFactory, staff_user
from tests.graphql_schema.conftest import JANUARY, rate_card
from tests.graphql_schema.helpers import data_of, error_codes, gql, nodes

pytestmark = pytest.mark.django_db

AUDIT_EVENTS = """
query Audit($filter: AuditEventFilter, $first: Int, $after: String) {
  auditEvents(filter: $filter, first: $first, after: $after) {
    totalCount
    pageInfo { hasNextPage endCursor }
    edges { node { id action interface actor format requestId reportId createdAt } }
  }
}
"""

REPORT_AUDIT = """
query ReportAudit($id: UUID!) {
  report(id: $id) {
    id
    auditEvents { totalCount edges { node { action interface actor format requestId } } }
  }
}
"""


@pytest.fixture
def auditor():
    """Billing staff who may read the audit trail (and every report)."""
    return UserFactory(username="auditor", permissions=["view_auditevent", "view_billingreport"])


@pytest.fixture
def trail(customer_a, customer_b, staff):
    """A known trail over two customers, with distinct creation instants one minute apart.

    In creation order: A generated (staff, graphql), A regenerated + old A superseded (command, no
    user), A downloaded as pdf (staff, rest), B generated (staff, worker).
    """
    rate_card(customer_a)
    rate_card(customer_b)
    first = report_generate(
        actor=staff,
        customer_id=customer_a.pk,
        start_date=JANUARY[0],
        end_date=JANUARY[1],
        interface=Interface.GRAPHQL,
        request_id="req-1",
    )
    second = report_generate(
        actor=None, customer_id=customer_a.pk, start_date=JANUARY[0], end_date=JANUARY[1], output_format="csv"
    )
    report_export(actor=staff, report_id=second.pk, fmt="pdf", interface=Interface.REST, request_id="req-3")
    other = report_generate(
        actor=staff,
        customer_id=customer_b.pk,
        start_date=JANUARY[0],
        end_date=JANUARY[1],
        interface=Interface.WORKER,
        request_id="req-4",
    )
    base = dt.datetime(2025, 3, 1, 9, 0, tzinfo=dt.UTC)
    for minute, event in enumerate(AuditEvent.objects.order_by("id")):
        AuditEvent.objects.filter(pk=event.pk).update(created_at=base + dt.timedelta(minutes=minute))
    return {"first": first, "second": second, "other": other}


def audit(client, variables=None):
    return gql(client, AUDIT_EVENTS, variables or {})


def test_staff_read_the_whole_trail_newest_first(client, auditor, trail):
    client.force_login(auditor)

    connection_ = data_of(audit(client))["auditEvents"]

    assert connection_["totalCount"] == 5
    rows = [
        (node["action"], node["interface"], node["actor"], node["format"], node["requestId"], node["reportId"])
        for node in nodes(connection_)
    ]
    first, second, other = (str(trail[name].pk) for name in ("first", "second", "other"))
    assert rows == [
        ("GENERATED", "WORKER", "staff", "JSON", "req-4", other),
        ("DOWNLOADED", "REST", "staff", "PDF", "req-3", second),
        # a regeneration writes two events: the new report's, then the one for the report it replaced
        ("SUPERSEDED", "COMMAND", None, "CSV", None, first),
        ("REGENERATED", "COMMAND", None, "CSV", None, second),
        ("GENERATED", "GRAPHQL", "staff", "JSON", "req-1", first),
    ]


@pytest.mark.parametrize(
    ("filter_", "expected"),
    [
        ({"action": "GENERATED"}, [("GENERATED", "WORKER"), ("GENERATED", "GRAPHQL")]),
        ({"interface": "COMMAND"}, [("SUPERSEDED", "COMMAND"), ("REGENERATED", "COMMAND")]),
        ({"actorUsername": "staff"}, [("GENERATED", "WORKER"), ("DOWNLOADED", "REST"), ("GENERATED", "GRAPHQL")]),
        ({"actorUsername": "nobody"}, []),
        ({"action": "DOWNLOADED", "interface": "GRAPHQL"}, []),
    ],
)
def test_filters(client, auditor, trail, filter_, expected):
    client.force_login(auditor)

    found = nodes(data_of(audit(client, {"filter": filter_}))["auditEvents"])

    assert [(node["action"], node["interface"]) for node in found] == expected


def test_filter_by_report(client, auditor, trail):
    client.force_login(auditor)

    found = nodes(data_of(audit(client, {"filter": {"reportId": str(trail["first"].pk)}}))["auditEvents"])

    assert [node["action"] for node in found] == ["SUPERSEDED", "GENERATED"]


def test_pagination(client, auditor, trail):
    client.force_login(auditor)

    page = data_of(audit(client, {"first": 2}))["auditEvents"]
    rest = data_of(audit(client, {"first": 10, "after": page["pageInfo"]["endCursor"]}))["auditEvents"]

    assert len(page["edges"]) == 2 and page["pageInfo"]["hasNextPage"] is True
    assert [n["action"] for n in nodes(rest)] == ["SUPERSEDED", "REGENERATED", "GENERATED"]


def test_a_superuser_reads_the_trail(client, trail):
    client.force_login(UserFactory(username="root", is_superuser=True, is_staff=True))

    assert data_of(audit(client))["auditEvents"]["totalCount"] == 5


@pytest.mark.parametrize(
    "make_user",
    [
        lambda customer: staff_user(username="reports-only"),  # sees every report, not the trail
        lambda customer: UserFactory(username="plain-staff", is_staff=True),
    ],
)
def test_users_without_the_audit_permission_are_refused(client, trail, customer_a, make_user):
    client.force_login(make_user(customer_a))

    body = audit(client)

    assert body["data"] is None
    assert error_codes(body) == ["PERMISSION_DENIED"]


def test_a_customer_member_is_refused_even_for_its_own_reports(client, trail, member_a):
    client.force_login(member_a)

    body = audit(client, {"filter": {"reportId": str(trail["first"].pk)}})

    assert error_codes(body) == ["PERMISSION_DENIED"]


def test_anonymous_is_refused(client, trail):
    body = audit(client)

    assert error_codes(body) == ["AUTHENTICATION_REQUIRED"]


def test_report_audit_events_for_staff(client, auditor, trail):
    client.force_login(auditor)

    report = data_of(gql(client, REPORT_AUDIT, {"id": str(trail["second"].pk)}))["report"]

    assert report["auditEvents"]["totalCount"] == 2
    assert [(n["action"], n["interface"], n["format"]) for n in nodes(report["auditEvents"])] == [
        ("DOWNLOADED", "REST", "PDF"),
        ("REGENERATED", "COMMAND", "CSV"),
    ]


def test_report_audit_events_are_empty_for_a_member_who_sees_the_report(client, trail, member_a):
    client.force_login(member_a)

    report = data_of(gql(client, REPORT_AUDIT, {"id": str(trail["second"].pk)}))["report"]

    assert report["id"] == str(trail["second"].pk)
    assert report["auditEvents"] == {"totalCount": 0, "edges": []}


def test_statement_count_does_not_grow_with_the_page(client, auditor, customer_a, staff):
    rate_card(customer_a)
    for offset in range(30):
        day = JANUARY[0] + dt.timedelta(days=offset)
        report_generate(actor=staff, customer_id=customer_a.pk, start_date=day, end_date=day)
    assert BillingReport.objects.count() == 30
    client.force_login(auditor)

    def statements(first: int) -> int:
        with CaptureQueriesContext(connection) as captured:
            found = nodes(data_of(audit(client, {"first": first}))["auditEvents"])
        assert len(found) == first and all(node["actor"] == "staff" for node in found)
        return len(captured.captured_queries)

    assert statements(5) == statements(30)
