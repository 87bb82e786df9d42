"""Import orders from the WMS: the one service behind `manage.py import_orders` and `upsertOrders`.

Rows carry the fields of the LedgerLink orders export (see docs/import-orders-format.md).
Values may be text (CSV) or typed (JSON Lines, GraphQL). Every row is parsed and checked on
its own: bad rows are reported with their row number and reason and skipped, good rows are
written. Orders are matched by `transaction_id`: a new id creates an order, a known id updates
its fields and replaces its SKU lines, and a row equal to what is stored changes nothing, so
importing the same file twice is harmless. Statuses and SKUs are stored as given (SKUs are
compared normalised); a close date is optional (billing.statuses says what is billable).

Rows are processed in batches with a constant number of queries per batch, each batch in its
own transaction, so files of hundreds of thousands of rows import in bounded memory. On
PostgreSQL the batch statements are not prepared, rows go in with COPY, and outside a
transaction the next batch is parsed while a second connection writes the previous one; a
command's CSV file is read and parsed by a worker process meanwhile (billing.services.order_worker;
benchmarks/import_orders.py measures it).
"""

from __future__ import annotations

import gc
import logging
import queue
import threading
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from functools import partial
from itertools import islice
from typing import Any

from django.db import IntegrityError, connection, transaction
from django.utils import timezone

from billing.db_copy import copy_text
from billing.models import Customer, Order, OrderLine
from billing.periods import billing_time_zone
from billing.permissions import Actor, ensure_can_import_orders, visible_customer_ids
from billing.services.customers import customers_create_missing
from billing.services.order_records import RecordParser
from billing.services.order_rows import (
    DEFAULT_BATCH_SIZE,
    WRITTEN_FIELDS,
    ParsedOrder,
    RowError,
    RowInvalid,
    parse_row,
)
from billing.services.order_worker import (
    InvalidRow,
    ParsedBatch,
    ParsedChunk,
    parsed_in_worker,
    worker_available,
)
from billing.services.order_writes import (
    _insert_lines,
    _insert_orders,
    _one_of,
    _statements_unprepared,
    values_of,
)

logger = logging.getLogger(__name__)


@dataclass(slots=True)
class UpsertResult:
    created: int = 0
    updated: int = 0
    unchanged: int = 0
    errors: list[RowError] = field(default_factory=list)
    customers_created: int = 0  # placeholder customers (create_customers=True)

    @property
    def rejected(self) -> int:
        return len(self.errors)

    @property
    def rows(self) -> int:
        return self.created + self.updated + self.unchanged + self.rejected

    def summary(self) -> str:
        return f"created {self.created}, updated {self.updated}, unchanged {self.unchanged}, rejected {self.rejected}"


# --- writing -------------------------------------------------------------------------------


def _numbered(
    rows: Iterable[Mapping[str, Any] | tuple[int, Mapping[str, Any] | Sequence[str]]],
) -> Iterator[tuple[int, Any]]:
    for index, item in enumerate(rows, start=1):
        if isinstance(item, tuple):
            yield item
        else:
            yield index, item


def _transaction_id_of(row: Any) -> str:
    if isinstance(row, Mapping):
        value = row.get("transaction_id")
        if isinstance(value, (str, int)) and not isinstance(value, bool):
            return str(value).strip()[:64]
    return ""


# A batch is not worth a wait for the disk: once committed it is visible at once, and the few
# batches a crash could lose are written again by importing the file again.
_UNSYNCHRONISED_COMMIT = "synchronous_commit TO OFF"


def _duplicate(first_row: int) -> str:
    return f"duplicate transaction_id (first given on row {first_row})"


