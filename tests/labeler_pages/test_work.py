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
    """The labeler's current lease (not the look-ahead one)."""
    return Assignment.objects.get(labeler=labeler, status=Assignment.Status.LEASED, ahead=False)


def look_ahead(labeler) -> Assignment:
    return Assignment.objects.get(labeler=labeler, status=Assignment.Status.LEASED, ahead=True)


def ahead_url(project) -> str:
    return reverse("labeler:project-work-ahead", args=[project.pk])


def json_post(client, url, data=None):
    return client.post(url, data or {}, HTTP_ACCEPT="application/json")


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


def test_a_refusal_links_the_guide_to_acknowledge(labeler_client, project):
    from tests.qc.factories import make_published_guide

    guide, _version = make_published_guide()
    Project.objects.filter(pk=project.pk).update(guide=guide, require_guide_ack=True)
    html = labeler_client.get(work_url(project)).content.decode()
    assert 'data-refusal="guide_not_acknowledged"' in html
    assert f'href="{reverse("labeler:guide", args=[guide.pk])}"' in html
    assert "Read the project&#x27;s guide" in html
    assert not Assignment.objects.exists()


def test_a_refusal_links_the_quiz_that_grants_the_missing_qualification(labeler_client, project):
    from tests.qc.quiz_factories import make_qualification_type, make_quiz

    qtype = make_qualification_type("poles-certified", "Poles certified")
    project.required_qualifications.add(qtype)
    quiz = make_quiz(qualification_type=qtype, title="Pole certification")
    make_quiz(title="Another test")  # grants something else
    html = labeler_client.get(work_url(project)).content.decode()
    assert 'data-refusal="qualification_missing"' in html
    assert f'href="{reverse("labeler:quiz", args=[quiz.pk])}"' in html
    assert "Take “Pole certification”, which grants it" in html


def test_the_box_tool_needs_neither_an_answer_nor_a_prelabel():
    from django.template.loader import render_to_string

    html = render_to_string(
        "labeler/includes/box_tool.html", {"image_url": "/x.svg", "classes": ["pole"]}
    )
    assert '<script type="application/json">null</script>' in html


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


def test_the_page_prefetches_the_next_task_as_a_look_ahead_lease(labeler_client, project):
    labeler_client.get(work_url(project))
    first = leased(labeler_client.labeler)
    # The page takes no look-ahead lease by itself (a page without JavaScript never does).
    assert not Assignment.objects.filter(ahead=True).exists()
    body = json_post(labeler_client, ahead_url(project), {"shown": first.pk}).json()
    nxt = look_ahead(labeler_client.labeler)
    assert nxt.task_id != first.task_id
    assert body["status"] == "next" and body["notice"] == ""
    # The task shown is the current one: no markup for it; the look-ahead task's markup.
    assert body["current"]["id"] == first.pk and "html" not in body["current"]
    assert body["ahead"]["id"] == nxt.pk
    assert f'action="{command_url("submit", nxt.pk)}"' in body["ahead"]["html"]
    assert body["ahead"]["image_url"] == nxt.task.payload["image_url"]
    # Asked again (a reload, a second tab): the same two leases, no third task.
    again = json_post(labeler_client, ahead_url(project), {"shown": first.pk}).json()
    assert (again["current"]["id"], again["ahead"]["id"]) == (first.pk, nxt.pk)
    assert Assignment.objects.filter(labeler=labeler_client.labeler).count() == 2
    # A look-ahead call for a project the labeler cannot read: not found.
    draft = make_project(tasks=2, slug="draft", status=Project.Status.DRAFT)
    assert json_post(labeler_client, ahead_url(draft)).status_code == 404
    # A reload of the page shows the current task, not the look-ahead one.
    html = labeler_client.get(work_url(project)).content.decode()
    assert f'data-assignment="{first.pk}"' in html and f'data-assignment="{nxt.pk}"' not in html


