from django.apps import AppConfig


class AssignmentsConfig(AppConfig):
    name = "assignments"

    def ready(self) -> None:
        # qc's gold pages ask which projects use a gold set as their control set and how their
        # control tasks compare; qc cannot import this app, so it is told who answers.
        from assignments.services.control_set import ProjectControlInspector
        from qc import control_sets

        control_sets.register(ProjectControlInspector())

        # A vendor suspended or offboarded loses its labelers' live leases in the same
        # transaction (workforce announces the change; it cannot import this app).
        from assignments.services.claim import on_vendor_status_changed
        from workforce.signals import vendor_status_changed

        vendor_status_changed.connect(
            on_vendor_status_changed, dispatch_uid="assignments.vendor_leases_end"
        )
