"""What this project relies on inside Django beyond its public API: the permission backend.

:class:`PermissionBackend` is Django's model backend with a user's permissions read in one
statement instead of two. It relies on ModelBackend memoising a user's permissions in the
private ``_perm_cache`` attribute (which ``has_perm`` reads through ``get_all_permissions``)
and on the column names of the auto-created many-to-many tables of users, groups and
permissions; tests/backend/test_django_internals.py checks both. It is kept because the GraphQL
benchmark still shows it pays (README, "Speed": one statement less per request, about 1 ms of
CPU on a page of 10 reports).

How a request is authenticated (API tokens, JWTs, the session) is accounts.authentication.
"""

from __future__ import annotations

import functools
from typing import Any

from django.contrib.auth import get_user_model
from django.contrib.auth.backends import ModelBackend
from django.contrib.auth.models import Group, Permission
from django.contrib.contenttypes.models import ContentType
from django.db import connections, router


class PermissionBackend(ModelBackend):
    """Django's model backend, reading a user's permissions in one statement instead of two.

    Every API request checks a permission (see billing.permissions), so the user's own and group
    permissions are read together, by a statement built once per database (:func:`user_permissions_sql`)
    rather than compiled by the ORM on every request. The result is memoised on the user object
    for the request, as ModelBackend does. Superusers, inactive users and per-object checks behave
    as in ModelBackend.
    """

    def get_all_permissions(self, user_obj: Any, obj: Any = None) -> set[str]:
        if not user_obj.is_active or user_obj.is_anonymous or obj is not None:
            return set()
        if not hasattr(user_obj, "_perm_cache"):
            if user_obj.is_superuser:
                pairs = list(Permission.objects.values_list("content_type__app_label", "codename"))
            else:
                alias = router.db_for_read(Permission)
                with connections[alias].cursor() as cursor:
                    cursor.execute(user_permissions_sql(alias), [user_obj.pk, user_obj.pk])
                    pairs = cursor.fetchall()
            user_obj._perm_cache = {f"{app_label}.{codename}" for app_label, codename in pairs}
        return user_obj._perm_cache


@functools.cache
def user_permissions_sql(alias: str) -> str:
    """(app label, codename) of the permissions a user has directly or through a group: two %s, the user id."""
    user_model = get_user_model()
    own = user_model._meta.get_field("user_permissions").remote_field.through._meta  # type: ignore[union-attr]
    membership = user_model._meta.get_field("groups").remote_field.through._meta  # type: ignore[union-attr]
    granted = Group._meta.get_field("permissions").remote_field.through._meta  # type: ignore[union-attr]
    permission, content_type = Permission._meta, ContentType._meta

    def table(meta: Any) -> str:
        return connections[alias].ops.quote_name(meta.db_table)

    def column(meta: Any, field: str) -> str:
        return connections[alias].ops.quote_name(meta.get_field(field).column)

    # Names come from the models' metadata, values are parameters.
    return (
        f"SELECT ct.{column(content_type, 'app_label')}, p.{column(permission, 'codename')} "  # noqa: S608
        f"FROM {table(permission)} p JOIN {table(content_type)} ct "
        f"ON ct.{column(content_type, 'id')} = p.{column(permission, 'content_type')} "
        f"WHERE p.{column(permission, 'id')} IN ("
        f"SELECT {column(own, 'permission')} FROM {table(own)} WHERE {column(own, 'user')} = %s "
        f"UNION SELECT g.{column(granted, 'permission')} FROM {table(granted)} g "
        f"JOIN {table(membership)} m ON m.{column(membership, 'group')} = g.{column(granted, 'group')} "
        f"WHERE m.{column(membership, 'user')} = %s)"
    )
