"""Billing runs in eager mode: one job per customer, summaries, reruns, access, concurrency."""

import datetime as dt
from decimal import Decimal

import pytest

from billing.errors import NotFound, PermissionDenied, ValidationFailed
from billing.models import BillingReport, BillingRun, Interface, JobStatus, ReportJob, ReportStatus
from billing.selectors.jobs import billing_run_get, billing_run_summary, jobs_for_run
from billing.services.jobs import billing_run_start, report_job_run
from tests.billing.jobs.helpers import JAN_1, JAN_31, billed_customer, needs_postgresql, run_in_threads
from tests.factories import CustomerFactory, MembershipFactory, RuleFactory, RuleGroupFactory, UserFactory, staff_user


def start_run(actor=None, **kwargs):
    params = {"start_date": JAN_1, "end_date": JAN_31, "interface": Interface.GRAPHQL} | kwargs
    return billing_run_start(actor=actor, **params)


def current_reports_per_customer() -> dict[int, int]:
    counts: dict[int, int] = {}
    for customer_id in BillingReport.objects.filter(status=ReportStatus.DRAFT).values_list("customer_id", flat=True):
        counts[customer_id] = counts.get(customer_id, 0) + 1
    return counts


@pytest.mark.django_db
def test_run_of_three_customers_makes_three_reports_and_sums_them(on_commit, django_assert_num_queries):
    a = billed_customer(orders=2, name="Alpha")
    b = billed_customer(orders=3, name="Bravo", fee=Decimal("2.0000"))
    c = billed_customer(orders=0, name="Charlie")
    user = staff_user()
    seen = []

    with on_commit():
        run = start_run(user, customer_ids=[c.pk, a.pk, b.pk, a.pk], progress=lambda done, total: seen.append(done))

    jobs = list(jobs_for_run(run=run))
    assert [job.customer for job in jobs] == [a, b, c]
    assert all(job.status == JobStatus.SUCCEEDED and job.report is not None for job in jobs)
    assert all(job.requested_by == user and job.interface == Interface.GRAPHQL for job in jobs)
    assert [job.report.total_amount for job in jobs] == [Decimal("3.00"), Decimal("6.00"), Decimal("0.00")]
    assert seen == [1, 2, 3]
    assert run.customer_ids == [c.pk, a.pk, b.pk]

    with django_assert_num_queries(2):
        summary = billing_run_summary(run=run)
    assert (summary.total_jobs, summary.succeeded, summary.failed, summary.queued, summary.running) == (3, 3, 0, 0, 0)
    assert summary.finished
    assert summary.total_billed == Decimal("9.00")
    assert summary.billed_by_currency == {"USD": Decimal("9.00")}
    assert (summary.processed_orders, summary.total_orders) == (5, 5)
    assert summary.counts == {"queued": 0, "running": 0, "succeeded": 3, "failed": 0}


@pytest.mark.django_db
def test_summary_queries_do_not_grow_with_jobs(on_commit, django_assert_num_queries):
    customers = [billed_customer(orders=1) for _ in range(6)]
    with on_commit():
        run = start_run(customer_ids=[c.pk for c in customers])
    with django_assert_num_queries(2):
        summary = billing_run_summary(run=run)
    assert summary.total_jobs == 6


@pytest.mark.django_db
def test_run_without_customers_bills_every_active_customer(on_commit):
    active = [billed_customer(orders=1), billed_customer(orders=2)]
    CustomerFactory(is_active=False)

    with on_commit():
        run = start_run()

    assert run.customer_ids == []
    assert sorted(job.customer_id for job in jobs_for_run(run=run)) == sorted(c.pk for c in active)
    assert billing_run_summary(run=run).succeeded == 2


@pytest.mark.django_db
def test_member_run_without_customers_covers_only_their_customers(on_commit):
    mine, _other = billed_customer(orders=1), billed_customer(orders=1)
    member = MembershipFactory(customer=mine, user=UserFactory(permissions=["generate_report"])).user

    with on_commit():
        run = start_run(member)

    assert [job.customer for job in jobs_for_run(run=run)] == [mine]


@pytest.mark.django_db
def test_two_runs_for_one_period_leave_one_current_report_per_customer(on_commit):
    customers = [billed_customer(orders=2) for _ in range(3)]

    with on_commit():
        first = start_run()
    with on_commit():
        second = start_run()

    assert current_reports_per_customer() == {c.pk: 1 for c in customers}
    assert BillingReport.objects.count() == 6
    assert billing_run_summary(run=first).superseded == 3
    assert billing_run_summary(run=second).superseded == 0
    for job in jobs_for_run(run=second):
        assert job.report.status == ReportStatus.DRAFT


@pytest.mark.django_db
def test_a_failing_customer_fails_only_its_job(on_commit):
    good, bad = billed_customer(orders=2, name="Good"), billed_customer(orders=2, name="Bad")
    RuleFactory(
        rule_group=RuleGroupFactory(customer_service=bad.rate_card.get()), field="notes", operator="lt", value="1"
    )

    with on_commit():
        run = start_run(customer_ids=[good.pk, bad.pk])

    summary = billing_run_summary(run=run)
    assert (summary.succeeded, summary.failed, summary.total_billed) == (1, 1, Decimal("3.00"))
    failed = jobs_for_run(run=run).get(status=JobStatus.FAILED)
    assert failed.customer == bad and "notes" in failed.error
    assert not BillingReport.objects.filter(customer=bad).exists()


