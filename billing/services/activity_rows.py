"""One row of billable activity, parsed and checked on its own (pure: no database access).

The four kinds (docs/activity-import-format.md): inventory snapshots, receipts, returns and
extra-work entries. Values may be text (CSV) or typed (JSON Lines, GraphQL), read by the same
field checks as orders (billing.services.order_rows), so a value an order import refuses is
refused here with the same reason. Writing is billing.services.activity.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from decimal import ROUND_HALF_UP, Decimal
from typing import Any

from billing.pricing import normalize_sku
from billing.services.order_rows import (
    RowInvalid,
    _customer_id,
    _decimal,
    _integer,
    _is_empty,
    _text,
    parse_close_date,
    parse_sku_quantity,
)

Parser = Callable[[Any, dt.tzinfo], Any]

SNAPSHOTS = "inventory_snapshots"
RECEIPTS = "receipts"
RETURNS = "returns"
EXTRA_WORK = "extra_work"
KINDS: tuple[str, ...] = (SNAPSHOTS, RECEIPTS, RETURNS, EXTRA_WORK)

REFERENCE_LENGTH = 100
MAX_MINUTES = Decimal("99999999.99")  # DecimalField(max_digits=10, decimal_places=2)
MINUTE_PLACES = Decimal("0.01")

_DATE_FORMATS = ("%m/%d/%Y", "%Y/%m/%d")


@dataclass(slots=True)
class ParsedActivity:
    """A checked row: its customer, natural key (besides the customer), values and SKU lines."""

    row_number: int
    customer_id: int
    key: tuple[Any, ...]
    label: str  # how rejected rows name it: the reference, or a snapshot's date, SKU and location
    values: dict[str, Any]
    lines: tuple[tuple[str, str, int], ...]  # (SKU as entered, normalised SKU, quantity)


@dataclass(frozen=True, slots=True)
class RowSpec:
    """The columns of one kind, how each is read, and how a checked row is keyed."""

    kind: str
    required: tuple[str, ...]  # the columns a CSV header must have
    parsers: tuple[tuple[str, Parser], ...]  # in the order a row's problems are listed
    key_fields: tuple[str, ...]  # natural key besides the customer
    has_lines: bool = False

    @property
    def fields(self) -> tuple[str, ...]:
        """Every column, in documented order."""
        return tuple(name for name, _ in self.parsers)

    def parse(self, row: Mapping[str, Any], *, row_number: int, zone: dt.tzinfo) -> ParsedActivity:
        """Check and convert one row; raises RowInvalid with every problem of the row."""
        values: dict[str, Any] = {}
        problems: list[str] = []
        for name, parse in self.parsers:
            try:
                values[name] = parse(row.get(name), zone)
            except RowInvalid as exc:
                problems.append(str(exc))
        customer_id = values.pop("customer_id", None)
        if problems:
            raise RowInvalid(*problems, customer_id=customer_id)
        lines: tuple[tuple[str, str, int], ...] = ()
        if self.has_lines:
            lines = tuple((sku, normalize_sku(sku), quantity) for sku, quantity in values.pop("sku_quantity"))
            if values["units"] is None:
                values["units"] = sum(quantity for _, _, quantity in lines)
        if "sku" in values:
            values["sku_key"] = normalize_sku(values["sku"])
        key = tuple(values[name] for name in self.key_fields)
        return ParsedActivity(row_number, customer_id, key, self.label_of(values), values, lines)

    def label_of(self, values: Mapping[str, Any]) -> str:
        if self.kind == SNAPSHOTS:
            where = f" @ {values['location']}" if values.get("location") else ""
            return f"{values.get('snapshot_date', '')} {values.get('sku', '')}{where}".strip()
        return str(values.get("reference") or "")

    def label_of_row(self, row: Any) -> str:
        """A rejected row's name as given ("" when unreadable)."""
        if not isinstance(row, Mapping):
            return ""
        names = ("snapshot_date", "sku", "location") if self.kind == SNAPSHOTS else ("reference",)
        parts = [row.get(name) for name in names]
        texts = [str(part).strip() for part in parts if isinstance(part, (str, int, dt.date)) and str(part).strip()]
        if self.kind == SNAPSHOTS and len(texts) == 3:
            texts[2] = f"@ {texts[2]}"
        return " ".join(texts).replace("\x00", "\\x00")[:REFERENCE_LENGTH]


# --- field readers ------------------------------------------------------------------------


def parse_date(name: str, value: Any) -> dt.date:
    """A calendar date: ISO 8601 (a time part is ignored) or 08/03/2026 or 2026/08/03; required."""
    if _is_empty(value):
        raise RowInvalid(f"{name} is required")
    if isinstance(value, dt.datetime):
        return value.date()
    if isinstance(value, dt.date):
        return value
    if isinstance(value, str):
        text = value.strip()
        try:
            return dt.date.fromisoformat(text)
        except ValueError:
            pass
        try:
            return dt.datetime.fromisoformat(text).date()
        except ValueError:
            pass
        for layout in _DATE_FORMATS:
            try:
                return dt.datetime.strptime(text, layout).date()
            except ValueError:
                continue
    raise RowInvalid(f"{name} is not a date: {value!r}")


