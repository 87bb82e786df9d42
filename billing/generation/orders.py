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
  into arrays, read as COPY's text. The statement holds the connection, which the line COPY
  needs next, so its text is first spooled (in memory up to SPOOL_MEMORY_BYTES, then in a
  temporary file) and parsed into records while the line COPY is open.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import io
import tempfile
from collections.abc import Callable, Iterable, Iterator
from contextlib import contextmanager, nullcontext
from decimal import Decimal
from operator import itemgetter
from typing import TYPE_CHECKING, Any, NamedTuple, cast

from django.db import connection
from django.db.models import F, Q, QuerySet
from django.db.models.functions import Collate

from billing.db_copy import array_items, copy_value
from billing.models import Order, OrderLine
from billing.pricing.types import OrderData, OrderLineData

if TYPE_CHECKING:
    from django.db.backends.postgresql.operations import DatabaseOperations as PostgresOperations

# Bytes the read spool keeps in memory before it moves to a temporary file.
SPOOL_MEMORY_BYTES = 16 * 2**20
# Distinct (sku, quantity) line objects kept for reuse across orders before the cache restarts.
LINE_CACHE_LIMIT = 100_000


class OrderRecord(NamedTuple):
    """One billable order: the engine's OrderData fields (OrderFields), and what the report keeps
    beside them. A tuple, not a dataclass: it is built once per order of a large report, where a
    frozen dataclass's constructor costs more than reading the row."""

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
# A streamed row: ORDER_FIELDS, then the SKUs and quantities of the order's lines.
_STREAM_FIELDS = (*_RECORD_FIELDS, "line_skus", "line_quantities")
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
    or len(_STREAM_FIELDS) != 20
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


class _ByteOrdered(Collate):
    """A column in byte order, grouped by as the column itself. Ordering an aggregate by it
    would otherwise add the expression to GROUP BY beside the primary key, and PostgreSQL then
    sorts every joined row by (id, expression) before aggregating, where rows joined in id
    order aggregate as they come."""

    def get_group_by_cols(self):
        return self.get_source_expressions()[0].get_group_by_cols()


def canonical(orders: QuerySet[Order]) -> QuerySet[Order]:
    """The canonical pricing sequence (billing.pricing.canonical_order_key) in SQL."""
    return orders.order_by(F("close_date").asc(nulls_first=True), _ByteOrdered("transaction_id", tx_collation()), "id")


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
    """The SKU lines of these orders, grouped by order id (one query)."""
    lines: dict[int, list[OrderLineData]] = {}
    if not order_ids:
        return lines
    rows = OrderLine.objects.filter(order_id__in=order_ids).order_by().values_list("order_id", "sku", "quantity")
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

    def __init__(self, records: Iterator[OrderRecord], count: int) -> None:
        self._records = records
        self.count = count

    def __iter__(self) -> Iterator[OrderRecord]:
        return self._records


@contextmanager
def streamed_records(orders: QuerySet[Order]) -> Iterator[StreamedRecords]:
    """Every order as a record, in canonical order, read with one statement and spooled.

    The statement has run and released the connection when this is entered; the records are
    parsed from the spool as they are iterated, and the spool is removed on exit.
    """
    with tempfile.SpooledTemporaryFile(max_size=SPOOL_MEMORY_BYTES) as spool:
        count = _copy_orders(orders, spool.write)
        spool.seek(0)
        # COPY's text has one row a line: a newline inside a value is escaped.
        yield StreamedRecords(_records_of(io.TextIOWrapper(spool, encoding="utf-8", newline="\n")), count)


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
            try:  # every line seen before (nearly always): the lookups stay in C
                lines = tuple(map(line_of, zip(names, quantities, strict=True)))
            except KeyError:
                lines = tuple(
                    shared.get(pair) or shared.setdefault(pair, OrderLineData(*pair))
                    for pair in zip(names, quantities, strict=True)
                )
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
    """Every order (ORDER_FIELDS) with its lines' SKUs and quantities as two arrays, in canonical order."""
    from django.contrib.postgres.aggregates import ArrayAgg  # PostgreSQL only, imported only here

    has_line = Q(lines__isnull=False)
    queryset = (
        canonical(orders)
        .annotate(
            line_skus=ArrayAgg("lines__sku", filter=has_line),
            line_quantities=ArrayAgg("lines__quantity", filter=has_line),
        )
        .values_list(*ORDER_FIELDS, "line_skus", "line_quantities")
    )
    return queryset.query.sql_with_params()


def _copy_orders(orders: QuerySet[Order], write: Callable[[bytes], object]) -> int:
    """The rows of _stream_query as COPY's text, block by block into `write`, with one statement
    (recorded in connection.queries like the ones Django runs itself). Blocks of bytes cost
    Python nearly nothing while the server reads, where a row object per row cost more than
    the server's work. Returns the number of rows: the server sends each in a message of its
    own, which is a block. On an error the COPY ends with the statement, and the transaction can
    roll back."""
    sql, params = _stream_query(orders)
    ops = cast("PostgresOperations", connection.ops)  # this reader runs on PostgreSQL only
    statement = f"COPY ({ops.compose_sql(sql, params)}) TO STDOUT"
    with connection.cursor() as cursor:
        debug_sql = getattr(cursor, "debug_sql", None)  # set when queries are logged (DEBUG, tests)
        with debug_sql(statement) if debug_sql is not None else nullcontext(), cursor.cursor.copy(statement) as copy:
            rows = 0
            for block in copy:
                write(block)
                rows += 1
    return rows
