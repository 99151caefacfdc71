"""Bulk task import: the service (JSONL and CSV, every row validated, all or nothing, the first
100 problems reported, duplicate external ids, pre-labels per answer type) and the HTTP route
(multipart or raw body, format detection, size limit). The 100,000-row import in one request
runs on PostgreSQL, where the write is a COPY."""

from __future__ import annotations

import pytest
from django.core.exceptions import ValidationError
from django.core.files.uploadedfile import SimpleUploadedFile
from django.db import connection

from assignments import services
from assignments.models import Assignment, Batch, Project, Task
from assignments.services import imports
from config.errors import Conflict
from tests.assignments.factories import (
    csv_file,
    do_import,
    empty_project,
    jsonl,
    make_project,
    task_row,
)
from tests.conftest import requires_postgres
from tests.factories import make_labeler

pytestmark = pytest.mark.django_db


def problems(exc) -> list[tuple]:
    return [(e["row"], e["field"]) for e in exc.value.fields["rows"]]


# -- success ---------------------------------------------------------------------------------------


def test_jsonl_import_creates_one_batch_of_open_tasks(ops_user):
    project = empty_project(overlap=3)
    rows = [task_row(i) for i in range(50)]
    rows[0].update(prelabel="crack", prelabel_confidence=0.8, source="cam-1", complexity="hard")
    result = services.tasks_import(
        actor=ops_user,
        project=project,
        data=jsonl(rows),
        file_format="jsonl",
        source="drone-run-7",
        note="first flight",
        priority=4,
    )
    assert result.created == 50 and result.seconds >= 0
    batch = Batch.objects.get()
    assert (batch.source, batch.note, batch.priority, batch.created_by) == (
        "drone-run-7",
        "first flight",
        4,
        ops_user,
    )
    tasks = Task.objects.filter(batch=batch).order_by("id")
    assert tasks.count() == 50
    first = tasks[0]
    assert first.payload == {"image_url": "https://img.example.test/0.jpg", "metadata": {"n": 0}}
    assert (first.external_id, first.source, first.complexity) == ("img-000000", "cam-1", "hard")
    assert (first.prelabel, first.prelabel_confidence) == ("crack", 0.8)
    second = tasks[1]
    assert second.source == "drone-run-7"  # the batch's source by default
    assert second.prelabel is None and second.prelabel_confidence is None
    for task in tasks:
        assert (task.state, task.target, task.submitted, task.is_open) == ("open", 3, 0, True)
        assert task.gold_item_id is None and task.project_id == project.pk


def test_rows_without_priority_take_the_batch_priority():
    project = empty_project()
    do_import(
        project,
        jsonl([{"payload": {"image_url": "a/1.jpg"}}, {"image_url": "a/2.jpg", "priority": 9}]),
        priority=5,
    )
    assert sorted(Task.objects.values_list("priority", flat=True)) == [5.0, 9.0]


def test_csv_with_image_url_and_metadata_columns():
    project = empty_project()
    data = csv_file(
        ["external_id", "image_url", "metadata", "priority", "prelabel", "prelabel_confidence"],
        [
            ["c1", "https://img.example.test/1.jpg", '{"camera": "north"}', "2.5", "rust", "0.4"],
            ["c2", "images/2.png", "", "", '"ok"', ""],
            ["", "/media/3.png", "", "1", "", ""],
        ],
    )
    result = do_import(project, data, "csv")
    assert result.created == 3
    by_url = {t.payload["image_url"]: t for t in Task.objects.all()}
    one = by_url["https://img.example.test/1.jpg"]
    assert one.payload["metadata"] == {"camera": "north"}
    assert (one.priority, one.prelabel, one.prelabel_confidence) == (2.5, "rust", 0.4)
    two = by_url["images/2.png"]
    assert (two.payload["metadata"], two.prelabel, two.external_id) == ({}, "ok", "c2")
    assert by_url["/media/3.png"].external_id == ""


def test_csv_payload_column_and_a_bom():
    project = empty_project()
    data = "\ufeff" + "payload,external_id\n" + '"{""image_url"": ""x/1.jpg""}",e1\n'
    assert do_import(project, data.encode(), "csv").created == 1
    assert Task.objects.get().payload == {"image_url": "x/1.jpg", "metadata": {}}


