"""Field classes that let Strawberry resolve row reads on its fast ("basic") path.

strawberry-django gives every field of a model type the full resolver chain: an Info object,
argument conversion, the field-extension wrapper and its queryset checks, because a relation
may have to run a query. On a page of reports that chain ran several hundred times per request
for fields that only read values the optimizer had already loaded on the row. Strawberry skips
it for a field it considers basic; these classes say which fields are:

- :class:`ModelField`, for the fields ``model_type`` derives from the model: a column or a
  to-one relation without resolver, arguments or extensions. Its value still comes from
  strawberry-django's ``get_result`` (a deferred column or an unjoined relation is loaded on
  access, a missing reverse one-to-one is null).
- :class:`RowField`, for a resolver that takes only the row (``self``) and computes from its
  loaded values, declared with ``row_field(only=[...])``: the hints still tell the optimizer
  which columns and relations to load, and the resolver is called directly.
"""

from __future__ import annotations

from typing import Any

import strawberry_django
from strawberry_django.fields.field import StrawberryDjangoField


class ModelField(StrawberryDjangoField):
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
