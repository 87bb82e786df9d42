"""/api/v1/: the paths the legacy frontend calls. The report endpoints of /api/v2/ under
/api/v1/billing-v2/ (with the legacy names beside the spec's, see rest_compat.views), and its
customer picker's /api/v1/customers/. The sign-in endpoints are accounts.api_urls."""

from django.urls import path

from rest_compat import views

app_name = "rest_compat_legacy"

urlpatterns = [
    path("customers/", views.CustomerListView.as_view(), name="customer-list"),
    path("billing-v2/reports/", views.LegacyReportListView.as_view(), name="report-list"),
    path("billing-v2/reports/generate/", views.LegacyGenerateReportView.as_view(), name="report-generate"),
    path("billing-v2/reports/customer-summary/", views.LegacyCustomerSummaryView.as_view(), name="customer-summary"),
    path("billing-v2/reports/progress/", views.LegacyReportProgressView.as_view(), name="report-progress"),
    path("billing-v2/reports/jobs/<str:job_id>/", views.LegacyReportJobView.as_view(), name="report-job"),
    path(
        "billing-v2/reports/customer-services/<str:customer_id>/",
        views.LegacyCustomerServicesView.as_view(),
        name="customer-services",
    ),
    path("billing-v2/reports/<str:report_id>/", views.LegacyReportDetailView.as_view(), name="report-detail"),
    path(
        "billing-v2/reports/<str:report_id>/download/",
        views.LegacyReportDownloadView.as_view(),
        name="report-download",
    ),
]
