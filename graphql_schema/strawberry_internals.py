"""Everything this schema relies on inside strawberry and strawberry-django beyond their public API.

Each piece is kept because the GraphQL benchmark still shows it pays (README, "Speed":
``benchmarks/graphql_api.py``, with and without it). Each depends on a detail an upgrade may
change; tests/graphql_schema/test_strawberry_internals.py checks those details and fails with a
message naming the piece, so an upgrade breaks a test rather than a response or its speed.

- :class:`ModelField` and :class:`RowField` put row reads on Strawberry's "basic" path.
  strawberry-django gives every field the full resolver chain (an Info object, argument
  conversion, the extension wrapper, queryset checks), because a relation may have to query.
  Strawberry skips that chain for a field whose ``is_basic_field`` is true and calls
  ``field.get_result(source, info=None, args=[], kwargs={})`` instead (``schema_converter``);
  strawberry-django's fields always say false.
- :func:`page_without_window` resolves a connection page without DjangoListConnection's
  ``COUNT(1) OVER ()`` window, which makes the database join and count every matching row for
  each page; ``totalCount`` then runs its own ``SELECT COUNT(*)`` on the connection's ``nodes``.
- :class:`QuerysetOptimizer` drops the optimizer's per-field hook: every field of this schema
  that returns a queryset is a strawberry-django field or connection, which optimizes its own
  queryset while the extension is active, so the hook only added one call to each of the
  hundreds of fields of a page.
- :func:`check_cursor_offsets` reads Strawberry's offset cursor format (``arrayconnection:N``).
"""

from __future__ import annotations

from typing import Any

import strawberry_django
from django.db.models import QuerySet
from strawberry.extensions import SchemaExtension
from strawberry.relay.types import PREFIX as OFFSET_CURSOR_PREFIX
from strawberry.relay.utils import from_base64
from strawberry.types import Info
from strawberry_django.fields.field import StrawberryDjangoField
from strawberry_django.optimizer import DjangoOptimizerExtension, is_optimized_by_prefetching
from strawberry_django.relay import DjangoListConnection

# Offset cursors past the GraphQL Int range (that of first/last) point at no row of any list;
# larger ones would overflow the database's OFFSET.
MAX_CURSOR_OFFSET = 2**31 - 1


class ModelField(StrawberryDjangoField):
    """A field ``model_type`` derives from the model: a column or a to-one relation is basic.

    Its value still comes from strawberry-django's ``get_result`` (a deferred column or an
    unjoined relation is loaded on access, a missing reverse one-to-one is null).
    """

    @property
    def is_basic_field(self) -> bool:
        # A to-many relation yields a manager whose queryset strawberry-django still has to
        # optimize with the Info object; a column or a to-one relation is a value on the row.
        return (
            self.base_resolver is None
            and not self.extensions
            and not self.arguments
            and not (self.is_relation and (self.is_list or self.is_connection or self.is_paginated))
        )


class RowField(StrawberryDjangoField):
    """A resolver that takes only the row (``self``): called directly, its hints still tell the
    optimizer which columns and relations to load."""

    @property
    def is_basic_field(self) -> bool:
        resolver = self.base_resolver
        return (
            resolver is not None
            and not resolver.arguments
            and resolver.info_parameter is None
            and not resolver.is_async
            and not self.extensions
        )

    def get_result(self, source: Any, info: Any, args: list[Any], kwargs: dict[str, Any]) -> Any:
        if info is None:  # only Strawberry's basic path (is_basic_field) passes no Info: the row is all it needs
            assert self.base_resolver is not None
            return self.base_resolver(source)
        return super().get_result(source, info, args, kwargs)


def model_type(model: Any, **options: Any) -> Any:
    """``strawberry_django.type`` with :class:`ModelField` for the fields it derives from the model."""
    return strawberry_django.type(model, field_cls=ModelField, **options)


def row_field(**options: Any) -> Any:
    """``strawberry_django.field`` for a resolver computed from its row alone (see :class:`RowField`)."""
    return strawberry_django.field(field_cls=RowField, **options)


def page_without_window(
    cls: type[DjangoListConnection[Any]],
    nodes: Any,
    *,
    info: Info,
    last: int | None = None,
    before: str | None = None,
    **kwargs: Any,
) -> Any:
    """The page of `cls` over `nodes` as relay's ListConnection resolves it, or None.

    None where strawberry-django's own resolution is needed: rows prefetched for a connection
    nested in a list, and ``last`` without ``before``.
    """
    if not isinstance(nodes, QuerySet) or is_optimized_by_prefetching(nodes) or ((last or 0) > 0 and before is None):
        return None
    # relay's ListConnection, the class above DjangoListConnection: the page without the window.
    connection = super(DjangoListConnection, cls).resolve_connection(  # type: ignore[misc]
        nodes, info=info, last=last, before=before, **kwargs
    )
    connection.nodes = nodes  # what DjangoListConnection.total_count counts
    return connection


class QuerysetOptimizer(DjangoOptimizerExtension):
    """The optimizer without its per-field hook (see the module docstring)."""

    resolve = SchemaExtension.resolve


def check_cursor_offsets(*cursors: str | None) -> None:
    """Refuse offset cursors whose position is beyond MAX_CURSOR_OFFSET (ValueError)."""
    for cursor in cursors:
        if cursor:
            prefix, position = from_base64(cursor)
            if prefix == OFFSET_CURSOR_PREFIX and (
                not position.lstrip("-").isdigit() or int(position) > MAX_CURSOR_OFFSET
            ):
                raise ValueError("Invalid cursor")
