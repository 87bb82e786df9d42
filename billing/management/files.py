"""Output files of management commands, written atomically.

    target = AtomicOutput.open("jan.pdf")     # fails at once (CommandError) if it cannot be written
    ...                                       # the expensive work
    with target as handle:
        handle.write(...)                     # into a temporary file beside the target
                                              # renamed over the target only when complete

A process killed midway leaves at most a hidden `.NAME.*.tmp` file beside the target, never a
truncated file under the target's name; an error removes the temporary file.

read_document reads a command's JSON input file (or standard input for "-").
"""

from __future__ import annotations

import os
import tempfile
from pathlib import Path
from types import TracebackType
from typing import BinaryIO, TextIO

from django.core.management.base import CommandError


def read_document(name: str, stdin: TextIO) -> str:
    """The UTF-8 text of file `name` (a BOM is dropped), or of `stdin` for "-"; CommandError otherwise."""
    try:
        if name == "-":
            return stdin.read()
        return Path(name).read_text(encoding="utf-8-sig")
    except FileNotFoundError:
        raise CommandError(f"No such file: {name}") from None
    except UnicodeDecodeError as exc:
        raise CommandError(
            f"{name} is not UTF-8 text (byte 0x{exc.object[exc.start]:02x} at offset {exc.start}). "
            "Nothing was imported."
        ) from None
    except OSError as exc:
        raise CommandError(f"Cannot read {name}: {exc}") from None


class AtomicOutput:
    def __init__(self, path: Path, handle: BinaryIO, temporary: Path) -> None:
        self.path = path
        self.handle = handle
        self.temporary = temporary

    @classmethod
    def open(cls, name: str) -> AtomicOutput:
        path = Path(name)
        if path.is_dir():
            raise CommandError(f"Cannot write {name}: it is a directory.")
        if path.exists() and not path.is_file():
            # A device, pipe or socket would be replaced by the finished file, not written to.
            raise CommandError(f"Cannot write {name}: it is not a regular file (a device, pipe or socket).")
        try:
            fd, temporary = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
        except OSError as exc:
            raise CommandError(f"Cannot write {name}: {exc.strerror or exc}.") from None
        return cls(path, os.fdopen(fd, "wb"), Path(temporary))

    def __enter__(self) -> BinaryIO:
        return self.handle

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        if exc_type is None:
            try:
                self.handle.flush()
                os.fsync(self.handle.fileno())
                self.handle.close()
                umask = os.umask(0)
                os.umask(umask)
                self.temporary.chmod(0o666 & ~umask)  # as an ordinary new file (mkstemp makes it 0600)
                os.replace(self.temporary, self.path)
                return
            except OSError as error:
                self.discard()
                raise CommandError(f"Cannot write {self.path}: {error.strerror or error}.") from None
        self.discard()

    def discard(self) -> None:
        """Remove the temporary file (the target is left as it was)."""
        self.handle.close()
        self.temporary.unlink(missing_ok=True)
