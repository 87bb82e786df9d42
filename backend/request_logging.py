"""Structured (JSON) logs: one line per request, and the request id on every record.

RequestLogMiddleware runs right after the request-id middleware: it binds the request id to
a context variable (so any log record written while serving the request carries it) and
writes one `ledgerlink.request` line with method, path, status, duration and user id.
Query strings, headers, cookies and bodies are never logged: they can hold tokens,
passwords or CSRF values.
"""

from __future__ import annotations

import contextvars
import datetime as dt
import json
import logging
import time
from collections.abc import Callable
from typing import Any

from django.http import HttpRequest, HttpResponse

request_id_var: contextvars.ContextVar[str] = contextvars.ContextVar("request_id", default="")
request_logger = logging.getLogger("ledgerlink.request")

_STANDARD_ATTRS = frozenset(vars(logging.LogRecord("", 0, "", 0, "", (), None))) | {"message", "asctime"}


class RequestIdFilter(logging.Filter):
    """Adds `request_id` to every record (empty outside a request)."""

    def filter(self, record: logging.LogRecord) -> bool:
        if not getattr(record, "request_id", ""):
            record.request_id = request_id_var.get()
        return True


class ConsoleHandler(logging.StreamHandler):
    """The console handler (standard error). While a command's progress bar is on screen
    (`live_line`, set by billing.management.progress.ProgressBar), a record first erases the
    bar, is written on a line of its own, and the bar is drawn again below it."""

    live_line: Any = None

    def emit(self, record: logging.LogRecord) -> None:
        line = ConsoleHandler.live_line
        if line is None:
            super().emit(record)
            return
        line.erase()
        try:
            super().emit(record)
        finally:
            line.redraw()


class JsonFormatter(logging.Formatter):
    """One JSON object per line: time, level, logger, message, request id and any `extra` fields."""

    def format(self, record: logging.LogRecord) -> str:
        payload: dict[str, Any] = {
            "time": dt.datetime.fromtimestamp(record.created, tz=dt.UTC).isoformat(timespec="milliseconds"),
            "level": record.levelname,
            "logger": record.name,
            "message": record.getMessage(),
        }
        for key, value in vars(record).items():
            if key not in _STANDARD_ATTRS and not key.startswith("_"):
                payload[key] = value
        if record.exc_info:
            payload["exception"] = self.formatException(record.exc_info)
        return json.dumps(payload, default=str)


class RequestLogMiddleware:
    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        request_id = getattr(request, "request_id", "")
        token = request_id_var.set(request_id)
        started = time.perf_counter()
        status = 500
        try:
            response = self.get_response(request)
            status = response.status_code
            return response
        finally:
            user = getattr(request, "user", None)
            request_logger.info(
                "%s %s %s",
                request.method,
                request.path,
                status,
                extra={
                    "method": request.method,
                    "path": request.path,
                    "status": status,
                    "duration_ms": round((time.perf_counter() - started) * 1000, 2),
                    "user_id": user.pk if user is not None and user.is_authenticated else None,
                    "request_id": request_id,
                },
            )
            request_id_var.reset(token)
