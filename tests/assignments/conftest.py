from __future__ import annotations

import contextlib

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from assignments import services as work_services

TRANSACTION_CONTROL = ("BEGIN", "COMMIT", "ROLLBACK", "SAVEPOINT", "RELEASE SAVEPOINT")


@pytest.fixture
def assert_max_statements():
    """Like ``django_assert_max_num_queries`` but not counting transaction control (BEGIN,
    COMMIT, savepoints), which SQLite reports and the test wrapper adds; what is pinned is the
    SQL the hot path sends."""

    @contextlib.contextmanager
    def check(limit: int):
        with CaptureQueriesContext(connection) as ctx:
            yield ctx
        statements = [
            q["sql"] for q in ctx.captured_queries if not q["sql"].startswith(TRANSACTION_CONTROL)
        ]
        assert len(statements) <= limit, (
            f"{len(statements)} statements, at most {limit} expected:\n\n" + "\n\n".join(statements)
        )

    return check


@pytest.fixture
def label(django_capture_on_commit_callbacks):
    """Claim the next task of ``project`` for ``labeler`` and submit ``answer``, running the
    after-commit consensus like production would."""

    def do(project, labeler, answer):
        claim = work_services.assignment_claim_next(labeler=labeler, project_id=project.pk)
        assert claim is not None, "no task left for this labeler"
        with django_capture_on_commit_callbacks(execute=True):
            work_services.assignment_submit(
                labeler=labeler, assignment_id=claim.assignment.pk, answer=answer
            )
        return claim.assignment

    return do
