"""Room on CPython's frame stack for a whole request: no memory-mapping churn while serving it.

This relies on CPython internals: its data stack of 16 KiB chunks and the frame size fixed by a
code object's local slots. tests/backend/test_cpython_stack.py checks what it can of both.

CPython keeps the frames of running Python functions in chunks of 16 KiB. It maps a new chunk
when a call does not fit in the current one and unmaps it again as soon as that call returns.
A request whose call depth keeps going back and forth across a chunk boundary pays an mmap and
a munmap system call at every crossing. GraphQL execution does exactly that: it walks every
field of a page recursively. Measured on `reports(first: 20)` through the whole middleware
stack, there were 550 to 1,800 mappings per request, about 40% of its time. Where the boundary
falls depends on how deep the server's own stack already is, so the cost comes and goes with
unrelated changes (one middleware more or less).

This is CPython issue gh-142183 (https://github.com/python/cpython/issues/142183). Its fix
keeps one spare chunk per thread; it was merged in March 2026 and backported to 3.13 and 3.14,
whose first releases after that are 3.13.13 and 3.14.4 (re-check with benchmarks/stack_room.py
when a newer interpreter is deployed). 3.11 and 3.12 take security fixes only and keep the
churn. :data:`NEEDED` says whether the running interpreter is one of those; backend/wsgi.py
applies the room only then.

:func:`with_stack_room` runs a call inside a frame that is too large for any 16 KiB chunk, so
CPython maps one fresh 128 KiB chunk for it. The frame takes half of that chunk, and the call's
own frames (some 3,000 typical ones) fit in the other half without crossing a boundary. That is
one mapping per request instead of hundreds. :class:`StackRoomMiddleware` applies it to every
request of the WSGI application.
"""

from __future__ import annotations

import sys
from collections.abc import Callable, Iterable
from typing import Any, TypeVar

T = TypeVar("T")

# The CPython releases with the chunk churn of gh-142183 (the data stack exists since 3.11).
_FIXED_IN = {(3, 13): (3, 13, 13), (3, 14): (3, 14, 4)}


def needs_stack_room(implementation: str, version: tuple[int, ...]) -> bool:
    """Whether CPython `version` unmaps its frame chunks eagerly (gh-142183)."""
    if implementation != "cpython" or version[:2] < (3, 11):
        return False
    if version[:2] in ((3, 11), (3, 12)):
        return True
    fixed = _FIXED_IN.get(version[:2])
    return fixed is not None and version[:3] < fixed


NEEDED = needs_stack_room(sys.implementation.name, tuple(sys.version_info[:3]))

# 8,000 local slots (64 KiB) plus CPython's 1,000-slot margin need more than 64 KiB, so the
# frame gets a chunk of 128 KiB, of which 64 KiB remain for the frames called from it.
RESERVED_SLOTS = 8_000


def _frame_with_room() -> Callable[[Callable[[], Any]], Any]:
    # A frame's size is fixed by its code object: one slot per local variable, whether or not the
    # code assigns it. The locals below are never assigned (the branch never runs); only their
    # number matters. The source is built from constants alone.
    names = " = ".join(f"_{index}" for index in range(RESERVED_SLOTS))
    source = f"def run(call):\n    if call is None:\n        {names} = None\n    return call()\n"
    namespace: dict[str, Any] = {}
    exec(compile(source, "<stack room>", "exec"), namespace)  # noqa: S102
    return namespace["run"]


_run_with_room = _frame_with_room()


def with_stack_room(call: Callable[[], T]) -> T:
    """``call()``, with its frames in a chunk of their own."""
    return _run_with_room(call)


def with_room_if_needed(application: Callable[..., Iterable[bytes]]) -> Callable[..., Iterable[bytes]]:
    """`application` wrapped in :class:`StackRoomMiddleware` on the interpreters that need it."""
    return StackRoomMiddleware(application) if NEEDED else application


class StackRoomMiddleware:
    """WSGI middleware: each request runs through :func:`with_stack_room`."""

    def __init__(self, application: Callable[..., Iterable[bytes]]) -> None:
        self.application = application

    def __call__(self, environ: dict[str, Any], start_response: Callable[..., Any]) -> Iterable[bytes]:
        return with_stack_room(lambda: self.application(environ, start_response))