@pytest.mark.django_db
def test_summary_totals_by_currency(on_commit):
    usd = billed_customer(orders=2, currency="USD")
    cad = billed_customer(orders=1, currency="CAD")
    with on_commit():
        run = start_run(customer_ids=[usd.pk, cad.pk])
    summary = billing_run_summary(run=run)
    assert summary.billed_by_currency == {"CAD": Decimal("1.50"), "USD": Decimal("3.00")}
    assert summary.total_billed == Decimal("4.50")


@pytest.mark.django_db
def test_jobs_are_queued_until_the_run_commits(django_capture_on_commit_callbacks):
    customers = [billed_customer(orders=1) for _ in range(2)]
    with django_capture_on_commit_callbacks() as callbacks:
        run = start_run(customer_ids=[c.pk for c in customers])
    summary = billing_run_summary(run=run)
    assert (summary.queued, summary.finished, len(callbacks)) == (2, False, 1)
    assert BillingReport.objects.count() == 0


@pytest.mark.django_db
@pytest.mark.parametrize(
    ("kwargs", "field"),
    [
        ({"start_date": JAN_31, "end_date": JAN_1}, "end_date"),
        ({"start_date": "2025-01-01"}, "start_date"),
        ({"end_date": dt.datetime(2025, 1, 31, tzinfo=dt.UTC)}, "end_date"),
        ({"customer_ids": ["x"]}, "customer_ids"),
        ({"customer_ids": [True]}, "customer_ids"),
    ],
)
def test_invalid_run_requests_write_nothing(kwargs, field, on_commit):
    billed_customer(orders=1)
    with on_commit(), pytest.raises(ValidationFailed) as caught:
        start_run(**kwargs)
    assert field in caught.value.fields
    assert BillingRun.objects.count() == ReportJob.objects.count() == 0


@pytest.mark.django_db
def test_unknown_and_inactive_customers_are_named(on_commit):
    customer = billed_customer(orders=1)
    inactive = CustomerFactory(is_active=False)
    with on_commit(), pytest.raises(ValidationFailed) as caught:
        start_run(customer_ids=[customer.pk, 999999, inactive.pk])
    messages = caught.value.fields["customer_ids"]
    assert messages == ["Unknown customer ids: 999999.", f"Inactive customers: {inactive.pk}."]
    assert BillingRun.objects.count() == ReportJob.objects.count() == 0


@pytest.mark.django_db
def test_run_permissions(on_commit):
    mine, other = billed_customer(orders=1), billed_customer(orders=1)
    member = MembershipFactory(customer=mine, user=UserFactory(permissions=["generate_report"])).user

    for actor, ids in (
        (staff_user(generate=False), None),
        (UserFactory(), [mine.pk]),
        (member, [mine.pk, other.pk]),
        (member, [999999]),  # unknown to this user, like any customer it may not see
    ):
        with on_commit(), pytest.raises(PermissionDenied):
            start_run(actor, customer_ids=ids)
    assert BillingRun.objects.count() == ReportJob.objects.count() == 0


@pytest.mark.django_db
def test_billing_run_get_is_scoped_to_customers_the_actor_sees(on_commit):
    mine, other = billed_customer(orders=1), billed_customer(orders=1)
    member = MembershipFactory(customer=mine).user
    with on_commit():
        own_run = start_run(customer_ids=[mine.pk])
    with on_commit():
        wide_run = start_run(customer_ids=[mine.pk, other.pk])

    assert billing_run_get(actor=member, run_id=str(own_run.pk)) == own_run
    assert billing_run_get(actor=staff_user(), run_id=wide_run.pk) == wide_run
    for run_id in (wide_run.pk, "not-a-uuid", None):
        with pytest.raises(NotFound):
            billing_run_get(actor=member, run_id=run_id)


def queued_jobs(customers, runs: int) -> list:
    """Jobs of `runs` billing runs over `customers`, created but not yet run."""
    job_ids = []
    for _ in range(runs):
        run = BillingRun.objects.create(start_date=JAN_1, end_date=JAN_31)
        for customer in customers:
            job = ReportJob.objects.create(customer=customer, start_date=JAN_1, end_date=JAN_31, billing_run=run)
            job_ids.append(job.pk)
    return job_ids


@needs_postgresql
@pytest.mark.django_db(transaction=True, databases="__all__")
def test_concurrent_jobs_for_one_customer_and_period_serialise_and_supersede(settings):
    """Two runs' jobs for the same customers executing at once: no IntegrityError, one current each."""
    settings.BILLING_GENERATION_CHUNK_SIZE = 5
    customers = [billed_customer(orders=25) for _ in range(2)]
    job_ids = queued_jobs(customers, runs=2)

    results = run_in_threads(lambda i: report_job_run(job_id=job_ids[i]), len(job_ids))

    assert not [r for r in results if isinstance(r, Exception)], results
    assert set(ReportJob.objects.values_list("status", flat=True)) == {JobStatus.SUCCEEDED}
    assert current_reports_per_customer() == {c.pk: 1 for c in customers}
    assert BillingReport.objects.filter(status=ReportStatus.SUPERSEDED).count() == 2


@needs_postgresql
@pytest.mark.django_db(transaction=True, databases="__all__")
def test_duplicate_deliveries_of_one_job_running_at_once_make_one_report(settings):
    """A redelivery racing the first delivery (e.g. after a visibility timeout) finds the job done."""
    settings.BILLING_GENERATION_CHUNK_SIZE = 5
    customer = billed_customer(orders=25)
    (job_id,) = queued_jobs([customer], runs=1)

    results = run_in_threads(lambda _: report_job_run(job_id=job_id), 3)

    assert not [r for r in results if isinstance(r, Exception)], results
    assert BillingReport.objects.count() == 1
    job = ReportJob.objects.get()
    assert job.status == JobStatus.SUCCEEDED and job.report is not None
