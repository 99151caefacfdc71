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

__all__ += [
    "Progress",
    "batch_list_with_progress",
    "batch_progress_annotate",
    "project_list_with_progress",
    "project_progress",
    "project_progress_annotate",
]
