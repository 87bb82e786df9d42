"""ReportRequest: the value each edge builds, its own checks and its idempotency fingerprint."""

from __future__ import annotations

import dataclasses
import datetime as dt

import pytest

from billing.errors import PermissionDenied, ValidationFailed
from billing.models import Interface
from billing.report_request import ReportRequest
from billing.services.generate import report_request_validate
from tests.factories import CustomerFactory, UserFactory, staff_user

JAN_1, JAN_31 = dt.date(2025, 1, 1), dt.date(2025, 1, 31)


def request(**changes) -> ReportRequest:
    fields = {"customer_id": 1, "start_date": JAN_1, "end_date": JAN_31, "interface": Interface.REST} | changes
    return ReportRequest(**fields)


def test_is_frozen_and_holds_the_line_subset_as_a_tuple():
    value = request(customer_service_ids=[3, 1, 3])

    assert value.customer_service_ids == (3, 1, 3)
    assert value.canonical_service_ids() == [1, 3]
    with pytest.raises(dataclasses.FrozenInstanceError):
        value.customer_id = 2  # type: ignore[misc]


def test_field_errors_name_every_field_at_once():
    value = request(start_date=JAN_31, end_date=JAN_1, output_format="xlsx", idempotency_key="")

    assert set(value.field_errors()) == {"end_date", "output_format", "idempotency_key"}
    assert request().field_errors() == {}


def test_fingerprint_is_what_is_asked_not_who_or_where():
    base = request(customer_service_ids=[1, 2])

    assert base.fingerprint() == request(customer_service_ids=[2, 1, 2]).fingerprint()
    assert base.fingerprint() == request(customer_service_ids=[1, 2], interface=Interface.GRAPHQL).fingerprint()
    assert base.fingerprint() == request(customer_service_ids=[1, 2], request_id="r-1").fingerprint()
    assert base.fingerprint() != request(customer_service_ids=[1, 2], asynchronous=True).fingerprint()
    assert base.fingerprint() != request(customer_service_ids=[1, 2], only_unbilled=True).fingerprint()
    assert base.fingerprint() != request().fingerprint()


def test_generate_arguments_are_the_use_case_keywords():
    value = request(output_format="csv", customer_service_ids=[5], only_unbilled=True, request_id="r-9")

    assert value.generate_arguments() == {
        "customer_id": 1,
        "start_date": JAN_1,
        "end_date": JAN_31,
        "output_format": "csv",
        "customer_service_ids": (5,),
        "only_unbilled": True,
        "interface": Interface.REST,
        "request_id": "r-9",
    }


@pytest.mark.django_db
def test_validation_decides_permission_first_then_lists_every_field():
    customer = CustomerFactory()
    bad = request(customer_id=customer.pk, end_date=dt.date(2024, 1, 1), idempotency_key="k" * 256)

    with pytest.raises(PermissionDenied):
        report_request_validate(UserFactory(), bad)
    with pytest.raises(ValidationFailed) as caught:
        report_request_validate(staff_user(), bad)
    assert list(caught.value.fields) == ["end_date", "idempotency_key"]
    with pytest.raises(ValidationFailed) as caught:
        report_request_validate(None, dataclasses.replace(bad, customer_id=customer.pk + 1))
    assert list(caught.value.fields) == ["end_date", "customer_id", "idempotency_key"]
    assert "authenticated user" in caught.value.fields["idempotency_key"][0]
