"""Reads of the assignments app, one module per area:

- ``gate``: the next-task gate (one query for everything a claim must know first);
- ``projects``: projects and assignments, scoped to the caller;
- ``progress``: project and batch progress;
- ``tasks``: task samples and a project's status history;
- ``quality_pages``: what the quality pages show (throughput, the scorecard, the project
  quality page);
- ``review``: the review queue and the export;
- ``control_set``: the control set's check.

The names callers use most are re-exported here; the rest are imported from their module."""

from assignments.selectors.gate import Gate, project_gate
from assignments.selectors.projects import (
    assignment_list_for,
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
