"""/api/v2/: the legacy report endpoints (trailing slashes, as the frontend calls them) and the OpenAPI docs."""

from django.urls import path

from rest_compat import views

app_name = "rest_compat"

urlpatterns = [
    path("reports/", views.ReportListView.as_view(), name="report-list"),
    path("reports/generate/", views.GenerateReportView.as_view(), name="report-generate"),
    path("reports/customer-summary/", views.CustomerSummaryView.as_view(), name="customer-summary"),
    path("reports/progress/", views.ReportProgressView.as_view(), name="report-progress"),
    path("reports/jobs/<str:job_id>/", views.ReportJobView.as_view(), name="report-job"),
    path(
        "reports/customer-services/<str:customer_id>/",
        views.CustomerServicesView.as_view(),
        name="customer-services",
    ),
    path("reports/<str:report_id>/", views.ReportDetailView.as_view(), name="report-detail"),
    path("reports/<str:report_id>/download/", views.ReportDownloadView.as_view(), name="report-download"),
    path("schema/", views.SchemaView.as_view(), name="schema"),
    path("docs/", views.swagger_ui, name="docs"),
]
