import os
import subprocess
import sys
from pathlib import Path
from types import SimpleNamespace

import pytest

from backend.hardening import production_problems

ROOT = Path(__file__).resolve().parents[2]
STRONG_KEY = "k3J9x!q2Lr8Zt5Wm0Pv7Yc4Nb6Hd1Fs3Gg8Ee2Aa9Uu5Ii0Oo7"


def _conf(**overrides):
    base = {
        "DEBUG": False,
        "SECRET_KEY": STRONG_KEY,
        "INSECURE_DEFAULT_SECRET_KEY": "insecure-development-key-change-me",
        "ALLOWED_HOSTS": ["billing.example.com"],
    }
    return SimpleNamespace(**{**base, **overrides})


@pytest.mark.parametrize(
    ("overrides", "fragment"),
    [
        ({"SECRET_KEY": ""}, "SECRET_KEY is not set"),
        ({"SECRET_KEY": "insecure-development-key-change-me"}, "SECRET_KEY is not set"),
        ({"SECRET_KEY": "short"}, "SECRET_KEY is too weak"),
        ({"ALLOWED_HOSTS": []}, "ALLOWED_HOSTS is empty"),
    ],
)
def test_unsafe_production_settings_are_named(overrides, fragment):
    problems = production_problems(_conf(**overrides))
    assert any(fragment in p for p in problems), problems


def test_safe_or_debug_settings_have_no_problems():
    assert production_problems(_conf()) == []
    assert production_problems(_conf(DEBUG=True, SECRET_KEY="", ALLOWED_HOSTS=[])) == []


def _run(args, **env):
    clean = {k: v for k, v in os.environ.items() if k not in {"DEBUG", "SECRET_KEY", "ALLOWED_HOSTS", "DATABASE_URL"}}
    return subprocess.run(
        [sys.executable, *args], cwd=ROOT, env={**clean, **env}, capture_output=True, text=True, timeout=120
    )


def test_wsgi_start_up_refuses_default_secret_key_and_empty_hosts():
    result = _run(["-c", "import backend.wsgi"], DEBUG="0")
    assert result.returncode != 0
    assert "Refusing to start with DEBUG off" in result.stderr
    assert "SECRET_KEY is not set" in result.stderr
    assert "ALLOWED_HOSTS is empty" in result.stderr


def test_wsgi_starts_with_production_settings():
    result = _run(["-c", "import backend.wsgi"], DEBUG="0", SECRET_KEY=STRONG_KEY, ALLOWED_HOSTS="billing.example.com")
    assert result.returncode == 0, result.stderr


def test_check_deploy_is_clean_with_a_production_like_environment():
    result = _run(
        ["manage.py", "check", "--deploy", "--fail-level", "WARNING"],
        DEBUG="0",
        SECRET_KEY=STRONG_KEY,
        ALLOWED_HOSTS="billing.example.com",
        SECURE_SSL_REDIRECT="1",
        SECURE_HSTS_PRELOAD="1",
    )
    assert result.returncode == 0, result.stdout + result.stderr


def test_check_deploy_reports_the_development_secret_key():
    result = _run(["manage.py", "check", "--deploy"], DEBUG="0", ALLOWED_HOSTS="billing.example.com")
    assert result.returncode != 0
    assert "ledgerlink.E001" in result.stdout + result.stderr


def test_celery_worker_start_up_refuses_unsafe_settings():
    result = _run(
        ["-m", "celery", "-A", "backend", "worker", "--pool", "solo", "--loglevel", "INFO"],
        DEBUG="0",
        CELERY_BROKER_URL="memory://",
    )
    output = result.stdout + result.stderr
    assert result.returncode != 0
    assert "Refusing to start with DEBUG off" in output
    assert "SECRET_KEY is not set" in output
    assert "ready" not in output


def test_celery_worker_start_up_accepts_production_settings(settings):
    from backend.celery import refuse_unsafe_settings_on_worker_start

    settings.DEBUG = False
    settings.SECRET_KEY = STRONG_KEY
    settings.ALLOWED_HOSTS = ["billing.example.com"]
    assert refuse_unsafe_settings_on_worker_start() is None

    settings.ALLOWED_HOSTS = []
    with pytest.raises(SystemExit, match="ALLOWED_HOSTS is empty"):
        refuse_unsafe_settings_on_worker_start()
