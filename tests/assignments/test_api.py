"""The labeler's work loop over HTTP: next task, submit, release; what a task response looks
like for real and control tasks; the statement count of the hot path including authentication."""

from __future__ import annotations

import pytest

from assignments import services
from assignments.models import Assignment, Task
from tests.assignments.factories import (
    CANARY,
    do_import,
    jsonl,
    make_project,
    task_row,
    with_controls,
)
from tests.factories import make_labeler, token_client

pytestmark = pytest.mark.django_db


def test_next_submit_loop_and_204_at_the_end():
    project = make_project(tasks=2, overlap=1)
    labeler = make_labeler()
    client = token_client(labeler)
    url = f"/api/v1/projects/{project.pk}/next-task/"
    first = client.post(url)
    assert first.status_code == 201
    again = client.post(url)
    assert again.status_code == 200 and again.json() == first.json()
    body = first.json()
    assert set(body) == {
        "id",
        "project",
        "status",
        "expires_at",
        "assignment",  # deprecated alias of id
        "lease_expires_at",  # deprecated alias of expires_at
        "payload",
        "answer_type",
        "classes",
    }
    bad = client.post(
        f"/api/v1/assignments/{body['assignment']}/submit/", {"answer": "nope"}, format="json"
    )
    assert bad.status_code == 400 and "answer" in bad.json()["fields"]
    ok = client.post(
        f"/api/v1/assignments/{body['assignment']}/submit/", {"answer": "ok"}, format="json"
    )
    assert ok.status_code == 200 and ok.json()["status"] == "submitted"
    second = client.post(url)
    assert second.status_code == 201
    client.post(f"/api/v1/assignments/{second.json()['assignment']}/release/")
    assert client.post(url).status_code == 204


def test_another_labelers_assignment_is_404():
    project = make_project(tasks=2, overlap=2)
    a, b = make_labeler(), make_labeler()
    claim = services.assignment_claim_next(labeler=a, project_id=project.pk)
    other = token_client(b)
    for action, body in (("submit", {"answer": "ok"}), ("release", None)):
        response = other.post(
            f"/api/v1/assignments/{claim.assignment.pk}/{action}/", body, format="json"
        )
        assert response.status_code == 404
    assert Assignment.objects.get(pk=claim.assignment.pk).status == "leased"


def shape(value):
    if isinstance(value, dict):
        return {k: shape(v) for k, v in sorted(value.items())}
    if isinstance(value, list):
        return [shape(v) for v in value[:1]]
    return type(value).__name__


LABELERS, CALLS = 12, 4


def serve_both_kinds(project) -> dict[bool, list[dict]]:
    """12 labelers, 4 next-task calls over HTTP (each submitted); the bodies by is_control.

    The project needs at least ``LABELERS * CALLS`` real slots: each call draws control with
    the project's ratio, and a call that draws real when no real slot is left is rightly a 204
    (controls are never served in place of real work: a project serving only controls would
    give them away)."""
    real_slots = sum(
        Task.objects.filter(project=project, gold_item__isnull=True).values_list(
            "target", flat=True
        )
    )
    assert real_slots >= LABELERS * CALLS, "too few real slots: a 204 would be right"
    shapes: dict[bool, list[dict]] = {True: [], False: []}
    for _ in range(LABELERS):
        labeler = make_labeler()
        client = token_client(labeler)
        for _ in range(CALLS):
            response = client.post(f"/api/v1/projects/{project.pk}/next-task/")
            assert response.status_code == 201
            body = response.json()
            assert CANARY not in response.content.decode()
            is_control = Assignment.objects.get(pk=body["assignment"]).is_control
            shapes[is_control].append(body)
            client.post(
                f"/api/v1/assignments/{body['assignment']}/submit/", {"answer": "ok"}, format="json"
            )
    assert shapes[True] and shapes[False], "both kinds must have been served"
    return shapes


def test_control_and_real_tasks_look_the_same():
    project = make_project(tasks=LABELERS * CALLS, overlap=1)
    with_controls(project, n=15)
    shapes = serve_both_kinds(project)
    assert all("prelabel" not in b for kind in shapes.values() for b in kind)
    real_shapes = {repr(shape(b)) for b in shapes[False]}
    control_shapes = {repr(shape(b)) for b in shapes[True]}
    assert real_shapes == control_shapes
    # Assignment ids of both kinds come from one sequence in claim order.
    ids = sorted(b["assignment"] for kind in shapes.values() for b in kind)
    assert ids == list(range(ids[0], ids[0] + len(ids)))
    # Never the same gold item twice for one labeler.
    pairs = Assignment.objects.filter(is_control=True).values_list("labeler_id", "task_id")
    assert len(pairs) == len(set(pairs))
    assert Task.objects.filter(gold_item__isnull=False, submitted__gt=0).count() == 0


