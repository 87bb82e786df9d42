"""COPY statements run one after another on a worker thread, fed by the caller.

Generation prices orders in Python while PostgreSQL ingests what was priced before. With the
COPY run by the pricing thread, whatever the server must do between two COPYs of the same
priced orders (the report orders after their lines) is time the pricing thread waits, and the
server waits for it in turn. Here the pricing thread only queues the statements and their data,
and returns to pricing at once; the worker sends them in order on the same connection, in the
same transaction. The rows queued are bounded in bytes (QUEUE_BYTES), so when the server falls
behind the pricing thread waits for it, and the data in flight stays bounded; the statements
and their ends take no room, so the items that end a slice (the end of its lines, the start and
end of its report orders and pairs) never hold up the pricing of the next one.

The worker also reads: `read` queues a `COPY ... TO STDOUT` whose rows the worker appends to a
temporary file as they arrive, and returns that file's reader, which the caller reads as the
rows come, waiting for more at its end until the statement is over. So the caller prices the
first orders while the server still sends the rest (and their line COPY waits in the queue
until the read is over), and the rows not yet read are on disk, not in memory.

The caller must not use the connection until the pipeline is closed: the worker holds it.
While it is open, the interpreter switches threads more often (SWITCH_INTERVAL); the setting
is process-wide and restored on close.
An error on the worker (the server refusing a row) stops the pipeline: it is raised in the
caller at its next call, or when the pipeline closes, as Django's database errors are. An error
in the caller fails the COPY under way, so the transaction can roll back.
"""

from __future__ import annotations

import io
import os
import queue
import sys
import tempfile
import threading
from collections.abc import Iterator
from contextlib import ExitStack, nullcontext
from typing import IO, Any

# Bytes of rows queued at most (blocks of lines are about 1.5 MB for 2,000 orders); a block
# larger than that is queued once the queue is empty. A spooled file takes no room: its rows
# are on disk or in its own bounded memory, and the worker reads FILE_BLOCK_BYTES at a time.
QUEUE_BYTES = 16 * 2**20
# Bytes read from a spooled file at a time.
FILE_BLOCK_BYTES = 2**20
# The longest the caller's thread, busy pricing, keeps the interpreter lock while the worker
# waits for it (sys.setswitchinterval), while a pipeline is open. The worker needs the lock for
# a moment between two waits on the socket, and with the server the slower side, every wait
# for the lock is time the server sits without rows (Python's default is 5 ms; the README's
# "How generation gets there" gives the alternated measurements behind this value).
SWITCH_INTERVAL = 0.0003
# Bytes of a read's rows the worker gathers before it appends them to the read's file.
READ_BLOCK_BYTES = 2**18

_START, _DATA, _FILE, _END, _EXECUTE, _READ, _STOP = range(7)


