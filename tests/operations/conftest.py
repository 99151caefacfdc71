"""Fixtures of the landing page's tests: the world of ``tests.operations.factories`` at scale 1,
an operations manager who may also view failed tasks (the health app's admin), and the
session's headless chromium (tests/conftest.py) for the browser test."""

from __future__ import annotations

import pytest
from django.contrib.auth.models import Permission
from django.utils import timezone

from tests.operations.factories import landing_world


def grant(user, *codenames: str) -> None:
    """Give ``user`` the permissions ``app_label.codename`` directly (not through a group)."""
    for name in codenames:
        app_label, codename = name.split(".")
        user.user_permissions.add(
            Permission.objects.get(content_type__app_label=app_label, codename=codename)
        )


@pytest.fixture
def world(db):
    return landing_world(scale=1, now=timezone.now())


@pytest.fixture
def ops(ops_user):
    """The ops manager, also granted the view permission of failed tasks directly, so these
    tests do not hang on which apps the group's permissions cover (workforce.roles_setup)."""
    grant(ops_user, "health.view_failedtask")
    return ops_user


@pytest.fixture
def ops_admin(client, ops):
    client.force_login(ops)
    return client
