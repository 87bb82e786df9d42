"""backend.middleware.RequestIdMiddleware: every request gets an id, echoed in X-Request-ID."""

from __future__ import annotations

import re

import pytest
from django.http import HttpResponse
from django.test import RequestFactory

from backend.middleware import RequestIdMiddleware


def run(header: str | None) -> tuple[str, HttpResponse]:
    seen: dict[str, str] = {}

    def view(request):
        seen["id"] = request.request_id
        return HttpResponse("ok")

    request = RequestFactory().get("/", headers={"X-Request-ID": header} if header is not None else {})
    response = RequestIdMiddleware(view)(request)
    return seen["id"], response


@pytest.mark.parametrize("header", ["abc", "A.b_c-1", "x" * 64, "0123456789abcdef0123456789abcdef"])
def test_a_sane_client_id_is_kept(header):
    request_id, response = run(header)

    assert request_id == header
    assert response["X-Request-ID"] == header


@pytest.mark.parametrize("header", [None, "", "x" * 65, "a b", "a/b", "a\tb", "é", "id;drop"])
def test_anything_else_gets_a_new_id(header):
    request_id, response = run(header)

    assert re.fullmatch(r"[0-9a-f]{32}", request_id)
    assert response["X-Request-ID"] == request_id


def test_ids_are_unique():
    assert run(None)[0] != run(None)[0]


def test_the_middleware_comes_first(settings):
    assert settings.MIDDLEWARE[0] == "backend.middleware.RequestIdMiddleware"
