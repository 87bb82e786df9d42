"""Billing integrity and the invoice lifecycle: one live bill per (order, rate-card line),
partial reports, draft -> finalized -> voided with credit notes, on both APIs."""

from __future__ import annotations

import datetime as dt
import io
import json
import threading
from decimal import Decimal

import pytest
from django.db import connection, connections
from django.test import Client
from hypothesis import HealthCheck, given
from hypothesis import settings as hypothesis_settings
from hypothesis import strategies as st
from pypdf import PdfReader

from billing.errors import AlreadyBilled, InvalidTransition, PermissionDenied, ValidationFailed
from billing.exporters import credit_note_export, report_export
from billing.generation import generate as generate_module
from billing.models import (
    LIVE_REPORT_STATUSES,
    AuditAction,
    AuditEvent,
    BilledPair,
    BillingReport,
    ChargeType,
    CreditNote,
    NumberSequence,
    ReportJob,
    ReportLine,
    ReportStatus,
)
from billing.selectors.customers import customer_summaries
from billing.selectors.reports import report_list
from billing.services.jobs import billing_run_start
from billing.services.lifecycle import report_finalize, report_void
from billing.services.reports import report_generate
from billing.services.tokens import api_token_create
from tests.factories import (
    CustomerFactory,
    CustomerServiceFactory,
    MembershipFactory,
    ServiceFactory,
    UserFactory,
    order_with_lines,
    staff_user,
)

pytestmark = pytest.mark.django_db

AUG = (dt.date(2026, 8, 1), dt.date(2026, 8, 31))
MID_AUG_SEP = (dt.date(2026, 8, 15), dt.date(2026, 9, 15))


def closer():
    """Billing staff who may also finalize and void."""
    return UserFactory(
        username="closer", permissions=["view_billingreport", "generate_report", "finalize_report", "void_report"]
    )


@pytest.fixture
def customer():
    return CustomerFactory(company_name="Acme", currency="USD")


@pytest.fixture
def lines(customer):
    fee = CustomerServiceFactory(
        customer=customer, service=ServiceFactory(name="Order fee"), unit_price=Decimal("2.0000")
    )
    pick = CustomerServiceFactory(
        customer=customer,
        service=ServiceFactory(name="Pick", charge_type=ChargeType.PER_UNIT),
        unit_price=Decimal("0.5000"),
    )
    return {"fee": fee, "pick": pick}


@pytest.fixture
def orders(customer, lines):
    """Six orders: Aug 5, 10, 20, 25, Sep 5, 10 (2 units each)."""
    days = [dt.date(2026, 8, 5), dt.date(2026, 8, 10), dt.date(2026, 8, 20), dt.date(2026, 8, 25)]
    days += [dt.date(2026, 9, 5), dt.date(2026, 9, 10)]
    return [
        order_with_lines(
            customer=customer,
            transaction_id=f"T{i}",
            close_date=dt.datetime.combine(day, dt.time(12), tzinfo=dt.UTC),
            lines={"SKU": 2},
        )
        for i, day in enumerate(days)
    ]


def generate(customer, period, **kwargs):
    return report_generate(actor=None, customer_id=customer.pk, start_date=period[0], end_date=period[1], **kwargs)


def snapshot():
    """Everything a refused action must leave as it was."""
    return (
        sorted(BillingReport.objects.values_list("id", "status", "invoice_number", "superseded_by_id")),
        sorted(BilledPair.objects.values_list("order_id", "service_id")),
        CreditNote.objects.count(),
        AuditEvent.objects.count(),
        sorted(NumberSequence.objects.values_list("kind", "last_value")),
    )


def summary_of(customer):
    return customer_summaries(actor=staff_user(), customer_id=customer.pk).get()


def live_pairs_are_unique():
    pairs = list(
        ReportLine.objects.filter(report__status__in=LIVE_REPORT_STATUSES).values_list("order_id", "service_id")
    )
    return len(pairs) == len(set(pairs))


# --- the two reproductions ----------------------------------------------------------------