class CopyPipeline:
    """Runs the COPYs it is given on `cursor` (a Django cursor of the connection) in a worker thread.

    with CopyPipeline(cursor) as pipeline:
        pipeline.start("COPY t (a, b) FROM STDIN")
        pipeline.write("1\\tx\\n")
        pipeline.send_file(spool)  # rows spooled meanwhile; the worker reads and closes it
        pipeline.end()
        rows = pipeline.read("COPY (SELECT ...) TO STDOUT")  # a binary reader, at once
        for line in io.TextIOWrapper(rows): ...
    """

    def __init__(self, cursor: Any) -> None:
        self._cursor = cursor
        self._queue: queue.SimpleQueue[tuple[int, Any]] = queue.SimpleQueue()
        self._queued_bytes = 0  # of the rows queued and not yet sent
        self._room = threading.Condition()
        self._stopped = False  # the worker stopped on an error: nothing waits for room
        self._error: BaseException | None = None
        self._stop_error: BaseException | None = None  # the caller's error, given with the stop
        self._switch_interval = 0.0
        self._reads: list[_ReadSpool] = []
        self._thread = threading.Thread(target=self._run, name="report-copy", daemon=True)

    def __enter__(self) -> CopyPipeline:
        self._switch_interval = sys.getswitchinterval()
        sys.setswitchinterval(min(self._switch_interval, SWITCH_INTERVAL))
        self._thread.start()
        return self

    def __exit__(self, exc_type: object, exc: BaseException | None, tb: object) -> None:
        # On the caller's error, the COPY under way is failed with it (the server discards it).
        self._queue.put((_STOP, exc))
        self._thread.join()
        sys.setswitchinterval(self._switch_interval)
        for spool in self._reads:
            spool.close()
        if exc is None:
            self._raise_error()

    def start(self, statement: str) -> None:
        """Begin a `COPY ... FROM STDIN` (after the previous one ended)."""
        self._put(_START, statement)

    def write(self, rows: str | bytes) -> None:
        """Rows in COPY's format for the COPY begun last."""
        self._put(_DATA, rows)

    def send_file(self, spool: IO[bytes]) -> None:
        """The rows written to `spool` (from its start), for the COPY begun last; the worker closes it."""
        self._put(_FILE, spool)

    def end(self) -> None:
        """End the COPY begun last: the next start begins the next statement."""
        self._put(_END, None)

    def execute(self, statement: str) -> None:
        """Run a statement without parameters or rows (a setting), between two COPYs."""
        self._put(_EXECUTE, statement)

    def read(self, statement: str) -> io.RawIOBase:
        """Run `COPY ... TO STDOUT` (between two COPYs): a reader of its rows, given at once.

        Reading blocks until more rows have arrived or the statement is over; its end is the
        statement's end, and the worker's error (the statement refused) is raised by the read
        that meets it. The rows stay readable until the pipeline closes."""
        spool = _ReadSpool(self._cursor.db, statement)
        self._reads.append(spool)
        self._put(_READ, spool)
        return _SpoolReader(spool)

    def _put(self, kind: int, value: Any) -> None:
        self._raise_error()
        if kind == _DATA:
            size = len(value)
            with self._room:
                while self._queued_bytes and self._queued_bytes + size > QUEUE_BYTES and not self._stopped:
                    self._room.wait()
                self._queued_bytes += size
            self._raise_error()
        self._queue.put((kind, value))

    def _sent(self, size: int) -> None:
        with self._room:
            self._queued_bytes -= size
            self._room.notify()

    def _raise_error(self) -> None:
        if self._error is not None:
            error, self._error = self._error, None
            _raise_as_django(self._cursor.db, error)

    def _items(self) -> Iterator[tuple[int, Any]]:
        while True:
            item = self._queue.get()
            if item[0] == _STOP:
                self._stop_error = item[1]
                return
            yield item

    def _run(self) -> None:
        """The worker: each COPY in turn. After an error, it only drains the queue, so the
        caller never blocks on a full one, and it closes the spooled files it is given."""
        items = self._items()
        copying = ExitStack()
        copy: Any = None
        try:
            for kind, value in items:
                if kind == _START:
                    copy = copying.enter_context(self._cursor.copy(value))
                elif kind == _DATA:
                    copy.write(value)
                    self._sent(len(value))
                elif kind == _FILE:
                    with value:
                        value.seek(0)
                        while block := value.read(FILE_BLOCK_BYTES):
                            copy.write(block)
                elif kind == _EXECUTE:
                    # Logged as the COPYs are (DEBUG, tests), without Django's execute, which
                    # would compose the logged statement on a cursor of this thread's own.
                    debug_sql = getattr(self._cursor, "debug_sql", None)
                    with debug_sql(value) if debug_sql is not None else nullcontext():
                        self._cursor.cursor.execute(value)
                elif kind == _READ:
                    with self._cursor.copy(value.statement) as reading:
                        value.fill(reading)
                else:
                    copy = None
                    copying.close()
        except BaseException as error:  # raised in the caller
            self._error = error
            with self._room:  # a caller waiting for room goes on, and meets the error
                self._stopped = True
                self._room.notify_all()
            copying.__exit__(type(error), error, error.__traceback__)
            for spool in self._reads:  # a read under way or queued ends with the error
                spool.finish(error)
            for kind, value in items:
                if kind == _FILE:
                    value.close()
            return
        # Stopped: a COPY still open is failed with the caller's error, or ended.
        stop_error = self._stop_error
        if stop_error is not None:
            copying.__exit__(type(stop_error), stop_error, stop_error.__traceback__)
        else:
            copying.close()


def _raise_as_django(db: Any, error: BaseException) -> None:
    """Raise the worker's error in the caller as Django's database errors are, like the cursor's."""
    with db.wrap_database_errors:
        raise error


class _ReadSpool:
    """The rows of one `read`: appended by the worker to a temporary file, read by the caller."""

    def __init__(self, db: Any, statement: str) -> None:
        self.statement = statement
        self._db = db
        self._file = tempfile.TemporaryFile()  # noqa: SIM115  (closed with the pipeline)
        self._written = 0  # bytes in the file
        self._over = False
        self._error: BaseException | None = None
        self._grown = threading.Condition()

    def fill(self, reading: Any) -> None:
        """The worker: the statement's rows into the file, READ_BLOCK_BYTES at a time."""
        blocks: list[bytes] = []
        size = 0
        for block in reading:
            blocks.append(block)
            size += len(block)
            if size >= READ_BLOCK_BYTES:
                self._append(b"".join(blocks))
                blocks.clear()
                size = 0
        self._append(b"".join(blocks))
        self.finish(None)

    def _append(self, data: bytes) -> None:
        view, at = memoryview(data), self._written  # only the worker changes _written
        while view:
            count = os.pwrite(self._file.fileno(), view, at)
            view, at = view[count:], at + count
        with self._grown:
            self._written += len(data)
            self._grown.notify_all()

    def finish(self, error: BaseException | None) -> None:
        with self._grown:
            if not self._over:
                self._over, self._error = True, error
            self._grown.notify_all()

    def read_into(self, buffer: memoryview, offset: int) -> int:
        """The caller: bytes from `offset` into `buffer`, waiting for them; 0 at the end."""
        with self._grown:
            while self._written <= offset and not self._over:
                self._grown.wait()
            written, error = self._written, self._error
        if written <= offset:
            if error is not None:
                _raise_as_django(self._db, error)
            return 0
        data = os.pread(self._file.fileno(), min(len(buffer), written - offset), offset)
        buffer[: len(data)] = data
        return len(data)

    def close(self) -> None:
        self.finish(None)
        self._file.close()


class _SpoolReader(io.RawIOBase):
    """A read's rows as a raw binary stream (io.TextIOWrapper and BufferedReader read it)."""

    def __init__(self, spool: _ReadSpool) -> None:
        super().__init__()
        self._spool = spool
        self._offset = 0

    def readable(self) -> bool:
        return True

    def readinto(self, buffer: Any) -> int:
        count = self._spool.read_into(memoryview(buffer).cast("B"), self._offset)
        self._offset += count
        return count
