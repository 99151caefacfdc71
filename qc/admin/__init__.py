"""qc admin, one module per area; importing them registers their ModelAdmins."""

from qc.admin import gold, guides, quizzes, rules  # noqa: F401
