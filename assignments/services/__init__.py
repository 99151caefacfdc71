"""Writes of the assignments app, one module per area: ``claim`` (next task, submit, release,
leases, control tasks), ``imports`` (bulk task import and updates), ``review`` (consensus
hand-off, the review queue, flags, audits). The names callers use are re-exported here."""

from assignments.services.claim import (
    Claim,
    ClaimContended,
    Submission,
    assignment_claim_next,
    assignment_release,
    assignment_submit,
    control_answer_grade,
    control_answers_grade_sweep,
    leases_expire,
    project_sync_control_tasks,
    submission_follow_up,
)

__all__ = [
    "Claim",
    "ClaimContended",
    "Submission",
    "assignment_claim_next",
    "assignment_release",
    "assignment_submit",
    "control_answer_grade",
    "control_answers_grade_sweep",
    "leases_expire",
    "project_sync_control_tasks",
    "submission_follow_up",
]

# -- projects and bulk imports (assignments/services/projects.py, imports.py) --
from assignments.services.imports import (
    ImportInvalid,
    ImportResult,
    ImportTooLarge,
    UpdateResult,
    task_set_priority,
    tasks_bulk_update,
    tasks_import,
)
from assignments.services.projects import (
    project_create,
    project_leases_expire,
    project_refresh_control_prelabels,
    project_set_status,
    project_update,
)

__all__ += [
    "ImportInvalid",
    "ImportResult",
    "ImportTooLarge",
    "UpdateResult",
    "project_create",
    "project_leases_expire",
    "project_refresh_control_prelabels",
    "project_set_status",
    "project_update",
    "task_set_priority",
    "tasks_bulk_update",
    "tasks_import",
]
