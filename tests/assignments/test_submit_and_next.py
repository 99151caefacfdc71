"""Submit-and-next (issue 15, "One round trip per label"): ``POST /assignments/{id}/submit/``
with ``"next": true`` submits and then leases the next task of the project in the same request,
with the guarantees of the two calls — the submission commits first, the lease is a
transaction of its own (a refused claim leaves the submission standing), and a retried
submit-and-next hands back the same next lease. Without ``next`` the answer is as before."""

from __future__ import annotations

import pytest

from assignments.models import Assignment, Project
from assignments.services import projects as project_services
from tests.assignments.factories import make_project
from tests.factories import make_labeler, token_client

pytestmark = pytest.mark.django_db


def lease(client, project) -> dict:
    response = client.post(f"/api/v1/projects/{project.pk}/next-task/")
    assert response.status_code == 201, response.content
    return response.json()


def submit(client, assignment_id: int, **body):
    return client.post(
        f"/api/v1/assignments/{assignment_id}/submit/", {"answer": "ok", **body}, format="json"
    )


def test_submit_and_next_submits_then_leases_the_next_task():
    project = make_project(tasks=3, overlap=1)
    labeler = make_labeler()
    client = token_client(labeler)
    first = lease(client, project)

    response = submit(client, first["id"], next=True)

    assert response.status_code == 200, response.content
    body = response.json()
    assert (body["id"], body["status"], body["answer"]) == (first["id"], "submitted", "ok")
    assert body["next_created"] is True
    following = body["next"]
    assert following["id"] != first["id"] and following["status"] == "leased"
    # The next task has the one shape of a leased task, as next-task gives it.
    assert set(following) == set(first)
    live = Assignment.objects.get(labeler=labeler, status=Assignment.Status.LEASED)
    assert live.pk == following["id"]
    assert Assignment.objects.get(pk=first["id"]).status == Assignment.Status.SUBMITTED


def test_a_retried_submit_and_next_hands_back_the_same_next_lease():
    project = make_project(tasks=3, overlap=1)
    client = token_client(make_labeler())
    first = lease(client, project)
    once = submit(client, first["id"], next=True).json()
    again = submit(client, first["id"], next=True)
    assert again.status_code == 200
    assert again.json()["next"]["id"] == once["next"]["id"]
    assert again.json()["next_created"] is False
    assert Assignment.objects.filter(status=Assignment.Status.LEASED).count() == 1


def test_no_task_left_is_next_null():
    project = make_project(tasks=1, overlap=1)
    client = token_client(make_labeler())
    first = lease(client, project)
    body = submit(client, first["id"], next=True).json()
    assert (body["status"], body["next"], body["next_created"]) == ("submitted", None, False)
    assert "next_refused" not in body


def test_a_refused_claim_leaves_the_submission_standing(ops_user):
    project = make_project(tasks=3, overlap=1)
    client = token_client(make_labeler())
    first = lease(client, project)
    project_services.project_set_status(
        actor=ops_user, project=project, status=Project.Status.PAUSED, reason="audit"
    )
    response = submit(client, first["id"], next=True)
    assert response.status_code == 200, response.content
    body = response.json()
    assert body["status"] == "submitted" and body["next"] is None
    assert body["next_refused"]["code"] == "project_not_active"
    assert body["next_refused"]["detail"]
    assert Assignment.objects.get(pk=first["id"]).status == Assignment.Status.SUBMITTED
    assert not Assignment.objects.filter(status=Assignment.Status.LEASED).exists()


def test_without_next_the_answer_is_the_submission_alone():
    project = make_project(tasks=3, overlap=1)
    client = token_client(make_labeler())
    first = lease(client, project)
    body = submit(client, first["id"]).json()
    assert body["status"] == "submitted"
    assert not {"next", "next_created", "next_refused"} & set(body)
    assert not Assignment.objects.filter(status=Assignment.Status.LEASED).exists()


def test_a_next_that_is_not_a_boolean_is_a_field_error_and_nothing_is_written():
    project = make_project(tasks=3, overlap=1)
    client = token_client(make_labeler())
    first = lease(client, project)
    response = submit(client, first["id"], next="soon")
    assert response.status_code == 400
    assert set(response.json()["fields"]) == {"next"}
    assert Assignment.objects.get(pk=first["id"]).status == Assignment.Status.LEASED
