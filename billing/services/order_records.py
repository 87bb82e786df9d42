"""A CSV file's records parsed by one parser built for its header (pure: no database access).

billing.services.order_rows checks one row given as a mapping; a CSV import reads many records
of the same columns, so RecordParser works out once where each column sits, reads the values
as the CSV reader gives them (no mapping per row), and takes a fast path for values that are
already clean, falling back on order_rows' checks for anything else. The import hands it a
batch at a time (parse_clean): the fast path's checks then run a column at a time.
"""

from __future__ import annotations

import datetime as dt
import json
from collections.abc import Sequence
from decimal import ROUND_HALF_UP, Decimal
from itertools import chain
from operator import itemgetter
from typing import Any, Literal

from billing.db_copy import COPY_NULL, copy_text
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
_decode = json.JSONDecoder().decode  # json.loads without its argument checks
# The columns _fast reads one by one, in the order it unpacks them; the text columns are read together.
_CORE_FIELDS = (
    "transaction_id",
    "customer_id",
    "close_date",
    *DECIMAL_FIELDS,
    *INT_FIELDS,
    "sku_quantity",
)
# WRITTEN_FIELDS in the order _fast gives their values.
_WRITTEN = ("close_date", "status", *TEXT_FIELDS, *DECIMAL_FIELDS, *INT_FIELDS)