class _SeenTransactionIds:
    """The transaction ids an import has written so far, with their row numbers.

    Kept in memory up to MEMORY_LIMIT ids (every upsertOrders call, most files), then in a
    temporary table of the writing connection, so an import's memory does not grow with its file.
    Used by the thread that writes (the temporary table belongs to its connection).
    """

    MEMORY_LIMIT = 50_000

    def __init__(self) -> None:
        self.memory: dict[str, int] = {}
        self.spilled = False

    def first_rows(self, transaction_ids: list[str]) -> dict[str, int]:
        if not self.spilled:
            return {tx: self.memory[tx] for tx in transaction_ids if tx in self.memory}
        select = "SELECT transaction_id, row_number FROM billing_import_seen_ids WHERE transaction_id "
        params: list[Any]
        if connection.vendor == "postgresql":
            sql, params = select + "= ANY(%s)", [transaction_ids]
        else:
            sql, params = select + "IN (" + ", ".join(["%s"] * len(transaction_ids)) + ")", list(transaction_ids)
        with connection.cursor() as cursor:
            cursor.execute(sql, params)
            return dict(cursor.fetchall())

    def add(self, pairs: list[tuple[str, int]]) -> None:
        if not self.spilled and len(self.memory) + len(pairs) <= self.MEMORY_LIMIT:
            self.memory.update(pairs)
            return
        with connection.cursor() as cursor:
            if not self.spilled:
                # Byte order on PostgreSQL: the same equality, cheaper comparisons than the database's locale.
                collate = ' COLLATE "C"' if connection.vendor == "postgresql" else ""
                cursor.execute(
                    "CREATE TEMPORARY TABLE billing_import_seen_ids "
                    f"(transaction_id varchar(64){collate} PRIMARY KEY, row_number bigint)"
                )
                self.spilled = True
                pairs = [*self.memory.items(), *pairs]
                self.memory = {}
            if connection.vendor == "postgresql":  # COPY: far cheaper than one INSERT per id, on both sides
                with cursor.cursor.copy("COPY billing_import_seen_ids (transaction_id, row_number) FROM STDIN") as copy:
                    copy.write("".join(f"{copy_text(transaction_id)}\t{row}\n" for transaction_id, row in pairs))
                return
            cursor.executemany(
                "INSERT INTO billing_import_seen_ids (transaction_id, row_number) VALUES (%s, %s)", pairs
            )

    def close(self) -> None:
        if self.spilled:
            with connection.cursor() as cursor:
                cursor.execute("DROP TABLE IF EXISTS billing_import_seen_ids")
            self.spilled = False
        self.memory = {}