def test_an_overlapping_period_is_refused_naming_the_report_and_counting_the_pairs(customer, orders):
    august = generate(customer, AUG)
    before = snapshot()

    with pytest.raises(AlreadyBilled) as refused:
        generate(customer, MID_AUG_SEP)

    assert snapshot() == before
    details = refused.value.details
    assert details["pair_count"] == 4  # Aug 20 and Aug 25, two lines each
    assert [(r["id"], r["pairs"], r["status"]) for r in details["conflicting_reports"]] == [
        (str(august.pk), 4, "draft")
    ]
    assert str(august.pk) in refused.value.message and "4 " in refused.value.message

    rest = generate(customer, MID_AUG_SEP, only_unbilled=True)  # only September is left to bill
    assert rest.order_count == 2 and rest.total_amount == Decimal("6.00")
    assert BillingReport.objects.filter(status=ReportStatus.DRAFT).count() == 2
    assert live_pairs_are_unique()


@pytest.mark.skipif(connection.vendor != "postgresql", reason="PostgreSQL claims the pairs as it writes them")
def test_a_claim_refused_while_writing_is_rolled_back_and_refused_by_name(customer, orders, monkeypatch):
    """Were a pair claimed by another transaction after the generation looked (the customer's
    lock rules it out), the claim made while writing fails: the snapshot is written again and
    claimed afterwards, and the refusal is the one that names the holders."""
    august = generate(customer, AUG)
    before = snapshot()
    monkeypatch.setattr(generate_module, "any_billed", lambda orders, service_ids: False)

    with pytest.raises(AlreadyBilled) as refused:
        generate(customer, MID_AUG_SEP)

    assert snapshot() == before
    assert refused.value.details["pair_count"] == 4
    assert [(r["id"], r["pairs"]) for r in refused.value.details["conflicting_reports"]] == [(str(august.pk), 4)]
    assert generate(customer, MID_AUG_SEP, only_unbilled=True).order_count == 2
    assert live_pairs_are_unique()


def test_a_partial_run_never_replaces_the_full_bill(customer, orders, lines):
    full = generate(customer, AUG)
    assert full.total_amount == Decimal("12.00")

    with pytest.raises(AlreadyBilled):
        generate(customer, AUG, customer_service_ids=[lines["fee"].pk])

    full.refresh_from_db()
    assert full.status == ReportStatus.DRAFT
    summary = summary_of(customer)
    assert (summary.reports_count, summary.total_billed) == (1, Decimal("12.00"))


def test_a_partial_report_supersedes_only_the_draft_of_the_same_lines(customer, orders, lines):
    fee_only = generate(customer, AUG, customer_service_ids=[lines["fee"].pk])
    pick_only = generate(customer, AUG, customer_service_ids=[lines["pick"].pk])
    again = generate(customer, AUG, customer_service_ids=[lines["fee"].pk])

    fee_only.refresh_from_db()
    pick_only.refresh_from_db()
    assert (fee_only.status, fee_only.superseded_by_id) == (ReportStatus.SUPERSEDED, again.pk)
    assert pick_only.status == ReportStatus.DRAFT and pick_only.is_partial and again.is_partial
    assert (again.total_amount, pick_only.total_amount) == (Decimal("8.00"), Decimal("4.00"))
    # the whole card now conflicts with both partial drafts
    with pytest.raises(AlreadyBilled) as refused:
        generate(customer, AUG)
    assert refused.value.details["pair_count"] == 8
    holders = {(r["id"], r["pairs"]) for r in refused.value.details["conflicting_reports"]}
    assert holders == {(str(again.pk), 4), (str(pick_only.pk), 4)}  # not the superseded draft
    assert live_pairs_are_unique()


def test_deleting_a_report_releases_only_the_pairs_it_holds(customer, orders):
    first = generate(customer, AUG)
    second = generate(customer, AUG)  # supersedes the first and holds the same pairs
    claimed = sorted(BilledPair.objects.values_list("order_id", "service_id"))
    assert claimed == sorted(ReportLine.objects.filter(report=second).values_list("order_id", "service_id"))

    BillingReport.objects.filter(pk=second.pk).update(superseded_by=None)
    AuditEvent.objects.all().delete()  # the audit trail protects a report; seed_demo clears it the same way
    BillingReport.objects.filter(pk=first.pk).delete()  # superseded: it holds nothing
    assert sorted(BilledPair.objects.values_list("order_id", "service_id")) == claimed

    BillingReport.objects.filter(pk=second.pk).delete()  # live: its pairs can be billed again
    assert not BilledPair.objects.exists()
    again = generate(customer, AUG)
    assert again.line_count == len(claimed) and BilledPair.objects.count() == len(claimed)


