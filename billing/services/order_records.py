"""A CSV file's records parsed by one parser built for its header (pure: no database access).

billing.services.order_rows checks one row given as a mapping; a CSV import reads many records
of the same columns, so RecordParser works out once where each column sits, reads the values
as the CSV reader gives them (no mapping per row), and takes a fast path for values that are
already clean, falling back on order_rows' checks for anything else.
"""

from __future__ import annotations

import datetime as dt
import json
from collections.abc import Sequence
from decimal import ROUND_HALF_UP, Decimal
from operator import itemgetter
from typing import Any, Literal

from billing.models import STATUS_MAX_LENGTH
from billing.periods import billing_time_zone
from billing.pricing import normalize_sku
from billing.services.order_rows import (
    DECIMAL_FIELDS,
    DECIMAL_PLACES,
    INT_FIELDS,
    MAX_DECIMAL,
    MAX_INT,
    ORDER_FIELDS,
    SHORT_DIGITS,
    TEXT_FIELDS,
    TEXT_LIMITS,
    ParsedOrder,
    is_storable_text,
    parse_fields,
)

_ZERO = Decimal("0.000")
_STRIP = str.strip


class RecordParser:
    """Parses the records of one text file (CSV: every value a str) whose columns are its header.

    Built once per file: where each column sits is worked out here, not for every row. A record
    is a sequence of values in header order (a column named twice counts by its last place, as
    in a mapping). Each record first takes a fast path that accepts only already-clean values
    (digits, ISO dates, ASCII text within its limit, a JSON list of {"sku": str, "quantity": int});
    anything else, valid or not, goes through the full checks of parse_row, which give the
    result and every message. The fast path never accepts what the full checks refuse, nor
    reads a value differently (tests/billing/services/test_order_records.py).

    Decimal columns keep a bounded memo of the values already read (weights repeat).
    """

    MEMO_LIMIT = 4096

    def __init__(self, columns: Sequence[str], *, zone: dt.tzinfo | None = None) -> None:
        self.zone = zone or billing_time_zone()
        self.columns = tuple(columns)
        where = {name: index for index, name in enumerate(self.columns)}
        missing = len(self.columns)  # a column left out reads the "" appended to the record
        self._complete = all(name in where for name in ORDER_FIELDS)
        self._index = {name: where.get(name, missing) for name in ORDER_FIELDS}
        self._present = {name: where[name] for name in ORDER_FIELDS if name in where}
        self._texts = itemgetter(*(self._index[name] for name in ("status", *TEXT_FIELDS)))
        self._limits = (STATUS_MAX_LENGTH, *(limit for _, limit in TEXT_LIMITS))
        self._names = ("status", *TEXT_FIELDS)
        self._decimals: tuple[dict[str, Decimal], ...] = tuple({} for _ in DECIMAL_FIELDS)

    def transaction_id_of(self, record: Sequence[Any]) -> str:
        """The record's transaction id as given (for a rejected row's message), "" when unreadable."""
        index = self._present.get("transaction_id")
        value = record[index] if index is not None and index < len(record) else None
        return value.strip()[:64] if isinstance(value, str) else ""

    def parse(self, record: Sequence[Any], row_number: int) -> ParsedOrder:
        """The record as an order; raises RowInvalid with every problem of the row (as parse_row)."""
        try:
            parsed = self._fast(record if self._complete else [*record, ""], row_number)
        except (TypeError, AttributeError, IndexError):  # not all text: the full checks say why
            parsed = None
        if parsed is not None:
            return parsed
        present = self._present

        def get(name: str) -> Any:
            index = present.get(name)
            return None if index is None or index >= len(record) else record[index]

        return parse_fields(get, row_number, self.zone)

    def _fast(self, record: Sequence[Any], row_number: int) -> ParsedOrder | None:
        """The order when every value is already clean, else None (then the full checks decide)."""
        index = self._index
        transaction_id = record[index["transaction_id"]].strip()
        if not transaction_id or len(transaction_id) > 64:
            return None
        customer = record[index["customer_id"]]
        if not (customer.isascii() and customer.isdigit() and len(customer) <= SHORT_DIGITS):
            return None
        customer_id = int(customer)
        texts = list(map(_STRIP, self._texts(record)))
        if any(map(int.__gt__, map(len, texts), self._limits)):
            return None
        joined = "".join(texts) + transaction_id
        if "\x00" in joined or (not joined.isascii() and not is_storable_text(joined)):
            return None
        if customer_id > MAX_INT:
            return None
        close_date = self._close_date(record[index["close_date"]])
        if close_date is False:
            return None
        values: dict[str, Any] = dict(zip(self._names, texts, strict=True))
        values["close_date"] = close_date
        for name, memo in zip(DECIMAL_FIELDS, self._decimals, strict=True):
            raw = record[index[name]]
            number = memo.get(raw)
            if number is None:
                if not raw.strip():
                    number = _ZERO
                elif raw.isascii() and raw.replace(".", "", 1).isdigit():  # digits, at most one point
                    number = Decimal(raw)
                    if number > MAX_DECIMAL:
                        return None
                    number = number.quantize(DECIMAL_PLACES, rounding=ROUND_HALF_UP)
                    if number > MAX_DECIMAL:
                        return None
                    if len(memo) >= self.MEMO_LIMIT:
                        memo.clear()
                    memo[raw] = number
                else:
                    return None
            values[name] = number
        counts: list[int | None] = []
        for name in INT_FIELDS:
            raw = record[index[name]]
            if raw.isascii() and raw.isdigit() and len(raw) <= SHORT_DIGITS:
                whole = int(raw)
                if whole > MAX_INT:
                    return None
                counts.append(whole)
            elif not raw.strip():
                counts.append(0 if name == "packages" else None)
            else:
                return None
        lines = _fast_lines(record[index["sku_quantity"]])
        if lines is None:
            return None
        packages, line_items, total_item_qty = counts
        values["packages"] = packages
        values["line_items"] = len(lines) if line_items is None else line_items
        values["total_item_qty"] = sum(qty for _, qty in lines) if total_item_qty is None else total_item_qty
        return ParsedOrder(
            row_number=row_number, transaction_id=transaction_id, customer_id=customer_id, values=values, lines=lines
        )

    def _close_date(self, raw: str) -> dt.datetime | Literal[False] | None:
        """An ISO 8601 close date (None when empty), or False for anything else."""
        text = raw.strip()
        if not text:
            return None
        try:
            parsed = dt.datetime.fromisoformat(text)
        except ValueError:
            return False
        if parsed.utcoffset() is None:
            parsed = parsed.replace(tzinfo=self.zone)
        return parsed.astimezone(dt.UTC)


def _fast_lines(raw: str) -> tuple[tuple[str, int], ...] | None:
    """parse_sku_quantity for a JSON list of {"sku": ASCII text, "quantity": int}; None for anything else."""
    if not raw.strip():
        return ()
    try:
        data = json.loads(raw)
    except (ValueError, RecursionError):
        return None
    if type(data) is not list:
        return None
    totals: dict[str, list[Any]] = {}  # normalised SKU -> [first spelling, quantity]
    for item in data:
        if type(item) is not dict:
            return None
        sku = item.get("sku")
        quantity = item.get("quantity")
        if type(sku) is not str or type(quantity) is not int or not 0 <= quantity <= MAX_INT:
            return None
        sku = sku.strip()
        if len(sku) > 100 or not sku.isascii() or "\x00" in sku:
            return None
        key = normalize_sku(sku)
        if not key:
            return None
        entry = totals.get(key)
        if entry is None:
            totals[key] = [sku, quantity]
        else:
            entry[1] += quantity
    return tuple((sku, qty) for _, (sku, qty) in sorted(totals.items()) if qty > 0)
