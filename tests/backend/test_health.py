import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]


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


@pytest.mark.parametrize(
    "database_url", ["sqlite:////nonexistent-dir/billing.sqlite3", "postgres://postgres@127.0.0.1:1/billing"]
)
def test_readyz_is_503_without_a_trace_when_the_database_is_unreachable(database_url):
    probe = (
        "import django, json; django.setup(); from django.test import Client; "
        "r = Client().get('/readyz'); print(json.dumps({'status': r.status_code, 'body': r.json()}))"
    )
    env = {
        **os.environ,
        "DATABASE_URL": database_url,
        "ALLOWED_HOSTS": "testserver",
        "DJANGO_SETTINGS_MODULE": "backend.settings",
    }
    result = subprocess.run(
        [sys.executable, "-c", probe], cwd=ROOT, env=env, capture_output=True, text=True, timeout=60
    )
    answer = json.loads(result.stdout.strip().splitlines()[-1])
    assert answer == {"status": 503, "body": {"status": "unavailable", "checks": {"database": "unavailable"}}}
    assert "Traceback" not in result.stdout


@pytest.mark.django_db
def test_readyz_checks_the_configured_cache_and_broker(client, settings):
    settings.CACHE_URL = "locmem://"
    settings.CELERY_BROKER_URL = "redis://127.0.0.1:1/0"  # unreachable broker
    response = client.get("/readyz")
    assert response.status_code == 503
    assert response.json()["checks"] == {"database": "ok", "cache": "ok", "broker": "unavailable"}