def test_tasks_without_external_ids_may_repeat_nothing_else():
    project = empty_project()
    rows = [{"image_url": f"https://img.example.test/{i}.jpg"} for i in range(3)]
    do_import(project, jsonl(rows))
    do_import(project, jsonl(rows))
    assert Task.objects.filter(external_id="").count() == 6


# -- all or nothing and the report -----------------------------------------------------------------


def test_one_bad_row_among_many_writes_nothing_and_is_named():
    project = make_project(tasks=3)
    before = Task.objects.count()
    rows = [task_row(i) for i in range(3000)]
    rows[1499]["payload"] = {"image_url": "ftp://files.example.test/x.jpg"}
    with pytest.raises(services.ImportInvalid) as exc:
        do_import(project, jsonl(rows))
    assert exc.value.code == "import_invalid"
    assert problems(exc) == [(1500, "payload")]
    assert "image_url" in exc.value.fields["rows"][0]["message"]
    assert "nothing was imported" in exc.value.detail
    assert Task.objects.count() == before
    assert not Batch.objects.exists()


def test_only_the_first_hundred_problems_are_listed():
    project = empty_project()
    rows = [task_row(i) for i in range(1000)]
    for i in range(0, 1000, 4):  # 250 bad rows
        rows[i]["priority"] = "high"
    with pytest.raises(services.ImportInvalid) as exc:
        do_import(project, jsonl(rows))
    listed = exc.value.fields["rows"]
    assert len(listed) == 100
    assert listed[0] == {"row": 1, "field": "priority", "message": "Expected a number."}
    assert [e["row"] for e in listed] == list(range(1, 400, 4))
    assert exc.value.detail.startswith("250 problem(s)")
    assert "first 100" in exc.value.detail
    assert not Task.objects.exists()


def test_a_failure_while_writing_rolls_the_batch_back(monkeypatch):
    project = empty_project()
    write = imports._copy_tasks if connection.vendor == "postgresql" else imports._bulk_create_tasks
    name = write.__name__

    def write_then_fail(*args, **kwargs):
        write(*args, **kwargs)
        assert Task.objects.count() == 10  # written inside the transaction …
        raise RuntimeError("disk full")

    monkeypatch.setattr(imports, name, write_then_fail)
    with pytest.raises(RuntimeError):
        do_import(project, jsonl(task_row(i) for i in range(10)))
    assert not Task.objects.exists()  # … and rolled back with the batch
    assert not Batch.objects.exists()


@pytest.mark.parametrize(
    ("record", "field", "message"),
    [
        ({}, "image_url", "Required."),
        ({"image_url": "javascript:alert(1)"}, "image_url", "http or https"),
        ({"image_url": "../etc/passwd"}, "image_url", "'..'"),
        ({"payload": "x.jpg"}, "payload", "Expected a JSON object"),
        ({"payload": {"image_url": "x.jpg", "label": "ok"}}, "payload", "Unknown keys: label"),
        ({"payload": {"image_url": "x.jpg"}, "metadata": {}}, "payload", "not both"),
        ({"image_url": "x.jpg", "metadata": [1]}, "metadata", "Expected an object"),
        ({"image_url": "x.jpg", "metadata": {"k": "a\u0000b"}}, "metadata", "NUL"),
        ({"image_url": "x.jpg", "metadata": {"k": "x" * 20_000}}, "metadata", "At most 16 KB"),
        ({"image_url": "x.jpg", "priority": True}, "priority", "Expected a number."),
        ({"image_url": "x.jpg", "prelabel_confidence": 0.5}, "prelabel_confidence", "needs"),
        (
            {"image_url": "x.jpg", "prelabel": "ok", "prelabel_confidence": 1.5},
            "prelabel_confidence",
            "between 0 and 1",
        ),
        ({"image_url": "x.jpg", "external_id": 7}, "external_id", "Expected text"),
        ({"image_url": "x.jpg", "external_id": "a\tb"}, "external_id", "Control characters"),
        ({"image_url": "x.jpg", "source": "s" * 201}, "source", "At most 200"),
        ({"image_url": "x.jpg", "complexity": "c" * 33}, "complexity", "At most 32"),
        ({"image_url": "x.jpg", "gold_item": 1}, "gold_item", "Unknown field."),
        ({"image_url": "x.jpg", "state": "complete"}, "state", "Unknown field."),
    ],
)
def test_row_problems_name_the_field(record, field, message):
    project = empty_project()
    with pytest.raises(services.ImportInvalid) as exc:
        do_import(project, jsonl([{"image_url": "ok.jpg"}, record]))
    (error,) = exc.value.fields["rows"]
    assert (error["row"], error["field"]) == (2, field)
    assert message in error["message"]
    assert not Task.objects.exists()


