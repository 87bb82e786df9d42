"""The root schema: queries, mutations, the optimizer, document limits and error translation.

Regenerate the checked-in SDL after changing the schema:
    python manage.py export_schema graphql_schema.schema --path schema.graphql
"""

from __future__ import annotations

from typing import Any

import strawberry
from graphql import GraphQLError
from strawberry.extensions import MaxAliasesLimiter, MaxTokensLimiter, QueryDepthLimiter
from strawberry.schema.config import StrawberryConfig
from strawberry.types import ExecutionContext
from strawberry_django.optimizer import DjangoOptimizerExtension

from graphql_schema.errors import BillingErrorsExtension, is_expected
from graphql_schema.mutations.export_report import export_report_field
from graphql_schema.mutations.generate_report import generate_report_field
from graphql_schema.mutations.start_billing_run import start_billing_run_field
from graphql_schema.mutations.upsert_orders import upsert_orders_field
from graphql_schema.queries import Query
from graphql_schema.scalars import SCALAR_MAP

MAX_DEPTH = 8  # realistic dashboard documents nest 7 deep; the deepest path the schema allows is 10
MAX_ALIASES = 15
MAX_TOKENS = 2000


@strawberry.type
class Mutation:
    generate_report = generate_report_field
    upsert_orders = upsert_orders_field
    start_billing_run = start_billing_run_field
    export_report = export_report_field


class BillingSchema(strawberry.Schema):
    def process_errors(self, errors: list[GraphQLError], execution_context: ExecutionContext | None = None) -> None:
        """Log only unexpected errors (with their traceback); client mistakes are not server errors."""
        unexpected = [error for error in errors if not is_expected(error)]
        if unexpected:
            super().process_errors(unexpected, execution_context)


def _extensions() -> list[Any]:
    # Classes or factories, never shared instances: a new extension object per operation.
    return [
        DjangoOptimizerExtension,
        lambda: QueryDepthLimiter(max_depth=MAX_DEPTH),
        lambda: MaxAliasesLimiter(max_alias_count=MAX_ALIASES),
        lambda: MaxTokensLimiter(max_token_count=MAX_TOKENS),
        BillingErrorsExtension,
    ]


schema = BillingSchema(
    query=Query,
    mutation=Mutation,
    extensions=_extensions(),
    config=StrawberryConfig(scalar_map=SCALAR_MAP),
)
