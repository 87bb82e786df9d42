"""Step 2: the billable orders as a stream of named records, in the canonical pricing order.

An OrderRecord is what the engine prices (the fields of an OrderData) plus what only the
snapshot keeps. ORDER_FIELDS, the one list of the Order fields generation reads, is derived from
the record's own fields, and rows are turned into records by those names (the streamed reader
checks once that the columns it reads are in the record's order): reordering a field moves its
column in every query with it.

Two readers give the same records in the same order:

- `chunked_records` (any database): keyset pages of `chunk_size` orders, one query for the
  page and one for its SKU lines;
- `streamed_records` (PostgreSQL): one statement for every order with its SKU lines aggregated
  into arrays, read as COPY's text by the CopyPipeline that then writes the report: its worker
  spools the rows to a temporary file as they arrive, and they are parsed into records (and
  priced) meanwhile. The line COPY, which needs the connection, waits in the pipeline's queue
  until the read is over.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import io
import itertools
from collections.abc import Iterable, Iterator
from decimal import Decimal
from operator import itemgetter
from typing import TYPE_CHECKING, Any, NamedTuple, cast

from django.db import connection
from django.db.models import Count, F, Q, QuerySet, Window
from django.db.models.functions import Collate

from billing.db_copy import array_items, column_of, copy_value
from billing.models import Order, OrderLine
from billing.pricing.types import OrderData, OrderLineData

from .copy_pipeline import CopyPipeline

if TYPE_CHECKING:
    from django.db.backends.postgresql.operations import DatabaseOperations as PostgresOperations

# Distinct (sku, quantity) line objects kept for reuse across orders before the cache restarts.
LINE_CACHE_LIMIT = 100_000


class OrderRecord(NamedTuple):
    """One billable order: the engine's OrderData fields (OrderFields), and what the report keeps
    beside them. A tuple, not a dataclass: it is built once per order of a large report, where a
    frozen dataclass's constructor costs more than reading the row.

    Its lines are in SKU order (by code point), whichever order the database gives them in:
    explanations list an order's SKUs in the order of its lines, so a report's text is the same
    on every database and every query plan."""

    order_id: int
    transaction_id: str
    close_date: dt.datetime | None = None
    reference_number: str = ""
    ship_to_name: str = ""
    ship_to_company: str = ""
    ship_to_city: str = ""
    ship_to_state: str = ""
    ship_to_country: str = ""
    carrier: str = ""
    notes: str = ""
    weight_lb: Decimal = Decimal("0")
    volume_cuft: Decimal = Decimal("0")
    packages: int = 0
    line_items: int = 0
    total_item_qty: int = 0
    lines: tuple[OrderLineData, ...] = ()
    status: str = ""
    ship_to_address: str = ""
    # The streamed reader's SNAPSHOT_FIELDS as COPY text (tab-separated, escaped as read), which
    # the report-order COPY writes as they are; "" from chunked_records.
    snapshot: str = ""


if OrderRecord._fields[: len(dataclasses.fields(OrderData))] != tuple(f.name for f in dataclasses.fields(OrderData)):
    raise TypeError("OrderRecord must start with OrderData's fields, in their order")  # pragma: no cover

# Record field -> the Order field it is read from (the record's order_id is the model's id).
_COLUMN_OF = {
    name: "id" if name == "order_id" else name for name in OrderRecord._fields if name not in ("lines", "snapshot")
}
_RECORD_FIELDS = tuple(_COLUMN_OF)
ORDER_FIELDS = tuple(_COLUMN_OF.values())
# A streamed row: ORDER_FIELDS, then the SKUs and quantities of the order's lines, then the
# number of orders the statement reads.
_STREAM_FIELDS = (*_RECORD_FIELDS, "line_skus", "line_quantities", "order_count")
# _records_of builds a record from a row's columns by position, the hot path of a large report:
# the positions it types or moves, as it was written for them.
_WRITTEN_FOR = {
    "order_id": 0,
    "close_date": 2,
    "weight_lb": 11,
    "volume_cuft": 12,
    "packages": 13,
    "line_items": 14,
    "total_item_qty": 15,
    "line_skus": 18,
    "line_quantities": 19,
}
if (
    any(_STREAM_FIELDS[at] != name for name, at in _WRITTEN_FOR.items())
    or len(_STREAM_FIELDS) != 21
    or OrderRecord._fields.index("lines") != 16
    or OrderRecord._fields[-1] != "snapshot"
):
    raise TypeError("OrderRecord's fields moved: update _records_of and _WRITTEN_FOR")  # pragma: no cover
# The record fields a report order keeps, in the order of its COPY's first columns
# (billing.generation.copy_writer), taken from the streamed row as they were read.
SNAPSHOT_FIELDS = (
    "transaction_id",
    "reference_number",
    "status",
    "ship_to_name",
    "ship_to_address",
    "close_date",
    "order_id",
    "total_item_qty",
    "line_items",
)
_snapshot_of = itemgetter(*(_STREAM_FIELDS.index(name) for name in SNAPSHOT_FIELDS))


def tx_collation() -> str:
    """A byte-order collation, so the database sorts transaction ids exactly as Python does."""
    return "C" if connection.vendor == "postgresql" else "BINARY"


def canonical(orders: QuerySet[Order]) -> QuerySet[Order]:
    """The canonical pricing sequence (billing.pricing.canonical_order_key) in SQL."""
    return orders.order_by(F("close_date").asc(nulls_first=True), Collate("transaction_id", tx_collation()), "id")


# --- any database: keyset pages ------------------------------------------------------------


def chunked_records(orders: QuerySet[Order], chunk_size: int) -> Iterator[list[OrderRecord]]:
    """The orders as records in lists of `chunk_size`, in canonical order (two queries a list).

    Pages follow (close_date, transaction_id) > (the last row's); orders without a close date
    are never billable, so the keyset needs no NULL handling.
    """
    chunk_size = max(1, int(chunk_size))
    ordered = orders.annotate(tx_sort=Collate("transaction_id", tx_collation())).order_by("close_date", "tx_sort")
    page = ordered
    while True:
        rows = [dict(zip(_RECORD_FIELDS, row, strict=True)) for row in page.values_list(*ORDER_FIELDS)[:chunk_size]]
        if not rows:
            return
        lines = _lines_of([fields["order_id"] for fields in rows])
        records = [_record(fields, lines) for fields in rows]
        yield records
        if len(records) < chunk_size:
            return
        last = records[-1]
        # close_date >= last keeps the index range scan; the OR resolves ties on transaction_id.
        page = ordered.filter(close_date__gte=last.close_date).filter(
            Q(close_date__gt=last.close_date) | Q(close_date=last.close_date, tx_sort__gt=last.transaction_id)
        )


def _record(fields: dict[str, Any], lines: dict[int, list[OrderLineData]]) -> OrderRecord:
    order_lines = lines.get(fields["order_id"])
    return OrderRecord(**fields, lines=tuple(order_lines) if order_lines else ())


def _lines_of(order_ids: list[int]) -> dict[int, list[OrderLineData]]:
    """The SKU lines of these orders, grouped by order id, each order's in SKU order (one query)."""
    lines: dict[int, list[OrderLineData]] = {}
    if not order_ids:
        return lines
    rows = (
        OrderLine.objects.filter(order_id__in=order_ids)
        .order_by("order_id", Collate("sku", tx_collation()))
        .values_list("order_id", "sku", "quantity")
    )
    # Lines are immutable values: equal (sku, quantity) pairs share one object.
    shared: dict[tuple[str, int], OrderLineData] = {}
    for order_id, sku, quantity in rows:
        key = (sku, quantity)
        line = shared.get(key)
        if line is None:
            line = shared[key] = OrderLineData(sku, quantity)
        lines.setdefault(order_id, []).append(line)
    return lines


# --- PostgreSQL: one streamed statement ----------------------------------------------------


class StreamedRecords:
    """The records streamed_records gives, in canonical order, and how many there are."""

    def __init__(self, rows: io.TextIOWrapper) -> None:
        first = rows.readline()  # waits for the first row: every row ends with the count
        self.count = int(first[first.rindex("\t") + 1 : -1]) if first else 0
        self._records = _records_of(itertools.chain((first,), rows)) if first else iter(())

    def __iter__(self) -> Iterator[OrderRecord]:
        return self._records


def streamed_records(orders: QuerySet[Order], pipeline: CopyPipeline) -> StreamedRecords:
    """Every order as a record, in canonical order, read with one statement run by `pipeline`.

    Returns once the first row has arrived; the records are parsed as they are iterated, while
    the server still sends the rest (the pipeline's reader waits for them). The statement runs
    with JIT compilation off: its estimated cost (an index probe per order for the lines) is
    past jit_above_cost from a few thousand orders, and compiling would take longer than the
    read."""
    sql, params = _stream_query(orders)
    ops = cast("PostgresOperations", connection.ops)  # this reader runs on PostgreSQL only
    pipeline.execute("SET LOCAL jit = off")
    rows = pipeline.read(f"COPY ({ops.compose_sql(sql, params)}) TO STDOUT")
    pipeline.execute("RESET jit")
    # COPY's text has one row a line: a newline inside a value is escaped.
    return StreamedRecords(io.TextIOWrapper(io.BufferedReader(rows), encoding="utf-8", newline="\n"))


def _records_of(rows: Iterable[str]) -> Iterator[OrderRecord]:
    """Records from rows of _STREAM_FIELDS in COPY's text format, typed; equal (sku, quantity)
    lines share one object. A row without a backslash (nearly all) has no escape and no NULL,
    so its fields are its values; the others are decoded field by field."""
    parse_time = dt.datetime.fromisoformat
    make = OrderRecord._make
    shared: dict[tuple[str, int], OrderLineData] = {}
    line_of = shared.__getitem__
    for text in rows:
        raw = text[:-1].split("\t")
        row: list[Any] = raw if "\\" not in text else list(map(copy_value, raw))
        skus = row[18]
        lines: tuple[OrderLineData, ...] = ()
        if skus:  # None: no lines
            names, quantities = array_items(skus), [int(q) for q in row[19][1:-1].split(",")]
            if len(shared) >= LINE_CACHE_LIMIT:
                shared.clear()
            pairs = sorted(zip(names, quantities, strict=True))  # in SKU order, as the keyset reader's
            try:  # every line seen before (nearly always): the lookups stay in C
                lines = tuple(map(line_of, pairs))
            except KeyError:
                lines = tuple(shared.get(pair) or shared.setdefault(pair, OrderLineData(*pair)) for pair in pairs)
        close_date = row[2]
        yield make(
            (
                int(row[0]),
                row[1],
                None if close_date is None else parse_time(close_date),
                *row[3:11],
                Decimal(row[11]),
                Decimal(row[12]),
                int(row[13]),
                int(row[14]),
                int(row[15]),
                lines,
                row[16],
                row[17],
                "\t".join(_snapshot_of(raw)),
            )
        )


def _stream_query(orders: QuerySet[Order]) -> tuple[str, tuple]:
    """Every order (ORDER_FIELDS) with its lines' SKUs and quantities as two arrays and the
    number of orders (_STREAM_FIELDS), in canonical order.

    The orders alone are sorted, and each one's lines are aggregated from their index as it
    comes (a lateral join): rows leave the server from the first one on, where sorting the
    orders joined with their aggregated lines would send nothing until all of it was done.
    The count is a window over the sorted orders, known before the first row is sent."""
    counted = canonical(orders).annotate(stream_count=Window(Count("*")))
    sorted_orders = counted.values_list(*ORDER_FIELDS, "stream_count")
    sql, params = sorted_orders.query.sql_with_params()
    quote = connection.ops.quote_name
    columns = [quote(name) for name in (*ORDER_FIELDS, "stream_count")]
    order_id, close_date, transaction_id = (quote(name) for name in ("id", "close_date", "transaction_id"))
    lines = quote(OrderLine._meta.db_table)
    line_order, sku, quantity = (quote(column_of(OrderLine, name)) for name in ("order", "sku", "quantity"))
    return (
        f"SELECT {', '.join(f'o.{column}' for column in columns[:-1])}, l.skus, l.quantities, o.{columns[-1]} "  # noqa: S608 - quoted names, the ORM's SQL
        f"FROM ({sql}) AS o ({', '.join(columns)}) "
        f"LEFT JOIN LATERAL (SELECT ARRAY_AGG({sku}), ARRAY_AGG({quantity}) FROM {lines} "
        f"WHERE {line_order} = o.{order_id}) AS l (skus, quantities) ON TRUE "
        f"ORDER BY o.{close_date} ASC NULLS FIRST, o.{transaction_id} COLLATE {quote(tx_collation())}, o.{order_id}",
        params,
    )