def test_text_that_is_not_valid_unicode():
    project = empty_project()
    data = b'{"image_url": "a.jpg", "external_id": "x\\ud800"}\n{"image_url": "b\\udfff.jpg"}\n'
    with pytest.raises(services.ImportInvalid) as exc:
        do_import(project, data)
    assert problems(exc) == [(1, "external_id"), (2, "image_url")]
    assert not Task.objects.exists()


def test_lines_that_are_not_json_objects():
    project = empty_project()
    data = b'{"image_url": "a.jpg"}\n\nnot json\n[1, 2]\n{"image_url": "b.jpg", "priority": NaN}\n'
    with pytest.raises(services.ImportInvalid) as exc:
        do_import(project, data)
    assert problems(exc) == [(3, "row"), (4, "row"), (5, "row")]
    assert "JSON object" in exc.value.fields["rows"][1]["message"]


def test_csv_header_and_shape_problems():
    project = empty_project()
    with pytest.raises(services.ImportInvalid) as exc:
        do_import(project, b"image_url,colour\nx.jpg,red\n", "csv")
    assert problems(exc) == [(1, "header")]
    assert "'colour'" in exc.value.fields["rows"][0]["message"]
    with pytest.raises(services.ImportInvalid) as exc:
        do_import(project, b"external_id,priority\nx,1\n", "csv")
    assert "payload or image_url" in exc.value.fields["rows"][0]["message"]
    with pytest.raises(services.ImportInvalid) as exc:
        do_import(project, b"image_url\nx.jpg,extra\n", "csv")
    assert problems(exc) == [(2, "row")]
    with pytest.raises(services.ImportInvalid) as exc:
        do_import(project, b"", "jsonl")
    assert problems(exc) == [(None, "file")]
    assert not Task.objects.exists()


# -- external ids ----------------------------------------------------------------------------------


def test_external_id_repeated_in_the_file():
    project = empty_project()
    rows = [task_row(1), task_row(2), task_row(1)]
    with pytest.raises(services.ImportInvalid) as exc:
        do_import(project, jsonl(rows))
    (error,) = exc.value.fields["rows"]
    assert error == {
        "row": 3,
        "field": "external_id",
        "message": "Repeats the external id of row 1.",
    }


def test_external_id_the_project_already_has():
    project = empty_project()
    do_import(project, jsonl([task_row(1), task_row(2)]))
    other = make_project(tasks=0, slug="other")
    do_import(other, jsonl([task_row(3)]))  # ids are unique per project only
    with pytest.raises(services.ImportInvalid) as exc:
        do_import(project, jsonl([task_row(3), task_row(2)]))
    assert problems(exc) == [(2, "external_id")]
    assert "already has" in exc.value.fields["rows"][0]["message"]
    assert Task.objects.filter(project=project).count() == 2


def test_existing_ids_are_reported_with_the_other_problems_in_row_order():
    project = empty_project()
    do_import(project, jsonl([task_row(5)]))
    rows = [task_row(1), task_row(2), task_row(5), task_row(4)]
    rows[0]["priority"] = "x"
    rows[3]["priority"] = "y"
    with pytest.raises(services.ImportInvalid) as exc:
        do_import(project, jsonl(rows))
    assert problems(exc) == [(1, "priority"), (3, "external_id"), (4, "priority")]


# -- pre-labels per answer type --------------------------------------------------------------------


