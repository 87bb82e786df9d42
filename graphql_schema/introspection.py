"""Who may introspect the schema (``__schema`` / ``__type``): settings.GRAPHQL_INTROSPECTION.

- ``all``: everyone, signed in or not (the default with DEBUG on);
- ``authenticated``: signed-in users and API tokens only (the default with DEBUG off);
- ``off``: nobody.

A refused document is a validation failure (GRAPHQL_VALIDATION_FAILED) naming the field;
``__typename`` stays available to everyone.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

from django.conf import settings
from graphql.validation import NoSchemaIntrospectionCustomRule
from strawberry.extensions import SchemaExtension

from billing.permissions import is_authenticated


def may_introspect(user: Any) -> bool:
    policy = settings.GRAPHQL_INTROSPECTION
    return policy == "all" or (policy == "authenticated" and is_authenticated(user))


class IntrospectionPolicy(SchemaExtension):
    def on_operation(self) -> Iterator[None]:
        context = self.execution_context
        request = getattr(context.context, "request", None)
        if not may_introspect(getattr(request, "user", None)):
            context.validation_rules = (*context.validation_rules, NoSchemaIntrospectionCustomRule)
        yield
