"""Reads of the assignments app, one module per area; the names callers use are re-exported."""

from assignments.selectors.claim import (
    Gate,
    assignment_list_for,
    project_gate,
    project_get_for,
    project_list_for,
)

__all__ = ["Gate", "assignment_list_for", "project_gate", "project_get_for", "project_list_for"]
