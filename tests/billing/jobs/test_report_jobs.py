"""Report jobs in eager mode (no broker): submit, run, progress, failures, repeated delivery."""

import time
import uuid
from decimal import Decimal

import pytest
from django.db import InterfaceError, OperationalError, connection

from billing.errors import NotFound, PermissionDenied, ValidationFailed
from billing.models import (
    AuditEvent,
    BillingReport,
    Interface,
    JobStatus,
    ReportJob,
    ReportStatus,
)
from billing.selectors.jobs import report_job_get, report_job_latest
from billing.services import jobs as jobs_service
from billing.services.jobs import report_job_run
from billing.services.reports import report_generate
from billing.tasks import generate_report_job
from tests.billing.jobs.helpers import JAN_1, JAN_31, billed_customer, needs_postgresql, run_in_threads
from tests.factories import (
    CustomerFactory,
    MembershipFactory,
    RuleFactory,
    RuleGroupFactory,
    UserFactory,
    staff_user,
    submit_job,
)


def submit(customer, actor=None, **kwargs):
    params = {"start_date": JAN_1, "end_date": JAN_31, "interface": Interface.REST} | kwargs
    return submit_job(actor=actor, customer_id=customer.pk, **params)


def queued_job(customer, **kwargs) -> ReportJob:
    return ReportJob.objects.create(customer=customer, start_date=JAN_1, end_date=JAN_31, **kwargs)


@pytest.mark.django_db
def test_submitted_job_runs_after_commit_and_links_its_report(on_commit, settings):
    settings.BILLING_GENERATION_CHUNK_SIZE = 3
    customer = billed_customer(orders=7)
    user = staff_user()

    with on_commit():
        job = submit(customer, actor=user, output_format="csv", request_id="req-42")
        assert job.status == JobStatus.QUEUED  # nothing runs before the transaction commits
        assert BillingReport.objects.count() == 0

    job.refresh_from_db()
    assert job.status == JobStatus.SUCCEEDED
    report = BillingReport.objects.get()
    assert job.report == report
    assert (job.processed_orders, job.total_orders) == (7, 7)
    assert job.attempts == 1
    assert job.error == ""
    assert job.started_at is not None and job.finished_at >= job.started_at
    assert (job.requested_by, job.interface, job.request_id) == (user, Interface.REST, "req-42")
    assert (report.total_amount, report.output_format, report.created_by) == (Decimal("10.50"), "csv", user)
    event = AuditEvent.objects.get(report=report)
    assert (event.interface, event.request_id, event.actor) == (Interface.REST, "req-42", user)


@pytest.mark.django_db
def test_submit_validates_like_generate_and_writes_nothing(on_commit):
    customer = billed_customer(orders=1)
    with on_commit(), pytest.raises(ValidationFailed) as caught:
        submit(customer, start_date=JAN_31, end_date=JAN_1, output_format="xls")
    assert set(caught.value.fields) == {"end_date", "output_format"}

    with on_commit(), pytest.raises(ValidationFailed) as caught:
        submit_job(
            actor=None, customer_id=customer.pk + 1000, start_date=JAN_1, end_date=JAN_31, interface=Interface.REST
        )
    assert "customer_id" in caught.value.fields

    with on_commit(), pytest.raises(PermissionDenied):
        submit(customer, actor=staff_user(generate=False))
    with on_commit(), pytest.raises(PermissionDenied):
        submit(customer, actor=MembershipFactory(user=UserFactory(permissions=["generate_report"])).user)
    assert ReportJob.objects.count() == 0
    assert BillingReport.objects.count() == 0


@pytest.mark.django_db
def test_job_for_a_bad_stored_rule_fails_with_its_message_and_leaves_no_report(on_commit):
    customer = billed_customer(orders=2)
    line = customer.rate_card.get()
    bad = RuleFactory(rule_group=RuleGroupFactory(customer_service=line), field="carrier", operator="gt", value="5")

    with on_commit():
        job = submit(customer)
    job.refresh_from_db()

    assert job.status == JobStatus.FAILED
    assert f"#{bad.pk}" in job.error
    assert job.report is None
    assert job.finished_at is not None
    assert BillingReport.objects.count() == 0


