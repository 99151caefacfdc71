"""Writes of the assignments app, one module per area:

- ``claim``: the next task (the claim), release, leases, control tasks;
- ``submit``: storing an answer and its after-commit follow-up (grading a control answer);
- ``projects``: creating and changing projects, their status and control settings;
- ``imports``: bulk task import and updates;
- ``consensus``: consensus orchestration: a completed task's decision by the project's method,
  the run after its last submission and the sweep;
- ``review``: the review queue, flags, gold reviews, audits;
- ``decisions``: the decision of a task and its history, re-deciding after a refit;
- ``refits``: a project's model refit, and when it runs (one run at a time);
- ``control_set``: the control set's check and overrides.

The names callers outside the app use most are re-exported here; the rest are imported from
their module."""

from assignments.services.claim import (
    Claim,
    ClaimContended,
    assignment_claim_next,
    assignment_release,
    leases_expire,
    project_sync_control_tasks,
)
from assignments.services.submit import (
    Submission,
    assignment_submit,
    control_answer_grade,
    control_answers_grade_sweep,
    submission_follow_up,
    submissions_follow_up,
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
    "submissions_follow_up",
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
