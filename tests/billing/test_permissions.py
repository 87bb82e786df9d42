"""billing/permissions.py is the one place access is decided.

The decisions themselves are specified through the APIs (tests/graphql_schema/test_permissions_matrix.py,
tests/rest_compat/, the service tests); here: the requirements' own answers, and a scan that
keeps every permission or superuser/staff check inside billing/permissions.py.
"""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from django.contrib.auth.models import AnonymousUser

from billing.errors import PermissionDenied
from billing.permissions import (
    IMPORT_ORDERS,
    READ_AUDIT_TRAIL,
    can_view_audit_trail,
    ensure_can_import_orders,
)
from tests.factories import UserFactory

ROOT = Path(__file__).resolve().parents[2]
APPS = ("accounts", "backend", "billing", "dashboard", "graphql_schema", "rest_compat")

# Reading a user's permissions or its superuser/staff flag is deciding access.
ACCESS_CHECK = re.compile(
    r"\.(has_perms?\(|has_module_perms\(|is_superuser\b|is_staff\b)|user_passes_test|permission_required"
    r"|staff_member_required"
)

ALLOWED = {
    "billing/permissions.py": "the single place",
    # The permission backend answers has_perm itself (Django's superuser rule included).
    "backend/django_internals.py": "auth plumbing",
    # The landing page labels the signed-in user "(superuser)" or "(staff)"; it grants nothing.
    "backend/templates/backend/landing.html": "a label",
}


def _sources() -> list[Path]:
    files: list[Path] = []
    for app in APPS:
        for pattern in ("*.py", "*.html"):
            files += [path for path in (ROOT / app).rglob(pattern) if "migrations" not in path.parts]
    return files


def test_access_is_decided_only_in_billing_permissions():
    found = [
        f"{path.relative_to(ROOT)}:{number}: {line.strip()}"
        for path in _sources()
        if str(path.relative_to(ROOT)) not in ALLOWED
        for number, line in enumerate(path.read_text(encoding="utf-8").splitlines(), start=1)
        if ACCESS_CHECK.search(line)
    ]
    assert found == [], "decide access in billing/permissions.py:\n" + "\n".join(found)


def test_the_scan_sees_a_check():
    assert ACCESS_CHECK.search("if request.user.is_staff:")
    assert ACCESS_CHECK.search("user.has_perm('billing.add_order')")
    assert not ACCESS_CHECK.search('self._user("admin", is_staff=True)')


@pytest.mark.django_db
def test_a_requirement_needs_every_permission():
    assert not IMPORT_ORDERS.allows(UserFactory(permissions=["add_order"]))
    assert IMPORT_ORDERS.allows(UserFactory(permissions=["add_order", "change_order"]))


@pytest.mark.django_db
def test_superusers_meet_every_requirement_and_anonymous_or_inactive_users_none():
    assert READ_AUDIT_TRAIL.allows(UserFactory(is_superuser=True))
    assert not IMPORT_ORDERS.allows(AnonymousUser())
    assert not IMPORT_ORDERS.allows(None)
    assert not IMPORT_ORDERS.allows(UserFactory(is_superuser=True, is_active=False))


@pytest.mark.django_db
def test_the_audit_trail_is_for_holders_of_view_auditevent():
    assert can_view_audit_trail(UserFactory(permissions=["view_auditevent"]))
    assert not can_view_audit_trail(UserFactory(permissions=["view_billingreport"]))


@pytest.mark.django_db
def test_importing_orders():
    ensure_can_import_orders(None, create_customers=True)  # a server-side command
    with pytest.raises(PermissionDenied, match="signed in"):
        ensure_can_import_orders(AnonymousUser())
    with pytest.raises(PermissionDenied, match="permission to import"):
        ensure_can_import_orders(UserFactory(permissions=["add_order"]))
    clerk = UserFactory(permissions=["add_order", "change_order"])
    ensure_can_import_orders(clerk)
    with pytest.raises(PermissionDenied, match="server-side import may create customers"):
        ensure_can_import_orders(clerk, create_customers=True)
