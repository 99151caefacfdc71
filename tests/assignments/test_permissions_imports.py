"""Role-by-endpoint matrix for the ops routes of assignments/api/imports.py: task import and bulk
update, batches, progress and the project status commands (see tests/workforce/
test_permissions_matrix.py for the conventions). Every route here is ops only: 403 for any other
signed-in role — before the project is looked up, so a missing project is a 404 for ops only —
and 401 for anonymous callers.

Project create (``POST projects/``) and update (``PATCH projects/{id}/``) are served by
assignments/api/work.py and have their rows here."""

from __future__ import annotations

from types import SimpleNamespace

import pytest

from assignments.models import Project, Task
from tests.assignments.factories import make_project
from tests.permissions import V1, Row, matrix_test, role_users, route_test

pytestmark = pytest.mark.django_db

PROJECT = V1 + "projects/<id:pk>/"
OPS_ONLY = (200, 403, 403, 403, 403, 401)
OPS_ONLY_CREATED = (201, 403, 403, 403, 403, 401)
OPS_ONLY_MISSING = (404, 403, 403, 403, 403, 401)
OPS_ONLY_INVALID = (400, 403, 403, 403, 403, 401)
OPS_ONLY_CONFLICT = (409, 403, 403, 403, 403, 401)

NEW_TASK = {"external_id": "new-1", "image_url": "https://img.example.test/new.jpg"}

# ops, manager A, manager B, internal labeler, vendor labeler (of A), anonymous
_ROWS: list[Row] = [
    Row("batches", "GET", PROJECT + "batches/", "/api/v1/projects/{project}/batches/", OPS_ONLY),
    Row(
        "batches of a missing project",
        "GET",
        PROJECT + "batches/",
        "/api/v1/projects/{missing}/batches/",
        OPS_ONLY_MISSING,
    ),
    Row(
        "import a batch",
        "POST",
        PROJECT + "batches/",
        "/api/v1/projects/{project}/batches/?format=jsonl",
        OPS_ONLY_CREATED,
        NEW_TASK,
    ),
    Row(
        "import a batch, invalid row",
        "POST",
        PROJECT + "batches/",
        "/api/v1/projects/{project}/batches/?format=jsonl",
        OPS_ONLY_INVALID,
        {"image_url": "ftp://files.example.test/x.jpg"},
    ),
    Row(
        "import into a missing project",
        "POST",
        PROJECT + "batches/",
        "/api/v1/projects/{missing}/batches/?format=jsonl",
        OPS_ONLY_MISSING,
        NEW_TASK,
    ),
    Row(
        "import into a done project",
        "POST",
        PROJECT + "batches/",
        "/api/v1/projects/{done}/batches/?format=jsonl",
        OPS_ONLY_CONFLICT,
        NEW_TASK,
    ),
    Row(
        "bulk update",
        "POST",
        PROJECT + "tasks/bulk-update/",
        "/api/v1/projects/{project}/tasks/bulk-update/?format=jsonl",
        OPS_ONLY,
        {"external_id": "t-0", "priority": 5},
    ),
    Row(
        "bulk update, unknown task",
        "POST",
        PROJECT + "tasks/bulk-update/",
        "/api/v1/projects/{project}/tasks/bulk-update/?format=jsonl",
        OPS_ONLY_INVALID,
        {"external_id": "no-such-task", "priority": 5},
    ),
    Row(
        "bulk update, missing project",
        "POST",
        PROJECT + "tasks/bulk-update/",
        "/api/v1/projects/{missing}/tasks/bulk-update/?format=jsonl",
        OPS_ONLY_MISSING,
        {"external_id": "t-0", "priority": 5},
    ),
    Row("progress", "GET", PROJECT + "progress/", "/api/v1/projects/{project}/progress/", OPS_ONLY),
    Row(
        "progress, missing project",
        "GET",
        PROJECT + "progress/",
        "/api/v1/projects/{missing}/progress/",
        OPS_ONLY_MISSING,
    ),
    Row(
        "status history",
        "GET",
        PROJECT + "status-changes/",
        "/api/v1/projects/{project}/status-changes/",
        OPS_ONLY,
    ),
    Row(
        "status history, missing project",
        "GET",
        PROJECT + "status-changes/",
        "/api/v1/projects/{missing}/status-changes/",
        OPS_ONLY_MISSING,
    ),
    Row(
        "pause with an overlong reason",
        "POST",
        PROJECT + "pause/",
        "/api/v1/projects/{project}/pause/",
        OPS_ONLY_INVALID,
        {"reason": "x" * 2001},
    ),
    Row(
        "activate draft",
        "POST",
        PROJECT + "activate/",
        "/api/v1/projects/{draft}/activate/",
        OPS_ONLY,
    ),
    Row(
        "activate missing project",
        "POST",
        PROJECT + "activate/",
        "/api/v1/projects/{missing}/activate/",
        OPS_ONLY_MISSING,
    ),
    Row("pause active", "POST", PROJECT + "pause/", "/api/v1/projects/{project}/pause/", OPS_ONLY),
    Row(
        "pause draft",
        "POST",
        PROJECT + "pause/",
        "/api/v1/projects/{draft}/pause/",
        OPS_ONLY_CONFLICT,
    ),
    Row(
        "resume paused", "POST", PROJECT + "resume/", "/api/v1/projects/{paused}/resume/", OPS_ONLY
    ),
    Row(
        "resume active",
        "POST",
        PROJECT + "resume/",
        "/api/v1/projects/{project}/resume/",
        OPS_ONLY_CONFLICT,
    ),
    Row(
        "finish active", "POST", PROJECT + "finish/", "/api/v1/projects/{project}/finish/", OPS_ONLY
    ),
    Row(
        "finish done",
        "POST",
        PROJECT + "finish/",
        "/api/v1/projects/{done}/finish/",
        OPS_ONLY_CONFLICT,
    ),
]


