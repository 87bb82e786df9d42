"""Ids as the database holds them: the BIGINT range of integer ids, and UUID keys read from text."""

from __future__ import annotations

import uuid
from typing import Any

from billing.errors import NotFound

MAX_ID = 2**63 - 1  # the largest id a database BIGINT holds


def parse_uuid(value: Any) -> uuid.UUID | None:
    """`value` as a UUID (a UUID, or its text in any form uuid.UUID reads), None when it is not one."""
    if isinstance(value, uuid.UUID):
        return value
    try:
        return uuid.UUID(str(value))
    except (TypeError, ValueError, AttributeError):
        return None


def uuid_or_not_found(value: Any, message: str) -> uuid.UUID:
    """`value` as a UUID; a malformed id raises NotFound(message), as an unknown one does."""
    key = parse_uuid(value)
    if key is None:
        raise NotFound(message)
    return key