@pytest.mark.django_db
def test_unexpected_error_marks_the_job_failed_without_a_traceback_and_keeps_the_old_report(on_commit, monkeypatch):
    customer = billed_customer(orders=3)
    previous = report_generate(actor=None, customer_id=customer.pk, start_date=JAN_1, end_date=JAN_31)

    def explode(self, processed, total):
        raise RuntimeError("disk on fire")

    monkeypatch.setattr(jobs_service._ProgressWriter, "__call__", explode)
    with on_commit():
        job = submit(customer)
    job.refresh_from_db()

    assert job.status == JobStatus.FAILED
    assert "RuntimeError" in job.error
    assert "Traceback" not in job.error and "disk on fire" not in job.error
    assert list(BillingReport.objects.all()) == [previous]
    previous.refresh_from_db()
    assert previous.status == ReportStatus.DRAFT


@pytest.mark.django_db
def test_transient_database_error_is_left_to_the_task_retry_until_the_last_attempt(monkeypatch):
    customer = billed_customer(orders=2)
    job = queued_job(customer)

    def flaky(self, processed, total):
        raise OperationalError("server closed the connection unexpectedly")

    monkeypatch.setattr(jobs_service._ProgressWriter, "__call__", flaky)
    with pytest.raises(OperationalError):
        report_job_run(job_id=job.pk, worker=True, final_attempt=False)
    job.refresh_from_db()
    assert (job.status, job.attempts, job.report) == (JobStatus.RUNNING, 1, None)

    report_job_run(job_id=job.pk, worker=True, final_attempt=True)
    job.refresh_from_db()
    assert (job.status, job.attempts) == (JobStatus.FAILED, 2)
    assert "database was unavailable" in job.error
    assert BillingReport.objects.count() == 0


def test_task_retries_transient_database_errors_with_backoff_and_late_acknowledgement():
    task = generate_report_job
    assert set(task.autoretry_for) == {OperationalError, InterfaceError}
    assert (task.retry_backoff, task.max_retries, task.acks_late, task.reject_on_worker_lost) == (True, 5, True, True)


@pytest.mark.django_db
def test_in_eager_mode_a_transient_error_fails_the_job_at_once(monkeypatch):
    customer = billed_customer(orders=1)
    job = queued_job(customer)

    def flaky(self, processed, total):
        raise OperationalError("could not connect to server")

    monkeypatch.setattr(jobs_service._ProgressWriter, "__call__", flaky)
    generate_report_job.delay(str(job.pk))  # eager: no broker could redeliver a retry

    job.refresh_from_db()
    assert (job.status, job.attempts) == (JobStatus.FAILED, 1)
    assert BillingReport.objects.count() == 0


@pytest.mark.django_db
def test_a_retry_after_a_transient_error_completes_the_job(monkeypatch):
    customer = billed_customer(orders=2)
    job = queued_job(customer)
    real_call = jobs_service._ProgressWriter.__call__
    failures = [OperationalError("deadlock detected")]

    def flaky_once(self, processed, total):
        if failures:
            raise failures.pop()
        real_call(self, processed, total)

    monkeypatch.setattr(jobs_service._ProgressWriter, "__call__", flaky_once)
    with pytest.raises(OperationalError):
        report_job_run(job_id=job.pk, worker=True, final_attempt=False)
    report_job_run(job_id=job.pk, worker=True, final_attempt=False)  # what the task's retry does

    job.refresh_from_db()
    assert (job.status, job.attempts) == (JobStatus.SUCCEEDED, 2)
    assert BillingReport.objects.get() == job.report


@pytest.mark.django_db
def test_running_a_succeeded_job_again_does_nothing(on_commit):
    customer = billed_customer(orders=2)
    with on_commit():
        job = submit(customer)
    job.refresh_from_db()

    again = report_job_run(job_id=job.pk)
    generate_report_job.delay(str(job.pk))

    assert again.report == job.report
    job.refresh_from_db()
    assert (job.status, job.attempts) == (JobStatus.SUCCEEDED, 1)
    assert BillingReport.objects.count() == 1


@pytest.mark.django_db
def test_job_left_running_by_a_dead_attempt_runs_again_and_makes_one_report():
    customer = billed_customer(orders=4)
    # A worker died mid-job: its transaction rolled back, so the job says running and has no report.
    job = queued_job(customer, status=JobStatus.RUNNING, attempts=1, processed_orders=2, total_orders=4)

    report_job_run(job_id=job.pk)

    job.refresh_from_db()
    assert (job.status, job.attempts, job.processed_orders, job.total_orders) == (JobStatus.SUCCEEDED, 2, 4, 4)
    assert BillingReport.objects.get() == job.report


