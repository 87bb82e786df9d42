"""One row of the orders export, parsed and checked on its own (pure: no database access).

The fields of the LedgerLink orders export (docs/import-orders-format.md), how each is read from
text (CSV) or typed values (JSON Lines, GraphQL), and the reasons a row is refused. A CSV file's
records are read by billing.services.order_records, which falls back on these checks; the
import itself (batches, writing) is billing.services.orders.
"""

from __future__ import annotations

import datetime as dt
import json
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from decimal import ROUND_HALF_UP, Decimal, InvalidOperation
from typing import Any

from django.db.models import Field
from django.utils import timezone

from billing.models import STATUS_MAX_LENGTH, Order, OrderLine
from billing.periods import billing_time_zone
from billing.pricing import normalize_sku

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


TEXT_LIMITS = tuple((name, _concrete_field(Order, name).max_length or 1_000_000) for name in TEXT_FIELDS)

DEFAULT_BATCH_SIZE = 5000
MAX_INT = 2_147_483_647  # PositiveIntegerField's upper bound on every backend
SHORT_DIGITS = 18  # digit strings read with int(): well beyond MAX_INT, far below int()'s limit
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
    # The order's COPY text from customer_id on, when the parser made it (order_writes.order_copy_body)
    copy: str | None = None


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
    # The common case, without Decimal (which reads the longer ones: int() refuses over 4,300 digits).
    if type(value) is str and value.isascii() and value.isdigit() and len(value) <= SHORT_DIGITS:
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
    except ValueError:  # an integer longer than Python converts (sys.get_int_max_str_digits)
        raise RowInvalid(f"{what} holds a number with too many digits") from None


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
    *((name, _text_parser(name, max_length)) for name, max_length in TEXT_LIMITS),
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
    return parse_fields(row.get, row_number, zone or billing_time_zone())


def parse_fields(get: Callable[[str], Any], row_number: int, zone: dt.tzinfo) -> ParsedOrder:
    """The full checks of every field, as parse_row (`get(column)` is a field's value, None when left out)."""
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
