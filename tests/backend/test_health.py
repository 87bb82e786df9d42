import json

import pytest
from django.db import connection


@pytest.mark.django_db
def test_healthz_answers_without_touching_dependencies(client):
    response = client.get("/healthz")
    assert response.status_code == 200
    assert response.json() == {"status": "ok"}


@pytest.mark.django_db
def test_readyz_reports_a_migrated_reachable_database(client):
    response = client.get("/readyz")
    assert response.status_code == 200
    assert response.json() == {"status": "ok", "checks": {"database": "ok"}}


@pytest.mark.django_db
def test_readyz_is_503_without_a_trace_when_the_database_is_unreachable(client, settings):
    original = dict(connection.settings_dict)
    connection.close()
    if connection.vendor == "postgresql":
        connection.settings_dict["PORT"] = "1"  # nothing listens there
    else:
        connection.settings_dict["NAME"] = "/nonexistent-dir/db.sqlite3"
    try:
        response = client.get("/readyz")
    finally:
        connection.close()
        connection.settings_dict.clear()
        connection.settings_dict.update(original)
    body = response.json()
    assert response.status_code == 503
    assert body == {"status": "unavailable", "checks": {"database": "unavailable"}}
    assert "Traceback" not in json.dumps(body)


@pytest.mark.django_db
def test_readyz_checks_the_configured_cache_and_broker(client, settings):
    settings.CACHE_URL = "locmem://"
    settings.CELERY_BROKER_URL = "redis://127.0.0.1:1/0"  # unreachable broker
    response = client.get("/readyz")
    assert response.status_code == 503
    assert response.json()["checks"] == {"database": "ok", "cache": "ok", "broker": "unavailable"}
