"""The /graphql/ endpoint: POST (JSON) for queries and mutations, GET for queries only.

Not csrf_exempt: a request authenticated by the session cookie must carry the CSRF token
(GraphiQL sends it as X-CSRFToken); a bearer-token request skips CSRF in
accounts.authentication.BearerAuthenticationMiddleware. GraphiQL is served to browsers when
settings.GRAPHIQL_ENABLED, from assets shipped with the app (no CDN).
"""

from __future__ import annotations

from typing import Any

from django.conf import settings
from django.http import HttpRequest, HttpResponse
from django.middleware.csrf import get_token
from django.template.loader import render_to_string
from strawberry.django.views import GraphQLView

from graphql_schema.schema import schema


class BillingGraphQLView(GraphQLView):
    allow_queries_via_get = True  # queries only: strawberry refuses mutations over GET

    def setup(self, request: HttpRequest, *args: Any, **kwargs: Any) -> None:
        super().setup(request, *args, **kwargs)
        self.graphql_ide = "graphiql" if settings.GRAPHIQL_ENABLED else None

    def render_graphql_ide(self, request: HttpRequest) -> HttpResponse:
        context = {"csrf_token_value": get_token(request)}  # also sets the csrftoken cookie
        response = HttpResponse(render_to_string("graphql_schema/graphiql.html", context, request=request))
        response["Cache-Control"] = "no-store"
        return response


graphql_view = BillingGraphQLView.as_view(schema=schema)
