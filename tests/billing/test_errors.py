"""billing.errors.error_text: an error as one text, for job rows and command output."""

from __future__ import annotations

from billing.errors import NotFound, ValidationFailed, error_text


def test_the_message_then_each_field_that_says_more():
    exc = ValidationFailed(
        "Invalid period.", fields={"end_date": ["Too late.", "Too long."], "start_date": ["Invalid period."]}
    )
    assert error_text(exc) == "Invalid period. end_date: Too late.; Too long."
    assert error_text(exc, separator="\n  ") == "Invalid period.\n  end_date: Too late.; Too long."


def test_a_detail_that_is_not_a_list_and_an_error_without_details():
    assert error_text(ValidationFailed("Bad.", fields={"ids": "1, 2"})) == "Bad. ids: 1, 2"  # type: ignore[dict-item]
    assert error_text(NotFound("Customer 7 does not exist.")) == "Customer 7 does not exist."
