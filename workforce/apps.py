from django.apps import AppConfig
from django.db.models.signals import post_migrate


class WorkforceConfig(AppConfig):
    name = "workforce"
    verbose_name = "Workforce"

    def ready(self) -> None:
        # Role groups need the permission rows, which Django creates after migrating; setting
        # them up here keeps every database (demo, test, production) alike without a command.
        from workforce.roles_setup import ensure_role_groups

        post_migrate.connect(ensure_role_groups, sender=self, dispatch_uid="workforce_roles")
