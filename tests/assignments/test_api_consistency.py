"""API consistency: one project representation per role, one name per idea across commands
(``reason`` for status changes, ``note`` for a person's comment), the next-task reply and the
assignment list sharing field names, the old names still accepted for one release, the
vendor comparison's 404 for a project the caller cannot see, and plain answers in the CSV
export (docs/api.md)."""

from __future__ import annotations

import csv
import io
import json

import pytest
from django.utils import timezone

from assignments.models import Project, Review, Task
from assignments.selectors.review import project_export
from qc.models import Guide
from tests.assignments.factories import make_project
from tests.factories import make_labeler, token_client

pytestmark = pytest.mark.django_db

OPS_ONLY_FIELDS = {
    "consensus_method",
    "confidence_threshold",
    "control_ratio",
    "max_overlap",
    "control_gold_set",
    "adaptive_control",
}


@pytest.fixture
def guided_project(ops_user):
    guide = Guide.objects.create(slug="pole-guide", name="Pole guide")
    return make_project(tasks=2, guide=guide), guide


class TestProjectRepresentation:
    def test_ops_read_the_quality_settings_in_get_and_list(
        self, guided_project, client_for, ops_user
    ):
        project, _ = guided_project
        client = client_for(ops_user)
        detail = client.get(f"/api/v1/projects/{project.pk}/").json()
        assert set(detail) >= OPS_ONLY_FIELDS
        listed = client.get("/api/v1/projects/").json()["results"]
        assert set(listed[0]) >= OPS_ONLY_FIELDS
        assert set(listed[0]) == set(detail)

    def test_one_representation_for_ops_get_post_and_patch(
        self, guided_project, client_for, ops_user
    ):
        project, guide = guided_project
        client = client_for(ops_user)
        got = client.get(f"/api/v1/projects/{project.pk}/").json()
        patched = client.patch(
            f"/api/v1/projects/{project.pk}/", {"priority": 3}, format="json"
        ).json()
        assert set(got) == set(patched)
        assert got["guide"] == patched["guide"] == guide.pk  # an id in every reply
        created = client.post(
            "/api/v1/projects/",
            {
                "slug": "new",
                "name": "New",
                "answer_type": "single_choice",
                "classes": ["a", "b"],
                "guide": guide.pk,
            },
            format="json",
        )
        assert created.status_code == 201, created.json()
        assert set(created.json()) == set(got) and created.json()["guide"] == guide.pk

    def test_patch_still_takes_the_guide_slug(self, guided_project, client_for, ops_user):
        project, guide = guided_project
        Project.objects.filter(pk=project.pk).update(guide=None)
        reply = client_for(ops_user).patch(
            f"/api/v1/projects/{project.pk}/", {"guide": "pole-guide"}, format="json"
        )
        assert reply.status_code == 200 and reply.json()["guide"] == guide.pk

    def test_labelers_and_managers_get_the_labeler_view(
        self, guided_project, client_for, vendor_labeler, manager_a
    ):
        project, guide = guided_project
        for user in (vendor_labeler.user, manager_a):
            client = client_for(user)
            detail = client.get(f"/api/v1/projects/{project.pk}/")
            if detail.status_code == 404:  # a manager may not see the project at all
                continue
            body = detail.json()
            assert not OPS_ONLY_FIELDS & set(body)
            assert body["guide"] == guide.pk
            listed = client.get("/api/v1/projects/").json()["results"]
            assert set(listed[0]) == set(body)


class TestNextTaskNames:
    def test_next_task_uses_the_assignment_list_names(self):
        project = make_project(tasks=2)
        labeler = make_labeler()
        client = token_client(labeler)
        task = client.post(f"/api/v1/projects/{project.pk}/next-task/").json()
        listed = client.get("/api/v1/assignments/").json()["results"][0]
        assert task["id"] == listed["id"]
        assert task["expires_at"] == listed["expires_at"]
        shared = {"id", "project", "status", "expires_at"}
        assert shared <= set(task) and shared <= set(listed)
        # The old keys, kept for one release (deprecated in the schema).
        assert task["assignment"] == task["id"]
        assert task["lease_expires_at"] == task["expires_at"]

    def test_old_and_new_keys_are_deprecated_in_the_schema(self, client_for, ops_user):
        schema = client_for(ops_user).get("/api/schema/?format=json").json()
        props = schema["components"]["schemas"]["TaskForLabelerOut"]["properties"]
        assert props["assignment"].get("deprecated") is True
        assert props["lease_expires_at"].get("deprecated") is True
        assert not props["id"].get("deprecated") and not props["expires_at"].get("deprecated")
        flag = schema["components"]["schemas"]["FlagInRequest"]["properties"]
        assert flag["question"].get("deprecated") is True and "note" in flag


