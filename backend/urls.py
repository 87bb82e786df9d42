"""URL map: admin, GraphQL (+ GraphiQL), the legacy REST facade under /api/v2/."""

from django.contrib import admin
from django.urls import include, path

from backend.health import healthz, readyz

urlpatterns = [
    path("healthz", healthz, name="healthz"),
    path("readyz", readyz, name="readyz"),
    path("admin/", admin.site.urls),
    path("graphql/", include("graphql_schema.urls")),
    path("dashboard/", include("dashboard.urls")),
    path("api/v2/", include("rest_compat.urls")),
]

# JSON error envelope for unknown paths and crashes under /api/; Django's pages elsewhere.
handler404 = "rest_compat.errors.not_found"
handler500 = "rest_compat.errors.server_error"
