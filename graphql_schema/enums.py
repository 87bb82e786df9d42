"""GraphQL enums derived from the model choices and the selectors' ordering whitelists."""

from __future__ import annotations

import enum

import strawberry

from billing.errors import ErrorCode as BillingErrorCode
from billing.models import AuditAction as ModelAuditAction
from billing.models import ChargeType as ModelChargeType
from billing.models import Interface as ModelInterface
from billing.models import JobStatus as ModelJobStatus
from billing.models import OutputFormat as ModelOutputFormat
from billing.models import ReportStatus as ModelReportStatus
from billing.models import TierScope as ModelTierScope
from billing.selectors.orders import ORDER_ORDERING_FIELDS
from billing.selectors.reports import REPORT_ORDERING_FIELDS


def _from_choices(name: str, choices: type[enum.Enum]) -> type[enum.Enum]:
    """A GraphQL enum whose names are the choices' names and whose values are the stored strings."""
    return enum.Enum(name, {member.name: member.value for member in choices})  # type: ignore[return-value]


ErrorCode = strawberry.enum(
    enum.Enum("ErrorCode", {member.name: member.value for member in BillingErrorCode}),
    name="ErrorCode",
    description="Stable error codes, shared with the REST facade's error envelope.",
)
ChargeType = strawberry.enum(_from_choices("ChargeType", ModelChargeType), description="How a service is charged.")
OutputFormat = strawberry.enum(
    _from_choices("OutputFormat", ModelOutputFormat), description="File format a report is rendered in."
)
JobStatus = strawberry.enum(
    _from_choices("JobStatus", ModelJobStatus), description="Where a background report job stands."
)
TierScope = strawberry.enum(
    _from_choices("TierScope", ModelTierScope),
    description="PERIOD: a tiered line's bands graduate over the period's cumulative quantity; "
    "ORDER: they restart for each order.",
)
ReportStatus = strawberry.enum(
    _from_choices("ReportStatus", ModelReportStatus),
    description="DRAFT (generated), FINALIZED (issued with an invoice number), SUPERSEDED (a draft replaced "
    "by a regeneration of the same scope) or VOIDED (cancelled by a credit note).",
)
AuditAction = strawberry.enum(
    _from_choices("AuditAction", ModelAuditAction), description="What was done to a report (audit trail)."
)
AuditInterface = strawberry.enum(
    _from_choices("AuditInterface", ModelInterface),
    description="Where an audited action was requested: REST, GraphQL, a management command, a worker, the admin.",
)

ReportOrderField = strawberry.enum(
    enum.Enum("ReportOrderField", {name.upper(): name for name in REPORT_ORDERING_FIELDS}),
    name="ReportOrderField",
    description="Fields billing reports can be ordered by (the REST list's order_by whitelist).",
)
OrderOrderField = strawberry.enum(
    enum.Enum("OrderOrderField", {name.upper(): name for name in ORDER_ORDERING_FIELDS}),
    name="OrderOrderField",
    description="Fields orders can be ordered by.",
)


@strawberry.enum(description="Sort direction.")
class SortDirection(enum.Enum):
    ASC = "asc"
    DESC = "desc"