# Create and update (ops only).
_ROWS += [
    Row(
        "create project",
        "POST",
        V1 + "projects/",
        "/api/v1/projects/",
        OPS_ONLY_CREATED,
        {"slug": "new", "name": "New", "answer_type": "single_choice", "classes": ["a", "b"]},
    ),
    Row(
        "create project, invalid",
        "POST",
        V1 + "projects/",
        "/api/v1/projects/",
        OPS_ONLY_INVALID,
        {"slug": "new", "name": "New", "answer_type": "single_choice", "classes": []},
    ),
]
_ROWS += [
    Row(
        "edit draft project",
        "PATCH",
        PROJECT,
        "/api/v1/projects/{draft}/",
        OPS_ONLY,
        {"name": "Renamed", "classes": ["ok", "crack"]},
    ),
    Row(
        "edit active project's schema",
        "PATCH",
        PROJECT,
        "/api/v1/projects/{project}/",
        OPS_ONLY_INVALID,
        {"classes": ["ok", "crack"]},
    ),
    Row(
        "edit done project",
        "PATCH",
        PROJECT,
        "/api/v1/projects/{done}/",
        OPS_ONLY_CONFLICT,
        {"name": "Renamed"},
    ),
    Row(
        "edit missing project",
        "PATCH",
        PROJECT,
        "/api/v1/projects/{missing}/",
        OPS_ONLY_MISSING,
        {"name": "Renamed"},
    ),
]

# The control set check (ops only). The world's projects have no control gold set: an
# override has nothing to accept (409); withdrawing none is idempotent.
_ROWS += [
    Row(
        "control check",
        "GET",
        PROJECT + "control-check/",
        "/api/v1/projects/{project}/control-check/",
        OPS_ONLY,
    ),
    Row(
        "control check, missing project",
        "GET",
        PROJECT + "control-check/",
        "/api/v1/projects/{missing}/control-check/",
        OPS_ONLY_MISSING,
    ),
    Row(
        "control check again",
        "POST",
        PROJECT + "control-check/",
        "/api/v1/projects/{project}/control-check/",
        OPS_ONLY,
    ),
    Row(
        "control override without a control set",
        "POST",
        PROJECT + "control-check/override/",
        "/api/v1/projects/{project}/control-check/override/",
        OPS_ONLY_CONFLICT,
        {"reason": "Known."},
    ),
    Row(
        "control override without a reason",
        "POST",
        PROJECT + "control-check/override/",
        "/api/v1/projects/{project}/control-check/override/",
        OPS_ONLY_INVALID,
        {},
    ),
    Row(
        "withdraw the control override",
        "DELETE",
        PROJECT + "control-check/override/",
        "/api/v1/projects/{project}/control-check/override/",
        OPS_ONLY,
    ),
    Row(
        "withdraw the control override of a done project",
        "DELETE",
        PROJECT + "control-check/override/",
        "/api/v1/projects/{done}/control-check/override/",
        OPS_ONLY_CONFLICT,
    ),
]

MATRIX: tuple[Row, ...] = tuple(_ROWS)


@pytest.fixture
def world(ops_user, manager_a, manager_b, internal_labeler, vendor_labeler):
    project = make_project(tasks=3, overlap=2)
    Task.objects.filter(pk=Task.objects.filter(project=project).order_by("id")[0].pk).update(
        external_id="t-0"
    )
    users = role_users(ops_user, manager_a, manager_b, internal_labeler, vendor_labeler)
    ids = {
        "project": project.pk,
        "draft": make_project(tasks=1, slug="draft", status=Project.Status.DRAFT).pk,
        "paused": make_project(tasks=1, slug="paused", status=Project.Status.PAUSED).pk,
        "done": make_project(tasks=1, slug="done", status=Project.Status.DONE).pk,
        "missing": 987654321,
    }
    return SimpleNamespace(users=users, ids=ids)


test_matrix = matrix_test(MATRIX)
test_matrix_rows_resolve_to_their_route = route_test(MATRIX)


def test_nothing_is_written_for_a_refused_role(client_for, world):
    before = Task.objects.count()
    for role in ("manager_a", "internal_labeler", "vendor_labeler", "anonymous"):
        client_for(world.users[role]).post(
            f"/api/v1/projects/{world.ids['project']}/batches/?format=jsonl",
            NEW_TASK,
            format="json",
        )
    assert Task.objects.count() == before
