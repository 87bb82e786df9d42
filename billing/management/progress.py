"""Terminal output of management commands: a small progress bar, plain messages, plurals.

The bar draws only when its stream is a terminal, so logs, pipes and tests stay clean:

    with ProgressBar(self.stdout, total=len(items), label="Pricing") as bar:
        for ...:
            bar.update(done)          # absolute count, or bar.advance(n)

A log record written while a bar is drawn (through backend.request_logging.ConsoleHandler)
erases the bar, is written on its own line, and the bar is drawn again below it. The bar and
`say` write without Django's styling: an OutputWrapper on stderr styles everything as an error
(bold red), which is wrong for progress and summaries.
"""

from __future__ import annotations

import time
from types import TracebackType
from typing import Any, TextIO

from django.core.management.base import OutputWrapper

from backend.request_logging import ConsoleHandler

BAR_WIDTH = 30
REDRAW_INTERVAL = 0.1  # seconds
RATE_AFTER = 1.0  # seconds before a rate (and an ETA) is shown: the first ones mean nothing


def count(number: int, singular: str, plural: str | None = None) -> str:
    """'1 customer', '2 customers', '1,234 orders'."""
    return f"{number:,} {singular if number == 1 else plural or singular + 's'}"


def say(stream: OutputWrapper | TextIO, text: str) -> None:
    """Write an informational line as it is (never styled as an error, even on stderr)."""
    raw = getattr(stream, "_out", stream)
    raw.write(text if text.endswith("\n") else text + "\n")
    raw.flush()


def stream_is_tty(stream: Any) -> bool:
    isatty = getattr(stream, "isatty", None)
    try:
        return bool(isatty and isatty())
    except ValueError:  # a closed file
        return False


class ProgressBar:
    """`label [#######-------]  45%  4,500/10,000 rows  1,234/s`; without a total: count and rate."""

    def __init__(
        self,
        stream: OutputWrapper | TextIO,
        *,
        total: int | None = None,
        label: str = "",
        unit: str = "rows",
        enabled: bool | None = None,
    ) -> None:
        self.stream = stream
        self.total = total if total and total > 0 else None
        self.label = label
        self.unit = unit
        self.enabled = stream_is_tty(stream) if enabled is None else enabled
        self.done = 0
        self._started = time.monotonic()
        self._last_draw = 0.0
        self._last_width = 0
        self._drawn = False
        self._closed = False

    def __enter__(self) -> ProgressBar:
        return self

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.close()

    def advance(self, count: int = 1) -> None:
        self.update(self.done + count)

    def update(self, done: int) -> None:
        self.done = done
        if self._closed:
            return
        now = time.monotonic()
        if self.enabled and (now - self._last_draw >= REDRAW_INTERVAL or self._finished):
            self._last_draw = now
            self._draw(now)

    def close(self) -> None:
        """Draw the final state and end the line (only if anything was drawn). Closing twice is harmless."""
        if self._closed:
            return
        self._closed = True
        if self.enabled and (self._drawn or self.done):
            self._draw(time.monotonic())
            self._write("\n")
            self._drawn = False
        if ConsoleHandler.live_line is self:
            ConsoleHandler.live_line = None

    @property
    def _finished(self) -> bool:
        return self.total is not None and self.done >= self.total

    def render(self, now: float | None = None) -> str:
        elapsed = max((now if now is not None else time.monotonic()) - self._started, 1e-9)
        rate = self.done / elapsed if elapsed >= RATE_AFTER else 0.0
        parts = [self.label] if self.label else []
        if self.total is not None:
            fraction = min(self.done / self.total, 1.0)
            filled = int(fraction * BAR_WIDTH)
            parts.append("[" + "#" * filled + "-" * (BAR_WIDTH - filled) + "]")
            parts.append(f"{fraction:4.0%}")
            parts.append(f"{self.done:,}/{self.total:,} {self.unit}")
            if 0 < self.done < self.total and rate > 0:
                parts.append(f"ETA {int((self.total - self.done) / rate)}s")
        else:
            parts.append(f"{self.done:,} {self.unit}")
        if rate > 0:
            parts.append(f"{rate:,.0f}/s")
        return "  ".join(parts)

    def _draw(self, now: float) -> None:
        text = self.render(now)
        padding = " " * max(self._last_width - len(text), 0)
        self._last_width = len(text)
        self._write("\r" + text + padding)
        self._drawn = True
        ConsoleHandler.live_line = self

    # ConsoleHandler calls these around a log record while the bar is on screen.
    def erase(self) -> None:
        self._write("\r" + " " * self._last_width + "\r")

    def redraw(self) -> None:
        self._last_width = 0
        self._draw(time.monotonic())

    def _write(self, text: str) -> None:
        raw = getattr(self.stream, "_out", self.stream)  # an OutputWrapper's stream, unstyled
        raw.write(text)
        raw.flush()
