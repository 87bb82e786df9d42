"""Report jobs through a real broker: Celery worker processes against the local Redis.

The worker processes use the test database (PostgreSQL only: they need committed data and a
server they can reach), so these tests commit for real (transactional_db).
"""

import os
import secrets
import signal
import subprocess
import time
import uuid
from collections.abc import Callable, Iterator
from io import StringIO
from pathlib import Path
from urllib.parse import quote

import kombu.pools
import pytest
from django.conf import settings as django_settings
from django.core.management import call_command
from django.db import connection

from backend.celery import app
from billing.models import BillingReport, Interface, JobStatus, ReportJob, ReportStatus
from billing.selectors.jobs import billing_run_summary
from billing.services.jobs import billing_run_start
from tests.billing.jobs.helpers import JAN_1, JAN_31, billed_customer
from tests.factories import staff_user, submit_job

BROKER_URL = os.environ.get("BROKER_TEST_URL", "redis://127.0.0.1:6379/5")
CELERY = Path(django_settings.BASE_DIR) / ".venv" / "bin" / "celery"
VISIBILITY_TIMEOUT = 4  # seconds before Redis hands an unacknowledged job to another worker
WORKER_START_TIMEOUT = 60
JOB_TIMEOUT = 90

pytestmark = [pytest.mark.broker, pytest.mark.django_db(transaction=True, databases="__all__")]


def _redis_reachable() -> str:
    import redis

    try:
        redis.Redis.from_url(BROKER_URL, socket_connect_timeout=1, socket_timeout=1).ping()
    except redis.RedisError as exc:
        return f"Redis is not reachable at {BROKER_URL} ({exc}); start it or set BROKER_TEST_URL"
    return ""


def _flush_broker() -> None:
    import redis

    redis.Redis.from_url(BROKER_URL).flushdb()


def _database_url() -> str:
    db = connection.settings_dict
    user = quote(db.get("USER") or "", safe="")
    password = f":{quote(db['PASSWORD'], safe='')}" if db.get("PASSWORD") else ""
    host = db.get("HOST") or "127.0.0.1"
    port = f":{db['PORT']}" if db.get("PORT") else ""
    return f"postgres://{user}{password}@{host}{port}/{db['NAME']}"  # the live test database


class Worker:
    """One `celery worker --pool=solo` process with its own log file."""

    def __init__(self, log_dir: Path, **env: str) -> None:
        self.name = f"jobs-test-{uuid.uuid4().hex[:8]}"
        self.log = log_dir / f"{self.name}.log"
        environment = os.environ | {
            "DATABASE_URL": _database_url(),
            "CELERY_BROKER_URL": BROKER_URL,
            "CELERY_VISIBILITY_TIMEOUT": str(VISIBILITY_TIMEOUT),
            "BILLING_TIME_ZONE": "UTC",
            "LOG_LEVEL": "INFO",
            # A production-like worker: DEBUG off passes the start-up refusal with these.
            "DEBUG": "0",
            "SECRET_KEY": secrets.token_urlsafe(48),
            "ALLOWED_HOSTS": "billing.example.com",
        }
        environment.update(env)
        environment.pop("DJANGO_SETTINGS_MODULE", None)  # backend/celery.py sets it
        with self.log.open("wb") as log:
            self.process = subprocess.Popen(
                [
                    str(CELERY),
                    "-A",
                    "backend",
                    "worker",
                    "--pool=solo",
                    "-c",
                    "1",
                    "-l",
                    "info",
                    "-n",
                    f"{self.name}@%h",
                    "--without-gossip",
                    "--without-mingle",
                    "--without-heartbeat",
                ],
                cwd=django_settings.BASE_DIR,
                env=environment,
                stdout=log,
                stderr=subprocess.STDOUT,
                start_new_session=True,
            )
        self.wait_ready()

    def output(self) -> str:
        return self.log.read_text(errors="replace")

    def wait_ready(self) -> None:
        deadline = time.monotonic() + WORKER_START_TIMEOUT
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise AssertionError(f"worker exited with {self.process.returncode}:\n{self.output()[-3000:]}")
            if " ready." in self.output():
                return
            time.sleep(0.2)
        self.stop()
        raise AssertionError(f"worker not ready after {WORKER_START_TIMEOUT}s:\n{self.output()[-3000:]}")

    def kill(self) -> None:
        """SIGKILL: no warm shutdown, no acknowledgement, no rollback by the worker itself."""
        self.process.send_signal(signal.SIGKILL)
        self.process.wait(timeout=10)

    def stop(self) -> None:
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)
            try:
                self.process.wait(timeout=15)
            except subprocess.TimeoutExpired:
                self.process.send_signal(signal.SIGKILL)
                self.process.wait(timeout=10)


@pytest.fixture
def broker(settings) -> Iterator[None]:
    """Send tasks to Redis instead of running them in-process, for this test."""
    if connection.vendor != "postgresql":
        pytest.skip("broker tests need PostgreSQL: worker processes must reach the test database")
    problem = _redis_reachable()
    if problem:
        pytest.skip(problem)
    _flush_broker()
    # Read before the settings change: the Celery app reads the Django settings lazily, so
    # afterwards it would already answer with the test's values and restore those.
    previous = (app.conf.task_always_eager, app.conf.broker_url)
    settings.CELERY_TASK_ALWAYS_EAGER = False
    settings.CELERY_BROKER_URL = BROKER_URL
    _reset_producer_pools()
    app.conf.task_always_eager = False
    app.conf.broker_url = BROKER_URL
    try:
        yield
    finally:
        app.conf.task_always_eager, app.conf.broker_url = previous
        _reset_producer_pools()
        _flush_broker()


