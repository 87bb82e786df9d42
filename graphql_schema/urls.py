from django.urls import path

from graphql_schema.views import graphql_view

app_name = "graphql_schema"

urlpatterns = [
    path("", graphql_view, name="graphql"),
]
