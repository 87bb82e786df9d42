"""The permission backend: Django's model-backend answers, from one query per request."""

from __future__ import annotations

import pytest
from django.contrib.auth.models import Group, Permission
from django.db import connection
from django.test.utils import CaptureQueriesContext

from billing.permissions import GENERATE_PERMISSION, VIEW_PERMISSION
from tests.factories import UserFactory

pytestmark = pytest.mark.django_db


def permission(dotted: str) -> Permission:
    app_label, codename = dotted.split(".")
    return Permission.objects.get(content_type__app_label=app_label, codename=codename)


def fresh(user):
    """The user as a new request sees it (no permission memo)."""
    return type(user).objects.get(pk=user.pk)


def test_own_and_group_permissions_are_read_together_in_one_query():
    user = UserFactory()
    user.user_permissions.add(permission(VIEW_PERMISSION))
    group = Group.objects.create(name="billing clerks")
    group.permissions.add(permission(GENERATE_PERMISSION), permission(VIEW_PERMISSION))
    user.groups.add(group)
    user = fresh(user)

    with CaptureQueriesContext(connection) as queries:
        assert user.has_perm(VIEW_PERMISSION)
        assert user.has_perm(GENERATE_PERMISSION)
        assert not user.has_perm("billing.delete_billingreport")
        assert user.get_all_permissions() == {VIEW_PERMISSION, GENERATE_PERMISSION}

    assert len(queries) == 1


def test_a_permission_only_through_a_group_counts():
    user = UserFactory()
    group = Group.objects.create(name="generators")
    group.permissions.add(permission(GENERATE_PERMISSION))
    user.groups.add(group)

    assert fresh(user).has_perm(GENERATE_PERMISSION)
    assert not fresh(user).has_perm(VIEW_PERMISSION)


def test_a_user_without_permissions_has_none():
    assert fresh(UserFactory()).get_all_permissions() == set()
    assert not fresh(UserFactory()).has_perm(VIEW_PERMISSION)


def test_inactive_users_have_no_permissions_even_when_granted():
    user = UserFactory(is_active=False)
    user.user_permissions.add(permission(VIEW_PERMISSION))

    assert fresh(user).get_all_permissions() == set()
    assert not fresh(user).has_perm(VIEW_PERMISSION)


def test_superusers_have_every_permission():
    user = UserFactory(is_superuser=True)

    assert fresh(user).get_all_permissions() == {
        f"{app_label}.{codename}"
        for app_label, codename in Permission.objects.values_list("content_type__app_label", "codename")
    }


def test_object_permissions_are_not_granted():
    user = UserFactory()
    user.user_permissions.add(permission(VIEW_PERMISSION))

    assert fresh(user).get_all_permissions(obj=object()) == set()
    assert not fresh(user).has_perm(VIEW_PERMISSION, obj=object())
