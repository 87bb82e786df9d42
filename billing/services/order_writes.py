"""How an import batch is written: COPY of new orders and their lines on PostgreSQL, bulk
inserts elsewhere, and the import's statements kept unprepared (billing.services.orders uses them).
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator
from contextlib import contextmanager
from decimal import Decimal
from itertools import chain, repeat
from operator import itemgetter
from typing import Any

from django.db import connection
from django.db.models import BooleanField, Q
from django.db.models.expressions import RawSQL

from billing.db_copy import COPY_NULL, column_of, copy_statement, copy_value
from billing.models import Order, OrderLine
from billing.services.order_rows import DECIMAL_FIELDS, INT_FIELDS, TEXT_FIELDS, WRITTEN_FIELDS, ParsedOrder

# Columns written when an order is created, in COPY order.
_CREATE_FIELDS = ("transaction_id", "customer", *WRITTEN_FIELDS, "created_at", "updated_at")
# PostgreSQL: the same columns in the order the COPY lines give them: the id and stamps, then
# order_copy_body (text columns last).
_COPY_TEXT_FIELDS = ("transaction_id", "status", *TEXT_FIELDS)
_COPY_FIELDS = (
    "id",
    "created_at",
    "updated_at",
    "customer",
    "close_date",
    *DECIMAL_FIELDS,
    *INT_FIELDS,
    *_COPY_TEXT_FIELDS,
)
_copy_text_values = itemgetter(*_COPY_TEXT_FIELDS[1:])  # an order's values -> its text columns but the first
# COPY text escapes; NUL (never in a stored text: parsing refuses it) separates the text columns
# while they are escaped together, and becomes the column separator in the same pass.
_COPY_ESCAPES = str.maketrans({"\\": "\\\\", "\t": "\\t", "\n": "\\n", "\r": "\\r", "\0": "\t"})


def _copy_texts(texts: str) -> str:
    """NUL-separated text columns as COPY text fields (escaped only when needed: nearly never)."""
    if "\\" in texts or "\t" in texts or "\n" in texts or "\r" in texts:
        return texts.translate(_COPY_ESCAPES)
    return texts.replace("\0", "\t")


def order_copy_body(parsed: ParsedOrder) -> str:
    """An order's COPY text fields from customer_id on (_COPY_FIELDS order), as parsed.copy holds them
    when the parser made them. Several times cheaper than psycopg's write_row, which adapts every
    value on its own."""
    if parsed.copy is not None:
        return parsed.copy
    values = parsed.values
    close_date = values["close_date"]
    texts = "\0".join((parsed.transaction_id, *_copy_text_values(values)))
    return (
        f"{parsed.customer_id}\t{close_date.isoformat() if close_date is not None else COPY_NULL}\t"
        f"{values['weight_lb']!s}\t{values['volume_cuft']!s}\t{values['packages']}\t{values['line_items']}\t"
        f"{values['total_item_qty']}\t{_copy_texts(texts)}"
    )


def values_from_copy_body(body: str) -> dict[str, Any]:
    """The values (WRITTEN_FIELDS) of an order from its COPY text (order_copy_body), as parsing gave them."""
    _, close_date, weight, volume, packages, line_items, total, _, *texts = body.split("\t")
    text_values = dict(zip(_COPY_TEXT_FIELDS[1:], map(copy_value, texts), strict=True))
    return {
        "close_date": None if close_date == COPY_NULL else dt.datetime.fromisoformat(close_date),
        "status": text_values.pop("status"),
        **text_values,
        "weight_lb": Decimal(weight),
        "volume_cuft": Decimal(volume),
        "packages": int(packages),
        "line_items": int(line_items),
        "total_item_qty": int(total),
    }


def values_of(parsed: ParsedOrder) -> dict[str, Any]:
    """A parsed order's values; decoded from its COPY text when only that was carried (a worker process parsed it)."""
    if parsed.values or parsed.copy is None:
        return parsed.values
    return values_from_copy_body(parsed.copy)


def _one_of(model: type[Order] | type[OrderLine], name: str, values: list[Any]) -> Q:
    """`name IN values`; on PostgreSQL `= ANY(array)`: one parameter, planned in no time whatever the
    batch size (an IN list of 1,000 parameters cost more to plan than to run)."""
    if connection.vendor != "postgresql":
        return Q(**{f"{name}__in": values})
    quote = connection.ops.quote_name
    column = f"{quote(model._meta.db_table)}.{quote(column_of(model, name))}"
    # Only the quoted column name is formatted into the SQL; the values are one bound parameter.
    return Q(RawSQL(f"{column} = ANY(%s)", (values,), output_field=BooleanField()))  # noqa: S611


