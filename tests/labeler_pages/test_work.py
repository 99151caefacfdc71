"""The work page (labeler_pages/views/work.py): a labeler pulls the next task of a project and
labels it, through the API's own services. Commands post, redirect and get; their JSON variant
(work.js) answers with the next task's markup in the same round trip."""

from __future__ import annotations

import json
from datetime import timedelta

import pytest
from django.contrib.messages import get_messages
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse
from django.utils import timezone

from assignments import services
from assignments.models import Assignment, Project, Review
from tests.assignments.factories import make_project
from tests.factories import make_labeler
from workforce.models import QualificationType

pytestmark = pytest.mark.django_db

TRANSACTION_CONTROL = ("SAVEPOINT", "RELEASE SAVEPOINT", "ROLLBACK TO SAVEPOINT")


def work_url(project) -> str:
    return reverse("labeler:project-work", args=[project.pk])


def command_url(name: str, assignment_id: int) -> str:
    return reverse(f"labeler:assignment-{name}", args=[assignment_id])


def notice(response) -> str:
    """The message the command left for the page it redirects to (the newest: the test does
    not follow redirects, so earlier ones are still unread)."""
    return [str(m) for m in get_messages(response.wsgi_request)][-1]


def leased(labeler) -> Assignment:
    return Assignment.objects.get(labeler=labeler, status=Assignment.Status.LEASED)


@pytest.fixture
def project():
    return make_project(tasks=4, overlap=1)


def test_the_page_claims_a_task_and_shows_it(labeler_client, project):
    response = labeler_client.get(work_url(project))
    assert response.status_code == 200
    assignment = leased(labeler_client.labeler)
    html = response.content.decode()
    assert assignment.task.payload["image_url"] in html
    assert f'action="{command_url("submit", assignment.pk)}"' in html
    assert f'formaction="{command_url("release", assignment.pk)}"' in html
    assert f'action="{command_url("flag", assignment.pk)}"' in html
    for label in project.classes:
        assert f'type="radio" name="answer" value="{label}"' in html
    assert 'class="countdown"' in html and 'data-seconds-left="' in html
    assert "Keyboard shortcuts" in html
    # A reload hands the same lease back: no second task is taken.
    assert labeler_client.get(work_url(project)).status_code == 200
    assert Assignment.objects.filter(labeler=labeler_client.labeler).count() == 1


def test_submit_stores_the_answer_once_and_a_double_submit_changes_nothing(labeler_client, project):
    labeler_client.get(work_url(project))
    assignment = leased(labeler_client.labeler)
    first = labeler_client.post(command_url("submit", assignment.pk), {"answer": "crack"})
    assert first.status_code == 302 and first.url == work_url(project)
    assert notice(first) == "Saved."
    again = labeler_client.post(command_url("submit", assignment.pk), {"answer": "crack"})
    assert again.status_code == 302
    assert notice(again) == "This answer was already saved."
    assignment.refresh_from_db()
    assert assignment.status == Assignment.Status.SUBMITTED and assignment.answer == "crack"
    assert (
        Assignment.objects.filter(
            labeler=labeler_client.labeler, status=Assignment.Status.SUBMITTED
        ).count()
        == 1
    )
    # A different answer after the submit: the first stands, and the page says so.
    other = labeler_client.post(command_url("submit", assignment.pk), {"answer": "rust"})
    assert "your first answer is the one kept" in notice(other)
    assignment.refresh_from_db()
    assert assignment.answer == "crack"
    # The redirect's page shows the next task.
    page = labeler_client.get(work_url(project))
    assert page.status_code == 200
    assert leased(labeler_client.labeler).pk != assignment.pk


def test_no_answer_is_a_message_and_nothing_is_saved(labeler_client, project):
    labeler_client.get(work_url(project))
    assignment = leased(labeler_client.labeler)
    response = labeler_client.post(command_url("submit", assignment.pk), {})
    assert notice(response) == "Your answer was not saved: Choose one of the labels."
    bad = labeler_client.post(command_url("submit", assignment.pk), {"answer": "nope"})
    assert notice(bad).startswith("Your answer was not saved: 'nope' is not one of")
    assignment.refresh_from_db()
    assert assignment.status == Assignment.Status.LEASED


def test_release_skips_the_task_and_the_next_one_comes(labeler_client, project):
    labeler_client.get(work_url(project))
    first = leased(labeler_client.labeler)
    response = labeler_client.post(command_url("release", first.pk))
    assert response.status_code == 302 and response.url == work_url(project)
    first.refresh_from_db()
    assert first.status == Assignment.Status.RELEASED
    labeler_client.get(work_url(project))
    assert leased(labeler_client.labeler).task_id != first.task_id
    # Submitting the skipped task is refused in words.
    late = labeler_client.post(command_url("submit", first.pk), {"answer": "ok"})
    assert notice(late) == "You skipped this task, so it can no longer be submitted."