# --- lifecycle ----------------------------------------------------------------------------


def test_finalize_numbers_the_invoice_and_audits(customer, orders, settings):
    settings.BILLING_INVOICE_NUMBER_FORMAT = "INV-{year}-{number:06d}"
    user = closer()
    first = generate(customer, AUG)
    second = generate(customer, (dt.date(2026, 9, 1), dt.date(2026, 9, 30)))

    report_finalize(actor=user, report_id=first.pk)
    report_finalize(actor=user, report_id=second.pk)

    first.refresh_from_db()
    second.refresh_from_db()
    year = first.finalized_at.year
    assert (first.status, first.invoice_number) == (ReportStatus.FINALIZED, f"INV-{year}-000001")
    assert second.invoice_number == f"INV-{year}-000002"
    assert first.finalized_by == user
    events = AuditEvent.objects.filter(action=AuditAction.FINALIZED).order_by("id")
    assert [(e.report_id, e.actor_id) for e in events] == [(first.pk, user.pk), (second.pk, user.pk)]


def test_refused_transitions_change_nothing(customer, orders):
    user = closer()
    draft = generate(customer, AUG)
    checks = [
        (lambda: report_void(actor=user, report_id=draft.pk, reason="wrong"), InvalidTransition),  # void a draft
    ]
    for call, error in checks:
        before = snapshot()
        with pytest.raises(error):
            call()
        assert snapshot() == before

    report_finalize(actor=user, report_id=draft.pk)
    for call, error in [
        (lambda: report_finalize(actor=user, report_id=draft.pk), InvalidTransition),  # finalize twice
        (lambda: report_void(actor=user, report_id=draft.pk, reason="   "), ValidationFailed),  # no reason
        (lambda: report_void(actor=user, report_id=draft.pk, reason=""), ValidationFailed),
        (lambda: generate(customer, AUG), InvalidTransition),  # regenerate a finalized scope
        (lambda: generate(customer, MID_AUG_SEP), AlreadyBilled),
    ]:
        before = snapshot()
        with pytest.raises(error):
            call()
        assert snapshot() == before


def test_a_customer_linked_user_may_do_none_of_it(customer, orders):
    member = UserFactory(username="member", permissions=["generate_report", "finalize_report", "void_report"])
    MembershipFactory(user=member, customer=customer)
    draft = generate(customer, AUG)
    before = snapshot()
    with pytest.raises(PermissionDenied):
        report_finalize(actor=member, report_id=draft.pk)
    report_finalize(actor=closer(), report_id=draft.pk)
    before = snapshot()
    with pytest.raises(PermissionDenied):
        report_void(actor=member, report_id=draft.pk, reason="no")
    assert snapshot() == before
    staff_without = staff_user(username="nofinal")
    with pytest.raises(PermissionDenied):
        report_void(actor=staff_without, report_id=draft.pk, reason="no")
    assert snapshot() == before


def test_customers_see_drafts_only_when_the_setting_allows(customer, orders, settings):
    member = UserFactory(username="member")
    MembershipFactory(user=member, customer=customer)
    draft = generate(customer, AUG)
    issued = generate(customer, (dt.date(2026, 9, 1), dt.date(2026, 9, 30)))
    report_finalize(actor=None, report_id=issued.pk)

    settings.BILLING_CUSTOMERS_SEE_DRAFTS = False
    assert list(report_list(actor=member).values_list("id", flat=True)) == [issued.pk]
    settings.BILLING_CUSTOMERS_SEE_DRAFTS = True
    assert set(report_list(actor=member).values_list("id", flat=True)) == {issued.pk, draft.pk}


