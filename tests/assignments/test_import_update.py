"""Bulk updates of existing tasks' priorities and pre-labels (the active-learning hand-off): the
next-task order follows the new priorities; all or nothing; unknown or repeated tasks are row
problems; JSONL and CSV; over HTTP; 100,000 rows in one request on PostgreSQL."""

from __future__ import annotations

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile

from assignments import services
from assignments.models import Task
from config.errors import Conflict
from tests.assignments.factories import (
    csv_file,
    do_import,
    empty_project,
    jsonl,
    task_row,
    with_controls,
)
from tests.conftest import requires_postgres
from tests.factories import make_labeler

pytestmark = pytest.mark.django_db


def update(project, data, file_format="jsonl"):
    return services.tasks_bulk_update(
        actor=None, project=project, data=data, file_format=file_format
    )


@pytest.fixture
def project():
    project = empty_project(overlap=1)
    do_import(
        project,
        jsonl(
            task_row(i, priority=float(i), prelabel="ok", prelabel_confidence=0.5) for i in range(5)
        ),
    )
    return project


def task(external_id: str) -> Task:
    return Task.objects.get(external_id=external_id)


def next_external_id(project, labeler) -> str:
    claim = services.assignment_claim_next(labeler=labeler, project_id=project.pk)
    return Task.objects.get(pk=claim.assignment.task_id).external_id


def test_new_priorities_change_what_is_handed_out_next(project):
    assert next_external_id(project, make_labeler()) == "img-000004"
    lowest = task("img-000000")
    result = update(
        project,
        jsonl(
            [
                {"external_id": "img-000001", "priority": 50},
                {"id": lowest.pk, "priority": 99.5},
            ]
        ),
    )
    assert result.updated == 2 and result.seconds >= 0
    # Each labeler leases the top open task (overlap 1: a leased task is not handed out again).
    assert next_external_id(project, make_labeler()) == "img-000000"
    assert next_external_id(project, make_labeler()) == "img-000001"
    assert next_external_id(project, make_labeler()) == "img-000003"


def test_prelabels_set_cleared_and_left_alone(project):
    update(
        project,
        jsonl(
            [
                {"external_id": "img-000000", "prelabel": "rust", "prelabel_confidence": 0.9},
                {"external_id": "img-000001", "prelabel": None},
                {"external_id": "img-000002", "prelabel_confidence": None},
                {"external_id": "img-000003", "priority": 7},
            ]
        ),
    )
    assert (task("img-000000").prelabel, task("img-000000").prelabel_confidence) == ("rust", 0.9)
    assert (task("img-000001").prelabel, task("img-000001").prelabel_confidence) == (None, None)
    assert (task("img-000002").prelabel, task("img-000002").prelabel_confidence) == ("ok", None)
    three = task("img-000003")
    assert (three.priority, three.prelabel, three.prelabel_confidence) == (7.0, "ok", 0.5)


def test_csv_blank_cells_keep_and_null_clears(project):
    data = csv_file(
        ["external_id", "priority", "prelabel", "prelabel_confidence"],
        [
            ["img-000000", "3.5", "", ""],
            ["img-000001", "", "crack", "0.25"],
            ["img-000002", "", "null", ""],
        ],
    )
    assert update(project, data, "csv").updated == 3
    zero = task("img-000000")
    assert (zero.priority, zero.prelabel, zero.prelabel_confidence) == (3.5, "ok", 0.5)
    one = task("img-000001")
    assert (one.priority, one.prelabel, one.prelabel_confidence) == (1.0, "crack", 0.25)
    assert task("img-000002").prelabel is None


def test_unknown_tasks_are_row_problems_and_nothing_changes(project):
    other = empty_project(slug="other")
    do_import(other, jsonl([task_row(77)]))
    foreign = Task.objects.get(project=other)
    with pytest.raises(services.ImportInvalid) as exc:
        update(
            project,
            jsonl(
                [
                    {"external_id": "img-000000", "priority": 42},
                    {"external_id": "nope", "priority": 1},
                    {"id": foreign.pk, "priority": 1},
                    {"id": 987654321, "priority": 1},
                ]
            ),
        )
    rows = exc.value.fields["rows"]
    assert [(e["row"], e["field"]) for e in rows] == [
        (2, "external_id"),
        (3, "id"),
        (4, "id"),
    ]
    assert all(e["message"] == "The project has no such task." for e in rows)
    assert task("img-000000").priority == 0.0
    assert foreign.priority == Task.objects.get(pk=foreign.pk).priority


def test_control_tasks_are_not_addressable(project):
    with_controls(project, n=1)
    control = Task.objects.get(project=project, gold_item__isnull=False)
    with pytest.raises(services.ImportInvalid) as exc:
        update(project, jsonl([{"id": control.pk, "priority": 5}]))
    assert exc.value.fields["rows"][0]["field"] == "id"


