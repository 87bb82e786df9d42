"""The strawberry and strawberry-django details graphql_schema.strawberry_internals relies on.

When one of these fails after an upgrade, the piece it names no longer does what it was kept
for: re-measure it with benchmarks/graphql_api.py against the plain library way, and adapt or
drop it.
"""

from __future__ import annotations

import inspect

from strawberry import relay
from strawberry.extensions import SchemaExtension
from strawberry.relay.utils import to_base64
from strawberry.schema import schema_converter
from strawberry_django.fields.field import StrawberryDjangoField
from strawberry_django.optimizer import DjangoOptimizerExtension
from strawberry_django.relay import DjangoListConnection

from graphql_schema import strawberry_internals
from graphql_schema.schema import schema
from graphql_schema.strawberry_internals import (
    MAX_CURSOR_OFFSET,
    ModelField,
    QuerysetOptimizer,
    RowField,
    check_cursor_offsets,
)
from graphql_schema.types import CountedConnection


def graphql_field(type_name: str, field_name: str):
    return schema._schema.type_map[type_name].fields[field_name]  # type: ignore[union-attr]


def test_basic_fields_take_strawberrys_fast_path():
    # ModelField / RowField: strawberry resolves a field whose is_basic_field is true with a
    # default resolver calling field.get_result(source, info=None, ...), skipping the chain.
    source = inspect.getsource(schema_converter.GraphQLCoreConverter)
    assert "field.is_basic_field" in source, "strawberry no longer reads is_basic_field: ModelField/RowField are moot"
    assert "get_result(_source, info=None" in source, "strawberry's basic path changed: RowField.get_result"
    assert StrawberryDjangoField.is_basic_field.fget(None) is False  # type: ignore[attr-defined, arg-type]

    column = graphql_field("Customer", "companyName").resolve
    computed = graphql_field("BillingReport", "totals").resolve
    to_many = graphql_field("BillingReport", "serviceTotals").resolve
    assert getattr(column, "_is_default", False), "a ModelField column lost the basic path"
    assert getattr(computed, "_is_default", False), "a RowField resolver lost the basic path"
    assert not getattr(to_many, "_is_default", False)


def test_the_field_attributes_the_basic_checks_read_exist():
    column = next(f for f in schema.get_type_by_name("Customer").fields if f.name == "company_name")  # type: ignore[union-attr]
    computed = next(f for f in schema.get_type_by_name("BillingReport").fields if f.name == "totals")  # type: ignore[union-attr]
    assert isinstance(column, ModelField) and isinstance(computed, RowField)
    for name in ("base_resolver", "extensions", "arguments", "is_relation", "is_list", "is_connection", "is_paginated"):
        assert hasattr(column, name), f"StrawberryDjangoField.{name} is gone: ModelField.is_basic_field"
    resolver = computed.base_resolver
    assert resolver.arguments == [] and resolver.info_parameter is None and resolver.is_async is False


def test_the_page_without_window_is_relays_list_connection_below_django_list_connection():
    # page_without_window calls the resolve_connection that comes after DjangoListConnection's
    # in the MRO, and sets `nodes`, which DjangoListConnection.total_count counts.
    mro = CountedConnection.__mro__
    below = next(k for k in mro[mro.index(DjangoListConnection) + 1 :] if "resolve_connection" in vars(k))
    assert below is relay.ListConnection, "DjangoListConnection's parent changed: page_without_window"
    assert "nodes" in inspect.signature(DjangoListConnection).parameters
    assert "self.nodes" in inspect.getsource(DjangoListConnection.total_count)


def test_the_optimizer_hook_dropped_is_the_only_per_field_one_and_fields_optimize_themselves():
    assert "resolve" in vars(DjangoOptimizerExtension), "the optimizer's per-field hook moved: QuerysetOptimizer"
    assert QuerysetOptimizer.resolve is SchemaExtension.resolve
    assert "ext.optimize(queryset" in inspect.getsource(StrawberryDjangoField.get_queryset), (
        "strawberry-django fields no longer optimize their own queryset: QuerysetOptimizer must keep the hook"
    )


def test_offset_cursors_are_strawberrys_arrayconnection_format():
    assert relay.ListConnection  # the offset cursors below are what it reads
    assert strawberry_internals.OFFSET_CURSOR_PREFIX == "arrayconnection"
    check_cursor_offsets(to_base64("arrayconnection", MAX_CURSOR_OFFSET), None)
    for position in (MAX_CURSOR_OFFSET + 1, "x"):
        try:
            check_cursor_offsets(to_base64("arrayconnection", position))
        except ValueError:
            continue
        raise AssertionError(f"cursor at {position!r} accepted")