def test_the_json_submit_promotes_the_look_ahead_and_brings_the_next(labeler_client, project):
    labeler_client.get(work_url(project))
    first = leased(labeler_client.labeler)
    nxt = json_post(labeler_client, ahead_url(project), {"shown": first.pk}).json()["ahead"]
    # The browser shows the look-ahead task already and says so.
    response = json_post(
        labeler_client, command_url("submit", first.pk), {"answer": "rust", "shown": nxt["id"]}
    )
    assert response.status_code == 200
    body = response.json()
    assert body["status"] == "next" and body["notice"] == "Saved." and body["level"] == "success"
    first.refresh_from_db()
    assert first.status == Assignment.Status.SUBMITTED and first.answer == "rust"
    # The look-ahead lease is the current one now; the browser has its markup already.
    assert leased(labeler_client.labeler).pk == nxt["id"]
    assert body["current"] == {
        "id": nxt["id"],
        "seconds_left": body["current"]["seconds_left"],
        "image_url": nxt["image_url"],
    }
    assert body["current"]["seconds_left"] >= project.lease_seconds - 5
    third = look_ahead(labeler_client.labeler)
    assert body["ahead"]["id"] == third.pk
    assert f'action="{command_url("submit", third.pk)}"' in body["ahead"]["html"]
    # Skip (Esc) likewise: the look-ahead one becomes current, a new one comes.
    skipped = json_post(
        labeler_client, command_url("release", nxt["id"]), {"shown": third.pk}
    ).json()
    assert skipped["status"] == "next" and skipped["current"]["id"] == third.pk
    assert skipped["notice"] == "Skipped. Here is another task."
    assert Assignment.objects.get(pk=nxt["id"]).status == Assignment.Status.RELEASED


def test_without_a_look_ahead_task_the_json_submit_brings_the_next_markup(labeler_client, project):
    labeler_client.get(work_url(project))
    first = leased(labeler_client.labeler)
    body = json_post(
        labeler_client, command_url("submit", first.pk), {"answer": "rust", "shown": first.pk}
    ).json()
    second = leased(labeler_client.labeler)
    assert second.pk != first.pk and body["current"]["id"] == second.pk
    assert f'action="{command_url("submit", second.pk)}"' in body["current"]["html"]
    assert body["ahead"]["id"] == look_ahead(labeler_client.labeler).pk


def test_a_refused_background_submit_is_said_about_the_previous_task(labeler_client, project):
    """The browser shows the look-ahead task while the previous answer is sent: a refusal is a
    message about the previous task, with the tasks to show."""
    past = timezone.now() - timedelta(seconds=project.lease_seconds - 30)
    services.assignment_claim_next(labeler=labeler_client.labeler, project_id=project.pk, now=past)
    first = leased(labeler_client.labeler)
    nxt = json_post(labeler_client, ahead_url(project), {"shown": first.pk}).json()["ahead"]
    Assignment.objects.filter(pk=first.pk).update(expires_at=past + timedelta(seconds=1))
    body = json_post(
        labeler_client, command_url("submit", first.pk), {"answer": "ok", "shown": nxt["id"]}
    ).json()
    assert body["level"] == "error"
    assert body["notice"] == (
        "Your previous answer was not saved: Your time on this task ran out before you "
        "submitted, so your answer was not saved; the task may have gone to someone else. Here "
        "is your next task."
    )
    assert body["current"]["id"] == nxt["id"] and "html" not in body["current"]
    assert Assignment.objects.get(pk=first.pk).answer is None
    # Submitted before with another answer: the first stands, and the page says so.
    json_post(labeler_client, command_url("submit", nxt["id"]), {"answer": "ok"})
    again = json_post(
        labeler_client, command_url("submit", nxt["id"]), {"answer": "rust", "shown": 0}
    ).json()
    assert again["level"] == "error" and again["notice"].startswith(
        "Your previous answer was not saved: You had already submitted this task"
    )
    # A bad answer: the previous task comes back (it is still the current lease) with why.
    current = again["current"]["id"]
    shown = again["ahead"]["id"]
    bad = json_post(
        labeler_client, command_url("submit", current), {"answer": "", "shown": shown}
    ).json()
    assert bad["level"] == "error"
    assert bad["notice"] == "Your previous answer was not saved: Choose one of the labels."
    assert bad["current"]["id"] == current and "html" in bad["current"]
    assert bad["ahead"]["id"] == shown


