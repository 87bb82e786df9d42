"""The Django details backend.django_internals relies on.

When one of these fails after an upgrade, PermissionBackend no longer matches ModelBackend:
re-measure it against django.contrib.auth.backends.ModelBackend and adapt or drop it.
"""

from __future__ import annotations

import inspect

import pytest
from django.contrib.auth import get_user_model
from django.contrib.auth.backends import BaseBackend, ModelBackend
from django.contrib.auth.models import Group

from backend.django_internals import PermissionBackend, user_permissions_sql
from tests.factories import UserFactory


def test_model_backend_memoises_permissions_in_perm_cache():
    source = inspect.getsource(ModelBackend)
    assert "_perm_cache" in source, "ModelBackend's permission memo was renamed: PermissionBackend"
    assert "self.get_all_permissions(user_obj" in inspect.getsource(BaseBackend.has_perm), (
        "has_perm no longer reads get_all_permissions: PermissionBackend would be bypassed"
    )
    assert set(inspect.signature(ModelBackend.get_all_permissions).parameters) == {"self", "user_obj", "obj"}


def test_the_many_to_many_tables_have_the_columns_the_statement_names():
    user_model = get_user_model()
    own = user_model._meta.get_field("user_permissions").remote_field.through
    membership = user_model._meta.get_field("groups").remote_field.through
    granted = Group._meta.get_field("permissions").remote_field.through
    assert {field.name for field in own._meta.fields} >= {"user", "permission"}
    assert {field.name for field in membership._meta.fields} >= {"user", "group"}
    assert {field.name for field in granted._meta.fields} >= {"group", "permission"}


@pytest.mark.django_db
def test_the_statement_answers_what_model_backend_answers():
    user = UserFactory()
    assert user_permissions_sql("default").count("%s") == 2
    assert PermissionBackend().get_all_permissions(user) == ModelBackend().get_all_permissions(
        type(user).objects.get(pk=user.pk)
    )