@pytest.mark.django_db
def test_job_with_its_report_linked_is_not_generated_again():
    customer = billed_customer(orders=1)
    report = report_generate(actor=None, customer_id=customer.pk, start_date=JAN_1, end_date=JAN_31)
    job = queued_job(customer, status=JobStatus.RUNNING, report=report)

    report_job_run(job_id=job.pk)

    assert BillingReport.objects.count() == 1
    job.refresh_from_db()
    assert (job.status, job.report) == (JobStatus.SUCCEEDED, report)


@pytest.mark.django_db
def test_failed_job_is_not_run_again_by_a_repeated_delivery():
    customer = billed_customer(orders=1)
    job = queued_job(customer, status=JobStatus.FAILED, error="earlier failure", attempts=1)

    report_job_run(job_id=job.pk)

    job.refresh_from_db()
    assert (job.status, job.error, job.attempts) == (JobStatus.FAILED, "earlier failure", 1)
    assert BillingReport.objects.count() == 0


@pytest.mark.django_db
def test_unknown_or_malformed_job_ids_are_ignored():
    assert report_job_run(job_id=uuid.uuid4()) is None
    assert report_job_run(job_id="not-a-uuid") is None


@pytest.mark.django_db
def test_job_for_a_customer_deactivated_after_submission_fails_with_a_readable_message():
    customer = billed_customer(orders=1)
    job = queued_job(customer)
    customer.is_active = False
    customer.save()

    report_job_run(job_id=job.pk)

    job.refresh_from_db()
    assert job.status == JobStatus.FAILED
    assert f"Customer {customer.pk} is inactive." in job.error


@pytest.mark.django_db
def test_job_selectors_scope_jobs_to_the_actor():
    mine, other = billed_customer(orders=0), billed_customer(orders=0)
    member = MembershipFactory(customer=mine).user
    older = queued_job(mine)
    newer = queued_job(mine, output_format="pdf")
    hidden = queued_job(other)

    assert report_job_get(actor=member, job_id=str(older.pk)) == older
    assert report_job_get(actor=staff_user(), job_id=hidden.pk) == hidden
    for job_id in (hidden.pk, uuid.uuid4(), "nope", None):
        with pytest.raises(NotFound):
            report_job_get(actor=member, job_id=job_id)
    with pytest.raises(NotFound):
        report_job_get(actor=None, job_id=older.pk)  # no user: nothing is visible

    latest = report_job_latest(actor=member, customer_id=mine.pk, start_date=JAN_1, end_date=JAN_31)
    assert latest == newer
    with pytest.raises(NotFound):
        report_job_latest(actor=member, customer_id=other.pk, start_date=JAN_1, end_date=JAN_31)
    with pytest.raises(NotFound):
        report_job_latest(actor=member, customer_id=mine.pk, start_date=JAN_1, end_date=JAN_1)


@pytest.mark.django_db
def test_inactive_customer_cannot_be_submitted(on_commit):
    customer = CustomerFactory(is_active=False)
    with on_commit(), pytest.raises(ValidationFailed) as caught:
        submit(customer)
    assert caught.value.fields["customer_id"] == [f"Customer {customer.pk} is inactive."]


@needs_postgresql
@pytest.mark.django_db(transaction=True, databases="__all__")
def test_progress_is_visible_to_other_connections_while_the_report_is_being_generated(settings):
    """Progress is committed on its own connection while the generation transaction is open."""
    settings.BILLING_GENERATION_CHUNK_SIZE = 5
    settings.BILLING_JOB_PROGRESS_DELAY = 0.3
    customer = billed_customer(orders=30)
    job = queued_job(customer)
    seen = []

    def watch(index):
        if index == 0:
            return report_job_run(job_id=job.pk)
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            row = ReportJob.objects.filter(pk=job.pk).values("status", "processed_orders", "total_orders").get()
            if row["status"] == JobStatus.SUCCEEDED:
                return None
            reports = BillingReport.objects.filter(customer=customer).count()
            seen.append((row["processed_orders"], row["total_orders"], reports))
            time.sleep(0.05)
        return None

    run_in_threads(watch, 2)

    in_flight = [(done, total) for done, total, reports in seen if done > 0 and reports == 0]
    assert in_flight, f"no progress seen while the report was uncommitted: {seen[:5]}"
    assert all(total == 30 for _, total in in_flight)
    assert len({done for done, _ in in_flight}) > 1  # it advanced
    job.refresh_from_db()
    assert (job.status, job.processed_orders, job.total_orders) == (JobStatus.SUCCEEDED, 30, 30)
    assert connection.vendor == "postgresql"
