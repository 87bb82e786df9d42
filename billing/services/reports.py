"""Billing report generation: the request's checks and its entry point.

report_generate checks the actor's permission and the arguments, then hands over to
billing.generation (a module per step; docs/architecture.md, "The generation pipeline"), which
prices every billable order of the customer's period with the pure pricing engine
(billing.pricing) and stores the result as an immutable snapshot, in one transaction.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable, Sequence

from django.contrib.auth.models import User

from billing.generation import generate_report
from billing.models import BillingReport, Interface, OutputFormat
from billing.permissions import Actor, ensure_can_generate_for
from billing.report_request import period_and_format_errors as _validate_arguments
from billing.selectors.rate_cards import load_rate_card

__all__ = ["load_rate_card", "report_generate"]


def report_generate(
    *,
    actor: Actor,
    customer_id: int,
    start_date: dt.date,
    end_date: dt.date,
    output_format: str = OutputFormat.JSON,
    customer_service_ids: Sequence[int] | None = None,
    interface: str = Interface.COMMAND,
    request_id: str = "",
    progress: Callable[[int, int], None] | None = None,
    created_by: User | None = None,
    only_unbilled: bool = False,
    preview: bool = False,
) -> BillingReport:
    """Price the customer's billable orders of [start_date, end_date] and store the report.

    The report records who made it: `created_by`, else the actor when it is a signed-in user,
    else the system user (billing.services.users.system_user).

    Raises PermissionDenied when the actor may not generate for this customer, and
    ValidationFailed (every field error at once: customer_id, start_date, end_date,
    output_format, customer_service_ids; rate_card for a stored rule the engine rejects).
    Everything happens in one transaction: on any error nothing is written. A previous
    current report of the same (customer, start_date, end_date) becomes superseded.
    `progress(processed, total)` is called after each chunk of BILLING_GENERATION_CHUNK_SIZE
    orders is priced, and after the last order. On PostgreSQL it runs while the default
    connection is streaming the report, so it must not use that connection (a query on it
    raises RuntimeError); write progress through another database alias.

    The report is a draft. It supersedes only the draft of the same scope: customer, period and
    set of rate-card lines (customer_service_ids, or the whole card). Each (order, rate-card line)
    pair it bills is claimed in BilledPair, whose primary key refuses a pair another live report
    bills: then AlreadyBilled (409) names those reports and counts the pairs, unless
    `only_unbilled`, which leaves such pairs out. A finalized report of the same scope is never
    replaced: InvalidTransition, unless `only_unbilled` (how late-closed orders get billed).
    `preview` is for billing.services.preview only, inside a transaction it rolls back.
    """
    ensure_can_generate_for(actor, customer_id)
    errors = _validate_arguments(start_date=start_date, end_date=end_date, output_format=output_format)
    return generate_report(
        actor=actor,
        customer_id=customer_id,
        start_date=start_date,
        end_date=end_date,
        output_format=output_format,
        customer_service_ids=customer_service_ids,
        interface=interface,
        request_id=request_id,
        progress=progress,
        errors=errors,
        created_by=created_by,
        only_unbilled=only_unbilled,
        preview=preview,
    )
