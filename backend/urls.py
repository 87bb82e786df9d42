"""URL map: the landing page, admin, GraphQL (+ GraphiQL), the REST facade under /api/v2/ (and the
legacy frontend's paths under /api/v1/), sign-in (/accounts/, /api/v1/auth/)."""

from django.contrib import admin
from django.urls import include, path

from backend.health import healthz, readyz
from backend.landing import landing

urlpatterns = [
    path("", landing, name="landing"),
    path("healthz", healthz, name="healthz"),
    path("readyz", readyz, name="readyz"),
    path("admin/", admin.site.urls),
    path("graphql/", include("graphql_schema.urls")),
    path("dashboard/", include("dashboard.urls")),
    path("api/v2/", include("rest_compat.urls")),
    path("api/v1/", include("rest_compat.legacy_urls")),
    path("api/v1/", include("accounts.api_urls")),
    path("accounts/", include("accounts.urls")),
]

# JSON error envelope for unknown paths and crashes under /api/; Django's pages elsewhere.
handler404 = "rest_compat.errors.not_found"
handler500 = "rest_compat.errors.server_error"