class _Batch:
    """The state shared by the batches of one import."""

    def __init__(
        self,
        *,
        actor: Actor,
        result: UpsertResult,
        create_customers: bool = False,
        columns: Sequence[str] | None = None,
    ) -> None:
        self.result = result
        self.create_customers = create_customers
        self.zone = billing_time_zone()
        self.records = RecordParser(columns, zone=self.zone) if columns is not None else None
        self.visible = visible_customer_ids(actor) if actor is not None else None
        self.known_customers: set[int] = set()
        self.unknown_customers: set[int] = set()
        self.seen = _SeenTransactionIds()  # across the whole import, used by write() only
        # True once the writing connection (the pipeline's own) commits without waiting for the
        # disk for its whole session; otherwise each batch says so for its own transaction.
        self.commits_unsynchronised = False

    def reject(self, row_number: int, transaction_id: str, reason: str) -> None:
        self.result.errors.append(RowError(row_number, transaction_id, reason))

    def _resolve_customers(self, ids: set[int]) -> None:
        missing = ids - self.known_customers - self.unknown_customers
        if missing and self.create_customers:
            self.result.customers_created += len(customers_create_missing(missing))
        if missing:
            found = set(Customer.objects.filter(pk__in=missing).values_list("pk", flat=True))
            self.known_customers |= found
            self.unknown_customers |= missing - found

    def customer_allowed(self, customer_id: int) -> bool:
        if customer_id not in self.known_customers:
            return False
        return self.visible is None or customer_id in self.visible

    def process(self, chunk: list[tuple[int, Any]]) -> None:
        self.write(self.prepare(chunk))

    def _checked(self, row_number: int, row: Any) -> ParsedOrder | None:
        """One row read with every check (RowInvalid when it is refused; None when it is
        rejected here, not being an object of fields)."""
        if self.records is not None:
            return self.records.parse(row, row_number)
        if isinstance(row, Mapping):
            return parse_row(row, row_number=row_number, zone=self.zone)
        return None

    def parse_chunk(self, chunk: list[tuple[int, Any]], *, values: bool = True) -> ParsedChunk:
        """Parse and check a chunk, without the database (a worker process may run it): its orders,
        its invalid rows, and the rows rejected as duplicates of an earlier row of the chunk.
        With `values` False a file's clean records carry only their COPY text (RecordParser.parse_clean)."""
        parsed: list[ParsedOrder] = []
        invalid: list[InvalidRow] = []
        rejected: list[RowError] = []
        in_chunk: dict[str, int] = {}  # transaction_id -> row number (earlier chunks: write())
        records = self.records
        # A file's clean records are read column by column; the others one by one, with every check.
        clean = records.parse_clean(chunk, values=values) if records is not None else [None] * len(chunk)
        for (row_number, row), order in zip(chunk, clean, strict=True):
            try:
                if order is None:
                    order = self._checked(row_number, row)
            except RowInvalid as exc:
                transaction_id = records.transaction_id_of(row) if records is not None else _transaction_id_of(row)
                invalid.append((row_number, transaction_id, exc.problems, exc.customer_id))
                continue
            if order is None:
                rejected.append(RowError(row_number, "", "row is not an object of order fields"))
                continue
            first = in_chunk.get(order.transaction_id)
            if first is not None:
                rejected.append(RowError(row_number, order.transaction_id, _duplicate(first)))
                continue
            in_chunk[order.transaction_id] = row_number
            parsed.append(order)
        return ParsedChunk(parsed, invalid, rejected)

    def prepare(self, chunk: list[tuple[int, Any]]) -> list[ParsedOrder]:
        """Parse and check a chunk; rejects its bad rows and returns the orders to write."""
        return self.accept(self.parse_chunk(chunk))

    def accept(self, chunk: ParsedChunk) -> list[ParsedOrder]:
        """Rejects a parsed chunk's bad rows, its orders of unknown customers among them, and
        returns the orders to write."""
        parsed, invalid = chunk.orders, chunk.invalid
        self.result.errors.extend(chunk.rejected)
        if not parsed and not invalid:
            return []
        customer_ids = {order.customer_id for order in parsed}
        customer_ids.update(customer_id for _, _, _, customer_id in invalid if customer_id is not None)
        self._resolve_customers(customer_ids)
        # A row's problems are listed together, an unknown customer among them.
        for row_number, transaction_id, problems, customer_id in invalid:
            if customer_id is not None and not self.customer_allowed(customer_id):
                problems = [f"unknown customer_id {customer_id}", *problems]
            self.reject(row_number, transaction_id, "; ".join(problems))
        if customer_ids <= self.known_customers and (self.visible is None or customer_ids <= self.visible):
            return parsed
        accepted: list[ParsedOrder] = []
        for order in parsed:
            if self.customer_allowed(order.customer_id):
                accepted.append(order)
            else:
                self.reject(order.row_number, order.transaction_id, f"unknown customer_id {order.customer_id}")
        return accepted

    def write(self, accepted: list[ParsedOrder]) -> None:
        """Write checked orders (one transaction) and count what was done.

        A transaction_id an earlier batch of this import already gave is rejected here.
        """
        if not accepted:
            return
        try:
            outcome, written = self._write(accepted)
        except IntegrityError:
            # Another import created some of these orders meanwhile: once more, now updating them.
            outcome, written = self._write(accepted)
        self.seen.add([(order.transaction_id, order.row_number) for order in written])
        self.result.created += outcome.created
        self.result.updated += outcome.updated
        self.result.unchanged += outcome.unchanged
        self.result.errors.extend(outcome.errors)

    @transaction.atomic
    def _write(self, orders: list[ParsedOrder]) -> tuple[UpsertResult, list[ParsedOrder]]:
        """Write one batch in one transaction; returns its counts (applied by the caller once committed)
        and the orders it wrote or found unchanged (all but those an earlier batch already gave)."""
        outcome = UpsertResult()
        if connection.vendor == "postgresql" and not self.commits_unsynchronised:
            with connection.cursor() as cursor:
                cursor.execute(f"SET LOCAL {_UNSYNCHRONISED_COMMIT}")
        existing = {
            order.transaction_id: order
            for order in Order.objects.select_for_update()
            .filter(_one_of(Order, "transaction_id", [o.transaction_id for o in orders]))
            .only("pk", "transaction_id", "customer_id", *WRITTEN_FIELDS)
        }
        stored_lines: dict[int, list[tuple[str, int]]] = {}
        if existing:
            # An id an earlier batch of this import gave exists now, so only the ids found are looked up.
            earlier = self.seen.first_rows(list(existing))
            if earlier:
                for order in orders:
                    if order.transaction_id in earlier:
                        reason = _duplicate(earlier[order.transaction_id])
                        outcome.errors.append(RowError(order.row_number, order.transaction_id, reason))
                orders = [order for order in orders if order.transaction_id not in earlier]
                existing = {key: order for key, order in existing.items() if key not in earlier}
        if existing:
            for order_id, sku, quantity in (
                OrderLine.objects.filter(_one_of(OrderLine, "order", [o.pk for o in existing.values()]))
                .order_by()
                .values_list("order_id", "sku", "quantity")
            ):
                stored_lines.setdefault(order_id, []).append((sku, quantity))

        now = timezone.now()
        to_create: list[ParsedOrder] = []
        to_update: list[Order] = []
        replace_lines: list[tuple[int, ParsedOrder]] = []
        for parsed in orders:
            current = existing.get(parsed.transaction_id)
            if current is None:
                to_create.append(parsed)
                continue
            if current.customer_id != parsed.customer_id:
                # Never says whose order it is: the same answer whether or not the importer sees that customer.
                reason = "transaction_id is already used for another customer (orders never move between customers)"
                outcome.errors.append(RowError(parsed.row_number, parsed.transaction_id, reason))
                continue
            values = values_of(parsed)
            changed = [name for name, value in values.items() if getattr(current, name) != value]
            lines_changed = sorted(stored_lines.get(current.pk, ())) != sorted(parsed.lines)
            if not changed and not lines_changed:
                outcome.unchanged += 1
                continue
            for name in changed:
                setattr(current, name, values[name])
            current.updated_at = now
            to_update.append(current)
            if lines_changed:
                replace_lines.append((current.pk, parsed))
            outcome.updated += 1

        created_ids = _insert_orders(to_create, now) if to_create else []
        outcome.created = len(to_create)
        if to_update:
            Order.objects.bulk_update(to_update, [*WRITTEN_FIELDS, "updated_at"])
        if replace_lines:
            OrderLine.objects.filter(order_id__in=[order_id for order_id, _ in replace_lines]).delete()
        with_lines = [*zip(created_ids, to_create, strict=True), *replace_lines]
        if any(parsed.lines for _, parsed in with_lines):
            _insert_lines(with_lines)
        return outcome, orders


