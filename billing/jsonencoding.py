"""JSON text with Decimal written as a number literal: the encoder of REST bodies and JSON exports.

Python's json module has no way to write a Decimal as a number (it would need a float, and
1500.00 would come out as 1500.0), so `dumps` is a small encoder for the JSON-ready values
the shape functions produce: dict, list/tuple, str, int, bool, None and Decimal, which is
written verbatim (`Decimal("1500.00")` -> `1500.00`). Strings are escaped by the json
module's own (C) escaper. It is as fast as json.dumps with a `default` hook on these shapes.
"""

from __future__ import annotations

import datetime as dt
import json as _json
import uuid
from decimal import Decimal
from typing import Any

from django.utils.functional import Promise

_escape = _json.encoder.encode_basestring  # the C implementation when available


def _decimal_literal(value: Decimal) -> str:
    if not value.is_finite():
        raise ValueError(f"{value} is not a JSON number.")
    return format(value, "f")


def dumps(obj: Any) -> str:
    """Compact JSON text of `obj`; Decimal values are written as number literals, digit for digit."""
    parts: list[str] = []
    _encode(obj, parts.append)
    return "".join(parts)


def _encode(obj: Any, write) -> None:
    kind = type(obj)
    if kind is str:
        write(_escape(obj))
    elif kind is dict:
        write("{")
        first = True
        for key, value in obj.items():
            if first:
                first = False
            else:
                write(",")
            write(_escape(key if type(key) is str else _key(key)))
            write(":")
            _encode(value, write)
        write("}")
    elif kind is list or kind is tuple:
        write("[")
        first = True
        for value in obj:
            if first:
                first = False
            else:
                write(",")
            _encode(value, write)
        write("]")
    elif obj is None:
        write("null")
    elif obj is True:
        write("true")
    elif obj is False:
        write("false")
    elif kind is int:
        write(int.__repr__(obj))
    elif kind is Decimal:
        write(_decimal_literal(obj))
    else:
        _encode_other(obj, write)


def _encode_other(obj: Any, write) -> None:
    if isinstance(obj, str | Promise):  # str subclasses (DRF ErrorDetail), lazy translations
        write(_escape(str(obj)))
    elif isinstance(obj, bool):
        write("true" if obj else "false")
    elif isinstance(obj, int):
        write(int.__repr__(int(obj)))
    elif isinstance(obj, Decimal):
        write(_decimal_literal(obj))
    elif isinstance(obj, float):
        write(_json.dumps(obj, allow_nan=False))
    elif isinstance(obj, dict):
        _encode(dict(obj), write)
    elif isinstance(obj, list | tuple):
        _encode(list(obj), write)
    elif isinstance(obj, dt.datetime):
        write(_escape(iso_datetime(obj) or "" if obj.tzinfo else obj.isoformat()))
    elif isinstance(obj, dt.date):
        write(_escape(obj.isoformat()))
    elif isinstance(obj, uuid.UUID):
        write(_escape(str(obj)))
    else:
        raise TypeError(f"Object of type {type(obj).__name__} is not JSON serializable")


def _key(key: Any) -> str:
    if isinstance(key, str | int | uuid.UUID | Promise) and not isinstance(key, bool):
        return str(key)
    raise TypeError(f"JSON object keys must be strings, not {type(key).__name__}")


def iso_datetime(value: dt.datetime | None) -> str | None:
    """ISO 8601 in UTC with a 'Z' zone designator, e.g. 2025-01-15T10:30:00.123456Z."""
    if value is None:
        return None
    return value.astimezone(dt.UTC).isoformat().replace("+00:00", "Z")
