"""Idempotency keys: replay, conflicts, expiry, validation, and concurrent requests."""

import datetime as dt

import pytest
from django.utils import timezone

from billing.errors import IdempotencyConflict, ValidationFailed
from billing.models import BillingReport, IdempotencyKey, Interface, JobStatus, ReportJob, ReportStatus
from billing.report_request import ReportRequest
from billing.services.generate import report_request_submit
from billing.tasks import cleanup_expired_idempotency_keys
from tests.billing.jobs.helpers import JAN_1, JAN_31, billed_customer, needs_postgresql, run_in_threads
from tests.factories import staff_user


def generate(user, customer, key="key-1", **kwargs):
    params = {"start_date": JAN_1, "end_date": JAN_31, "interface": Interface.REST} | kwargs
    submission = report_request_submit(user, ReportRequest(idempotency_key=key, customer_id=customer.pk, **params))
    return submission.result, submission.replayed


def submit(user, customer, key="key-1", **kwargs):
    params = {"start_date": JAN_1, "end_date": JAN_31, "interface": Interface.GRAPHQL} | kwargs
    request = ReportRequest(idempotency_key=key, customer_id=customer.pk, asynchronous=True, **params)
    return report_request_submit(user, request).result


@pytest.mark.django_db
def test_same_key_and_parameters_replays_the_first_report():
    customer, user = billed_customer(orders=3), staff_user()

    first, first_replayed = generate(user, customer, customer_service_ids=[customer.rate_card.get().pk])
    again, replayed = generate(user, customer, customer_service_ids=[customer.rate_card.get().pk])

    assert (first_replayed, replayed) == (False, True)
    assert again == first
    assert BillingReport.objects.count() == 1
    key = IdempotencyKey.objects.get()
    assert (key.user, key.key, key.report, key.job) == (user, "key-1", first, None)
    assert key.expires_at > timezone.now() + dt.timedelta(hours=23)


@pytest.mark.django_db
def test_same_key_with_other_parameters_is_refused_and_writes_nothing():
    customer, user = billed_customer(orders=2), staff_user()
    report, _ = generate(user, customer)

    line_ids = [customer.rate_card.get().pk]
    for changed in ({"end_date": dt.date(2025, 1, 30)}, {"output_format": "csv"}, {"customer_service_ids": line_ids}):
        with pytest.raises(IdempotencyConflict) as caught:
            generate(user, customer, **changed)
        assert "key-1" in caught.value.message
        assert caught.value.code == "IDEMPOTENCY_CONFLICT"

    other_customer = billed_customer(orders=1)
    with pytest.raises(IdempotencyConflict):
        generate(user, other_customer)
    assert list(BillingReport.objects.all()) == [report]
    assert IdempotencyKey.objects.count() == 1


@pytest.mark.django_db
def test_service_line_order_does_not_change_the_request():
    customer, user = billed_customer(orders=1), staff_user()
    line = customer.rate_card.get()
    first, _ = generate(user, customer, customer_service_ids=[line.pk, line.pk])
    again, replayed = generate(user, customer, customer_service_ids=[line.pk])
    assert (again, replayed) == (first, True)


@pytest.mark.django_db
def test_keys_belong_to_their_user():
    customer = billed_customer(orders=1)
    alice, bob = staff_user(), staff_user()

    mine, _ = generate(alice, customer)
    theirs, replayed = generate(bob, customer)

    assert not replayed
    assert mine != theirs
    assert IdempotencyKey.objects.count() == 2


@pytest.mark.django_db
def test_expired_key_is_forgotten_and_the_request_runs_again(settings):
    customer, user = billed_customer(orders=1), staff_user()
    first, _ = generate(user, customer)
    IdempotencyKey.objects.update(expires_at=timezone.now() - dt.timedelta(seconds=1))
    settings.IDEMPOTENCY_KEY_TTL_HOURS = 2

    second, replayed = generate(user, customer)

    assert not replayed
    assert second != first
    first.refresh_from_db()
    assert first.status == ReportStatus.SUPERSEDED
    key = IdempotencyKey.objects.get()
    assert key.report == second
    assert timezone.now() + dt.timedelta(minutes=119) < key.expires_at <= timezone.now() + dt.timedelta(hours=2)

    # Once expired it may even be reused with different parameters.
    IdempotencyKey.objects.update(expires_at=timezone.now() - dt.timedelta(seconds=1))
    third, replayed = generate(user, customer, output_format="pdf")
    assert not replayed and third.output_format == "pdf"


@pytest.mark.django_db
def test_failed_generation_leaves_no_key_behind():
    customer, user = billed_customer(orders=1), staff_user()
    customer.rate_card.update(is_active=False)

    with pytest.raises(ValidationFailed):
        generate(user, customer, customer_service_ids=[customer.rate_card.get().pk])

    assert IdempotencyKey.objects.count() == 0
    customer.rate_card.update(is_active=True)
    _, replayed = generate(user, customer, customer_service_ids=[customer.rate_card.get().pk])
    assert not replayed


