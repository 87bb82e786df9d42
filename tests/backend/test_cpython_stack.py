"""Each WSGI request runs with room on CPython's frame stack where CPython needs it (backend.cpython_stack)."""

from __future__ import annotations

import importlib
import io
import sys

import pytest
from django.test import override_settings

from backend.cpython_stack import (
    NEEDED,
    RESERVED_SLOTS,
    StackRoomMiddleware,
    _run_with_room,
    needs_stack_room,
    with_stack_room,
)


def test_the_call_runs_once_and_its_result_comes_back():
    calls = []

    assert with_stack_room(lambda: calls.append("ran") or 42) == 42
    assert calls == ["ran"]


def test_exceptions_of_the_call_propagate_unchanged():
    class Boom(Exception):
        pass

    with pytest.raises(Boom, match="inside"):
        with_stack_room(lambda: (_ for _ in ()).throw(Boom("inside")))


def test_the_frame_is_larger_than_a_whole_16_kib_chunk():
    # CPython starts a new chunk for a frame that does not fit in the current one: a frame of
    # more than 2,048 slots never fits in a 16 KiB chunk.
    assert _run_with_room.__code__.co_nlocals >= RESERVED_SLOTS > 16 * 1024 // 8


def test_deep_recursion_inside_the_room_still_works():
    def depth(n: int) -> int:
        return 0 if n == 0 else 1 + depth(n - 1)

    limit = sys.getrecursionlimit()
    assert with_stack_room(lambda: depth(limit // 2)) == limit // 2


@pytest.mark.django_db
@override_settings(DEBUG=True, ALLOWED_HOSTS=["testserver"])  # the start-up refusal has its own tests
def test_the_wsgi_application_serves_requests_through_the_room():
    application = importlib.import_module("backend.wsgi").application

    assert isinstance(application, StackRoomMiddleware) is NEEDED
    statuses = []
    environ = {
        "REQUEST_METHOD": "GET",
        "PATH_INFO": "/healthz",
        "SERVER_NAME": "testserver",
        "SERVER_PORT": "80",
        "wsgi.url_scheme": "http",
        "wsgi.input": io.BytesIO(b""),
        "wsgi.errors": sys.stderr,
    }

    body = b"".join(application(environ, lambda status, headers, exc_info=None: statuses.append(status)))

    assert statuses == ["200 OK"]
    assert b'"status"' in body


@pytest.mark.parametrize(
    ("version", "needed"),
    [
        ((3, 10, 14), False),  # frames were heap objects: no data stack
        ((3, 11, 2), True),
        ((3, 12, 12), True),
        ((3, 13, 12), True),
        ((3, 13, 13), False),
        ((3, 14, 3), True),
        ((3, 14, 4), False),
        ((3, 15, 0), False),
    ],
)
def test_the_room_is_used_only_on_the_cpython_releases_with_the_chunk_churn(version, needed):
    assert needs_stack_room("cpython", version) is needed
    assert needs_stack_room("pypy", version) is False


def test_the_frame_size_still_comes_from_the_code_objects_local_slots():
    # The whole trick: a frame's slots are its code object's locals plus its stack. If CPython
    # stops sizing frames that way (or stops using a chunked data stack), re-measure and drop it.
    assert sys.implementation.name == "cpython"
    code = _run_with_room.__code__
    assert code.co_nlocals == RESERVED_SLOTS + 1  # the reserved names and `call`
    assert len(code.co_varnames) == code.co_nlocals
    if sys.version_info[:2] in ((3, 11), (3, 12)):
        assert NEEDED, "3.11 and 3.12 never received the fix of gh-142183"
