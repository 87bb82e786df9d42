"""PostgreSQL's COPY: the statement and the text format of its fields, written and read.

Bulk writers (order imports, report generation) stream rows in COPY's text format, which is
several times cheaper than one INSERT per batch of rows; generation reads the billable orders
in the same format (COPY ... TO STDOUT), a block of bytes at a time instead of a row object
per row.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from typing import Any

from django.db import connection

# The text format's NULL, and the characters a text field escapes.
COPY_NULL = "\\N"
_COPY_ESCAPES = str.maketrans({"\\": "\\\\", "\t": "\\t", "\n": "\\n", "\r": "\\r"})


def column_of(model: Any, name: str) -> str:
    """The database column of a model field; TypeError for a field without one (a relation's reverse)."""
    column = getattr(model._meta.get_field(name), "column", None)
    if not isinstance(column, str):
        raise TypeError(f"{model.__name__}.{name} has no database column")
    return column


def copy_statement(model: Any, fields: Iterable[str]) -> str:
    """`COPY table (columns) FROM STDIN` for these model fields, in this order."""
    quote = connection.ops.quote_name
    columns = ", ".join(quote(column_of(model, name)) for name in fields)
    return f"COPY {quote(model._meta.db_table)} ({columns}) FROM STDIN"


def copy_text(value: str) -> str:
    """A string as a field of COPY's text format."""
    return value.translate(_COPY_ESCAPES)


# --- reading what COPY ... TO STDOUT writes -------------------------------------------------

# The text format's escapes as COPY writes them (\b \f \n \r \t \v \\), and as it reads them:
# also an octal or hexadecimal character code, and a backslash before any other character.
_ESCAPED = re.compile(r"\\(?:([0-7]{1,3})|x([0-9A-Fa-f]{1,2})|(.))", re.DOTALL)
_ESCAPED_CHARACTERS = {"b": "\b", "f": "\f", "n": "\n", "r": "\r", "t": "\t", "v": "\v"}


def _unescaped(match: re.Match[str]) -> str:
    octal, hexadecimal, other = match.groups()
    if octal is not None:
        return chr(int(octal, 8))
    if hexadecimal is not None:
        return chr(int(hexadecimal, 16))
    return _ESCAPED_CHARACTERS.get(other, other)


def copy_value(field: str) -> str | None:
    """A field of COPY's text format as its value: None for NULL, escapes decoded."""
    if field == COPY_NULL:
        return None
    return _ESCAPED.sub(_unescaped, field) if "\\" in field else field


def array_items(text: str) -> list[str]:
    """The elements of a one-dimensional PostgreSQL array as it prints (`{a,"b c"}`), as strings.

    An element is quoted when it holds a comma, brace, quote, backslash or white space, or is
    empty or the word NULL, and a quote or backslash inside one is escaped by a backslash; the
    others print as they are.
    No element may be NULL (the arrays read here never hold one)."""
    inner = text[1:-1]
    if not inner:
        return []
    if '"' not in inner:
        return inner.split(",")
    items = []
    at, end = 0, len(inner)
    while at < end:
        if inner[at] == '"':
            chars = []
            at += 1
            while inner[at] != '"':
                if inner[at] == "\\":
                    at += 1
                chars.append(inner[at])
                at += 1
            items.append("".join(chars))
            at += 2  # the closing quote and the comma after it
        else:
            comma = inner.find(",", at)
            comma = end if comma < 0 else comma
            items.append(inner[at:comma])
            at = comma + 1
    return items