def test_flag_sends_a_question_and_keeps_the_lease(labeler_client, project):
    labeler_client.get(work_url(project))
    assignment = leased(labeler_client.labeler)
    blank = labeler_client.post(command_url("flag", assignment.pk), {"question": "  "})
    assert notice(blank).startswith("Your question was not sent:")
    assert not Review.objects.exists()
    response = labeler_client.post(
        command_url("flag", assignment.pk), {"question": "Is a bird's nest a defect?"}
    )
    assert response.status_code == 302 and response.url == work_url(project)
    assert "Your question was sent" in notice(response)
    review = Review.objects.get(kind=Review.Kind.FLAG, assignment_id=assignment.pk)
    assert review.question == "Is a bird's nest a defect?"
    assert leased(labeler_client.labeler).pk == assignment.pk
    other = labeler_client.post(command_url("flag", assignment.pk), {"question": "Another?"})
    assert notice(other) == "You already asked a question about this task."


def test_an_expired_lease_is_explained_and_nothing_is_saved(labeler_client, project):
    past = timezone.now() - timedelta(seconds=project.lease_seconds + 5)
    claim = services.assignment_claim_next(
        labeler=labeler_client.labeler, project_id=project.pk, now=past
    )
    response = labeler_client.post(command_url("submit", claim.assignment.pk), {"answer": "ok"})
    assert response.status_code == 302 and response.url == work_url(project)
    assert notice(response) == (
        "Your time on this task ran out before you submitted, so your answer was not saved; the "
        "task may have gone to someone else. Here is your next task."
    )
    claim.assignment.refresh_from_db()
    assert claim.assignment.status == Assignment.Status.LEASED
    assert claim.assignment.answer is None


def test_nothing_left_is_a_friendly_page(labeler_client):
    project = make_project(tasks=0)
    response = labeler_client.get(work_url(project))
    assert response.status_code == 200
    html = response.content.decode()
    assert "Nothing left for you in this project" in html
    assert f'href="{reverse("labeler:home")}"' in html


def test_a_gate_refusal_says_why_and_where_to_go(labeler_client, project):
    qtype = QualificationType.objects.create(slug="poles", name="Pole inspection")
    project.required_qualifications.add(qtype)
    response = labeler_client.get(work_url(project))
    assert response.status_code == 200
    html = response.content.decode()
    assert "needs a qualification you do not have yet" in html
    assert 'data-refusal="qualification_missing"' in html
    assert f'href="{reverse("labeler:home")}"' in html
    assert not Assignment.objects.exists()


def test_a_paused_project_says_so(labeler_client, project):
    Project.objects.filter(pk=project.pk).update(status=Project.Status.PAUSED)
    html = labeler_client.get(work_url(project)).content.decode()
    assert "This project is paused" in html


def test_a_draft_project_is_not_found(labeler_client, project):
    Project.objects.filter(pk=project.pk).update(status=Project.Status.DRAFT)
    assert labeler_client.get(work_url(project)).status_code == 404


def test_another_labelers_assignment_is_not_found(labeler_client, project):
    other = make_labeler()
    claim = services.assignment_claim_next(labeler=other, project_id=project.pk)
    pk = claim.assignment.pk
    assert labeler_client.post(command_url("submit", pk), {"answer": "ok"}).status_code == 404
    assert labeler_client.post(command_url("release", pk)).status_code == 404
    assert labeler_client.post(command_url("flag", pk), {"question": "why?"}).status_code == 404
    assert labeler_client.post(command_url("flag", pk), {"question": ""}).status_code == 404
    claim.assignment.refresh_from_db()
    assert claim.assignment.status == Assignment.Status.LEASED
    assert not Review.objects.exists()


def test_commands_only_take_posts(labeler_client, project):
    labeler_client.get(work_url(project))
    assignment = leased(labeler_client.labeler)
    assert labeler_client.get(command_url("submit", assignment.pk)).status_code == 405


def test_the_json_variant_submits_and_answers_with_the_next_task(labeler_client, project):
    labeler_client.get(work_url(project))
    first = leased(labeler_client.labeler)
    response = labeler_client.post(
        command_url("submit", first.pk), {"answer": "rust"}, HTTP_ACCEPT="application/json"
    )
    assert response.status_code == 200
    body = response.json()
    assert body["status"] == "next" and body["notice"] == "Saved."
    second = leased(labeler_client.labeler)
    assert second.pk != first.pk
    assert f'action="{command_url("submit", second.pk)}"' in body["html"]
    assert body["image_url"] == second.task.payload["image_url"]
    # Skip with JSON: the next one again.
    skipped = labeler_client.post(
        command_url("release", second.pk), HTTP_ACCEPT="application/json"
    ).json()
    assert skipped["status"] == "next"
    # A bad answer: a message, no swap.
    third = leased(labeler_client.labeler)
    bad = labeler_client.post(
        command_url("submit", third.pk), {"answer": ""}, HTTP_ACCEPT="application/json"
    )
    assert bad.status_code == 400 and bad.json()["status"] == "invalid"


