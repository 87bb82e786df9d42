"""Step 2: the billable orders as a stream of named records, in the canonical pricing order.

An OrderRecord is what the engine prices (the fields of an OrderData) plus the two fields only
the snapshot keeps. ORDER_FIELDS, the one list of the Order fields generation reads, is derived from
the record's own fields, and rows are turned into records by those names (the streamed reader
by positions derived from them once): reordering a field moves its column in every query with it.

Two readers give the same records in the same order:

- `chunked_records` (any database): keyset pages of `chunk_size` orders, one query for the
  page and one for its SKU lines;
- `streamed_records` (PostgreSQL): one statement for every order with its SKU lines aggregated
  into arrays. The stream holds the connection, which the line COPY needs next, so its rows are
  first spooled (marshal records in a temporary file, in memory up to SPOOL_MEMORY_BYTES) and
  read back as records while the COPY is open.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import marshal
import tempfile
from collections.abc import Iterable, Iterator
from contextlib import contextmanager, nullcontext
from decimal import Decimal
from typing import TYPE_CHECKING, Any, NamedTuple, cast

from django.db import connection
from django.db.models import F, Q, QuerySet
from django.db.models.functions import Collate

from billing.models import Order, OrderLine
from billing.pricing.types import OrderData, OrderLineData

if TYPE_CHECKING:
    from django.db.backends.postgresql.operations import DatabaseOperations as PostgresOperations

# PostgreSQL: rows per libpq fetch of the order stream and per marshal record of the read spool.
STREAM_BATCH_ROWS = 1000
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


if OrderRecord._fields[: len(dataclasses.fields(OrderData))] != tuple(f.name for f in dataclasses.fields(OrderData)):
    raise TypeError("OrderRecord must start with OrderData's fields, in their order")  # pragma: no cover

# Record field -> the Order field it is read from (the record's order_id is the model's id).
_COLUMN_OF = {name: "id" if name == "order_id" else name for name in OrderRecord._fields if name != "lines"}
_RECORD_FIELDS = tuple(_COLUMN_OF)
ORDER_FIELDS = tuple(_COLUMN_OF.values())
# A streamed row: ORDER_FIELDS, then the SKUs and quantities of the order's lines. close_date,
# weight_lb and volume_cuft arrive as text (so that rows can be marshalled); records get them typed.
_STREAM_FIELDS = (*_RECORD_FIELDS, "line_skus", "line_quantities")
# Where _records_of finds and puts values, derived from the names: the number of order fields,
# the positions of the three text fields, and that of lines among the record's arguments.
_STREAM_AT = (
    len(_RECORD_FIELDS),
    *(_STREAM_FIELDS.index(name) for name in ("close_date", "weight_lb", "volume_cuft")),
    OrderRecord._fields.index("lines"),
)


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


@contextmanager
def streamed_records(orders: QuerySet[Order]) -> Iterator[Iterator[OrderRecord]]:
    """Every order as a record, in canonical order, read with one statement and spooled.

    The statement has run and released the connection when this is entered; the records are
    read back from the spool as they are iterated, and the spool is removed on exit.
    """
    with tempfile.SpooledTemporaryFile(max_size=SPOOL_MEMORY_BYTES) as spool:
        with _order_stream(orders) as batches:
            write = spool.write
            for batch in batches:  # each batch as one record: its size (8 bytes), then its marshal dump
                data = marshal.dumps(batch)
                write(len(data).to_bytes(8, "little"))
                write(data)
        spool.seek(0)
        yield _records_of(_spooled_batches(spool))


def _spooled_batches(spool: Any) -> Iterator[list[tuple]]:
    """The batches streamed_records wrote (marshal only ever reads what this process wrote)."""
    read = spool.read
    while header := read(8):
        yield marshal.loads(read(int.from_bytes(header, "little")))  # noqa: S302 - our own temporary file


def _records_of(batches: Iterable[list[tuple]]) -> Iterator[OrderRecord]:
    """Records from streamed rows (_STREAM_FIELDS), typing the text columns; equal (sku, quantity)
    lines share one object. The hot path of a large report, so values are placed by positions
    found once from the field names (_STREAM_AT), not copied through a dict of keywords."""
    parse_time = dt.datetime.fromisoformat
    make = OrderRecord._make
    count, close_at, weight_at, volume_at, lines_at = _STREAM_AT
    shared: dict[tuple[str, int], OrderLineData] = {}
    line_of = shared.__getitem__
    for batch in batches:
        for row in batch:
            values = list(row[:count])
            skus, quantities = row[count], row[count + 1]
            lines: tuple[OrderLineData, ...] = ()
            if skus:
                if len(shared) >= LINE_CACHE_LIMIT:
                    shared.clear()
                try:  # every line seen before (nearly always): the lookups stay in C
                    lines = tuple(map(line_of, zip(skus, quantities, strict=True)))
                except KeyError:
                    lines = tuple(
                        shared.get(pair) or shared.setdefault(pair, OrderLineData(*pair))
                        for pair in zip(skus, quantities, strict=True)
                    )
            close_date = values[close_at]
            values[close_at] = None if close_date is None else parse_time(close_date)
            values[weight_at] = Decimal(values[weight_at])
            values[volume_at] = Decimal(values[volume_at])
            values.insert(lines_at, lines)
            yield make(values)


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


@contextmanager
def _order_stream(orders: QuerySet[Order]) -> Iterator[Iterator[list[tuple]]]:
    """The rows of _stream_query in lists of STREAM_BATCH_ROWS, read with one statement.

    close_date, weight_lb and volume_cuft arrive as their text (PostgreSQL's ISO output), so
    every value is a str, int, None or list of them: rows can be spooled with marshal (far
    cheaper than pickle). The statement is recorded in connection.queries like the ones Django
    runs itself.

    The stream holds the connection until it is exhausted or closed, so it is closed on exit
    whatever happens: on an error that cancels the query, and the transaction can roll back
    (a stream left open would make the rollback wait for it forever).
    """
    from psycopg.types.string import TextLoader  # the PostgreSQL driver, imported only here

    sql, params = _stream_query(orders)
    with connection.cursor() as cursor:
        stream_cursor = cursor.cursor
        stream_cursor.adapters.register_loader("numeric", TextLoader)
        stream_cursor.adapters.register_loader("timestamptz", TextLoader)
        debug_sql = getattr(cursor, "debug_sql", None)  # set when queries are logged (DEBUG, tests)
        ops = cast("PostgresOperations", connection.ops)  # this reader runs on PostgreSQL only
        logged = debug_sql(ops.compose_sql(sql, params)) if debug_sql is not None else nullcontext()
        with logged:
            rows = stream_cursor.stream(sql, params, size=STREAM_BATCH_ROWS)
            try:
                yield _batched(rows, STREAM_BATCH_ROWS)
            finally:
                rows.close()


def _batched(rows: Iterable[tuple], size: int) -> Iterator[list[tuple]]:
    batch: list[tuple] = []
    for row in rows:
        batch.append(row)
        if len(batch) == size:
            yield batch
            batch = []
    if batch:
        yield batch
