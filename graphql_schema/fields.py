"""The field class of the model types: plain model columns resolve on GraphQL's fast path.

strawberry-django marks every model field as needing its full resolver (an Info object, the
argument conversion, the field-extension chain), because a relation may have to run a queryset.
A column that is neither a relation nor has a resolver, arguments or extensions only reads the
value the optimizer already loaded on the row; letting Strawberry resolve it as a basic field
skips that machinery for each of the hundreds of columns on a page. The value comes from the
same ``get_result`` either way (a deferred column is still loaded on access).
"""

from __future__ import annotations

from typing import Any

import strawberry_django
from strawberry_django.fields.field import StrawberryDjangoField


class ModelField(StrawberryDjangoField):
    @property
    def is_basic_field(self) -> bool:
        return not self.is_relation and self.base_resolver is None and not self.extensions and not self.arguments


def model_type(model: Any, **options: Any) -> Any:
    """``strawberry_django.type`` with :class:`ModelField` for the fields it derives from the model."""
    return strawberry_django.type(model, field_cls=ModelField, **options)
