from django.apps import AppConfig
from django.db.models.signals import post_migrate


class WorkforceConfig(AppConfig):
    name = "workforce"
    verbose_name = "Workforce"

    def ready(self) -> None:
        # Role groups need the permission rows, which Django creates app by app after migrating.
        # The set-up is idempotent and runs after every app's post_migrate (no sender filter), so
        # the last run sees the permissions of every app — qc, assignments, payments included.
        from workforce.roles_setup import ensure_role_groups

        post_migrate.connect(ensure_role_groups, dispatch_uid="workforce_roles")