def test_a_task_named_twice(project):
    one = task("img-000001")
    with pytest.raises(services.ImportInvalid) as exc:
        update(project, jsonl([{"id": one.pk, "priority": 1}, {"id": one.pk, "priority": 2}]))
    assert exc.value.fields["rows"] == [
        {"row": 2, "field": "id", "message": "Repeats the task of row 1."}
    ]
    # Once by id, once by external id: found when the ids are resolved.
    with pytest.raises(services.ImportInvalid) as exc:
        update(
            project,
            jsonl([{"id": one.pk, "priority": 1}, {"external_id": "img-000001", "priority": 2}]),
        )
    assert exc.value.fields["rows"] == [
        {"row": 2, "field": "row", "message": "Repeats the task of row 1."}
    ]
    assert task("img-000001").priority == 1.0


@pytest.mark.parametrize(
    ("record", "field", "message"),
    [
        ({"priority": 1}, "id", "id or its external_id"),
        ({"id": 1, "external_id": "x", "priority": 1}, "id", "not both"),
        ({"id": "7", "priority": 1}, "id", "whole number"),
        ({"id": 0, "priority": 1}, "id", "Not a task id"),
        ({"external_id": "img-000001"}, "row", "Nothing to update"),
        ({"external_id": "img-000001", "priority": None}, "priority", "cannot be cleared"),
        ({"external_id": "img-000001", "priority": "high"}, "priority", "Expected a number"),
        ({"external_id": "img-000001", "prelabel": "paint"}, "prelabel", "not one of"),
        ({"external_id": "img-000001", "prelabel_confidence": 2}, "prelabel_confidence", "0"),
        (
            {"external_id": "img-000001", "prelabel": None, "prelabel_confidence": 0.3},
            "prelabel_confidence",
            "needs a prelabel",
        ),
        ({"external_id": "img-000001", "state": "complete"}, "state", "Unknown field"),
    ],
)
def test_row_problems(project, record, field, message):
    with pytest.raises(services.ImportInvalid) as exc:
        update(project, jsonl([{"external_id": "img-000000", "priority": 9}, record]))
    (error,) = exc.value.fields["rows"]
    assert (error["row"], error["field"]) == (2, field)
    assert message in error["message"]
    assert task("img-000000").priority == 0.0


def test_a_done_project_is_not_updated(project):
    services.project_set_status(actor=None, project=project, status="done")
    with pytest.raises(Conflict):
        update(project, jsonl([{"external_id": "img-000000", "priority": 9}]))


def test_over_http_multipart_and_raw(client_for, ops_user, project):
    api = client_for(ops_user)
    url = f"/api/v1/projects/{project.pk}/tasks/bulk-update/"
    upload = SimpleUploadedFile(
        "scores.csv", csv_file(["external_id", "priority"], [["img-000002", "11"]])
    )
    response = api.post(url, {"file": upload}, format="multipart")
    assert response.status_code == 200, response.content
    assert response.json()["updated"] == 1
    response = api.generic(
        "POST",
        url,
        jsonl([{"external_id": "img-000003", "priority": 12}]),
        content_type="application/x-ndjson",
    )
    assert response.status_code == 200 and response.json()["updated"] == 1
    assert (task("img-000002").priority, task("img-000003").priority) == (11.0, 12.0)
    response = api.generic(
        "POST", url, jsonl([{"external_id": "zzz", "priority": 1}]), content_type="text/plain"
    )
    assert response.status_code == 400 and "format" in response.json()["fields"]
    response = api.generic(
        "POST", url + "?format=jsonl", jsonl([{"external_id": "zzz", "priority": 1}])
    )
    assert response.status_code == 400
    assert response.json()["code"] == "import_invalid"


@requires_postgres
def test_a_hundred_thousand_updates_in_one_request(client_for, ops_user):
    project = empty_project(overlap=1, slug="big")
    n = 100_000
    do_import(
        project,
        "".join(f'{{"external_id": "e{i}", "image_url": "i/{i}.jpg"}}\n' for i in range(n)),
    )
    body = "".join(
        f'{{"external_id": "e{i}", "priority": {i % 1000}, "prelabel": "rust", '
        f'"prelabel_confidence": 0.75}}\n'
        for i in range(n)
    ).encode()
    response = client_for(ops_user).generic(
        "POST",
        f"/api/v1/projects/{project.pk}/tasks/bulk-update/?format=jsonl",
        body,
        content_type="application/x-ndjson",
    )
    assert response.status_code == 200, response.content[:500]
    assert response.json()["updated"] == n
    assert Task.objects.filter(project=project, prelabel="rust").count() == n
    assert next_external_id(project, make_labeler()) == "e999"
