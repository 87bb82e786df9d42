"""Reading import files so that one bad byte costs one row, not the whole file.

Files are decoded as UTF-8 with errors="surrogateescape": a byte that is not UTF-8 becomes a
lone surrogate character instead of an exception, so the importers can refuse the row that
holds it (undecodable) and import the rows around it.
"""

from __future__ import annotations

import io
import sys
from pathlib import Path
from typing import TextIO


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
