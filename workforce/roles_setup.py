"""Creates the role groups and gives operations managers the admin permissions they need.

Idempotent; runs after every ``migrate``."""

from __future__ import annotations

from django.contrib.auth.models import Group, Permission

from workforce import roles

# health: the failed background work ops see and retry (health.admin).
OPS_APPS = (
    "workforce",
    "qc",
    "assignments",
    "payments",
    "authtoken",
    "django_celery_beat",
    "health",
)


def ensure_role_groups(*args, **kwargs) -> None:
    groups = {name: Group.objects.get_or_create(name=name)[0] for name in roles.ALL_GROUPS}
    ops_perms = Permission.objects.filter(content_type__app_label__in=OPS_APPS).exclude(
        codename=roles.MANAGE_VENDOR_CODENAME
    )
    groups[roles.OPS_MANAGERS].permissions.add(*ops_perms)