class RecordParser:
    """Parses the records of one text file (CSV: every value a str) whose columns are its header.

    Built once per file: where each column sits is worked out here, not for every row. A record
    is a sequence of values in header order (a column named twice counts by its last place, as
    in a mapping). Each record first takes a fast path that accepts only already-clean values
    (digits, ISO dates, ASCII text within its limit, a JSON list of {"sku": str, "quantity": int});
    anything else, valid or not, goes through the full checks of parse_row, which give the
    result and every message. The fast path never accepts what the full checks refuse, nor
    reads a value differently (tests/billing/services/test_order_records.py). parse_clean is
    the same fast path for a batch of records, column by column, and also makes each order's
    COPY text.

    Decimal columns and SKUs keep a bounded memo of the values already read (weights and SKUs repeat).
    """

    MEMO_LIMIT = 16384  # a few MiB at most per memo; weights of 0.01 lb steps up to 160 lb stay read once

    def __init__(self, columns: Sequence[str], *, zone: dt.tzinfo | None = None) -> None:
        self.zone = zone or billing_time_zone()
        self.columns = tuple(columns)
        where = {name: index for index, name in enumerate(self.columns)}
        missing = len(self.columns)  # a column left out reads the "" appended to the record
        self._complete = all(name in where for name in ORDER_FIELDS)
        self._index = {name: where.get(name, missing) for name in ORDER_FIELDS}
        self._present = {name: where[name] for name in ORDER_FIELDS if name in where}
        self._core = itemgetter(*(self._index[name] for name in _CORE_FIELDS))
        self._texts = itemgetter(*(self._index[name] for name in ("status", *TEXT_FIELDS)))
        self._limits = (STATUS_MAX_LENGTH, *(limit for _, limit in TEXT_LIMITS))
        self._decimals: tuple[dict[str, Decimal], dict[str, Decimal]] = ({}, {})  # weight_lb, volume_cuft
        self._skus: dict[str, tuple[str, str]] = {}  # SKU as given -> (as stored, as compared)

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

    def parse_clean(
        self, records: Sequence[tuple[int, Sequence[Any]]], *, values: bool = True
    ) -> list[ParsedOrder | None]:
        """The fast path for many (row number, record) pairs at once, column by column.

        Gives for each record what _fast gives (its order, or None when the fast path does not
        take it: parse() then decides), with the checks of every value of a column made by one
        call where the rule allows (digits of a whole column in one isdigit(), lengths by max()).
        Records that are not all text, or not as wide as the header, are all left to parse().
        With `values` False the orders carry only their COPY text (`values` empty: the writer
        decodes them from it when it needs them, billing.services.order_writes.values_of).
        """
        count = len(records)
        if not count:
            return []
        rows = [record for _, record in records]
        try:
            if set(map(len, rows)) != {len(self.columns)}:
                return [None] * count
            columns = list(zip(*rows, strict=True))
            # Every value of the records: TypeError unless all are text. A NUL, a character that
            # is not ASCII or one COPY escapes in none of them (nearly always) need no search per value.
            everything = "".join(chain.from_iterable(columns))
        except TypeError:
            return [None] * count
        columns.append(("",) * count)  # where a column left out reads
        index = self._index
        bad: set[int] = set()

        transaction_ids = list(map(_STRIP, columns[index["transaction_id"]]))
        if not (min(map(len, transaction_ids)) and max(map(len, transaction_ids)) <= 64):
            bad.update(at for at, value in enumerate(transaction_ids) if not 0 < len(value) <= 64)
        customers = self._integers(columns[index["customer_id"]], bad, empty=None)
        if None in customers:  # required
            bad.update(at for at, value in enumerate(customers) if value is None)
        texts = [list(map(_STRIP, columns[index[name]])) for name in ("status", *TEXT_FIELDS)]
        for column, limit in zip(texts, self._limits, strict=True):
            if max(map(len, column)) > limit:
                bad.update(at for at, value in enumerate(column) if len(value) > limit)
        if "\x00" in everything or (not everything.isascii() and not is_storable_text(everything)):
            for at, row_texts in enumerate(zip(transaction_ids, *texts, strict=True)):
                text = "".join(row_texts)
                if "\x00" in text or (not text.isascii() and not is_storable_text(text)):
                    bad.add(at)
        close_dates = list(map(self._close_date, columns[index["close_date"]]))
        if False in close_dates:
            bad.update(at for at, value in enumerate(close_dates) if value is False)
        numbers = []
        for name, memo in zip(DECIMAL_FIELDS, self._decimals, strict=True):
            given = columns[index[name]]
            read = list(map(memo.get, given))
            if None in read:
                for at, value in enumerate(read):
                    if value is None:
                        value = read[at] = self._decimal(given[at], memo)
                        if value is None:
                            bad.add(at)
            numbers.append(read)
        lines = list(map(self._lines, columns[index["sku_quantity"]]))
        if None in lines:
            bad.update(at for at, value in enumerate(lines) if value is None)
        packages = self._integers(columns[index["packages"]], bad, empty=0)
        line_items = self._integers(columns[index["line_items"]], bad, empty=None)
        totals = self._integers(columns[index["total_item_qty"]], bad, empty=None)
        if None in line_items:
            line_items = [
                len(got) if given is None and got is not None else given
                for given, got in zip(line_items, lines, strict=True)
            ]
        if None in totals:
            totals = [
                sum(quantity for _, quantity in got) if given is None and got is not None else given
                for given, got in zip(totals, lines, strict=True)
            ]
        row_values = zip(close_dates, *texts, *numbers, packages, line_items, totals, strict=True)
        # Each order's COPY text from customer_id on, as billing.services.order_writes.order_copy_body
        # writes it from the values, made here a column at a time.
        copy_texts: list[Sequence[str]] = [transaction_ids, *texts]
        if "\\" in everything or "\t" in everything or "\n" in everything or "\r" in everything:
            copy_texts = [list(map(copy_text, column)) for column in copy_texts]
        copies = map(
            "\t".join,
            zip(
                map(str, customers),
                [close_date.isoformat() if close_date else COPY_NULL for close_date in close_dates],
                *(map(str, column) for column in (*numbers, packages, line_items, totals)),
                *copy_texts,
                strict=True,
            ),
        )
        orders: list[ParsedOrder | None]
        if values:
            orders = [
                ParsedOrder(row_number, transaction_id, customer, dict(zip(_WRITTEN, row, strict=True)), got or (), cp)
                for (row_number, _), transaction_id, customer, row, got, cp in zip(
                    records, transaction_ids, customers, row_values, lines, copies, strict=True
                )
            ]
        else:
            orders = [
                ParsedOrder(row_number, transaction_id, customer, {}, got or (), copy)
                for (row_number, _), transaction_id, customer, got, copy in zip(
                    records, transaction_ids, customers, lines, copies, strict=True
                )
            ]
        for at in bad:
            orders[at] = None
        return orders

    @staticmethod
    def _integers(column: Sequence[str], bad: set[int], *, empty: int | None) -> list[Any]:
        """A column of whole numbers (digits, at most MAX_INT); `empty` for an empty value; rows
        holding anything else are added to `bad` (their value is then None)."""
        joined = "".join(column)
        if joined.isdigit() and joined.isascii() and all(column) and max(map(len, column)) <= SHORT_DIGITS:
            numbers: list[Any] = list(map(int, column))
            if max(numbers) > MAX_INT:
                bad.update(at for at, number in enumerate(numbers) if number > MAX_INT)
            return numbers
        numbers = []
        for at, value in enumerate(column):
            if value.isdigit() and value.isascii() and len(value) <= SHORT_DIGITS:
                number = int(value)
                if number > MAX_INT:
                    bad.add(at)
                numbers.append(number)
            elif not value.strip():
                numbers.append(empty)
            else:
                numbers.append(None)
                bad.add(at)
        return numbers

    def _fast(self, record: Sequence[Any], row_number: int) -> ParsedOrder | None:
        """The order when every value is already clean, else None (then the full checks decide)."""
        raw_id, customer, raw_close, raw_weight, raw_volume, packages, line_items, total, raw_lines = self._core(record)
        transaction_id = raw_id.strip()
        if not 0 < len(transaction_id) <= 64 or not (
            customer.isdigit() and customer.isascii() and len(customer) <= SHORT_DIGITS
        ):
            return None
        texts = tuple(map(_STRIP, self._texts(record)))
        if any(map(int.__gt__, map(len, texts), self._limits)):
            return None
        joined = "".join(texts) + transaction_id
        if "\x00" in joined or (not joined.isascii() and not is_storable_text(joined)):
            return None
        customer_id = int(customer)
        if customer_id > MAX_INT:
            return None
        close_date = self._close_date(raw_close)
        if close_date is False:
            return None
        weights, volumes = self._decimals
        weight = weights.get(raw_weight)
        if weight is None:
            weight = self._decimal(raw_weight, weights)
            if weight is None:
                return None
        volume = volumes.get(raw_volume)
        if volume is None:
            volume = self._decimal(raw_volume, volumes)
            if volume is None:
                return None
        lines = self._lines(raw_lines)
        if lines is None:
            return None
        # packages, line_items, total_item_qty: digits (at most MAX_INT) or empty
        if packages.isdigit() and packages.isascii() and len(packages) <= SHORT_DIGITS:
            packages_count = int(packages)
        elif not packages.strip():
            packages_count = 0
        else:
            return None
        if line_items.isdigit() and line_items.isascii() and len(line_items) <= SHORT_DIGITS:
            line_count = int(line_items)
        elif not line_items.strip():
            line_count = len(lines)
        else:
            return None
        if total.isdigit() and total.isascii() and len(total) <= SHORT_DIGITS:
            total_count = int(total)
        elif not total.strip():
            total_count = sum(quantity for _, quantity in lines)
        else:
            return None
        if packages_count > MAX_INT or line_count > MAX_INT or total_count > MAX_INT:
            return None
        values = dict(
            zip(_WRITTEN, (close_date, *texts, weight, volume, packages_count, line_count, total_count), strict=True)
        )
        return ParsedOrder(row_number, transaction_id, customer_id, values, lines)

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

    def _decimal(self, raw: str, memo: dict[str, Decimal]) -> Decimal | None:
        """A decimal column's value (0 when empty), or None unless it is plain digits with at most one point."""
        if not raw.strip():
            return _ZERO
        if not (raw.isascii() and raw.replace(".", "", 1).isdigit()):
            return None
        number = Decimal(raw)
        if number > MAX_DECIMAL:
            return None
        number = number.quantize(DECIMAL_PLACES, rounding=ROUND_HALF_UP)
        if number > MAX_DECIMAL:
            return None
        if len(memo) >= self.MEMO_LIMIT:
            memo.clear()
        memo[raw] = number
        return number

    def _lines(self, raw: str) -> tuple[tuple[str, int], ...] | None:
        """parse_sku_quantity for a JSON list of {"sku": ASCII text, "quantity": int}; None for anything else."""
        if not raw or raw.isspace():
            return ()
        try:
            data = _decode(raw)
        except (ValueError, RecursionError):
            return None
        if type(data) is not list:
            return None
        skus = self._skus
        totals: dict[str, tuple[str, int]] = {}  # normalised SKU -> (first spelling, quantity)
        zero = False
        for item in data:
            if type(item) is not dict:
                return None
            sku, quantity = item.get("sku"), item.get("quantity")
            if type(sku) is not str or type(quantity) is not int or not 0 <= quantity <= MAX_INT:
                return None
            known = skus.get(sku) or self._sku(sku)
            if known is None:
                return None
            key = known[1]
            entry = totals.get(key)
            totals[key] = (known[0], quantity) if entry is None else (entry[0], entry[1] + quantity)
            zero = zero or not quantity
        lines = tuple(map(totals.__getitem__, sorted(totals)))
        return tuple(line for line in lines if line[1]) if zero else lines

    def _sku(self, raw: str) -> tuple[str, str] | None:
        """A SKU as stored and as compared (normalize_sku), remembered; None unless it is clean ASCII."""
        sku = raw.strip()
        if len(sku) > 100 or not sku.isascii() or "\x00" in sku:
            return None
        key = normalize_sku(sku)
        if not key:
            return None
        if len(self._skus) >= self.MEMO_LIMIT:
            self._skus.clear()
        self._skus[raw] = (sku, key)
        return sku, key
