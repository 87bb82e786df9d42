"""exportReport: the same files as the REST download, inline, audited as GraphQL downloads."""

from __future__ import annotations

import base64
import csv
import io
import json
import uuid

import pytest
from pypdf import PdfReader

from billing.models import AuditEvent

from .helpers import data_of, gql

pytestmark = pytest.mark.django_db

EXPORT = """
mutation Export($id: UUID!, $format: OutputFormat!) {
  exportReport(input: {reportId: $id, format: $format}) {
    __typename
    ... on ReportExport { filename contentType encoding content }
    ... on Error { code message }
    ... on ValidationError { fields { field messages } }
  }
}
"""


def export(client, report_id, fmt, **extra):
    return data_of(gql(client, EXPORT, {"id": str(report_id), "format": fmt}, **extra))["exportReport"]


def test_csv_json_and_pdf_match_the_report_and_are_audited(client, staff, report_a):
    client.force_login(staff)

    as_csv = export(client, report_a.id, "CSV", HTTP_X_REQUEST_ID="gql-export-1")
    as_json = export(client, report_a.id, "JSON")
    as_pdf = export(client, report_a.id, "PDF")

    assert as_csv["filename"] == f"billing-report-{report_a.id}.csv"
    assert as_csv["contentType"].startswith("text/csv")
    rows = list(csv.DictReader(io.StringIO(as_csv["content"])))
    line_total = sum(float(row["amount"]) for row in rows if row["row_type"] == "line")
    assert round(line_total, 2) == float(report_a.total_amount)

    assert as_json["encoding"] == "utf-8"
    assert json.loads(as_json["content"])["id"] == str(report_a.id)

    assert as_pdf["encoding"] == "base64"
    pdf = PdfReader(io.BytesIO(base64.b64decode(as_pdf["content"])))
    text = "".join(page.extract_text() for page in pdf.pages)
    assert report_a.customer.company_name in text

    events = AuditEvent.objects.filter(report=report_a, action="downloaded").order_by("id")
    assert [(e.interface, e.format, e.actor_id) for e in events] == [
        ("graphql", "csv", staff.pk),
        ("graphql", "json", staff.pk),
        ("graphql", "pdf", staff.pk),
    ]
    assert events[0].request_id == "gql-export-1"


def test_another_customers_report_is_not_found_and_not_audited(client, member_a, report_b):
    client.force_login(member_a)

    result = export(client, report_b.id, "CSV")

    assert result["__typename"] == "NotFoundError"
    assert result["code"] == "NOT_FOUND"
    assert not AuditEvent.objects.filter(action="downloaded").exists()


def test_unknown_report_is_not_found(client, staff):
    client.force_login(staff)
    assert export(client, uuid.uuid4(), "JSON")["__typename"] == "NotFoundError"


def test_reports_too_large_to_inline_point_to_the_rest_download(client, staff, report_a, settings):
    settings.INLINE_EXPORT_MAX_LINES = report_a.line_count - 1
    client.force_login(staff)

    result = export(client, report_a.id, "CSV")

    assert result["__typename"] == "ValidationError"
    [field] = result["fields"]
    assert field["field"] == "reportId"
    assert f"/api/v2/reports/{report_a.id}/download/?format=csv" in field["messages"][0]
    assert not AuditEvent.objects.filter(action="downloaded").exists()


def test_anonymous_users_cannot_export(client, report_a):
    result = export(client, report_a.id, "CSV")
    assert result["__typename"] == "AuthenticationRequiredError"
    assert result["code"] == "AUTHENTICATION_REQUIRED"
    assert not AuditEvent.objects.filter(action="downloaded").exists()
