"""schema.graphql at the repository root must be exactly the live schema.

Regenerate it with:
    python manage.py export_schema graphql_schema.schema --path schema.graphql
"""

from __future__ import annotations

from pathlib import Path

from django.conf import settings
from django.core.management import call_command

SCHEMA_FILE = Path(settings.BASE_DIR) / "schema.graphql"
REGENERATE = "python manage.py export_schema graphql_schema.schema --path schema.graphql"


def test_schema_file_matches_the_live_schema(tmp_path):
    exported = tmp_path / "schema.graphql"
    call_command("export_schema", "graphql_schema.schema", path=str(exported))

    assert SCHEMA_FILE.exists(), f"schema.graphql is missing: run `{REGENERATE}`"
    assert SCHEMA_FILE.read_bytes() == exported.read_bytes(), f"schema.graphql is out of date: run `{REGENERATE}`"


def test_schema_file_declares_the_public_operations():
    sdl = SCHEMA_FILE.read_text(encoding="utf-8")

    for operation in (
        "reports(",
        "report(id: UUID!)",
        "orders(",
        "customers(",
        "customerSummaries(",
        "me: User",
        "reportJob(id: UUID!)",
        "billingRun(id: UUID!)",
        "generateReport(input: GenerateReportInput!)",
        "upsertOrders(input: [OrderInput!]!)",
        "startBillingRun(input: StartBillingRunInput!)",
    ):
        assert operation in sdl, operation