def _reset_producer_pools() -> None:
    # The app caches its broker connection pools; drop them so the next send uses the new URL.
    kombu.pools.reset()
    app._pool = None
    app.amqp._producer_pool = None


@pytest.fixture
def workers(broker, tmp_path) -> Iterator[Callable[..., Worker]]:
    started: list[Worker] = []

    def start(**env: str) -> Worker:
        worker = Worker(tmp_path, **env)
        started.append(worker)
        return worker

    try:
        yield start
    finally:
        for worker in started:
            worker.stop()


def wait_for(predicate: Callable[[], object], timeout: float, what: str, worker: Worker | None = None) -> object:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = predicate()
        if value:
            return value
        time.sleep(0.1)
    log = f"\nworker log:\n{worker.output()[-3000:]}" if worker is not None else ""
    raise AssertionError(f"timed out after {timeout}s waiting for {what}{log}")


def job_row(job_id) -> dict:
    return ReportJob.objects.filter(pk=job_id).values("status", "processed_orders", "total_orders", "attempts").get()


def test_worker_generates_a_submitted_job_and_reports_progress(workers):
    worker = workers(BILLING_GENERATION_CHUNK_SIZE="5", BILLING_JOB_PROGRESS_DELAY="0.3")
    customer, user = billed_customer(orders=20), staff_user()

    job = submit_job(actor=user, customer_id=customer.pk, start_date=JAN_1, end_date=JAN_31, interface=Interface.REST)
    assert job.status in (JobStatus.QUEUED, JobStatus.RUNNING)  # generated by the worker, not here

    snapshots = []

    def finished():
        row = job_row(job.pk)
        snapshots.append((row["status"], row["processed_orders"], row["total_orders"]))
        return row["status"] in (JobStatus.SUCCEEDED, JobStatus.FAILED)

    wait_for(finished, JOB_TIMEOUT, "the job to finish", worker)

    job.refresh_from_db()
    assert job.status == JobStatus.SUCCEEDED, job.error
    assert (job.processed_orders, job.total_orders, job.attempts) == (20, 20, 1)
    in_flight = {done for status, done, total in snapshots if status == JobStatus.RUNNING and 0 < done < total}
    assert in_flight, f"no partial progress observed: {snapshots[:10]}"
    assert BillingReport.objects.get() == job.report


def test_workers_run_a_billing_run(workers):
    worker = workers()
    customers = [billed_customer(orders=n) for n in (1, 2, 3)]

    run = billing_run_start(
        actor=None,
        start_date=JAN_1,
        end_date=JAN_31,
        customer_ids=[c.pk for c in customers],
        interface=Interface.COMMAND,
    )

    summary = wait_for(
        lambda: (s := billing_run_summary(run=run)).finished and s, JOB_TIMEOUT, "the billing run", worker
    )
    assert (summary.total_jobs, summary.succeeded, summary.failed) == (3, 3, 0)
    assert str(summary.total_billed) == "9.00"
    assert BillingReport.objects.filter(status=ReportStatus.DRAFT).count() == 3


def test_a_killed_worker_job_is_redelivered_and_completes_with_one_report(workers):
    slow = workers(BILLING_GENERATION_CHUNK_SIZE="4", BILLING_JOB_PROGRESS_DELAY="0.5")
    customer, user = billed_customer(orders=40), staff_user()

    job = submit_job(actor=user, customer_id=customer.pk, start_date=JAN_1, end_date=JAN_31, interface=Interface.REST)
    started_at = time.monotonic()
    wait_for(lambda: job_row(job.pk)["processed_orders"] > 0, 30, "the job to start", slow)

    slow.kill()

    row = job_row(job.pk)
    assert row["status"] == JobStatus.RUNNING and row["processed_orders"] < 40  # died mid-job
    assert BillingReport.objects.count() == 0  # its transaction never committed
    # Redis hands the unacknowledged job out again once its visibility timeout has passed.
    time.sleep(max(0.0, VISIBILITY_TIMEOUT + 1 - (time.monotonic() - started_at)))
    fresh = workers(BILLING_GENERATION_CHUNK_SIZE="4")

    wait_for(lambda: job_row(job.pk)["status"] == JobStatus.SUCCEEDED, JOB_TIMEOUT, "the redelivered job", fresh)

    job.refresh_from_db()
    assert job.attempts == 2
    assert (job.processed_orders, job.total_orders) == (40, 40)
    report = BillingReport.objects.get(customer=customer, start_date=JAN_1, end_date=JAN_31)
    assert job.report == report and report.status == ReportStatus.DRAFT
    assert report.order_count == 40


def test_billing_run_command_waits_for_the_workers(workers):
    workers()
    customers = [billed_customer(orders=2) for _ in range(2)]
    out = StringIO()

    call_command("billing_run", "--start", "2025-01-01", "--end", "2025-01-31", "--wait", "--timeout", "90", stdout=out)

    assert "Jobs: 2 (queued: 0, running: 0, succeeded: 2, failed: 0)" in out.getvalue()
    assert "Total billed: 6.00 USD" in out.getvalue()
    current = BillingReport.objects.filter(status=ReportStatus.DRAFT)
    assert sorted(current.values_list("customer_id", flat=True)) == sorted(c.pk for c in customers)


def test_billing_run_command_without_wait_only_queues(broker):
    billed_customer(orders=1)
    out = StringIO()

    call_command("billing_run", "--start", "2025-01-01", "--end", "2025-01-31", stdout=out)

    assert "Queued for the workers" in out.getvalue()
    assert ReportJob.objects.get().status == JobStatus.QUEUED  # no worker is running
