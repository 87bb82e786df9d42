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
transaction the next batch is parsed while a second connection writes the previous one
(benchmarks/import_orders.py measures it).
"""

from __future__ import annotations

import datetime as dt
import json
import logging
import queue
import threading
from collections.abc import Callable, Iterable, Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass, field
from decimal import ROUND_HALF_UP, Decimal, InvalidOperation
from itertools import islice
from typing import Any

from django.db import IntegrityError, connection, transaction
from django.db.models import BooleanField, Field, Q
from django.db.models.expressions import RawSQL
from django.utils import timezone

from billing.db_copy import copy_statement
from billing.models import STATUS_MAX_LENGTH, Customer, Order, OrderLine
from billing.periods import billing_time_zone
from billing.permissions import Actor, ensure_can_import_orders, visible_customer_ids
from billing.pricing import normalize_sku
from billing.services.customers import customers_create_missing

logger = logging.getLogger(__name__)

#: The columns of the LedgerLink orders export, in export order.
ORDER_FIELDS: tuple[str, ...] = (
    "transaction_id",
    "close_date",
    "reference_number",
    "ship_to_name",
    "ship_to_company",
    "ship_to_address",
    "ship_to_address2",
    "ship_to_city",
    "ship_to_state",
    "ship_to_zip",
    "ship_to_country",
    "weight_lb",
    "line_items",
    "sku_quantity",
    "total_item_qty",
    "volume_cuft",
    "packages",
    "notes",
    "carrier",
    "customer_id",
    "priority",
    "status",
)

#: The columns a CSV import needs; a missing optional column reads as empty.
REQUIRED_FIELDS: tuple[str, ...] = ("transaction_id", "customer_id")

TEXT_FIELDS: tuple[str, ...] = (
    "reference_number",
    "ship_to_name",
    "ship_to_company",
    "ship_to_address",
    "ship_to_address2",
    "ship_to_city",
    "ship_to_state",
    "ship_to_zip",
    "ship_to_country",
    "notes",
    "carrier",
    "priority",
)
DECIMAL_FIELDS: tuple[str, ...] = ("weight_lb", "volume_cuft")
INT_FIELDS: tuple[str, ...] = ("packages", "line_items", "total_item_qty")

#: Order columns an import writes (besides customer and lines).
WRITTEN_FIELDS: tuple[str, ...] = (
    "close_date",
    "status",
    *TEXT_FIELDS,
    *DECIMAL_FIELDS,
    *INT_FIELDS,
)


def _concrete_field(model: type[Order] | type[OrderLine], name: str) -> Field[Any, Any]:
    """A field of the model itself (never a reverse relation)."""
    field = model._meta.get_field(name)
    if not isinstance(field, Field):
        raise TypeError(f"{model.__name__}.{name} is not a concrete field")
    return field


def _column(model: type[Order] | type[OrderLine], name: str) -> str:
    column = _concrete_field(model, name).column
    if column is None:
        raise TypeError(f"{model.__name__}.{name} has no database column")
    return column


_TEXT_LIMITS = tuple((name, _concrete_field(Order, name).max_length or 1_000_000) for name in TEXT_FIELDS)

DEFAULT_BATCH_SIZE = 1000
MAX_INT = 2_147_483_647  # PositiveIntegerField's upper bound on every backend
DECIMAL_PLACES = Decimal("0.001")
MAX_DECIMAL = Decimal("999999999.999")  # DecimalField(max_digits=12, decimal_places=3)

# Accepted close_date layouts besides ISO 8601 (which datetime.fromisoformat reads).
_DATETIME_FORMATS = (
    "%m/%d/%Y %H:%M:%S",
    "%m/%d/%Y %H:%M",
    "%m/%d/%Y %I:%M:%S %p",
    "%m/%d/%Y %I:%M %p",
    "%m/%d/%Y",
    "%Y/%m/%d %H:%M:%S",
    "%Y/%m/%d %H:%M",
    "%Y/%m/%d",
)


@dataclass(frozen=True, slots=True)
class RowError:
    """A rejected row: where it is (1-based row number), which order it named, and why."""

    row_number: int
    transaction_id: str
    reason: str

    def __str__(self) -> str:
        where = f"row {self.row_number}" + (f" ({self.transaction_id})" if self.transaction_id else "")
        return f"{where}: {self.reason}"


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


class RowInvalid(ValueError):
    """One row cannot be imported; the message is the reason shown to the user.

    `problems` lists every problem of the row; `customer_id` is the row's customer when it
    could be read, so the caller can add an unknown customer to the row's problems.
    """

    def __init__(self, *problems: str, customer_id: int | None = None) -> None:
        super().__init__("; ".join(problems))
        self.problems = list(problems)
        self.customer_id = customer_id


@dataclass(slots=True)
class ParsedOrder:
    row_number: int
    transaction_id: str
    customer_id: int
    values: dict[str, Any]  # WRITTEN_FIELDS -> Python value
    lines: tuple[tuple[str, int], ...]  # (SKU as entered, quantity), one per normalised SKU


# --- parsing one row (pure) ---------------------------------------------------------------


def _is_empty(value: Any) -> bool:
    return value is None or (isinstance(value, str) and not value.strip())


def _text(name: str, value: Any, max_length: int) -> str:
    if value is None:
        return ""
    if isinstance(value, (dict, list, bool)):
        raise RowInvalid(f"{name} must be text")
    text = str(value).strip()
    if len(text) > max_length:
        raise RowInvalid(f"{name} is longer than {max_length} characters")
    if "\x00" in text:
        raise RowInvalid(f"{name} contains a NUL character")
    if not text.isascii() and not is_storable_text(text):
        raise RowInvalid(f"{name} is not valid Unicode text (a lone surrogate such as \\ud800)")
    return text


def is_storable_text(text: str) -> bool:
    """False for text a database cannot store: lone surrogates (undecodable bytes, bad JSON escapes)."""
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        return False
    return True


def _decimal(name: str, value: Any) -> Decimal:
    if _is_empty(value):
        return Decimal("0.000")
    if isinstance(value, bool) or not isinstance(value, (str, int, float, Decimal)):
        raise RowInvalid(f"{name} must be a number, got {value!r}")
    try:
        number = Decimal(str(value).strip().replace(",", ""))
    except InvalidOperation:
        raise RowInvalid(f"{name} must be a number, got {value!r}") from None
    if not number.is_finite():
        raise RowInvalid(f"{name} must be a finite number, got {value!r}")
    if number < 0:
        raise RowInvalid(f"{name} must not be negative, got {value!r}")
    if number > MAX_DECIMAL:  # checked before rounding: quantize() cannot represent 1e30 at 3 places
        raise RowInvalid(f"{name} is too large (at most {MAX_DECIMAL}): {value!r}")
    number = number.quantize(DECIMAL_PLACES, rounding=ROUND_HALF_UP)
    if number > MAX_DECIMAL:
        raise RowInvalid(f"{name} is too large (at most {MAX_DECIMAL}): {value!r}")
    return number


def _integer(name: str, value: Any) -> int:
    """A non-negative whole number; 5, "5", 5.0 and "5.0" are accepted, 5.5 and -1 are not."""
    if type(value) is str and value.isascii() and value.isdigit():  # the common case, without Decimal
        whole = int(value)
        if whole > MAX_INT:
            raise RowInvalid(f"{name} is too large: {value!r}")
        return whole
    if type(value) is int and 0 <= value <= MAX_INT:
        return value
    if isinstance(value, bool):
        raise RowInvalid(f"{name} must be a whole number, got {value!r}")
    number: Decimal
    if isinstance(value, int):
        number = Decimal(value)
    elif isinstance(value, (str, float, Decimal)):
        try:
            number = Decimal(str(value).strip())
        except InvalidOperation:
            raise RowInvalid(f"{name} must be a whole number, got {value!r}") from None
    else:
        raise RowInvalid(f"{name} must be a whole number, got {value!r}")
    if not number.is_finite():
        raise RowInvalid(f"{name} must be a whole number, got {value!r}")
    if number < 0:
        raise RowInvalid(f"{name} must not be negative, got {value!r}")
    if number > MAX_INT:  # before to_integral_value(), which cannot represent huge exponents
        raise RowInvalid(f"{name} is too large: {value!r}")
    if number != number.to_integral_value():
        raise RowInvalid(f"{name} must be a whole number, got {value!r}")
    return int(number)


def _optional_integer(name: str, value: Any) -> int | None:
    return None if _is_empty(value) else _integer(name, value)


def parse_close_date(value: Any, *, zone: dt.tzinfo | None = None) -> dt.datetime | None:
    """An aware datetime from ISO 8601 or a common export layout; naive values are in the billing zone."""
    if _is_empty(value):
        return None
    zone = zone or billing_time_zone()
    if isinstance(value, dt.datetime):
        parsed = value
    elif isinstance(value, dt.date):
        parsed = dt.datetime.combine(value, dt.time())
    elif isinstance(value, str):
        text = value.strip()
        try:
            parsed = dt.datetime.fromisoformat(text)
        except ValueError:
            for layout in _DATETIME_FORMATS:
                try:
                    parsed = dt.datetime.strptime(text, layout)  # naive: the zone is applied below
                    break
                except ValueError:
                    continue
            else:
                raise RowInvalid(f"close_date is not a date and time: {value!r}") from None
    else:
        raise RowInvalid(f"close_date is not a date and time: {value!r}")
    if timezone.is_naive(parsed):
        parsed = parsed.replace(tzinfo=zone)
    return parsed.astimezone(dt.UTC)


def parse_status(value: Any) -> str:
    """The status as given (trimmed, case kept): statuses are free text; billing.statuses says
    which are billable."""
    if value is None:
        return ""
    if not isinstance(value, str):
        raise RowInvalid(f"status must be text, got {value!r}")
    return _text("status", value, STATUS_MAX_LENGTH)


def parse_sku_quantity(value: Any) -> tuple[tuple[str, int], ...]:
    """SKU lines from JSON text or decoded data: [{"sku": ..., "quantity": ...}] or {sku: quantity}.

    SKUs are kept as entered (trimmed); spellings of one SKU (normalize_sku: "kit a1", "KIT-A1")
    are one line, under the first spelling, with their quantities summed. Lines whose total
    quantity is 0 are dropped.
    """
    if _is_empty(value):
        return ()
    data = value
    if isinstance(value, str):
        data = loads_json(value, "sku_quantity")
    if data is None:
        return ()
    if isinstance(data, Mapping):
        pairs = list(data.items())
    elif isinstance(data, list):
        pairs = []
        for index, item in enumerate(data):
            if not isinstance(item, Mapping) or "sku" not in item or "quantity" not in item:
                raise RowInvalid(f'sku_quantity[{index}] must be an object with "sku" and "quantity"')
            pairs.append((item["sku"], item["quantity"]))
    else:
        raise RowInvalid('sku_quantity must be a list of {"sku", "quantity"} objects or an object {sku: quantity}')
    totals: dict[str, list[Any]] = {}  # normalised SKU -> [first spelling, quantity]
    for raw_sku, raw_quantity in pairs:
        if not isinstance(raw_sku, (str, int)) or isinstance(raw_sku, bool):
            raise RowInvalid(f"sku_quantity has an invalid SKU {raw_sku!r}")
        sku = str(raw_sku).strip()
        if "\x00" in sku:
            raise RowInvalid(f"sku_quantity has a SKU with a NUL character: {raw_sku!r}")
        if not sku.isascii() and not is_storable_text(sku):
            raise RowInvalid(f"sku_quantity has a SKU that is not valid Unicode text: {raw_sku!r}")
        key = normalize_sku(sku)
        if not key:
            raise RowInvalid(f"sku_quantity has an empty SKU {raw_sku!r}")
        if len(sku) > 100:
            raise RowInvalid(f"sku_quantity has a SKU longer than 100 characters: {raw_sku!r}")
        quantity = _integer(f"quantity of SKU {raw_sku!r}", raw_quantity)
        entry = totals.setdefault(key, [sku, 0])
        entry[1] += quantity
    return tuple((sku, qty) for _, (sku, qty) in sorted(totals.items()) if qty > 0)


def loads_json(text: str, what: str) -> Any:
    """Decoded JSON, or RowInvalid naming `what` (invalid, or nested too deeply to decode)."""
    try:
        return json.loads(text)
    except json.JSONDecodeError as exc:
        raise RowInvalid(f"{what} is not valid JSON: {exc.msg} (column {exc.colno})") from None
    except RecursionError:
        raise RowInvalid(f"{what} is nested too deeply") from None


def _customer_id(value: Any) -> int:
    if _is_empty(value):
        raise RowInvalid("customer_id is required")
    try:
        return _integer("customer_id", value)
    except RowInvalid:
        raise RowInvalid(f"customer_id must be a customer's numeric id, got {value!r}") from None


def _transaction_id(value: Any, zone: dt.tzinfo) -> str:
    transaction_id = _text("transaction_id", value, 64)
    if not transaction_id:
        raise RowInvalid("transaction_id is required")
    return transaction_id


def _packages(value: Any, zone: dt.tzinfo) -> int:
    return 0 if _is_empty(value) else _integer("packages", value)


def _text_parser(name: str, max_length: int) -> Callable[[Any, dt.tzinfo], str]:
    return lambda value, zone: _text(name, value, max_length)


def _decimal_parser(name: str) -> Callable[[Any, dt.tzinfo], Decimal]:
    return lambda value, zone: _decimal(name, value)


def _optional_integer_parser(name: str) -> Callable[[Any, dt.tzinfo], int | None]:
    return lambda value, zone: _optional_integer(name, value)


# (column, parser(value, billing zone)), in the order a row's problems are listed.
_PARSERS: tuple[tuple[str, Callable[[Any, dt.tzinfo], Any]], ...] = (
    ("transaction_id", _transaction_id),
    ("customer_id", lambda value, zone: _customer_id(value)),
    ("status", lambda value, zone: parse_status(value)),
    ("close_date", lambda value, zone: parse_close_date(value, zone=zone)),
    *((name, _text_parser(name, max_length)) for name, max_length in _TEXT_LIMITS),
    *((name, _decimal_parser(name)) for name in DECIMAL_FIELDS),
    ("packages", _packages),
    ("line_items", _optional_integer_parser("line_items")),
    ("total_item_qty", _optional_integer_parser("total_item_qty")),
    ("sku_quantity", lambda value, zone: parse_sku_quantity(value)),
)


def parse_row(row: Mapping[str, Any], *, row_number: int, zone: dt.tzinfo | None = None) -> ParsedOrder:
    """Check and convert one export row; raises RowInvalid with every problem of the row.

    Only transaction_id and customer_id are required; a column left out is read as empty.
    """
    zone = zone or billing_time_zone()
    get = row.get
    values: dict[str, Any] = {}
    problems: list[str] = []
    for name, parse in _PARSERS:
        try:
            values[name] = parse(get(name), zone)
        except RowInvalid as exc:
            problems.append(str(exc))
    customer_id = values.pop("customer_id", None)
    if problems:
        raise RowInvalid(*problems, customer_id=customer_id)
    transaction_id = values.pop("transaction_id")
    lines = values.pop("sku_quantity")
    if values["line_items"] is None:
        values["line_items"] = len(lines)
    if values["total_item_qty"] is None:
        values["total_item_qty"] = sum(qty for _, qty in lines)
    return ParsedOrder(
        row_number=row_number, transaction_id=transaction_id, customer_id=customer_id, values=values, lines=lines
    )


# --- writing -------------------------------------------------------------------------------


def _numbered(rows: Iterable[Mapping[str, Any] | tuple[int, Mapping[str, Any]]]) -> Iterator[tuple[int, Any]]:
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
                cursor.execute(
                    "CREATE TEMPORARY TABLE billing_import_seen_ids "
                    "(transaction_id varchar(64) PRIMARY KEY, row_number bigint)"
                )
                self.spilled = True
                pairs = [*self.memory.items(), *pairs]
                self.memory = {}
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

    def __init__(self, *, actor: Actor, result: UpsertResult, create_customers: bool = False) -> None:
        self.result = result
        self.create_customers = create_customers
        self.zone = billing_time_zone()
        self.visible = visible_customer_ids(actor) if actor is not None else None
        self.known_customers: set[int] = set()
        self.unknown_customers: set[int] = set()
        self.seen = _SeenTransactionIds()  # across the whole import, used by write() only

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

    def prepare(self, chunk: list[tuple[int, Any]]) -> list[ParsedOrder]:
        """Parse and check a chunk; rejects its bad rows and returns the orders to write."""
        parsed: list[ParsedOrder] = []
        invalid: list[tuple[int, str, RowInvalid]] = []
        in_chunk: dict[str, int] = {}  # transaction_id -> row number (earlier chunks: write())
        for row_number, row in chunk:
            if not isinstance(row, Mapping):
                self.reject(row_number, "", "row is not an object of order fields")
                continue
            try:
                order = parse_row(row, row_number=row_number, zone=self.zone)
            except RowInvalid as exc:
                invalid.append((row_number, _transaction_id_of(row), exc))
                continue
            first = in_chunk.get(order.transaction_id)
            if first is not None:
                self.reject(row_number, order.transaction_id, _duplicate(first))
                continue
            in_chunk[order.transaction_id] = row_number
            parsed.append(order)
        if not parsed and not invalid:
            return []
        customer_ids = {order.customer_id for order in parsed}
        customer_ids.update(bad.customer_id for _, _, bad in invalid if bad.customer_id is not None)
        self._resolve_customers(customer_ids)
        # A row's problems are listed together, an unknown customer among them.
        for row_number, transaction_id, bad in invalid:
            problems = bad.problems
            if bad.customer_id is not None and not self.customer_allowed(bad.customer_id):
                problems = [f"unknown customer_id {bad.customer_id}", *problems]
            self.reject(row_number, transaction_id, "; ".join(problems))
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
        earlier = self.seen.first_rows([order.transaction_id for order in accepted])
        if earlier:
            for order in accepted:
                if order.transaction_id in earlier:
                    self.reject(order.row_number, order.transaction_id, _duplicate(earlier[order.transaction_id]))
            accepted = [order for order in accepted if order.transaction_id not in earlier]
        try:
            outcome = self._write(accepted)
        except IntegrityError:
            # Another import created some of these orders meanwhile: once more, now updating them.
            outcome = self._write(accepted)
        self.seen.add([(order.transaction_id, order.row_number) for order in accepted])
        self.result.created += outcome.created
        self.result.updated += outcome.updated
        self.result.unchanged += outcome.unchanged
        self.result.errors.extend(outcome.errors)

    @transaction.atomic
    def _write(self, orders: list[ParsedOrder]) -> UpsertResult:
        """Write one batch in one transaction; returns its counts (applied by the caller once committed)."""
        outcome = UpsertResult()
        if connection.vendor == "postgresql":
            # A batch is not worth a wait for the disk: once committed it is visible at once, and the
            # few batches a crash could lose are written again by importing the file again.
            with connection.cursor() as cursor:
                cursor.execute("SET LOCAL synchronous_commit TO OFF")
        existing = {
            order.transaction_id: order
            for order in Order.objects.select_for_update()
            .filter(_one_of(Order, "transaction_id", [o.transaction_id for o in orders]))
            .only("pk", "transaction_id", "customer_id", *WRITTEN_FIELDS)
        }
        stored_lines: dict[int, list[tuple[str, int]]] = {}
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
            changed = [name for name, value in parsed.values.items() if getattr(current, name) != value]
            lines_changed = sorted(stored_lines.get(current.pk, ())) != sorted(parsed.lines)
            if not changed and not lines_changed:
                outcome.unchanged += 1
                continue
            for name in changed:
                setattr(current, name, parsed.values[name])
            current.updated_at = now
            to_update.append(current)
            if lines_changed:
                replace_lines.append((current.pk, parsed))
            outcome.updated += 1

        created_ids = _insert_orders(to_create, now) if to_create else {}
        outcome.created = len(to_create)
        if to_update:
            Order.objects.bulk_update(to_update, [*WRITTEN_FIELDS, "updated_at"])
        if replace_lines:
            OrderLine.objects.filter(order_id__in=[order_id for order_id, _ in replace_lines]).delete()
        new_lines = [
            (order_id, sku, quantity)
            for order_id, parsed in (*((created_ids[p.transaction_id], p) for p in to_create), *replace_lines)
            for sku, quantity in parsed.lines
        ]
        if new_lines:
            _insert_lines(new_lines)
        return outcome


# Columns written when an order is created, in COPY order.
_CREATE_FIELDS = ("transaction_id", "customer", *WRITTEN_FIELDS, "created_at", "updated_at")
# PostgreSQL: the same columns in the order _order_copy_text writes them (text columns last).
_COPY_TEXT_FIELDS = ("transaction_id", "status", *TEXT_FIELDS)
_COPY_FIELDS = (
    "id",
    "customer",
    "close_date",
    *DECIMAL_FIELDS,
    *INT_FIELDS,
    "created_at",
    "updated_at",
    *_COPY_TEXT_FIELDS,
)
_COPY_NULL = "\\N"
# COPY text escapes; NUL (never in a stored text: parsing refuses it) separates the text columns
# while they are escaped together, and becomes the column separator in the same pass.
_COPY_ESCAPES = str.maketrans({"\\": "\\\\", "\t": "\\t", "\n": "\\n", "\r": "\\r", "\0": "\t"})


def _copy_texts(texts: str) -> str:
    """NUL-separated text columns as COPY text fields (escaped only when needed: nearly never)."""
    if "\\" in texts or "\t" in texts or "\n" in texts or "\r" in texts:
        return texts.translate(_COPY_ESCAPES)
    return texts.replace("\0", "\t")


def _order_copy_text(pk: int, parsed: ParsedOrder, stamp: str) -> str:
    """One order as a line of PostgreSQL's COPY text format, in _COPY_FIELDS order.

    Several times cheaper than psycopg's write_row, which adapts every value on its own.
    """
    values = parsed.values
    close_date = values["close_date"]
    texts = "\0".join((parsed.transaction_id, *(values[name] for name in _COPY_TEXT_FIELDS[1:])))
    return (
        f"{pk}\t{parsed.customer_id}\t{close_date.isoformat() if close_date is not None else _COPY_NULL}\t"
        f"{values['weight_lb']!s}\t{values['volume_cuft']!s}\t{values['packages']}\t{values['line_items']}\t"
        f"{values['total_item_qty']}\t{stamp}\t{stamp}\t{_copy_texts(texts)}\n"
    )


def _one_of(model: type[Order] | type[OrderLine], name: str, values: list[Any]) -> Q:
    """`name IN values`; on PostgreSQL `= ANY(array)`: one parameter, planned in no time whatever the
    batch size (an IN list of 1,000 parameters cost more to plan than to run)."""
    if connection.vendor != "postgresql":
        return Q(**{f"{name}__in": values})
    quote = connection.ops.quote_name
    column = f"{quote(model._meta.db_table)}.{quote(_column(model, name))}"
    # Only the quoted column name is formatted into the SQL; the values are one bound parameter.
    return Q(RawSQL(f"{column} = ANY(%s)", (values,), output_field=BooleanField()))  # noqa: S611


def _insert_orders(orders: list[ParsedOrder], now: dt.datetime) -> dict[str, int]:
    """Insert new orders; returns transaction_id -> id. PostgreSQL takes ids from the table's
    sequence first, then streams the rows with COPY (no lookup of the new ids afterwards)."""
    if connection.vendor == "postgresql":
        with connection.cursor() as cursor:
            cursor.execute(
                "SELECT nextval(pg_get_serial_sequence(%s, %s)) FROM generate_series(1, %s)",
                [Order._meta.db_table, _column(Order, "id"), len(orders)],
            )
            ids = [row[0] for row in cursor.fetchall()]
            stamp = now.isoformat()
            with cursor.cursor.copy(copy_statement(Order, _COPY_FIELDS)) as copy:
                copy.write("".join(_order_copy_text(pk, parsed, stamp) for pk, parsed in zip(ids, orders, strict=True)))
        return {parsed.transaction_id: pk for pk, parsed in zip(ids, orders, strict=True)}
    created = Order.objects.bulk_create(
        Order(transaction_id=parsed.transaction_id, customer_id=parsed.customer_id, **parsed.values)
        for parsed in orders
    )
    if any(order.pk is None for order in created):  # a database that cannot return ids from a bulk insert
        return dict(
            Order.objects.filter(transaction_id__in=[order.transaction_id for order in created]).values_list(
                "transaction_id", "pk"
            )
        )
    return {order.transaction_id: order.pk for order in created}


def _insert_lines(lines: list[tuple[int, str, int]]) -> None:
    if connection.vendor == "postgresql":
        with (
            connection.cursor() as cursor,
            cursor.cursor.copy(copy_statement(OrderLine, ("order", "quantity", "sku"))) as copy,
        ):
            copy.write("".join(f"{order_id}\t{quantity}\t{_copy_texts(sku)}\n" for order_id, sku, quantity in lines))
        return
    OrderLine.objects.bulk_create(
        OrderLine(order_id=order_id, sku=sku, quantity=quantity) for order_id, sku, quantity in lines
    )


def _pipelined(
    state: _Batch, chunks: Iterator[list[tuple[int, Any]]], on_progress: Callable[[int], None] | None
) -> None:
    """Parse the next batch while the previous one is written, by a thread with its own connection.

    PostgreSQL spends about as long storing a batch (COPY, index and constraint checks at commit)
    as Python spends parsing it; overlapping the two nearly halves an import. Used only outside
    a transaction: the writer's connection could not see what the caller's transaction wrote.
    At most three batches are in memory (one parsed, one queued, one being written).
    """
    work: queue.Queue[tuple[list[ParsedOrder], int] | None] = queue.Queue(maxsize=1)
    failures: list[BaseException] = []

    def writer() -> None:
        try:
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
    done = 0
    try:
        for chunk in chunks:
            accepted = state.prepare(chunk)
            done += len(chunk)
            work.put((accepted, done))
            if failures:
                break
    finally:
        work.put(None)
        thread.join()
    if failures:
        raise failures[0]


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


def orders_upsert(
    *,
    rows: Iterable[Mapping[str, Any] | tuple[int, Mapping[str, Any]]],
    actor: Actor = None,
    source: str = "api",
    on_progress: Callable[[int], None] | None = None,
    batch_size: int = DEFAULT_BATCH_SIZE,
    create_customers: bool = False,
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
    """
    if batch_size < 1:
        raise ValueError("batch_size must be at least 1")
    ensure_can_import_orders(actor, create_customers=create_customers)
    result = UpsertResult()
    state = _Batch(actor=actor, result=result, create_customers=create_customers)
    numbered = _numbered(rows)
    chunks = iter(lambda: list(islice(numbered, batch_size)), [])
    with _statements_unprepared():
        if connection.vendor == "postgresql" and not connection.in_atomic_block:
            _pipelined(state, chunks, on_progress)
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
