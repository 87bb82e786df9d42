"""What a client asks to generate, as one typed value (docs/architecture.md, "The request path").

Each edge (a REST view, a GraphQL mutation, a command, a report job) builds one ReportRequest
from its own input and hands it to billing.services.generate.report_request_submit; the fields
travel together instead of being passed one by one. The checks a request can make of itself
(the period, the format, the line subset, the shape of the idempotency key) are written here
once; the checks that need the database (the customer, its rate card) and the actor's
permission stay in the service, which runs them first.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import hashlib
import json
from typing import TYPE_CHECKING, Any

from billing.models import OutputFormat
from billing.periods import period_errors

if TYPE_CHECKING:
    from billing.models import Customer

__all__ = ["IDEMPOTENCY_KEY_MAX_LENGTH", "ReportRequest", "customer_problem", "period_and_format_errors"]

IDEMPOTENCY_KEY_MAX_LENGTH = 255


@dataclasses.dataclass(frozen=True, kw_only=True)
class ReportRequest:
    """One customer's report for a period, and how to make it.

    `customer_service_ids` None prices the whole rate card; otherwise only those lines (kept as
    given, a tuple). `asynchronous` queues a report job instead of generating now. An
    `idempotency_key` makes the request safe to retry (it needs a signed-in actor).
    `interface` and `request_id` are recorded in the audit trail.
    """

    customer_id: int
    start_date: dt.date
    end_date: dt.date
    interface: str
    output_format: str = OutputFormat.JSON
    customer_service_ids: tuple[int, ...] | None = None
    only_unbilled: bool = False
    asynchronous: bool = False
    idempotency_key: str | None = None
    request_id: str = ""

    def __post_init__(self) -> None:
        if self.customer_service_ids is not None and not isinstance(self.customer_service_ids, tuple):
            object.__setattr__(self, "customer_service_ids", tuple(self.customer_service_ids))

    def field_errors(self) -> dict[str, list[str]]:
        """Every problem the request has by itself, per field (empty when there is none)."""
        errors = period_and_format_errors(
            start_date=self.start_date, end_date=self.end_date, output_format=self.output_format
        )
        key_problem = _key_problem(self.idempotency_key)
        if key_problem:
            errors["idempotency_key"] = [key_problem]
        return errors

    def generate_arguments(self) -> dict[str, Any]:
        """The keyword arguments of billing.services.reports.report_generate this request sets."""
        return {
            "customer_id": self.customer_id,
            "start_date": self.start_date,
            "end_date": self.end_date,
            "output_format": self.output_format,
            "customer_service_ids": self.customer_service_ids,
            "only_unbilled": self.only_unbilled,
            "interface": self.interface,
            "request_id": self.request_id,
        }

    def canonical_service_ids(self) -> list[int] | None:
        """The line subset as stored on a job and hashed for a key: sorted, without repeats."""
        return None if self.customer_service_ids is None else sorted({int(i) for i in self.customer_service_ids})

    def fingerprint(self) -> str:
        """SHA-256 of what the request asks for, as canonical JSON: an idempotency key replays only
        the same fingerprint. only_unbilled is included only when set, so keys stored before it
        existed keep their hash; the interface and request id are not part of what is asked."""
        payload: dict[str, Any] = {
            "async": self.asynchronous,
            "customer_id": int(self.customer_id),
            "customer_service_ids": self.canonical_service_ids(),
            "end_date": self.end_date.isoformat(),
            "output_format": str(self.output_format),
            "start_date": self.start_date.isoformat(),
        }
        if self.only_unbilled:
            payload["only_unbilled"] = True
        canonical = json.dumps(payload, sort_keys=True, separators=(",", ":"))
        return hashlib.sha256(canonical.encode()).hexdigest()


def period_and_format_errors(*, start_date: Any, end_date: Any, output_format: Any) -> dict[str, list[str]]:
    """The period's and the output format's problems, per field."""
    errors = period_errors(start_date, end_date)
    if output_format not in OutputFormat.values:
        errors["output_format"] = [
            f"Unknown output format {output_format!r}. Allowed: {', '.join(OutputFormat.values)}."
        ]
    return errors


def customer_problem(customer: Customer | None, customer_id: int) -> str:
    """Why reports cannot be generated for this customer row (None: not found), or ""."""
    if customer is None:
        return f"Customer {customer_id} does not exist."
    if not customer.is_active:
        return f"Customer {customer_id} is inactive."
    return ""


def _key_problem(key: Any) -> str:
    if key is None:
        return ""
    if not isinstance(key, str) or not key:
        return "Idempotency key must be a non-empty string."
    if len(key) > IDEMPOTENCY_KEY_MAX_LENGTH:
        return f"Idempotency key must be at most {IDEMPOTENCY_KEY_MAX_LENGTH} characters."
    if not all(" " <= char <= "~" for char in key):
        return "Idempotency key must contain printable ASCII characters only."
    return ""