def _prepared_here(state: _Batch, chunks: Iterator[list[tuple[int, Any]]]) -> Iterator[tuple[list[ParsedOrder], int]]:
    """Each chunk parsed and checked in this thread: (the orders to write, rows read so far)."""
    done = 0
    for chunk in chunks:
        accepted = state.prepare(chunk)
        done += len(chunk)
        yield accepted, done


def _prepared_elsewhere(
    state: _Batch, batches: Iterator[ParsedBatch], read_errors: list[RowError]
) -> Iterator[tuple[list[ParsedOrder], int]]:
    """Each batch a worker process parsed (billing.services.order_worker), its customers checked
    in this thread: (the orders to write, rows read so far). The reader's errors are added to
    `read_errors` as the worker meets them."""
    done = 0
    for batch in batches:
        read_errors.extend(batch.read_errors)
        accepted = state.accept(batch.chunk)
        if batch.done > done:  # (the last batch, after the last row, holds only the reader's errors)
            done = batch.done
            yield accepted, done
        del accepted, batch
        gc.collect(1)  # the young objects only: see _collected_between_batches


@contextmanager
def _collected_between_batches() -> Iterator[None]:
    """The cycle collector paused while a command imports a file, and run once a batch instead.

    Left to itself it scanned each batch's objects again and again while they were built (and,
    in full collections, every object of the process): a third of the import's Python time.
    Objects that exist when the import starts are frozen (never scanned until it ends); the
    batches' own garbage is acyclic, and gc.collect(1) after each batch bounds it anyway. For the
    command's process only (the worker path): the collector belongs to the whole process.
    """
    enabled = gc.isenabled()
    gc.freeze()
    gc.disable()
    try:
        yield
    finally:
        gc.unfreeze()
        if enabled:
            gc.enable()


