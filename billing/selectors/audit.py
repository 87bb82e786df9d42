"""Read access to the audit trail: who generated, regenerated, superseded or downloaded which report.

The trail is for billing staff only (billing.permissions.can_view_audit_trail): a user with
``billing.view_auditevent`` (or a superuser) reads every event; anyone else, including users
linked to a customer, reads none. Events are
written by the services that perform the actions (report generation and report exports), in
the same transaction as the action.
"""

from __future__ import annotations

import uuid

from django.db.models import QuerySet

from billing.errors import ValidationFailed
from billing.ids import parse_uuid
from billing.models import AuditAction, AuditEvent, Interface
from billing.permissions import Actor, can_view_audit_trail

__all__ = ["audit_event_list", "audit_events_visible_to"]


def audit_events_visible_to(actor: Actor) -> QuerySet[AuditEvent]:
    """Every audit event for staff who may read the trail, none for anyone else; newest first."""
    if not can_view_audit_trail(actor):
        return AuditEvent.objects.none()
    return AuditEvent.objects.select_related("actor").order_by("-created_at", "-id")


def audit_event_list(
    *,
    actor: Actor,
    report_id: uuid.UUID | str | None = None,
    action: str | None = None,
    interface: str | None = None,
    actor_username: str | None = None,
) -> QuerySet[AuditEvent]:
    """The audit events the actor may read, filtered, newest first (created_at, then id, descending).

    - report_id: events of that report (a superseded report keeps its own events);
    - action: one of AuditAction (generated, regenerated, superseded, downloaded);
    - interface: one of Interface (rest, graphql, command, worker, admin);
    - actor_username: events of the user with exactly this username (events done by the server
      without a user, e.g. commands, have no actor and never match).
    Raises ValidationFailed listing every invalid filter at once.
    """
    errors: dict[str, list[str]] = {}
    report_key = parse_uuid(report_id) if report_id is not None else None
    if report_id is not None and report_key is None:
        errors["report_id"] = ["Enter a valid report id (a UUID)."]
    if action is not None and action not in AuditAction.values:
        errors["action"] = [f"Unknown action {action!r}. Allowed: {', '.join(AuditAction.values)}."]
    if interface is not None and interface not in Interface.values:
        errors["interface"] = [f"Unknown interface {interface!r}. Allowed: {', '.join(Interface.values)}."]
    if errors:
        raise ValidationFailed("Invalid audit event filters.", fields=errors)

    queryset = audit_events_visible_to(actor)
    if report_key is not None:
        queryset = queryset.filter(report_id=report_key)
    if action is not None:
        queryset = queryset.filter(action=action)
    if interface is not None:
        queryset = queryset.filter(interface=interface)
    if actor_username is not None:
        queryset = queryset.filter(actor__username=actor_username)
    return queryset
