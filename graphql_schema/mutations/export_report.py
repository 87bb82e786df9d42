"""exportReport: a report's CSV, JSON or PDF export, through the same exporter as the REST download.

The whole file is returned in the response (PDF base64-encoded), so reports above
settings.INLINE_EXPORT_MAX_LINES lines are refused with a ValidationError pointing at the
streamed REST download. Each export is recorded in the audit trail as a GraphQL download.
"""

from __future__ import annotations

from typing import Annotated

import strawberry
from strawberry.types import Info

from billing.exporters import InlineExport, report_export_inline
from billing.models import Interface
from graphql_schema.errors import (
    AuthenticationRequiredError,
    NotFoundError,
    PermissionDeniedError,
    ValidationError,
    returning_errors,
)
from graphql_schema.inputs import ExportReportInput
from graphql_schema.permissions import IsAuthenticated, current_user, request_id


@strawberry.type(name="ReportExport", description="A report rendered as a file.")
class ReportExportType:
    filename: str
    content_type: str
    encoding: str = strawberry.field(description='"utf-8" for CSV and JSON, "base64" for PDF.')
    content: str

    @classmethod
    def from_export(cls, export: InlineExport) -> ReportExportType:
        return cls(
            filename=export.filename,
            content_type=export.content_type,
            encoding=export.encoding,
            content=export.content,
        )


ExportReportResult = Annotated[
    ReportExportType | ValidationError | NotFoundError | PermissionDeniedError | AuthenticationRequiredError,
    strawberry.union("ExportReportResult", description="The exported file, or why there is none."),
]


def export_report(info: Info, input: ExportReportInput) -> ExportReportResult:
    def run() -> ReportExportType:
        export = report_export_inline(
            actor=current_user(info),
            report_id=input.report_id,
            fmt=input.format.value,
            interface=Interface.GRAPHQL,
            request_id=request_id(info),
        )
        return ReportExportType.from_export(export)

    return returning_errors(run)  # type: ignore[return-value]


export_report_field = strawberry.mutation(
    resolver=export_report,
    description=(
        "Export a report you can see as CSV, JSON or PDF (the same files as the REST download); "
        "recorded in the audit trail."
    ),
    extensions=[IsAuthenticated()],
)