def parse_moment(name: str, value: Any, zone: dt.tzinfo) -> dt.datetime:
    """A required date and time, read as an order's close date (naive values in the billing zone)."""
    if _is_empty(value):
        raise RowInvalid(f"{name} is required")
    try:
        moment = parse_close_date(value, zone=zone)
    except RowInvalid:
        raise RowInvalid(f"{name} is not a date and time: {value!r}") from None
    assert moment is not None  # not empty
    return moment


def _required_text(name: str, max_length: int) -> Parser:
    def parse(value: Any, zone: dt.tzinfo) -> str:
        text = _text(name, value, max_length)
        if not text:
            raise RowInvalid(f"{name} is required")
        return text

    return parse


def _optional_text(name: str, max_length: int = 1_000_000) -> Parser:
    return lambda value, zone: _text(name, value, max_length)


def _sku(value: Any, zone: dt.tzinfo) -> str:
    sku = _required_text("sku", 100)(value, zone)
    if not normalize_sku(sku):
        raise RowInvalid(f"sku has no letters or digits: {value!r}")
    return sku


def _count(name: str, *, required: bool = False) -> Parser:
    def parse(value: Any, zone: dt.tzinfo) -> int:
        if _is_empty(value):
            if required:
                raise RowInvalid(f"{name} is required")
            return 0
        return _integer(name, value)

    return parse


def _units(value: Any, zone: dt.tzinfo) -> int | None:
    return None if _is_empty(value) else _integer("units", value)


def _amount(name: str) -> Parser:
    return lambda value, zone: _decimal(name, value)


def _positive_amount(name: str) -> Parser:
    def parse(value: Any, zone: dt.tzinfo) -> Decimal:
        if _is_empty(value):
            raise RowInvalid(f"{name} is required")
        number = _decimal(name, value)
        if number <= 0:
            raise RowInvalid(f"{name} must be greater than 0, got {str(value).strip()!r}")
        return number

    return parse


def _minutes(value: Any, zone: dt.tzinfo) -> Decimal:
    """Labour minutes: a decimal >= 0 at 2 places (rounded half up), 0 when empty."""
    _decimal("labour_minutes", value)  # the same refusals as every decimal column
    if _is_empty(value):
        return Decimal("0.00")
    number = Decimal(str(value).strip().replace(",", ""))
    if number > MAX_MINUTES:
        raise RowInvalid(f"labour_minutes is too large (at most {MAX_MINUTES}): {value!r}")
    return number.quantize(MINUTE_PLACES, rounding=ROUND_HALF_UP)


def _date(name: str) -> Parser:
    return lambda value, zone: parse_date(name, value)


def _moment(name: str) -> Parser:
    return lambda value, zone: parse_moment(name, value, zone)


_CUSTOMER: tuple[str, Parser] = ("customer_id", lambda value, zone: _customer_id(value))
_REFERENCE: tuple[str, Parser] = ("reference", _required_text("reference", REFERENCE_LENGTH))
_LINES: tuple[str, Parser] = ("sku_quantity", lambda value, zone: parse_sku_quantity(value))
_NOTES: tuple[str, Parser] = ("notes", _optional_text("notes"))


def _received_spec(kind: str, *own: tuple[str, Parser]) -> RowSpec:
    """Receipts and returns: customer, reference and received_at, their own columns, notes and SKU lines."""
    return RowSpec(
        kind=kind,
        required=("customer_id", "reference", "received_at"),
        parsers=(_CUSTOMER, _REFERENCE, ("received_at", _moment("received_at")), *own, _NOTES, _LINES),
        key_fields=("reference",),
        has_lines=True,
    )


SPECS: dict[str, RowSpec] = {
    SNAPSHOTS: RowSpec(
        kind=SNAPSHOTS,
        required=("customer_id", "snapshot_date", "sku", "quantity"),
        parsers=(
            _CUSTOMER,
            ("snapshot_date", _date("snapshot_date")),
            ("sku", _sku),
            ("location", _optional_text("location", 100)),
            ("quantity", _count("quantity", required=True)),
            ("pallets", _amount("pallets")),
            ("cubic_feet", _amount("cubic_feet")),
        ),
        key_fields=("snapshot_date", "sku_key", "location"),
    ),
    RECEIPTS: _received_spec(
        RECEIPTS,
        ("pallets", _count("pallets")),
        ("cartons", _count("cartons")),
        ("units", _units),
        ("labour_minutes", _minutes),
    ),
    RETURNS: _received_spec(
        RETURNS,
        ("original_order_reference", _optional_text("original_order_reference", REFERENCE_LENGTH)),
        ("units", _units),
    ),
    EXTRA_WORK: RowSpec(
        kind=EXTRA_WORK,
        required=("customer_id", "reference", "work_date", "service", "quantity"),
        parsers=(
            _CUSTOMER,
            _REFERENCE,
            ("work_date", _date("work_date")),
            ("service", _required_text("service", 255)),
            ("quantity", _positive_amount("quantity")),
            ("description", _optional_text("description")),
        ),
        key_fields=("reference",),
    ),
}
