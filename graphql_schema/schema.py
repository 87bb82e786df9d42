"""The root schema: queries, mutations, the optimizer, document limits and error translation.

Regenerate the checked-in SDL after changing the schema:
    python manage.py export_schema graphql_schema.schema --path schema.graphql
"""

from __future__ import annotations

from typing import Any

import strawberry
from graphql import GraphQLError
from strawberry.extensions import (
    AddValidationRules,
    MaxAliasesLimiter,
    MaxTokensLimiter,
    ParserCache,
    QueryDepthLimiter,
)
from strawberry.schema.config import StrawberryConfig
from strawberry.types import ExecutionContext, ExecutionResult

from graphql_schema.errors import BillingErrorsExtension, is_expected, with_codes
from graphql_schema.introspection import IntrospectionPolicy
from graphql_schema.limits import DocumentLimits
from graphql_schema.mutations.export_report import export_report_field
from graphql_schema.mutations.generate_report import generate_report_field
from graphql_schema.mutations.lifecycle import finalize_report_field, void_report_field
from graphql_schema.mutations.start_billing_run import start_billing_run_field
from graphql_schema.mutations.upsert_activity import (
    upsert_extra_work_field,
    upsert_inventory_snapshots_field,
    upsert_receipts_field,
    upsert_returns_field,
)
from graphql_schema.mutations.upsert_orders import upsert_orders_field
from graphql_schema.queries import Query
from graphql_schema.report_diff import preview_report_field
from graphql_schema.scalars import SCALAR_MAP
from graphql_schema.strawberry_internals import QuerysetOptimizer

MAX_DEPTH = 8  # realistic dashboard documents nest 7 deep; the deepest path the schema allows is 10
MAX_ALIASES = 15
MAX_TOKENS = 1000  # the full introspection query has 164; parsing 1,000 takes about 10 ms
# Selections (fields, fragment spreads, inline fragments) written in a document, checked before
# validation; the largest dashboard document has about 60, the full introspection query 80.
MAX_SELECTIONS = 150
CACHED_DOCUMENTS = 256  # distinct query texts whose parse and validation results are kept (LRU)

# The limit rules are built once: validation results are cached per (document, rules), so rule
# classes built per request would never hit the cache.
LIMIT_RULES = (
    *QueryDepthLimiter(max_depth=MAX_DEPTH).validation_rules,
    *MaxAliasesLimiter(max_alias_count=MAX_ALIASES).validation_rules,
)


@strawberry.type
class Mutation:
    generate_report = generate_report_field
    upsert_orders = upsert_orders_field
    upsert_inventory_snapshots = upsert_inventory_snapshots_field
    upsert_receipts = upsert_receipts_field
    upsert_returns = upsert_returns_field
    upsert_extra_work = upsert_extra_work_field
    start_billing_run = start_billing_run_field
    export_report = export_report_field
    finalize_report = finalize_report_field
    void_report = void_report_field
    preview_report = preview_report_field


class BillingSchema(strawberry.Schema):
    def execute_sync(self, *args: Any, **kwargs: Any) -> ExecutionResult:
        # Parse errors leave strawberry outside the operation hooks (the parser cache raises them),
        # so the codes of document errors are given here, on whatever path an error took.
        result = super().execute_sync(*args, **kwargs)
        result.errors = with_codes(result.errors)
        return result

    def process_errors(self, errors: list[GraphQLError], execution_context: ExecutionContext | None = None) -> None:
        """Log only unexpected errors (with their traceback); client mistakes are not server errors."""
        unexpected = [error for error in errors if not is_expected(error)]
        if unexpected:
            super().process_errors(unexpected, execution_context)


def _extensions() -> list[Any]:
    # Classes or factories, never shared instances: a new extension object per operation. The
    # parse and validation caches are process-wide LRUs keyed by the query text (parsed with the
    # token limit) and by the document with its rules; dashboards send the same few documents.
    # DocumentLimits validates through that cache, between the selection and cost checks
    # (graphql_schema/limits.py).
    return [
        QuerysetOptimizer,
        lambda: MaxTokensLimiter(max_token_count=MAX_TOKENS),
        lambda: ParserCache(maxsize=CACHED_DOCUMENTS),
        lambda: AddValidationRules(list(LIMIT_RULES)),
        IntrospectionPolicy,
        lambda: DocumentLimits(maxsize=CACHED_DOCUMENTS, max_selections=MAX_SELECTIONS),
        BillingErrorsExtension,
    ]


schema = BillingSchema(
    query=Query,
    mutation=Mutation,
    extensions=_extensions(),
    config=StrawberryConfig(scalar_map=SCALAR_MAP),
)
