"""The labeler's work loop over HTTP: next task, submit, release; what a task response looks
like for real and control tasks; the statement count of the hot path including authentication."""

from __future__ import annotations

import pytest
from rest_framework.authtoken.models import Token
from rest_framework.test import APIClient

from assignments import services
from assignments.models import Assignment, Task
from qc.models import GoldItem, GoldSet
from tests.assignments.test_claim import make_project
from tests.factories import make_labeler

pytestmark = pytest.mark.django_db

CANARY = "canary-7f3c-answer"


def token_client(labeler) -> APIClient:
    client = APIClient()
    token, _ = Token.objects.get_or_create(user=labeler.user)
    client.credentials(HTTP_AUTHORIZATION=f"Token {token.key}")
    return client


def with_controls(project, n: int = 5):
    gold_set = GoldSet.objects.create(
        slug="pole-gold",
        name="Pole gold",
        answer_type="single_choice",
        classes=project.classes,
    )
    for i in range(n):
        GoldItem.objects.create(
            gold_set=gold_set,
            external_id=f"g{i}",
            payload={"image_url": f"https://img.example.test/g{i}.jpg"},
            accepted_answers=[f"{CANARY}"],
            explanation=f"{CANARY} explained",
            stratum="ok",
        )
    project.control_gold_set = gold_set
    project.control_ratio = "0.5"
    project.save()
    services.project_sync_control_tasks(actor=None, project=project)
    return gold_set


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
        "assignment",
        "project",
        "status",
        "lease_expires_at",
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


def test_control_and_real_tasks_look_the_same():
    project = make_project(tasks=30, overlap=1)
    with_controls(project, n=15)
    shapes = {True: [], False: []}
    for _ in range(12):
        labeler = make_labeler()
        client = token_client(labeler)
        for _ in range(4):
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

    def shape(value):
        if isinstance(value, dict):
            return {k: shape(v) for k, v in sorted(value.items())}
        if isinstance(value, list):
            return [shape(v) for v in value[:1]]
        return type(value).__name__

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
