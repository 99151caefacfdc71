"""Reads of the assignments app, one module per area; the names callers use are re-exported."""

from assignments.selectors.claim import (
    Gate,
    assignment_list_for,
    project_gate,
    project_get_for,
    project_list_for,
)

__all__ = ["Gate", "assignment_list_for", "project_gate", "project_get_for", "project_list_for"]

# -- progress (assignments/selectors/progress.py) --
from assignments.selectors.progress import (
    Progress,
    batch_list_with_progress,
    batch_progress_annotate,
    project_list_with_progress,
    project_progress,
    project_progress_annotate,
)

# -- tasks and project records (assignments/selectors/tasks.py) --
from assignments.selectors.tasks import (
    control_decoy_prelabels,
    project_status_changes,
    real_prelabel_sample,
)

__all__ += [
    "Progress",
    "batch_list_with_progress",
    "batch_progress_annotate",
    "control_decoy_prelabels",
    "project_list_with_progress",
    "project_progress",
    "project_progress_annotate",
    "project_status_changes",
    "real_prelabel_sample",
]
