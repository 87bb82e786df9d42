"""/api/v2/: the report endpoints (trailing slashes, as the frontend calls them) and the OpenAPI docs.

REPORT_ROUTES is also mounted under /api/v1/billing-v2/ by rest_compat.legacy_urls, with the
`Legacy...` views.
"""

from django.urls import URLPattern, path

from rest_compat import views

app_name = "rest_compat"

# (route, name, view class name in rest_compat.views); the customer-services route comes before
# the report id routes it would otherwise never reach.
REPORT_ROUTES = [
    ("reports/", "report-list", "ReportListView"),
    ("reports/generate/", "report-generate", "GenerateReportView"),
    ("reports/preview/", "report-preview", "PreviewReportView"),
    ("reports/customer-summary/", "customer-summary", "CustomerSummaryView"),
    ("reports/progress/", "report-progress", "ReportProgressView"),
    ("reports/jobs/<str:job_id>/", "report-job", "ReportJobView"),
    ("reports/customer-services/<str:customer_id>/", "customer-services", "CustomerServicesView"),
    ("reports/<str:report_id>/", "report-detail", "ReportDetailView"),
    ("reports/<str:report_id>/download/", "report-download", "ReportDownloadView"),
    ("reports/<str:report_id>/diff/", "report-diff", "ReportDiffView"),
    ("reports/<str:report_id>/diff/download/", "report-diff-download", "ReportDiffDownloadView"),
    ("reports/<str:report_id>/finalize/", "report-finalize", "FinalizeReportView"),
    ("reports/<str:report_id>/void/", "report-void", "VoidReportView"),
    ("reports/<str:report_id>/credit-note/download/", "credit-note-download", "CreditNoteDownloadView"),
]


def report_patterns(*, prefix: str = "", legacy: bool = False) -> list[URLPattern]:
    view_prefix = "Legacy" if legacy else ""
    return [
        path(prefix + route, getattr(views, view_prefix + view).as_view(), name=name)
        for route, name, view in REPORT_ROUTES
    ]


urlpatterns = [
    *report_patterns(),
    path("schema/", views.SchemaView.as_view(), name="schema"),
    path("docs/", views.swagger_ui, name="docs"),
]
