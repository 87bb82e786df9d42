"""Reading import files so that one bad byte costs one row, not the whole file.

Files are decoded as UTF-8 with errors="surrogateescape": a byte that is not UTF-8 becomes a
lone surrogate character instead of an exception, so the importers can refuse the row that
holds it (undecodable) and import the rows around it.
"""

from __future__ import annotations

import csv
import io
import sys
from collections.abc import Collection, Iterator, Sequence
from pathlib import Path
from typing import Any, TextIO

from django.core.management.base import CommandError

from billing.services.order_rows import RowError, RowInvalid, loads_json


def open_text(path: Path) -> TextIO:
    """`path` for csv or line reading: UTF-8 (a byte-order mark is skipped), bad bytes kept."""
    return path.open(newline="", encoding="utf-8-sig", errors="surrogateescape")


def stdin_text() -> TextIO:
    """Standard input, decoded like open_text."""
    return io.TextIOWrapper(sys.stdin.buffer, encoding="utf-8-sig", errors="surrogateescape", newline="")


def undecodable(text: str) -> str:
    """ "" when `text` is valid UTF-8 text, else a description of its first bad byte ("byte 0xff")."""
    try:
        text.encode("utf-8")
    except UnicodeEncodeError as exc:
        code = ord(text[exc.start]) - 0xDC00
        return f"byte 0x{code:02x}" if 0x80 <= code <= 0xFF else "a character that cannot be stored"
    return ""


def printable(text: str) -> str:
    """`text` with its undecodable bytes shown as \\xNN (for a message naming a row)."""
    try:
        return text.encode("utf-8", "surrogateescape").decode("utf-8", "backslashreplace")
    except UnicodeEncodeError:  # a surrogate that no byte became (e.g. from a JSON escape)
        return text.encode("utf-8", "backslashreplace").decode("ascii")


def csv_rows(
    reader: Any, columns: list[str], *, key: str, errors: list[RowError], keep: Collection[str] | None = None
) -> Iterator[tuple[int, dict[str, str]]]:
    """The records after the header of a csv.reader, as (physical line of the record, {column: value}).

    As csv_records; `keep` limits the columns of each mapping.
    """
    kept = [(index, column) for index, column in enumerate(columns) if keep is None or column in keep]
    for start, values in csv_records(reader, columns, key=key, errors=errors):
        yield start, {column: values[index] for index, column in kept}


def csv_records(
    reader: Any, columns: list[str], *, key: str, errors: list[RowError]
) -> Iterator[tuple[int, list[str]]]:
    """The records after the header of a csv.reader, as (physical line of the record, values in header order).

    A record is numbered by the line it starts on (a quoted value may span several lines).
    Blank lines are skipped. A malformed record, one with another number of fields than the
    header, or one that is not UTF-8 text is appended to `errors` (named by its `key` column)
    and skipped.
    """
    key_index = columns.index(key)
    width = len(columns)
    previous_end = reader.line_num
    while True:
        start = previous_end + 1
        try:
            values = next(reader)
        except StopIteration:
            return
        except csv.Error as exc:
            errors.append(RowError(start, "", f"malformed CSV: {exc}"))
            previous_end = reader.line_num
            continue
        previous_end = reader.line_num
        if len(values) == width and values[key_index].strip():  # the common case: a full, non-blank record
            joined = "\x1f".join(values)
            if joined.isascii():
                yield start, values
                continue
        elif not any(value.strip() for value in values):
            continue  # blank line
        name = printable(values[key_index].strip()) if len(values) > key_index else ""
        if len(values) != width:
            errors.append(RowError(start, name, f"row has {len(values)} fields but the header has {width}"))
            continue
        bad = undecodable("\x1f".join(values))
        if bad:
            errors.append(RowError(start, name, f"the row is not UTF-8 text ({bad})"))
            continue
        yield start, values


def csv_header(reader: Any, *, required: Sequence[str], known: Sequence[str], what: str) -> tuple[list[str], list[str]]:
    """A CSV file's columns (trimmed, lower-cased) and its unknown ones, from the header row of a csv.reader.

    A header that is missing, unreadable, not UTF-8, names a column twice or lacks a `required`
    column stops the import (CommandError) before anything is written; `what` names the export.
    """
    try:
        header = next(reader)
    except StopIteration:
        raise CommandError(f"The file is empty: expected a header row with the {what} columns.") from None
    except csv.Error as exc:
        raise CommandError(f"Cannot read the CSV header: {exc}") from None
    if any(undecodable(column) for column in header):
        raise CommandError("The header row is not UTF-8 text. Nothing was imported.")
    columns = [column.strip().lower() for column in header]
    duplicates = sorted({column for column in columns if columns.count(column) > 1 and column})
    if duplicates:
        raise CommandError(
            f"Duplicate {'column' if len(duplicates) == 1 else 'columns'} in the header: {', '.join(duplicates)}."
        )
    missing = [column for column in required if column not in columns]
    if missing:
        raise CommandError(
            f"Missing {'column' if len(missing) == 1 else 'columns'}: {', '.join(missing)}. "
            "The header must contain at least "
            f"{', '.join(required)}; the other {what} columns are optional: "
            f"{', '.join(column for column in known if column not in required)}. "
            "Nothing was imported."
        )
    return columns, [column for column in columns if column not in known]


def jsonl_rows(handle: TextIO, errors: list[RowError]) -> Iterator[tuple[int, dict[str, Any]]]:
    """The objects of a JSON Lines file as (line number, object); blank lines are skipped, and a line
    that is not UTF-8, not JSON or not an object is appended to `errors`."""
    for line_number, line in enumerate(handle, start=1):
        text = line.strip()
        if not text:
            continue
        bad = undecodable(text)
        if bad:
            errors.append(RowError(line_number, "", f"the line is not UTF-8 text ({bad})"))
            continue
        try:
            row = loads_json(text, "the line")
        except RowInvalid as exc:
            errors.append(RowError(line_number, "", str(exc)))
            continue
        if not isinstance(row, dict):
            errors.append(RowError(line_number, "", "line is not a JSON object"))
            continue
        yield line_number, row