def test_a_run_out_look_ahead_task_on_the_screen_is_replaced(labeler_client, project):
    labeler_client.get(work_url(project))
    first = leased(labeler_client.labeler)
    nxt = json_post(labeler_client, ahead_url(project), {"shown": first.pk}).json()["ahead"]
    stale = Assignment.objects.get(pk=nxt["id"])
    Assignment.objects.filter(pk=stale.pk).update(
        leased_at=stale.leased_at - timedelta(hours=1),
        expires_at=timezone.now() - timedelta(seconds=1),
    )
    body = json_post(
        labeler_client, command_url("submit", first.pk), {"answer": "ok", "shown": nxt["id"]}
    ).json()
    current = leased(labeler_client.labeler)
    assert current.pk != nxt["id"] and body["current"]["id"] == current.pk
    assert f'data-assignment="{current.pk}"' in body["current"]["html"]
    assert Assignment.objects.get(pk=nxt["id"]).status == Assignment.Status.EXPIRED


def test_the_json_variant_sends_to_the_page_when_nothing_is_left(labeler_client):
    project = make_project(tasks=1, overlap=1)
    labeler_client.get(work_url(project))
    assignment = leased(labeler_client.labeler)
    prefetch = json_post(labeler_client, ahead_url(project), {"shown": assignment.pk}).json()
    assert prefetch["current"]["id"] == assignment.pk and prefetch["ahead"] is None
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


def statements_of(ctx) -> list[str]:
    """The statements a request sent, without the savepoints that stand in for the durable
    transactions' BEGIN and COMMIT under a test's own transaction."""
    return [q["sql"] for q in ctx.captured_queries if not q["sql"].startswith(TRANSACTION_CONTROL)]


def test_submit_and_next_in_one_round_trip_is_at_most_10_statements(
    client, internal_labeler, project
):
    """The JSON variant submits, then promotes the look-ahead lease and leases the next one
    (one claim): two durable transactions, which a test's own transaction turns into savepoints
    (four statements that production sends as BEGIN and COMMIT on the connection). The
    statements of the request itself: at most 10 (session, user, the assignment's answer type;
    the lock and the store; the gate, the promotion's lock and update, the claim and the
    lease) — and as many when nothing was prefetched (the gate, two claims and two leases)."""
    # SQLite (the demo) stores a submission in two statements (docs/next-task.md, "Submit").
    limit = 10 + (connection.vendor == "sqlite")
    client.force_login(internal_labeler.user)
    client.get(work_url(project))
    assignment = leased(internal_labeler)
    with CaptureQueriesContext(connection) as ctx:
        response = json_post(client, command_url("submit", assignment.pk), {"answer": "ok"})
    assert response.json()["status"] == "next"
    assert len(ctx.captured_queries) - len(statements_of(ctx)) == 4
    assert len(statements_of(ctx)) <= limit, statements_of(ctx)
    # Now with the look-ahead task prefetched: the submit promotes it.
    current = leased(internal_labeler)
    shown = look_ahead(internal_labeler).pk
    with CaptureQueriesContext(connection) as ctx:
        response = json_post(
            client, command_url("submit", current.pk), {"answer": "ok", "shown": shown}
        )
    assert response.json()["current"]["id"] == shown
    assert len(ctx.captured_queries) - len(statements_of(ctx)) == 4
    assert len(statements_of(ctx)) <= limit, statements_of(ctx)


def test_the_look_ahead_call_is_at_most_10_statements(client, internal_labeler, project):
    """Session, user; the gate, the current lease handed back, the claim and the lease (one
    durable transaction: two savepoints here)."""
    client.force_login(internal_labeler.user)
    client.get(work_url(project))
    shown = leased(internal_labeler).pk
    with CaptureQueriesContext(connection) as ctx:
        body = json_post(client, ahead_url(project), {"shown": shown})
    assert body.json()["ahead"] is not None
    assert len(ctx.captured_queries) - len(statements_of(ctx)) == 2
    assert len(statements_of(ctx)) <= 10, statements_of(ctx)
