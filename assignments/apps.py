from django.apps import AppConfig


class AssignmentsConfig(AppConfig):
    name = "assignments"

    def ready(self) -> None:
        # qc's gold pages ask which projects use a gold set as their control set and how their
        # control tasks compare; qc cannot import this app, so it is told who answers.
        from assignments.services.control_set import ProjectControlInspector
        from qc import control_sets

        control_sets.register(ProjectControlInspector())
