"""The embedded mode (SQLite file, jobs run in-process) under concurrency, with real threads.

Ten threads each submit an asynchronous generation at the same moment, as ten web requests
would; with no broker each job runs in its submitting thread. Every job must succeed: none may
fail with "database is locked". Run in a subprocess on a fresh SQLite file (the test database
of pytest-django is in memory, where SQLite locks differently).
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import threading
from pathlib import Path

ROOT = Path(__file__).resolve().parents[3]
THREADS = 10


def probe() -> dict:
    """In the subprocess: migrate, seed ten customers, then generate for all of them at once."""
    import django

    django.setup()
    from django.core.management import call_command
    from django.db import close_old_connections

    from billing.models import Interface, JobStatus, ReportJob
    from tests.factories import JANUARY, CustomerFactory, make_orders, staff_user, submit_job
    from tests.graphql_schema.conftest import rate_card

    call_command("migrate", verbosity=0)
    staff = staff_user(username="staff")
    customers = []
    for index in range(THREADS):
        customer = CustomerFactory(company_name=f"Customer {index}")
        rate_card(customer)
        make_orders(customer, 50, prefix=f"C{index}-")
        customers.append(customer)
    close_old_connections()

    start = threading.Barrier(THREADS)
    errors: list[str] = []

    def submit(customer_id: int) -> None:
        try:
            start.wait()
            submit_job(
                actor=staff,
                customer_id=customer_id,
                start_date=JANUARY[0],
                end_date=JANUARY[1],
                interface=Interface.REST,
            )
        except Exception as exc:  # reported to the test, which fails on any
            errors.append(f"{type(exc).__name__}: {exc}")
        finally:
            close_old_connections()

    threads = [threading.Thread(target=submit, args=(customer.pk,)) for customer in customers]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    jobs = list(ReportJob.objects.values_list("status", "error"))
    return {
        "errors": errors,
        "statuses": sorted(status for status, _ in jobs),
        "job_errors": sorted({error for _, error in jobs if error}),
        "succeeded": sum(status == JobStatus.SUCCEEDED for status, _ in jobs),
    }


def test_ten_simultaneous_generations_all_succeed_on_sqlite(tmp_path):
    env = {
        **{k: v for k, v in os.environ.items() if k not in {"DATABASE_URL", "CELERY_BROKER_URL"}},
        "DJANGO_SETTINGS_MODULE": "backend.settings",
        "DATABASE_URL": f"sqlite:///{tmp_path / 'embedded.sqlite3'}",
        "LOG_LEVEL": "CRITICAL",
    }
    run = subprocess.run(
        [
            sys.executable,
            "-c",
            "import json, tests.billing.jobs.test_sqlite_concurrency as t; print(json.dumps(t.probe()))",
        ],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert run.returncode == 0, run.stderr[-3000:]
    result = json.loads(run.stdout.strip().splitlines()[-1])

    assert result["errors"] == []
    assert result["job_errors"] == []  # a failure would say why, e.g. "database is locked"
    assert result["succeeded"] == THREADS, result
