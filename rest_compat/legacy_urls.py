"""/api/v1/: the paths the legacy frontend calls. The report endpoints of /api/v2/ under
/api/v1/billing-v2/ (with the legacy names beside the spec's, see rest_compat.views), and its
customer picker's /api/v1/customers/. The sign-in endpoints are accounts.api_urls."""

from django.urls import path

from rest_compat import views
from rest_compat.urls import report_patterns

app_name = "rest_compat_legacy"

urlpatterns = [
    path("customers/", views.CustomerListView.as_view(), name="customer-list"),
    *report_patterns(prefix="billing-v2/", legacy=True),
]