def test_the_json_variant_sends_to_the_page_when_nothing_is_left(labeler_client):
    project = make_project(tasks=1, overlap=1)
    labeler_client.get(work_url(project))
    assignment = leased(labeler_client.labeler)
    body = labeler_client.post(
        command_url("submit", assignment.pk), {"answer": "ok"}, HTTP_ACCEPT="application/json"
    ).json()
    assert body == {"status": "page", "url": work_url(project)}
    assert "Nothing left for you" in labeler_client.get(work_url(project)).content.decode()


def test_flag_json(labeler_client, project):
    labeler_client.get(work_url(project))
    assignment = leased(labeler_client.labeler)
    reply = labeler_client.post(
        command_url("flag", assignment.pk), {"question": "Why?"}, HTTP_ACCEPT="application/json"
    )
    assert reply.status_code == 200 and reply.json()["status"] == "success"


def test_a_box_task_shows_the_tool_and_stores_boxes(labeler_client):
    project = make_project(tasks=2, overlap=1, answer_type="boxes", classes=["pole", "crossarm"])
    html = labeler_client.get(work_url(project)).content.decode()
    assert "data-box-tool" in html and "data-box-stage" in html
    assert html.count("data-item-image") == 1  # the tool shows the image, once
    assignment = leased(labeler_client.labeler)
    boxes = [{"label": "pole", "x": 10, "y": 20.5, "w": 30, "h": 200}]
    response = labeler_client.post(
        command_url("submit", assignment.pk), {"answer": json.dumps(boxes)}
    )
    assert notice(response) == "Saved."
    assignment.refresh_from_db()
    assert assignment.answer == [{"label": "pole", "x": 10.0, "y": 20.5, "w": 30.0, "h": 200.0}]


def test_prelabels_show_where_the_project_shows_them(labeler_client):
    project = make_project(tasks=1, overlap=1, show_prelabels=True)
    project.tasks.update(prelabel="rust", prelabel_confidence=0.8)
    html = labeler_client.get(work_url(project)).content.decode()
    assert " checked" not in html  # shown, not chosen for the labeler
    assert "suggested" in html and "Confidence 0.80" in html


def test_boxes_prelabels_start_the_box_tool(labeler_client):
    project = make_project(
        tasks=1, overlap=1, answer_type="boxes", classes=["pole"], show_prelabels=True
    )
    boxes = [{"label": "pole", "x": 1, "y": 2, "w": 3, "h": 4}]
    project.tasks.update(prelabel=boxes, prelabel_confidence=None)
    html = labeler_client.get(work_url(project)).content.decode()
    start = html.index('<script type="application/json">') + len('<script type="application/json">')
    assert json.loads(html[start : html.index("</script>", start)]) == boxes


# -- query counts ------------------------------------------------------------------------------


def test_the_work_page_claiming_a_new_task_is_at_most_10_queries(
    client, internal_labeler, project, django_assert_max_num_queries
):
    client.force_login(internal_labeler.user)
    with django_assert_max_num_queries(10):
        assert client.get(work_url(project)).status_code == 200


def test_the_work_page_with_a_task_leased_is_at_most_10_queries(
    client, internal_labeler, project, django_assert_max_num_queries
):
    client.force_login(internal_labeler.user)
    client.get(work_url(project))
    with django_assert_max_num_queries(10):
        assert client.get(work_url(project)).status_code == 200


def test_submit_is_at_most_10_queries(
    client, internal_labeler, project, django_assert_max_num_queries
):
    client.force_login(internal_labeler.user)
    client.get(work_url(project))
    assignment = leased(internal_labeler)
    with django_assert_max_num_queries(10):
        response = client.post(command_url("submit", assignment.pk), {"answer": "ok"})
    assert response.status_code == 302


def test_submit_and_next_in_one_round_trip_is_at_most_10_statements(
    client, internal_labeler, project
):
    """The JSON variant submits and claims the next task: two durable transactions, which a
    test's own transaction turns into savepoints (four statements that production sends as
    BEGIN and COMMIT on the connection). The statements of the request itself: at most 10
    (session, user, the assignment's answer type; the lock and the store; the gate, the claim
    and the lease)."""
    client.force_login(internal_labeler.user)
    client.get(work_url(project))
    assignment = leased(internal_labeler)
    with CaptureQueriesContext(connection) as ctx:
        response = client.post(
            command_url("submit", assignment.pk), {"answer": "ok"}, HTTP_ACCEPT="application/json"
        )
    assert response.json()["status"] == "next"
    statements = [
        q["sql"] for q in ctx.captured_queries if not q["sql"].startswith(TRANSACTION_CONTROL)
    ]
    assert len(ctx.captured_queries) - len(statements) == 4
    assert len(statements) <= 10, statements