def _pipelined(
    state: _Batch, batches: Iterator[tuple[list[ParsedOrder], int]], on_progress: Callable[[int], None] | None
) -> None:
    """Prepare the next batch while the previous one is written, by a thread with its own connection.

    PostgreSQL spends about as long storing a batch (COPY, index and constraint checks at commit)
    as Python spends parsing it; overlapping the two nearly halves an import (parsed by a worker
    process, the parsing leaves this one's interpreter too). Used only outside a transaction:
    the writer's connection could not see what the caller's transaction wrote. At most three
    batches are in this process (one prepared, one queued, one being written).
    """
    work: queue.Queue[tuple[list[ParsedOrder], int] | None] = queue.Queue(maxsize=1)
    failures: list[BaseException] = []

    def writer() -> None:
        try:
            with connection.cursor() as cursor:  # this connection is closed when the import ends
                cursor.execute(f"SET {_UNSYNCHRONISED_COMMIT}")
            state.commits_unsynchronised = True
            with _statements_unprepared():
                try:
                    while (item := work.get()) is not None:
                        accepted, done = item
                        state.write(accepted)
                        if on_progress is not None:
                            on_progress(done)
                finally:
                    state.seen.close()
        except BaseException as exc:
            failures.append(exc)
            while work.get() is not None:  # drain the queue so the parser never blocks
                pass
        finally:
            connection.close()  # this thread's own connection

    thread = threading.Thread(target=writer, name="orders-import-writer", daemon=True)
    thread.start()
    try:
        for item in batches:
            work.put(item)
            if failures:
                break
    finally:
        work.put(None)
        thread.join()
    if failures:
        raise failures[0]


def orders_upsert(
    *,
    rows: Iterable[Mapping[str, Any] | tuple[int, Mapping[str, Any] | Sequence[str]]],
    actor: Actor = None,
    source: str = "api",
    on_progress: Callable[[int], None] | None = None,
    batch_size: int = DEFAULT_BATCH_SIZE,
    create_customers: bool = False,
    columns: Sequence[str] | None = None,
    read_errors: list[RowError] | None = None,
) -> UpsertResult:
    """Create or update orders from export rows; bad rows are reported in `errors` and skipped.

    Each item of `rows` is a mapping of the export fields, or a `(row_number, mapping)` pair
    when the caller knows where the row sits in its file (otherwise rows are numbered from 1).
    An `actor` (None for a server-side command) needs the add and change order permissions and
    may only import orders of customers it can see. `on_progress(rows_done)` is called after
    every batch. Each batch is written in its own transaction. With `create_customers` (server-side
    imports only), a customer id that does not exist gets a placeholder customer with that id.

    On PostgreSQL the batch statements are never prepared: a plan prepared while the table was
    small (a sequential scan) would be kept for every later batch (see _statements_unprepared).

    With `columns` (a file's header), each row is instead a `(row_number, values)` pair whose
    values (text) are in the order of `columns`: parsed by one RecordParser built for that header,
    with no mapping per row.

    `read_errors` is the list in which `rows`, a reader, records what it cannot read (the
    command's CSV reader). Given with `columns`, outside a transaction on PostgreSQL, the file
    is then read and parsed by a worker process while this one writes (billing.services.order_worker),
    and the reader's errors are added to that list as the worker meets them.
    """
    if batch_size < 1:
        raise ValueError("batch_size must be at least 1")
    ensure_can_import_orders(actor, create_customers=create_customers)
    result = UpsertResult()
    state = _Batch(actor=actor, result=result, create_customers=create_customers, columns=columns)
    numbered = _numbered(rows)
    chunks = iter(lambda: list(islice(numbered, batch_size)), [])
    outside = connection.vendor == "postgresql" and not connection.in_atomic_block
    with _statements_unprepared():
        if outside and read_errors is not None and columns is not None and worker_available():
            # The worker is forked before the writer thread starts: a lock that thread held would
            # stay held in the worker's copy.
            with (
                _collected_between_batches(),
                parsed_in_worker(chunks, partial(state.parse_chunk, values=False), read_errors) as batches,
            ):
                _pipelined(state, _prepared_elsewhere(state, batches, read_errors), on_progress)
        elif outside:
            _pipelined(state, _prepared_here(state, chunks), on_progress)
        else:
            try:
                done = 0
                for chunk in chunks:
                    state.process(chunk)
                    done += len(chunk)
                    if on_progress is not None:
                        on_progress(done)
            finally:
                state.seen.close()
    result.errors.sort(key=lambda error: error.row_number)
    logger.info("orders imported from %s: %s", source, result.summary())
    return result
