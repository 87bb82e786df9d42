"""Room on CPython's frame stack for a whole request: no memory mapping churn while serving it.

CPython keeps the frames of running Python functions in chunks of 16 KiB. It maps a new chunk
when a call does not fit in the current one and unmaps it again as soon as that call returns.
A request whose call depth keeps going back and forth across a chunk boundary pays an mmap and
a munmap system call at every crossing. GraphQL execution does exactly that: it walks every
field of a page recursively. Measured on `reports(first: 20)` through the whole middleware
stack, there were 550 to 1,800 mappings per request, about 40% of its time. Where the boundary
falls depends on how deep the server's own stack already is, so the cost comes and goes with
unrelated changes (one middleware more or less). This is CPython issue gh-142183. Versions that
cache a spare chunk avoid the churn; the 3.11 and 3.12 releases never will.

:func:`with_stack_room` runs a call inside a frame that is too large for any 16 KiB chunk, so
CPython maps one fresh 128 KiB chunk for it. The frame takes half of that chunk, and the call's
own frames (some 3,000 typical ones) fit in the other half without crossing a boundary. That is
one mapping per request instead of hundreds. :class:`StackRoomMiddleware` applies it to every
request of the WSGI application (see backend/wsgi.py).
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from typing import Any, TypeVar

T = TypeVar("T")

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


class StackRoomMiddleware:
    """WSGI middleware: each request runs through :func:`with_stack_room`."""

    def __init__(self, application: Callable[..., Iterable[bytes]]) -> None:
        self.application = application

    def __call__(self, environ: dict[str, Any], start_response: Callable[..., Any]) -> Iterable[bytes]:
        return with_stack_room(lambda: self.application(environ, start_response))
