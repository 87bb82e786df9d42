"""billing.ids: integer ids within the BIGINT range, and UUID keys read from text."""

from __future__ import annotations

import uuid

import pytest

from billing.errors import NotFound
from billing.ids import MAX_ID, parse_uuid, uuid_or_not_found

KEY = uuid.UUID("12345678-1234-5678-1234-567812345678")


def test_max_id_is_the_largest_bigint():
    assert MAX_ID == 9_223_372_036_854_775_807


@pytest.mark.parametrize("value", [KEY, str(KEY), KEY.hex, str(KEY).upper(), f"{{{KEY}}}"])
def test_a_uuid_in_any_spelling_uuid_reads(value):
    assert parse_uuid(value) == KEY
    assert uuid_or_not_found(value, "Report not found.") == KEY


@pytest.mark.parametrize("value", ["", "not-a-uuid", "1234", None, 42, [1]])
def test_anything_else_is_none_or_not_found(value):
    assert parse_uuid(value) is None
    with pytest.raises(NotFound, match="Report not found"):
        uuid_or_not_found(value, "Report not found.")
