"""Limits on the work one GraphQL document may cause, checked before it is executed.

Three checks bound what a client can make the server do, each cheap and linear in the size of
the document (its tokens are already bounded by the parser's token limit):

1. **Selections** (before validation): the number of selections written in the document
   (fields, fragment spreads, inline fragments). Validation compares same-named fields pairwise
   (the overlapping-fields rule), so its cost grows faster than the document; bounding the
   selections keeps validation in milliseconds whatever the text (changing a space defeats the
   validation cache, so the cache is no protection).
2. **Depth and aliases** (validation rules, see schema.py).
3. **Cost** (after validation, before execution): the estimated number of objects the
   response holds. A connection returns ``first`` (or ``last``) nodes, at most the relay page
   size when neither is given (its edges and nodes are those objects); a plain list field is
   estimated at ``LIST_SIZE_ESTIMATE`` items; an object field is one object. Sizes multiply
   down the tree, every alias counts on its own and fragments count where they are spread. A document whose cost exceeds
   ``settings.GRAPHQL_MAX_COST`` is refused without running any resolver.

Refusals are GraphQL errors with ``extensions.code`` QUERY_TOO_COMPLEX and the measured value
and limit (``cost`` / ``selections`` and ``limit``).
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from typing import Any

from django.conf import settings
from graphql import (
    DocumentNode,
    FieldNode,
    FragmentDefinitionNode,
    FragmentSpreadNode,
    GraphQLError,
    GraphQLList,
    GraphQLNamedType,
    GraphQLSchema,
    InlineFragmentNode,
    IntValueNode,
    OperationDefinitionNode,
    SelectionSetNode,
    VariableNode,
    get_named_type,
    get_nullable_type,
)
from graphql.language import Visitor, visit
from strawberry.extensions import ValidationCache

QUERY_TOO_COMPLEX = "QUERY_TOO_COMPLEX"
# Items a list field without pagination arguments (a report order's charges, an order's
# lines, a rate card) is assumed to return.
LIST_SIZE_ESTIMATE = 10


def too_complex(message: str, **extensions: int) -> GraphQLError:
    return GraphQLError(message, extensions={"code": QUERY_TOO_COMPLEX, **extensions})


# --- selections -----------------------------------------------------------------------------


class _SelectionCounter(Visitor):
    def __init__(self) -> None:
        super().__init__()
        self.count = 0

    def enter_field(self, *_: Any) -> None:
        self.count += 1

    enter_fragment_spread = enter_field
    enter_inline_fragment = enter_field


def selection_count(document: DocumentNode) -> int:
    """Selections written in the document (not expanded: a fragment's fields count once)."""
    counter = _SelectionCounter()
    visit(document, counter)
    return counter.count


def selection_limit_error(document: DocumentNode, limit: int) -> GraphQLError | None:
    count = selection_count(document)
    if count <= limit:
        return None
    return too_complex(
        f"The document has {count} selections; at most {limit} are allowed.", selections=count, limit=limit
    )


# --- cost -----------------------------------------------------------------------------------


def _fields(named: GraphQLNamedType) -> Mapping[str, Any]:
    return getattr(named, "fields", None) or {}


def _is_connection(named: GraphQLNamedType) -> bool:
    return "edges" in _fields(named) and "pageInfo" in _fields(named)


def _is_page_part(named: GraphQLNamedType) -> bool:
    """A connection or one of its edges."""
    return _is_connection(named) or ("node" in _fields(named) and "cursor" in _fields(named))


class _CostEstimator:
    """Estimated objects in the response of one operation (see the module docstring).

    The cost of a selection set is proportional to the number of times it is repeated, so each
    fragment is measured once, for one repetition, and scaled where it is spread.
    """

    def __init__(
        self,
        schema: GraphQLSchema,
        fragments: Mapping[str, FragmentDefinitionNode],
        variables: Mapping[str, Any],
        page_size: int,
    ) -> None:
        self.schema = schema
        self.fragments = fragments
        self.variables = variables
        self.page_size = page_size
        self._fragment_costs: dict[str, int] = {}

    def selection_set(self, selection_set: SelectionSetNode | None, parent: GraphQLNamedType | None) -> int:
        if selection_set is None or parent is None:
            return 0
        total = 0
        for selection in selection_set.selections:
            if isinstance(selection, FieldNode):
                total += self.field(selection, parent)
            elif isinstance(selection, InlineFragmentNode):
                condition = selection.type_condition
                named = self.schema.get_type(condition.name.value) if condition is not None else parent
                total += self.selection_set(selection.selection_set, named)
            elif isinstance(selection, FragmentSpreadNode):
                total += self.fragment(selection.name.value)
        return total

    def fragment(self, name: str) -> int:
        if name not in self._fragment_costs:
            self._fragment_costs[name] = 0  # validation has refused cycles; this only guards the walk
            definition = self.fragments.get(name)
            if definition is not None:
                named = self.schema.get_type(definition.type_condition.name.value)
                self._fragment_costs[name] = self.selection_set(definition.selection_set, named)
        return self._fragment_costs[name]

    def field(self, node: FieldNode, parent: GraphQLNamedType) -> int:
        definition = _fields(parent).get(node.name.value)
        if definition is None:  # __typename, or introspection meta fields (small, fixed)
            return 0
        named = get_named_type(definition.type)
        if _is_connection(named):
            items = counted = self.page(node)
        elif _is_page_part(parent):
            # edges, node, pageInfo: the page's objects are counted on the connection field.
            items, counted = 1, 0
        elif isinstance(get_nullable_type(definition.type), GraphQLList):
            items = counted = LIST_SIZE_ESTIMATE
        else:
            items = counted = 1
        if node.selection_set is None:
            return 0
        return counted + items * self.selection_set(node.selection_set, named)

    def page(self, node: FieldNode) -> int:
        sizes = [self.argument(node, name) for name in ("first", "last")]
        given = [size for size in sizes if size is not None]
        size = min(given) if given else self.page_size
        return max(0, min(size, self.page_size))

    def argument(self, node: FieldNode, name: str) -> int | None:
        for argument in node.arguments or ():
            if argument.name.value != name:
                continue
            value = argument.value
            if isinstance(value, IntValueNode):
                return int(value.value)
            if isinstance(value, VariableNode):
                given = self.variables.get(value.name.value)
                return given if isinstance(given, int) and not isinstance(given, bool) else None
        return None


def operation_cost(
    schema: GraphQLSchema,
    document: DocumentNode,
    *,
    operation_name: str | None,
    variables: Mapping[str, Any] | None,
    page_size: int,
) -> int:
    """The estimated cost of the operation that would run (0 if there is none to run)."""
    operations = [node for node in document.definitions if isinstance(node, OperationDefinitionNode)]
    fragments = {node.name.value: node for node in document.definitions if isinstance(node, FragmentDefinitionNode)}
    if operation_name is not None:
        operations = [node for node in operations if node.name is not None and node.name.value == operation_name]
    if len(operations) != 1:
        return 0
    operation = operations[0]
    root = schema.get_root_type(operation.operation)
    estimator = _CostEstimator(schema, fragments, variables or {}, page_size)
    return estimator.selection_set(operation.selection_set, root)


class DocumentLimits(ValidationCache):
    """Validation (cached per document, as ValidationCache) between the selection and cost checks.

    Too many selections: validation is skipped. Valid but too costly: execution is skipped.
    """

    def __init__(self, *, maxsize: int, max_selections: int) -> None:
        super().__init__(maxsize=maxsize)
        self.max_selections = max_selections

    def on_validate(self) -> Iterator[None]:
        # Errors set here, before the yield, stand for validation: strawberry skips its own then,
        # and answers them without executing anything.
        context = self.execution_context
        document = context.graphql_document
        assert document is not None
        error = selection_limit_error(document, self.max_selections)
        if error is not None:
            context.pre_execution_errors = [error]
        else:
            errors = self.cached_validate_document(context.schema._schema, document, context.validation_rules)
            if not errors:
                error = self.cost_error(document)
                errors = [error] if error is not None else errors
            context.pre_execution_errors = errors
        yield

    def cost_error(self, document: DocumentNode) -> GraphQLError | None:
        context = self.execution_context
        limit = settings.GRAPHQL_MAX_COST
        if not limit:
            return None
        schema = context.schema
        cost = operation_cost(
            schema._schema,
            document,
            operation_name=context.operation_name,
            variables=context.variables,
            page_size=schema.config.relay_max_results,
        )
        if cost <= limit:
            return None
        return too_complex(
            f"The query is too complex: its estimated cost is {cost} objects; the limit is {limit}. "
            "Ask for smaller pages (first/last) or fewer nested lists.",
            cost=cost,
            limit=limit,
        )
