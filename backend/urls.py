"""URL map: admin, GraphQL (+ GraphiQL), the legacy REST facade under /api/v2/."""

from django.contrib import admin
from django.urls import include, path

urlpatterns = [
    path("admin/", admin.site.urls),
    path("graphql/", include("graphql_schema.urls")),
    path("api/v2/", include("rest_compat.urls")),
]
