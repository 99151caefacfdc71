"""With the broker unreachable a submit still succeeds: the message it sends after commit
fails to publish, is logged, and the consensus sweep catches the task later (drill:
bench/drill_broker.py)."""

from __future__ import annotations

from unittest import mock

import pytest
from kombu.exceptions import OperationalError as BrokerDown

from assignments import tasks as work_tasks
from assignments.models import Assignment, Task
from tests.assignments.factories import make_project
from tests.factories import make_labeler


@pytest.mark.django_db(transaction=True)
def test_submit_answers_200_when_the_after_commit_publish_fails(client_for, caplog):
    project = make_project(tasks=0, name="Poles", classes=["ok", "crack"], overlap=1)
    Task.objects.create(project=project, payload={"image_url": "https://x.test/1.jpg"}, target=1)
    client = client_for(make_labeler().user)
    client.raise_request_exception = False
    lease = client.post(f"/api/v1/projects/{project.pk}/next-task/").json()
    refused = BrokerDown("Error 111 connecting to 127.0.0.1:6399. Connection refused.")
    with mock.patch.object(work_tasks.assignment_submitted, "delay", side_effect=refused):
        response = client.post(
            f"/api/v1/assignments/{lease['assignment']}/submit/", {"answer": "ok"}, format="json"
        )
    assert response.status_code == 200
    assert Assignment.objects.get(pk=lease["assignment"]).status == Assignment.Status.SUBMITTED
    assert "in on_commit()" in caplog.text  # logged, not raised