@pytest.mark.django_db
@pytest.mark.parametrize(
    ("key", "message"),
    [
        ("", "non-empty"),
        ("k" * 256, "at most 255"),
        ("clé", "printable ASCII"),
        ("line\nbreak", "printable ASCII"),
        ("tab\there", "printable ASCII"),
    ],
)
def test_malformed_keys_are_validation_errors(key, message):
    customer, user = billed_customer(orders=1), staff_user()
    with pytest.raises(ValidationFailed) as caught:
        generate(user, customer, key=key)
    assert message in caught.value.fields["idempotency_key"][0]
    with pytest.raises(ValidationFailed):
        submit(user, customer, key=key)
    assert BillingReport.objects.count() == ReportJob.objects.count() == IdempotencyKey.objects.count() == 0


@pytest.mark.django_db
def test_longest_printable_key_is_accepted():
    customer, user = billed_customer(orders=1), staff_user()
    key = "".join(chr(c) for c in range(32, 127)) * 2 + "x" * 65
    assert len(key) == 255
    _, replayed = generate(user, customer, key=key)
    assert not replayed


@pytest.mark.django_db
def test_key_errors_are_reported_with_the_other_field_errors():
    customer, user = billed_customer(orders=1), staff_user()
    with pytest.raises(ValidationFailed) as caught:
        generate(user, customer, key="", start_date=JAN_31, end_date=JAN_1)
    assert set(caught.value.fields) == {"end_date", "idempotency_key"}


@pytest.mark.django_db
def test_commands_without_a_user_cannot_use_keys():
    customer = billed_customer(orders=1)
    with pytest.raises(ValidationFailed) as caught:
        generate(None, customer)
    assert "authenticated user" in caught.value.fields["idempotency_key"][0]


@pytest.mark.django_db
def test_async_submission_with_a_key_returns_the_same_job(on_commit):
    customer, user = billed_customer(orders=2), staff_user()

    with on_commit():
        job = submit(user, customer)
    with on_commit():
        again = submit(user, customer)

    assert again == job
    assert again.status == JobStatus.SUCCEEDED
    assert ReportJob.objects.count() == 1
    assert BillingReport.objects.count() == 1
    assert IdempotencyKey.objects.get().job == job


@pytest.mark.django_db
def test_async_key_with_other_parameters_is_refused(on_commit):
    customer, user = billed_customer(orders=2), staff_user()
    with on_commit():
        submit(user, customer)

    with on_commit(), pytest.raises(IdempotencyConflict):
        submit(user, customer, output_format="pdf")
    # The same parameters asked synchronously are another request too.
    with pytest.raises(IdempotencyConflict):
        generate(user, customer)
    assert ReportJob.objects.count() == 1
    assert BillingReport.objects.count() == 1


@pytest.mark.django_db
def test_cleanup_deletes_only_expired_keys():
    customer, user = billed_customer(orders=1), staff_user()
    generate(user, customer, key="old")
    generate(user, customer, key="fresh")
    IdempotencyKey.objects.filter(key="old").update(expires_at=timezone.now() - dt.timedelta(minutes=1))

    assert cleanup_expired_idempotency_keys.delay().get() == 1
    assert list(IdempotencyKey.objects.values_list("key", flat=True)) == ["fresh"]


@needs_postgresql
@pytest.mark.django_db(transaction=True, databases="__all__")
def test_concurrent_requests_with_one_key_create_one_report(settings):
    settings.BILLING_GENERATION_CHUNK_SIZE = 10
    customer, user = billed_customer(orders=60), staff_user()

    results = run_in_threads(lambda _: generate(user, customer, key="burst"), 6)

    errors = [r for r in results if isinstance(r, Exception)]
    assert not errors, errors
    reports = {report.pk for report, _ in results}
    assert len(reports) == 1
    assert sorted(replayed for _, replayed in results) == [False] + [True] * 5
    assert BillingReport.objects.count() == 1
    assert IdempotencyKey.objects.count() == 1


@needs_postgresql
@pytest.mark.django_db(transaction=True, databases="__all__")
def test_concurrent_requests_with_one_key_and_different_parameters_make_one_report_and_conflicts():
    customer, user = billed_customer(orders=20), staff_user()
    formats = ["json", "csv", "pdf", "json"]

    results = run_in_threads(lambda i: generate(user, customer, key="race", output_format=formats[i]), 4)

    reports = [r for r in results if not isinstance(r, Exception)]
    conflicts = [r for r in results if isinstance(r, IdempotencyConflict)]
    assert len(reports) + len(conflicts) == 4
    assert len({report.pk for report, _ in reports}) == 1
    assert BillingReport.objects.count() == 1


@needs_postgresql
@pytest.mark.django_db(transaction=True, databases="__all__")
def test_concurrent_async_submissions_with_one_key_create_one_job_and_one_report():
    customer, user = billed_customer(orders=20), staff_user()

    results = run_in_threads(lambda _: submit(user, customer, key="async-burst"), 4)

    assert not [r for r in results if isinstance(r, Exception)], results
    assert len({job.pk for job in results}) == 1
    assert ReportJob.objects.count() == 1
    assert BillingReport.objects.count() == 1
    assert ReportJob.objects.get().status == JobStatus.SUCCEEDED