def test_void_releases_the_orders_and_issues_a_credit_note(customer, orders):
    user = closer()
    report = generate(customer, AUG)
    report_finalize(actor=user, report_id=report.pk)

    note = report_void(actor=user, report_id=report.pk, reason="Billed to the wrong entity")

    report.refresh_from_db()
    assert report.status == ReportStatus.VOIDED and report.void_reason == "Billed to the wrong entity"
    assert note.amount == report.total_amount == Decimal("12.00")
    assert note.number.startswith("CN-") and note.number.endswith("000001")
    voided_pairs = set(ReportLine.objects.filter(report=report).values_list("order_id", "service_id"))
    assert voided_pairs and not voided_pairs & set(BilledPair.objects.values_list("order_id", "service_id"))
    assert AuditEvent.objects.filter(report=report, action=AuditAction.VOIDED, actor=user).count() == 1
    summary = summary_of(customer)
    assert summary.reports_count == 0

    again = generate(customer, AUG)  # the work may be billed again
    assert again.total_amount == Decimal("12.00") and again.status == ReportStatus.DRAFT

    files = {
        fmt: b"".join(credit_note_export(actor=user, report_id=report.pk, fmt=fmt, interface="command").chunks)
        for fmt in ("csv", "json", "pdf")
    }
    assert json.loads(files["json"])["invoice_number"] == report.invoice_number
    assert report.invoice_number in files["csv"].decode() and note.number in files["csv"].decode()
    text = PdfReader(io.BytesIO(files["pdf"])).pages[0].extract_text()
    assert "CREDIT NOTE" in text and report.invoice_number in text and note.number in text


def test_documents_say_what_they_are(customer, orders):
    report = generate(customer, AUG)
    viewer = staff_user()

    def pdf_text() -> str:
        data = b"".join(report_export(actor=viewer, report_id=report.pk, fmt="pdf", interface="command").chunks)
        return PdfReader(io.BytesIO(data)).pages[0].extract_text()

    assert "DRAFT" in pdf_text()
    report_finalize(actor=None, report_id=report.pk)
    report.refresh_from_db()
    text = pdf_text()
    assert "DRAFT" not in text and report.invoice_number in text
    assert "Issue date" in text and report.finalized_at.date().isoformat() in text
    csv_text = b"".join(
        report_export(actor=viewer, report_id=report.pk, fmt="csv", interface="command").chunks
    ).decode()
    assert ",finalized,all," in csv_text.splitlines()[1]


def test_month_end_run_skips_a_finalized_customer_with_a_reason(customer, orders, django_capture_on_commit_callbacks):
    report = generate(customer, AUG)
    report_finalize(actor=None, report_id=report.pk)
    other = CustomerFactory(company_name="Beta")

    with django_capture_on_commit_callbacks(execute=True):
        run = billing_run_start(actor=None, start_date=AUG[0], end_date=AUG[1], interface="command")

    skipped = ReportJob.objects.get(billing_run=run, customer=customer)
    assert skipped.report_id is None and "already finalized" in skipped.error and report.invoice_number in skipped.error
    assert ReportJob.objects.get(billing_run=run, customer=other).status == "succeeded"
    assert BillingReport.objects.filter(customer=customer, status__in=LIVE_REPORT_STATUSES).count() == 1


# --- REST and GraphQL ---------------------------------------------------------------------