def test_next_task_over_http_sends_at_most_four_statements(django_assert_max_num_queries):
    project = make_project(tasks=20, overlap=2)
    labeler = make_labeler()
    client = token_client(labeler)
    client.post(f"/api/v1/projects/{project.pk}/next-task/")  # warm-up: content types etc.
    assignment = Assignment.objects.get(labeler=labeler)
    client.post(f"/api/v1/assignments/{assignment.pk}/submit/", {"answer": "ok"}, format="json")
    # Savepoints of the test's own transaction are counted by the fixture: 2 per call.
    with django_assert_max_num_queries(4 + 2):
        response = client.post(f"/api/v1/projects/{project.pk}/next-task/")
    assert response.status_code == 201
    with django_assert_max_num_queries(6 + 2):
        response = client.post(
            f"/api/v1/assignments/{response.json()['assignment']}/submit/",
            {"answer": "ok"},
            format="json",
        )
    assert response.status_code == 200


# -- pre-labels shown to labelers: control tasks carry decoys ------------------------------------


def give_prelabels(project, *, every: int = 1) -> None:
    """Pre-labels on the project's real tasks: on every ``every``-th one (the rest have none)."""
    tasks = list(Task.objects.filter(project=project, gold_item__isnull=True).order_by("pk"))
    for i, task in enumerate(tasks):
        if i % every == 0:
            task.prelabel = project.classes[i % len(project.classes)]
            task.prelabel_confidence = round(0.05 + (i % 10) / 10, 2)
    Task.objects.bulk_update(tasks, ["prelabel", "prelabel_confidence"])


def pairs(project, *, control: bool) -> list[tuple]:
    return list(
        Task.objects.filter(project=project, gold_item__isnull=not control).values_list(
            "prelabel", "prelabel_confidence"
        )
    )


def test_control_and_real_tasks_look_the_same_with_prelabels_shown():
    project = make_project(tasks=LABELERS * CALLS, overlap=1, show_prelabels=True)
    give_prelabels(project)
    with_controls(project, n=15)  # synced after the real pre-labels exist: decoys copied
    shapes = serve_both_kinds(project)
    for body in (b for kind in shapes.values() for b in kind):
        assert isinstance(body["prelabel"], str) and isinstance(body["prelabel_confidence"], float)
    real_shapes = {repr(shape(b)) for b in shapes[False]}
    control_shapes = {repr(shape(b)) for b in shapes[True]}
    assert real_shapes == control_shapes and len(real_shapes) == 1
    # Every decoy is the pair of some real task; none names a gold answer (the canary above).
    assert set(pairs(project, control=True)) <= set(pairs(project, control=False))


def test_decoys_have_no_prelabel_as_often_as_real_tasks():
    project = make_project(tasks=30, overlap=1, show_prelabels=True)
    give_prelabels(project, every=2)  # half the real tasks have none
    with_controls(project, n=15)
    decoys = pairs(project, control=True)
    assert set(decoys) <= set(pairs(project, control=False))
    # 15 drawn from 15 with and 15 without: all on one side has odds of about 1 in 10^8.
    assert (None, None) in decoys and any(p is not None for p, _ in decoys)


def test_a_real_task_without_a_prelabel_shows_nulls():
    project = make_project(tasks=1, overlap=1, show_prelabels=True)
    client = token_client(make_labeler())
    body = client.post(f"/api/v1/projects/{project.pk}/next-task/").json()
    assert (body["prelabel"], body["prelabel_confidence"]) == (None, None)


def test_switching_prelabels_on_redraws_the_decoys(ops_user):
    project = make_project(tasks=20, overlap=1)
    with_controls(project, n=6)  # no real pre-labels yet: decoys are empty
    assert set(pairs(project, control=True)) == {(None, None)}
    give_prelabels(project)
    services.project_update(actor=ops_user, project=project, data={"show_prelabels": True})
    decoys = pairs(project, control=True)
    assert set(decoys) <= set(pairs(project, control=False)) and (None, None) not in decoys
    # Switching off and on again redraws; the gold set's answers never appear.
    services.project_update(actor=ops_user, project=project, data={"show_prelabels": False})
    assert services.project_refresh_control_prelabels(actor=ops_user, project=project) == 6
    assert CANARY not in repr(pairs(project, control=True))


def test_imports_and_prelabel_updates_redraw_the_decoys_of_a_project_showing_them(ops_user):
    project = make_project(tasks=0, overlap=1, show_prelabels=True)
    with_controls(project, n=4)
    assert set(pairs(project, control=True)) == {(None, None)}
    rows = [task_row(i, prelabel="rust", prelabel_confidence=0.75) for i in range(5)]
    do_import(project, jsonl(rows))
    assert set(pairs(project, control=True)) == {("rust", 0.75)}
    services.tasks_bulk_update(
        actor=ops_user,
        project=project,
        data=jsonl(
            {"external_id": f"img-{i:06d}", "prelabel": "crack", "prelabel_confidence": 0.5}
            for i in range(5)
        ),
        file_format="jsonl",
    )
    assert set(pairs(project, control=True)) == {("crack", 0.5)}


def test_next_task_with_prelabels_sends_no_more_statements(django_assert_max_num_queries):
    project = make_project(tasks=20, overlap=2, show_prelabels=True)
    client = token_client(make_labeler())
    url = f"/api/v1/projects/{project.pk}/next-task/"
    first = client.post(url).json()  # warm-up
    client.post(
        f"/api/v1/assignments/{first['assignment']}/submit/", {"answer": "ok"}, format="json"
    )
    with django_assert_max_num_queries(4 + 2):
        response = client.post(url)
    assert response.status_code == 201 and "prelabel" in response.json()