@pytest.mark.parametrize(
    ("answer_type", "good", "stored", "bad"),
    [
        ("single_choice", "rust", "rust", ["rust"]),
        ("multiple_choice", ["rust", "crack", "rust"], ["crack", "rust"], ["paint"]),
        (
            "boxes",
            [{"label": "crack", "x": 1, "y": 2, "w": 3, "h": 4}],
            [{"label": "crack", "x": 1.0, "y": 2.0, "w": 3.0, "h": 4.0}],
            [{"label": "crack", "x": 1, "y": 2, "w": 0, "h": 4}],
        ),
    ],
)
def test_prelabels_are_validated_against_the_schema(answer_type, good, stored, bad):
    project = empty_project(answer_type=answer_type)
    with pytest.raises(services.ImportInvalid) as exc:
        do_import(project, jsonl([task_row(1, prelabel=good), task_row(2, prelabel=bad)]))
    assert problems(exc) == [(2, "prelabel")]
    do_import(project, jsonl([task_row(1, prelabel=good, prelabel_confidence=0.9)]))
    assert Task.objects.get().prelabel == stored


def test_csv_prelabels_bare_or_json():
    single = empty_project()
    data = csv_file(["image_url", "prelabel"], [["a.jpg", "crack"], ["b.jpg", '"ok"']])
    do_import(single, data, "csv")
    assert sorted(Task.objects.values_list("prelabel", flat=True)) == ["crack", "ok"]
    multi = empty_project(slug="multi", answer_type="multiple_choice")
    with pytest.raises(services.ImportInvalid) as exc:
        do_import(multi, csv_file(["image_url", "prelabel"], [["a.jpg", "crack"]]), "csv")
    assert problems(exc) == [(2, "prelabel")]
    do_import(multi, csv_file(["image_url", "prelabel"], [["a.jpg", '["rust","ok"]']]), "csv")
    assert Task.objects.get(project=multi).prelabel == ["ok", "rust"]


# -- the project and the batch ---------------------------------------------------------------------


def test_a_done_project_takes_no_tasks():
    project = empty_project(status=Project.Status.DONE)
    with pytest.raises(Conflict) as exc:
        do_import(project, jsonl([task_row(1)]))
    assert exc.value.code == "project_done"


def test_bad_batch_fields_and_format():
    project = empty_project()
    with pytest.raises(ValidationError) as exc:
        do_import(project, jsonl([task_row(1)]), source="a\nb", priority=1.5)
    assert set(exc.value.message_dict) == {"source", "priority"}
    with pytest.raises(ValidationError) as exc:
        do_import(project, jsonl([task_row(1)]), file_format="xlsx")
    assert "format" in exc.value.message_dict


def test_more_rows_than_allowed_is_too_large():
    project = empty_project()
    with pytest.raises(services.ImportTooLarge):
        services.tasks_import(
            actor=None,
            project=project,
            data=jsonl(task_row(i) for i in range(11)),
            file_format="jsonl",
            max_rows=10,
        )
    assert not Task.objects.exists()


def test_imported_tasks_are_claimed_in_priority_order():
    project = empty_project(overlap=1)
    do_import(project, jsonl([task_row(1, priority=1), task_row(2, priority=5)]))
    labeler = make_labeler()
    claim = services.assignment_claim_next(labeler=labeler, project_id=project.pk)
    assert Task.objects.get(pk=claim.assignment.task_id).external_id == "img-000002"


# -- over HTTP -------------------------------------------------------------------------------------


@pytest.fixture
def ops_api(client_for, ops_user):
    return client_for(ops_user)


def test_http_multipart_upload_with_batch_fields(ops_api):
    project = empty_project()
    upload = SimpleUploadedFile("tasks.jsonl", jsonl(task_row(i) for i in range(5)))
    response = ops_api.post(
        f"/api/v1/projects/{project.pk}/batches/",
        {"file": upload, "source": "s3://bucket/run", "note": "n", "priority": "3"},
        format="multipart",
    )
    assert response.status_code == 201, response.content
    body = response.json()
    assert body["created"] == 5 and isinstance(body["seconds"], float)
    assert body["batch"]["source"] == "s3://bucket/run"
    assert body["batch"]["priority"] == 3 and body["batch"]["created_by"] == "ops"
    assert Task.objects.filter(batch_id=body["batch"]["id"]).count() == 5


