from django.apps import AppConfig
from django.db.models.signals import post_migrate


class NotificationsConfig(AppConfig):
    """Email and signed webhooks for what labelers, vendor managers and ops must hear about."""

    default_auto_field = "django.db.models.BigAutoField"
    name = "notifications"

    def ready(self) -> None:
        from assignments import signals as work_signals
        from notifications import receivers
        from qc import signals as qc_signals
        from workforce import signals as workforce_signals

        uid = "notifications"
        qc_signals.rule_fired.connect(receivers.on_rule_fired, dispatch_uid=f"{uid}.rule")
        qc_signals.guide_version_published.connect(
            receivers.on_guide_version_published, dispatch_uid=f"{uid}.guide"
        )
        workforce_signals.labeler_status_changed.connect(
            receivers.on_labeler_status_changed, dispatch_uid=f"{uid}.status"
        )
        work_signals.flag_resolved.connect(receivers.on_flag_resolved, dispatch_uid=f"{uid}.flag")
        work_signals.drift_detected.connect(
            receivers.on_drift_detected, dispatch_uid=f"{uid}.drift"
        )
        post_migrate.connect(grant_ops_permissions, sender=self, dispatch_uid=f"{uid}.perms")


def grant_ops_permissions(*args, **kwargs) -> None:
    """Operations managers get this app's admin permissions (as workforce.roles_setup gives
    them the lower apps'), after every ``migrate``."""
    from django.contrib.auth.models import Group, Permission

    from workforce import roles

    group, _ = Group.objects.get_or_create(name=roles.OPS_MANAGERS)
    group.permissions.add(*Permission.objects.filter(content_type__app_label="notifications"))