@pytest.mark.parametrize("prefix", ["/api/v2/reports", "/api/v1/billing-v2/reports"])
def test_rest_generate_conflict_finalize_void_and_list(customer, orders, prefix):
    user = closer()
    client = Client(headers={"Authorization": f"Bearer {api_token_create(user=user, name='t')[1]}"})
    period = {"customer_id": customer.pk, "start_date": "2026-08-01", "end_date": "2026-08-31"}
    created = client.post(f"{prefix}/generate/", period, content_type="application/json")
    assert created.status_code == 201
    report_id = BillingReport.objects.get().pk

    overlap = {**period, "start_date": "2026-08-15", "end_date": "2026-09-15"}
    refused = client.post(f"{prefix}/generate/", overlap, content_type="application/json")
    assert refused.status_code == 409
    assert refused.json()["error"]["code"] == "ALREADY_BILLED"
    assert refused.json()["error"]["details"]["pair_count"] == 4

    finalized = client.post(f"{prefix}/{report_id}/finalize/")
    assert finalized.status_code == 200, finalized.content
    assert finalized.json()["data"]["status"] == "finalized" and finalized.json()["data"]["invoice_number"]
    again = client.post(f"{prefix}/{report_id}/finalize/")
    assert (again.status_code, again.json()["error"]["code"]) == (409, "INVALID_REPORT_TRANSITION")

    listed = client.get(f"{prefix}/", {"status": "finalized"}).json()["data"]
    assert [(r["id"], r["status"], r["is_partial"]) for r in listed] == [(str(report_id), "finalized", False)]
    assert client.get(f"{prefix}/", {"status": "nope"}).status_code == 400

    blank = ("   ", "\x1f\x1c", "\x85\u3000\xa0")  # what Python strips, beyond ASCII spaces too
    for body in ({}, *({"reason": text} for text in blank), {"reason": " a\x00b "}, {"reason": "\x00"}):
        refused_void = client.post(f"{prefix}/{report_id}/void/", body, content_type="application/json")
        assert refused_void.status_code == 400, body
        assert refused_void.json()["error"]["code"] == "VALIDATION_ERROR"
    voided = client.post(f"{prefix}/{report_id}/void/", {"reason": "duplicate"}, content_type="application/json")
    assert voided.status_code == 200 and voided.json()["data"]["number"].startswith("CN-")
    pdf = client.get(f"{prefix}/{report_id}/credit-note/download/", {"format": "pdf"})
    assert pdf.status_code == 200 and b"".join(pdf.streaming_content).startswith(b"%PDF")


FINALIZE = """mutation($id: UUID!) { finalizeReport(reportId: $id) { __typename
  ... on BillingReport { status invoiceNumber isPartial } ... on Error { code message } } }"""
VOID = """mutation($input: VoidReportInput!) { voidReport(input: $input) { __typename
  ... on CreditNote { number invoiceNumber amount } ... on Error { code } } }"""
GENERATE = """mutation($input: GenerateReportInput!) { generateReport(input: $input) { __typename
  ... on AlreadyBilledError { code pairCount conflictingReports { id pairs } } } }"""


def test_graphql_shares_the_service_and_the_codes(customer, orders):
    user = closer()
    client = Client()
    client.force_login(user)
    report = generate(customer, AUG)

    def run(query, variables):
        response = client.post("/graphql/", {"query": query, "variables": variables}, content_type="application/json")
        return response.json()["data"]

    conflict = run(GENERATE, {"input": {"customerId": customer.pk, "startDate": "2026-08-15", "endDate": "2026-09-15"}})
    assert conflict["generateReport"] == {
        "__typename": "AlreadyBilledError",
        "code": "ALREADY_BILLED",
        "pairCount": 4,
        "conflictingReports": [{"id": str(report.pk), "pairs": 4}],
    }
    assert run(VOID, {"input": {"reportId": str(report.pk), "reason": "x"}})["voidReport"]["code"] == (
        "INVALID_REPORT_TRANSITION"
    )
    done = run(FINALIZE, {"id": str(report.pk)})["finalizeReport"]
    assert done["status"] == "FINALIZED" and done["invoiceNumber"].startswith("INV-")
    assert run(FINALIZE, {"id": str(report.pk)})["finalizeReport"]["code"] == "INVALID_REPORT_TRANSITION"
    note = run(VOID, {"input": {"reportId": str(report.pk), "reason": "duplicate"}})["voidReport"]
    assert note["invoiceNumber"] == done["invoiceNumber"] and note["number"].startswith("CN-")


# --- property: never billed twice, summaries equal live reports --------------------------

PERIODS = [AUG, MID_AUG_SEP, (dt.date(2026, 9, 1), dt.date(2026, 9, 30)), (dt.date(2026, 8, 1), dt.date(2026, 9, 30))]
action = st.one_of(
    st.tuples(st.just("generate"), st.integers(0, 3), st.sampled_from([None, "fee", "pick"]), st.booleans()),
    st.tuples(st.just("finalize"), st.integers(0, 20)),
    st.tuples(st.just("void"), st.integers(0, 20)),
)


