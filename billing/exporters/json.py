"""JSON: the encoder that writes Decimal as a number literal, and the JSON export of a report.

Python's json module has no way to write a Decimal as a number (it would need a float, and
1500.00 would come out as 1500.0), so `dumps` is a small encoder for the JSON-ready values
the shape functions produce: dict, list/tuple, str, int, bool, None and Decimal, which is
written verbatim (`Decimal("1500.00")` -> `1500.00`). Strings are escaped by the json
module's own (C) escaper. It is as fast as json.dumps with a `default` hook on these shapes.

The export is the REST detail `data` object (billing.exporters.shapes.report_detail_data),
streamed order by order so a 100,000-order report is written in constant memory.
"""

from __future__ import annotations

import datetime as dt
import json as _json
import uuid
from collections.abc import Iterator
from decimal import Decimal
from typing import Any

from django.utils.functional import Promise

from billing.exporters import shapes
from billing.models import BillingReport
from billing.selectors.reports import iter_report_values, report_not_closed_orders, report_service_totals

_escape = _json.encoder.encode_basestring  # the C implementation when available

# Bytes written per chunk of a streamed export.
CHUNK_BYTES = 64 * 1024
# Orders (with their lines) read from the database per query: this bounds the memory used.
ORDERS_PER_QUERY = 2000


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
        write(_escape(shapes.iso_datetime(obj) or "" if obj.tzinfo else obj.isoformat()))
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


def export_json(report: BillingReport) -> Iterator[bytes]:
    """The detail `data` object of `report` as UTF-8 JSON, in chunks, orders streamed in report order.

    Equal to shapes.report_detail_data over billing.selectors.reports.report_detail(billed=True)
    (the billed orders, each with its lines by service name), without holding the orders in memory.
    """
    head = dumps(shapes.report_data(report))
    buffer: list[str] = [head[:-1], ',"orders":[']
    size = 0
    first = True
    for order, lines in iter_report_values(report=report, chunk_size=ORDERS_PER_QUERY):
        text = dumps(shapes.order_data_from_values(order, lines))
        if first:
            first = False
        else:
            buffer.append(",")
        buffer.append(text)
        size += len(text)
        if size >= CHUNK_BYTES:
            yield "".join(buffer).encode()
            buffer.clear()
            size = 0
    buffer.append('],"service_totals":')
    buffer.append(dumps(shapes.service_totals_data(report_service_totals(report=report))))
    buffer.append(',"not_closed_orders":')
    buffer.append(dumps(shapes.not_closed_orders_data(report_not_closed_orders(report=report))))
    buffer.append("}")
    yield "".join(buffer).encode()