def _insert_orders(orders: list[ParsedOrder], now: dt.datetime) -> list[int]:
    """Insert new orders; returns their ids, in order. PostgreSQL takes ids from the table's
    sequence first, then streams the rows with COPY (no lookup of the new ids afterwards)."""
    if connection.vendor == "postgresql":
        with connection.cursor() as cursor:
            # The sequence's name found once, not once an id (that was most of this statement's time);
            # the ids come as one text (what COPY needs), not as a row each.
            cursor.execute(
                "SELECT string_agg(nextval(sequence.name)::text, ' ') FROM (SELECT "
                "pg_get_serial_sequence(%s, %s)::regclass AS name OFFSET 0) AS sequence, generate_series(1, %s)",
                [Order._meta.db_table, column_of(Order, "id"), len(orders)],
            )
            ids = cursor.fetchone()[0].split(" ")
            stamps = f"\t{now.isoformat()}\t{now.isoformat()}\t"
            # id, stamps, the rest, end of line: joined in one call
            text = "".join(chain.from_iterable(zip(ids, repeat(stamps), map(order_copy_body, orders), repeat("\n"))))
            with cursor.cursor.copy(copy_statement(Order, _COPY_FIELDS)) as copy:
                copy.write(text)
        return list(map(int, ids))
    created = Order.objects.bulk_create(
        Order(transaction_id=parsed.transaction_id, customer_id=parsed.customer_id, **values_of(parsed))
        for parsed in orders
    )
    if any(order.pk is None for order in created):  # a database that cannot return ids from a bulk insert
        found = dict(
            Order.objects.filter(transaction_id__in=[order.transaction_id for order in created]).values_list(
                "transaction_id", "pk"
            )
        )
        return [found[order.transaction_id] for order in created]
    return [order.pk for order in created]


def _lines_copy_text(orders: list[tuple[int, ParsedOrder]]) -> str:
    """The SKU lines of `orders` ((id, order) pairs) in COPY text format: order, quantity, sku."""
    text = "".join(f"{order_id}\t{quantity}\t{sku}\n" for order_id, parsed in orders for sku, quantity in parsed.lines)
    count = sum(len(parsed.lines) for _, parsed in orders)
    if text.count("\n") == count and text.count("\t") == 2 * count and "\\" not in text and "\r" not in text:
        return text  # no SKU holds a character COPY escapes (nearly always): nothing to escape
    return "".join(
        f"{order_id}\t{quantity}\t{_copy_texts(sku)}\n" for order_id, parsed in orders for sku, quantity in parsed.lines
    )


def _insert_lines(orders: list[tuple[int, ParsedOrder]]) -> None:
    """Insert the SKU lines of `orders`, (order id, parsed order) pairs."""
    if connection.vendor == "postgresql":
        text = _lines_copy_text(orders)
        if not text:
            return
        with (
            connection.cursor() as cursor,
            cursor.cursor.copy(copy_statement(OrderLine, ("order", "quantity", "sku"))) as copy,
        ):
            copy.write(text)
        return
    OrderLine.objects.bulk_create(
        OrderLine(order_id=order_id, sku=sku, quantity=quantity)
        for order_id, parsed in orders
        for sku, quantity in parsed.lines
    )


@contextmanager
def _statements_unprepared() -> Iterator[None]:
    """Run without server-side prepared statements (PostgreSQL with DATABASE_PREPARED_STATEMENTS).

    psycopg prepares a statement once it has run prepare_threshold times; PostgreSQL then plans
    it once for any parameters. A batch lookup (`transaction_id IN (...)`, the same text for every
    full batch) prepared while the orders table was nearly empty kept a sequential scan for the
    rest of the import: 8-9 s a batch at 170,000 orders. Unprepared, each lookup is planned with
    its own parameters and uses the unique index.
    """
    if connection.vendor != "postgresql":
        yield
        return
    connection.ensure_connection()
    raw = connection.connection
    previous = raw.prepare_threshold
    raw.prepare_threshold = None
    try:
        yield
    finally:
        if connection.connection is raw:  # still the same connection (not closed on an error)
            raw.prepare_threshold = previous
