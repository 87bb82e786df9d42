"""One structured log line per request, carrying the request id, and no secrets."""

import io
import json
import logging

import pytest

from backend.request_logging import JsonFormatter, RequestIdFilter
from billing.services.tokens import api_token_create
from tests.factories import UserFactory

pytestmark = pytest.mark.django_db


@pytest.fixture
def log_lines():
    """Everything logged while serving, formatted exactly as production formats it."""
    stream = io.StringIO()
    handler = logging.StreamHandler(stream)
    handler.setFormatter(JsonFormatter())
    handler.addFilter(RequestIdFilter())
    root = logging.getLogger()
    root.addHandler(handler)
    try:
        yield lambda: [json.loads(line) for line in stream.getvalue().splitlines()]
    finally:
        root.removeHandler(handler)


def _request_lines(lines):
    return [line for line in lines if line["logger"] == "ledgerlink.request"]


def test_each_request_writes_one_json_line_with_its_request_id(client, log_lines):
    response = client.get("/healthz", HTTP_X_REQUEST_ID="trace-123")

    [line] = _request_lines(log_lines())
    assert response["X-Request-ID"] == "trace-123"
    assert line["request_id"] == "trace-123"
    assert line["method"] == "GET"
    assert line["path"] == "/healthz"
    assert line["status"] == 200
    assert isinstance(line["duration_ms"], float)
    assert line["user_id"] is None
    assert line["level"] == "INFO"


def test_generated_request_id_is_returned_and_logged(client, log_lines):
    response = client.get("/healthz")

    [line] = _request_lines(log_lines())
    assert line["request_id"] == response["X-Request-ID"]
    assert len(line["request_id"]) == 32


def test_authenticated_user_id_is_logged(client, log_lines):
    user = UserFactory()
    _, raw = api_token_create(user=user)

    client.get("/healthz", HTTP_AUTHORIZATION=f"Bearer {raw}")

    [line] = _request_lines(log_lines())
    assert line["user_id"] == user.pk


def test_tokens_passwords_cookies_and_csrf_values_never_reach_the_log(client, log_lines):
    user = UserFactory()
    _, raw = api_token_create(user=user)
    client.cookies["sessionid"] = "session-secret-value"
    client.cookies["csrftoken"] = "csrf-secret-value"

    client.get(
        "/healthz?password=hunter2-secret&token=query-secret",
        HTTP_AUTHORIZATION=f"Bearer {raw}",
        HTTP_X_CSRFTOKEN="csrf-header-secret",
    )
    client.post("/admin/login/", {"username": user.username, "password": "correct-horse-battery"})

    text = json.dumps(log_lines())
    assert len(_request_lines(log_lines())) == 2
    for secret in (
        raw,
        "session-secret-value",
        "csrf-secret-value",
        "csrf-header-secret",
        "hunter2-secret",
        "query-secret",
        "correct-horse-battery",
    ):
        assert secret not in text


def test_records_written_while_serving_carry_the_request_id(client, log_lines, settings):
    settings.CELERY_BROKER_URL = "redis://127.0.0.1:1/0"  # readyz logs a warning for the unreachable broker

    client.get("/readyz", HTTP_X_REQUEST_ID="trace-readyz")

    warnings = [line for line in log_lines() if line["logger"] == "ledgerlink.health"]
    assert warnings
    assert all(line["request_id"] == "trace-readyz" for line in warnings)