def test_http_raw_body_csv_by_content_type_with_query_fields(ops_api):
    project = empty_project()
    data = csv_file(["external_id", "image_url"], [["a", "a.jpg"], ["b", "b.jpg"]])
    response = ops_api.generic(
        "POST",
        f"/api/v1/projects/{project.pk}/batches/?source=cam&priority=2",
        data,
        content_type="text/csv",
    )
    assert response.status_code == 201, response.content
    assert response.json()["batch"]["source"] == "cam"
    assert set(Task.objects.values_list("priority", flat=True)) == {2.0}


def test_http_format_override_and_errors(ops_api):
    project = empty_project()
    url = f"/api/v1/projects/{project.pk}/batches/"
    data = jsonl([task_row(1), {"image_url": 5}])
    response = ops_api.generic(
        "POST", url + "?format=jsonl", data, content_type="application/octet-stream"
    )
    assert response.status_code == 400
    body = response.json()
    assert body["code"] == "import_invalid"
    assert body["fields"]["rows"][0]["row"] == 2
    response = ops_api.generic("POST", url, data, content_type="application/octet-stream")
    assert response.status_code == 400 and "format" in response.json()["fields"]
    response = ops_api.generic("POST", url + "?format=csv", b"", content_type="text/csv")
    assert response.status_code == 400 and "file" in response.json()["fields"]
    assert not Task.objects.exists()


def test_http_body_over_the_limit_is_413(ops_api, monkeypatch):
    from assignments.api import imports as api

    monkeypatch.setattr(api, "TASK_IMPORT_MAX_BYTES", 1000)
    project = empty_project()
    response = ops_api.generic(
        "POST",
        f"/api/v1/projects/{project.pk}/batches/?format=jsonl",
        jsonl(task_row(i) for i in range(50)),
        content_type="application/x-ndjson",
    )
    assert response.status_code == 413
    assert response.json()["code"] == "import_too_large"
    assert not Task.objects.exists()


def test_http_batch_list_with_progress(ops_api):
    project = empty_project()
    do_import(project, jsonl(task_row(i) for i in range(4)), source="one")
    do_import(project, jsonl(task_row(i) for i in range(4, 6)), source="two")
    response = ops_api.get(f"/api/v1/projects/{project.pk}/batches/")
    assert response.status_code == 200
    results = response.json()["results"]
    assert [b["source"] for b in results] == ["two", "one"]
    assert results[1]["progress"] == {"total": 4, "open": 4, "leased": 0, "done": 0, "review": 0}


# -- 100,000 rows in one request on PostgreSQL -----------------------------------------------------


@requires_postgres
def test_a_hundred_thousand_rows_in_one_request_then_claimable(ops_api):
    project = empty_project(overlap=2)
    n = 100_000
    lines = "".join(
        f'{{"external_id": "e{i}", "payload": {{"image_url": "https://img.example.test/{i}.jpg", '
        f'"metadata": {{"camera": "c{i % 9}", "seq": {i}}}}}, "priority": {i % 100}, '
        '"prelabel": "ok", "prelabel_confidence": 0.5}\n'
        for i in range(n)
    ).encode()
    assert len(lines) > 10 * 1024 * 1024  # over the global DATA_UPLOAD_MAX_MEMORY_SIZE
    response = ops_api.generic(
        "POST",
        f"/api/v1/projects/{project.pk}/batches/?format=jsonl",
        lines,
        content_type="application/x-ndjson",
    )
    assert response.status_code == 201, response.content[:500]
    assert response.json()["created"] == n
    assert Task.objects.filter(project=project, is_open=True, target=2).count() == n
    labeler = make_labeler()
    claim = services.assignment_claim_next(labeler=labeler, project_id=project.pk)
    task = Task.objects.get(pk=claim.assignment.task_id)
    assert task.priority == 99.0 and task.external_id == "e99"
    assert task.payload == {
        "image_url": "https://img.example.test/99.jpg",
        "metadata": {"camera": "c0", "seq": 99},
    }
    assert Assignment.objects.filter(task=task).count() == 1