class TestFreeTextNames:
    def _assignment(self, labeler):
        project = make_project(tasks=1, overlap=2)
        return token_client(labeler).post(f"/api/v1/projects/{project.pk}/next-task/").json()

    def test_flag_takes_note(self):
        labeler = make_labeler()
        task = self._assignment(labeler)
        url = f"/api/v1/assignments/{task['id']}/flag/"
        reply = token_client(labeler).post(url, {"note": "Chip or crack?"}, format="json")
        assert reply.status_code == 201, reply.json()
        assert reply.json()["note"] == "Chip or crack?"
        assert Review.objects.get().question == "Chip or crack?"

    def test_flag_still_takes_question_for_one_release(self):
        labeler = make_labeler()
        task = self._assignment(labeler)
        url = f"/api/v1/assignments/{task['id']}/flag/"
        reply = token_client(labeler).post(url, {"question": "Chip?"}, format="json")
        assert reply.status_code == 201
        assert reply.json()["note"] == reply.json()["question"] == "Chip?"

    def test_flag_with_both_names_is_a_400(self):
        labeler = make_labeler()
        task = self._assignment(labeler)
        url = f"/api/v1/assignments/{task['id']}/flag/"
        reply = token_client(labeler).post(url, {"question": "a", "note": "b"}, format="json")
        assert reply.status_code == 400 and "question" in reply.json()["fields"]
        assert not Review.objects.exists()

    def test_resolve_names_note_when_given_reason(self, label_to_review):
        review, senior = label_to_review
        client = token_client(senior)
        url = f"/api/v1/reviews/{review['id']}/resolve/"
        reply = client.post(url, {"answer": "ok", "reason": "x"}, format="json")
        assert reply.status_code == 400
        assert "note" in " ".join(reply.json()["fields"]["reason"])

    def test_review_next_uses_expires_at(self, label_to_review):
        review, _ = label_to_review
        assert review["expires_at"] == review["lease_expires_at"]


@pytest.fixture
def label_to_review(django_capture_on_commit_callbacks):
    from assignments import services as work_services

    project = make_project(tasks=1, overlap=2)
    for answer in ("crack", "rust", "ok"):
        labeler = make_labeler()
        claim = work_services.assignment_claim_next(labeler=labeler, project_id=project.pk)
        with django_capture_on_commit_callbacks(execute=True):
            work_services.assignment_submit(
                labeler=labeler, assignment_id=claim.assignment.pk, answer=answer
            )
    senior = make_labeler(seniority="senior")
    reply = token_client(senior).post("/api/v1/reviews/next/")
    assert reply.status_code == 201
    return reply.json(), senior


class TestVendorComparison:
    def test_unknown_project_is_a_404_like_the_scorecard(self, client_for, ops_user):
        client = client_for(ops_user)
        reply = client.get("/api/v1/vendor-comparison/?project=999")
        assert reply.status_code == 404 and reply.json()["code"] == "not_found"

    def test_a_visible_project_is_a_list(self, client_for, ops_user):
        project = make_project(tasks=1)
        reply = client_for(ops_user).get(f"/api/v1/vendor-comparison/?project={project.pk}")
        assert reply.status_code == 200 and isinstance(reply.json(), list)


class TestCsvAnswers:
    def _csv(self, project):
        text = "".join(project_export(project=project, file_format="csv"))
        return list(csv.DictReader(io.StringIO(text)))

    def test_single_choice_answers_are_plain(self):
        project = make_project(tasks=1, overlap=1)
        Task.objects.filter(project=project).update(
            final_answer="woodpecker",
            decided_by="consensus",
            agreement=1.0,
            decided_at=timezone.now(),
        )
        (row,) = self._csv(project)
        assert row["final_answer"] == "woodpecker"

    def test_structured_answers_stay_json(self):
        project = make_project(tasks=2, overlap=1)
        boxes = [{"label": "crack", "x": 1, "y": 2, "w": 3, "h": 4}]
        first, second = Task.objects.filter(project=project).order_by("id")
        Task.objects.filter(pk=first.pk).update(
            final_answer=["crack", "rust"],
            decided_by="consensus",
            agreement=1.0,
            decided_at=timezone.now(),
        )
        Task.objects.filter(pk=second.pk).update(
            final_answer=boxes, decided_by="consensus", agreement=1.0, decided_at=timezone.now()
        )
        rows = self._csv(project)
        assert json.loads(rows[0]["final_answer"]) == ["crack", "rust"]
        assert json.loads(rows[1]["final_answer"]) == boxes