@hypothesis_settings(
    max_examples=15, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow]
)
@given(steps=st.lists(action, min_size=1, max_size=8))
def test_no_pair_is_ever_billed_by_two_live_reports(customer, orders, lines, steps):
    BillingReport.objects.filter(customer=customer).update(superseded_by=None)
    for model in (CreditNote, AuditEvent, BilledPair, NumberSequence):
        model.objects.all().delete()
    BillingReport.objects.filter(customer=customer).delete()
    for step in steps:
        reports = list(BillingReport.objects.order_by("created_at", "id"))
        try:
            if step[0] == "generate":
                _, period, line, only_unbilled = step
                ids = None if line is None else [lines[line].pk]
                generate(customer, PERIODS[period], customer_service_ids=ids, only_unbilled=only_unbilled)
            elif reports:
                target = reports[step[1] % len(reports)]
                if step[0] == "finalize":
                    report_finalize(actor=None, report_id=target.pk)
                else:
                    report_void(actor=None, report_id=target.pk, reason="property")
        except (AlreadyBilled, InvalidTransition):
            pass
        assert live_pairs_are_unique()
        live = BillingReport.objects.filter(status__in=LIVE_REPORT_STATUSES)
        claimed = sorted(BilledPair.objects.values_list("order_id", "service_id"))
        assert claimed == sorted(ReportLine.objects.filter(report__in=live).values_list("order_id", "service_id"))
        summary = summary_of(customer)
        assert summary.reports_count == live.count()
        assert summary.total_billed == sum((r.total_amount for r in live), Decimal("0.00"))
        numbers = sorted(
            int(n[-6:])
            for n in BillingReport.objects.exclude(invoice_number="").values_list("invoice_number", flat=True)
        )
        assert numbers == list(range(1, len(numbers) + 1))  # gapless


# --- concurrency (PostgreSQL: real threads, real connections) -----------------------------

postgres_only = pytest.mark.skipif(connection.vendor != "postgresql", reason="needs PostgreSQL row locks")


def _race(*calls):
    barrier = threading.Barrier(len(calls))
    results: list = [None] * len(calls)

    def worker(index, call):
        try:
            barrier.wait()
            results[index] = call()
        except Exception as exc:  # the outcome is what is compared
            results[index] = exc
        finally:
            connections.close_all()

    threads = [threading.Thread(target=worker, args=(i, call)) for i, call in enumerate(calls)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    return results


@postgres_only
@pytest.mark.django_db(transaction=True)
def test_two_overlapping_generations_at_once_give_one_report_and_one_conflict(customer, orders):
    results = _race(lambda: generate(customer, AUG), lambda: generate(customer, MID_AUG_SEP))

    assert sorted(type(r).__name__ for r in results) == ["AlreadyBilled", "BillingReport"]
    assert BillingReport.objects.count() == 1
    assert live_pairs_are_unique()


@postgres_only
@pytest.mark.django_db(transaction=True)
def test_racing_finalizations_get_gapless_numbers(customer, orders):
    periods = [(dt.date(2026, 8, d), dt.date(2026, 8, d + 1)) for d in (1, 3, 5, 7)]
    reports = [generate(customer, period) for period in periods]

    results = _race(*[lambda r=r: report_finalize(actor=None, report_id=r.pk) for r in reports])
    twice = _race(*[lambda: report_finalize(actor=None, report_id=reports[0].pk)] * 2)

    assert all(isinstance(r, BillingReport) for r in results)
    numbers = sorted(int(n[-6:]) for n in BillingReport.objects.values_list("invoice_number", flat=True))
    assert numbers == [1, 2, 3, 4]
    assert all(isinstance(r, InvalidTransition) for r in twice)


def test_the_command_refuses_billed_pairs_or_bills_only_the_rest(customer, orders, tmp_path):
    from django.core.management import CommandError, call_command

    generate(customer, AUG)
    args = ["generate_report", "--customer", str(customer.pk), "--start", "2026-08-15", "--end", "2026-09-15"]
    with pytest.raises(CommandError, match="already billed"):
        call_command(*args, "--output", str(tmp_path / "a.csv"), "--no-progress")
    call_command(*args, "--only-unbilled", "--output", str(tmp_path / "b.csv"), "--no-progress")
    assert BillingReport.objects.filter(status=ReportStatus.DRAFT).count() == 2
    assert live_pairs_are_unique()
