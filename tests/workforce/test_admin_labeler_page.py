"""The labeler's admin page and the labeler by name (issue 14, "People by name, records
linked"): ops see "Full name (CODE)" in the list, the autocompletes and the page; the page shows
the labeler's qualifications, quiz attempts, rule firings, last 20 assignments and scorecard
summary, in a number of queries that does not grow with those rows; its status buttons ask for
the reason on the actions' confirmation page and call the lifecycle services. The API keeps
showing codes only."""

from __future__ import annotations

import re

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse

from qc.models import QualityRule
from qc.services import quizzes as quiz_services
from qc.services import rules as rule_services
from tests.assignments.factories import make_project, submissions
from tests.factories import admin_url, make_labeler
from tests.qc.factories import PROJECT, make_rule, record_checks
from tests.qc.quiz_factories import make_choice_set, make_qualification_type, make_quiz
from workforce import services
from workforce.models import Labeler, LabelerStatusChange, Qualification

pytestmark = pytest.mark.django_db

S = Labeler.Status


def named(username: str, first: str, last: str, **kwargs) -> Labeler:
    labeler = make_labeler(username=username, **kwargs)
    return services.labeler_update(
        actor=None, labeler=labeler, data={"first_name": first, "last_name": last}
    )


def passed_attempt(labeler: Labeler, i: int) -> None:
    """A passed qualification attempt (which grants a qualification) on its own quiz."""
    quiz = make_quiz(
        make_choice_set({"crack": 2, "rust": 1}),
        num_questions=3,
        pass_mark="0.5",
        qualification_type=make_qualification_type(f"page-q{i}", f"Page qualification {i}"),
    )
    attempt, _ = quiz_services.quiz_attempt_start(actor=None, quiz=quiz, labeler=labeler)
    for question in attempt.questions.select_related("gold_item").order_by("position"):
        quiz_services.quiz_attempt_answer(
            actor=labeler.user,
            attempt=attempt,
            question_id=question.pk,
            answer=question.gold_item.accepted_answers[0],
        )


def with_records(labeler: Labeler, *, project, n: int, rules: list[QualityRule]) -> None:
    """``n`` submitted assignments on ``project``, ``n`` quiz attempts (and qualifications), and
    a firing of each of ``rules``."""
    submissions(project, [[(labeler, "ok")] for _ in range(n)])
    for i in range(n):
        passed_attempt(labeler, i + 100 * labeler.pk)
    record_checks(labeler, "0" * 10)
    rule_services.rules_evaluate(labeler_id=labeler.pk, project_id=PROJECT)


def page(client, labeler: Labeler) -> str:
    response = client.get(admin_url(Labeler, "change", labeler.pk))
    assert response.status_code == 200
    return response.content.decode()


def panel(html: str, title: str) -> str:
    """The HTML of the panel headed ``title``."""
    m = re.search(rf"<h2>{re.escape(title)}</h2>(.*?)</fieldset>", html, re.S)
    assert m, f"no panel {title!r}"
    return m.group(1)


@pytest.fixture
def rules():
    return [
        make_rule(QualityRule.Action.WARN, name=f"Gold floor {i}", project_id=PROJECT)
        for i in range(3)
    ]


# -- names ------------------------------------------------------------------------------------


def test_the_labeler_is_shown_by_name_beside_the_code(ops_client):
    ana = named("ana", "Ana", "Silva")
    nameless = make_labeler(username="nameless")
    changelist = ops_client.get(admin_url(Labeler, "changelist")).content.decode()
    assert f"Ana Silva ({ana.public_code})" in changelist
    assert f"nameless ({nameless.public_code})" in changelist  # no full name: the username
    assert f"Ana Silva ({ana.public_code})" in page(ops_client, ana)
    # The model's own text stays the code: the API and vendor-facing pages show codes only.
    assert str(ana) == ana.public_code


def test_search_by_full_name_finds_the_labeler(ops_client):
    ana = named("ana", "Ana", "Silva")
    other = named("bea", "Beatriz", "Silva")
    html = ops_client.get(admin_url(Labeler, "changelist"), {"q": "Ana Silva"}).content.decode()
    assert ana.public_code in html and other.public_code not in html


def test_labeler_autocomplete_answers_with_the_name(ops_client):
    ana = named("ana", "Ana", "Silva")
    named("bea", "Beatriz", "Costa")
    url = reverse("admin:workforce_labeler_autocomplete")
    # As the qualification form asks for its labeler field.
    query = {"app_label": "workforce", "model_name": "qualification", "field_name": "labeler"}
    response = ops_client.get(url, {**query, "term": "silva"})
    assert response.status_code == 200
    assert response.json()["results"] == [
        {"id": str(ana.pk), "text": f"Ana Silva ({ana.public_code})"}
    ]
    # The form's widget asks this URL, and shows a chosen labeler by name too.
    add = ops_client.get(admin_url(Qualification, "add")).content.decode()
    assert f'data-ajax--url="{url}"' in add
    grant = ops_client.get(admin_url(Qualification, "add"), {"labeler": ana.pk}).content.decode()
    assert f"Ana Silva ({ana.public_code})</option>" in grant


def test_the_api_still_shows_the_code_only(client, ops_user):
    ana = named("ana", "Ana", "Silva")
    client.force_login(ops_user)
    body = client.get(f"/api/v1/labelers/{ana.pk}/").content.decode()
    assert ana.public_code in body
    assert f"Ana Silva ({ana.public_code})" not in body


# -- the page's records -------------------------------------------------------------------------


def test_the_page_shows_the_labelers_records(ops_client, rules):
    ana = named("ana", "Ana", "Silva")
    project = make_project(tasks=0, slug="page-work", name="Pole inspection")
    with_records(ana, project=project, n=22, rules=rules)
    html = page(ops_client, ana)

    recent = panel(html, "Recent assignments")
    links = re.findall(r'href="/admin/assignments/assignment/(\d+)/change/"', recent)
    newest = ana.assignments.order_by("-leased_at", "-id").values_list("pk", flat=True)[:20]
    assert [int(pk) for pk in links] == list(newest)  # the last 20, newest first, linked
    assert "Pole inspection" in recent and "All of them" in recent

    attempts = panel(html, "Quiz attempts")
    assert len(re.findall(r"/admin/qc/quizattempt/\d+/change/", attempts)) == 20

    firings = panel(html, "Rule firings")
    for rule in rules:
        assert rule.name in firings
    assert "project 7001" in firings  # no such project: its id, said as such

    summary = panel(html, "Scorecard summary")
    assert "Gold accuracy, control tasks, all time" in summary
    assert "0.0% (n = 10" in summary  # the ten wrong control answers recorded above
    assert reverse("admin:assignments_quality_scorecard", args=[ana.pk]) in summary

    # Qualifications: a read-only inline, each grant linked to its own page.
    assert html.count("/admin/workforce/qualification/") >= 22
    assert "Page qualification" in html


def test_the_page_costs_the_same_queries_however_many_records(ops_client, rules):
    project = make_project(tasks=0, slug="page-count")
    few, many = named("few", "Few", "Rows"), named("many", "Many", "Rows")
    with_records(few, project=project, n=1, rules=rules[:1])
    with_records(many, project=project, n=25, rules=rules)
    counts = []
    for labeler in (few, many):
        page(ops_client, labeler)  # warm the session and caches alike
        with CaptureQueriesContext(connection) as ctx:
            page(ops_client, labeler)
        counts.append(len(ctx.captured_queries))
    assert counts[0] == counts[1], "\n".join(q["sql"][:150] for q in ctx.captured_queries)
    # The pin: the page, its inlines, each panel (the scorecard summary's ten at most) and the
    # session and permission reads. A new panel adds its own constant.
    assert counts[1] <= 32, counts


# -- status buttons ---------------------------------------------------------------------------


def buttons(html: str) -> list[str]:
    tools = re.search(r'<ul class="object-tools">(.*?)</ul>', html, re.S).group(1)
    return re.findall(r">(\w+)…</a>", tools)


@pytest.mark.parametrize(
    "status, offered",
    [
        (S.ONBOARDING, ["Activate", "Offboard", "Invite"]),
        (S.ACTIVE, ["Suspend", "Offboard", "Invite"]),
        (S.SUSPENDED, ["Reactivate", "Offboard", "Invite"]),
        (S.OFFBOARDED, ["Invite"]),
    ],
)
def test_status_buttons_follow_the_status(ops_client, status, offered):
    labeler = make_labeler(status=status)
    assert buttons(page(ops_client, labeler)) == offered


def test_a_status_button_asks_the_reason_then_calls_the_service(ops_client, ops_user):
    ana = named("ana", "Ana", "Silva")
    url = reverse("admin:workforce_labeler_status", args=[ana.pk, "suspend"])
    assert url in page(ops_client, ana)

    asked = ops_client.get(url).content.decode()
    assert "You are about to suspend 1 labeler:" in asked
    assert f"Ana Silva ({ana.public_code}), active" in asked
    assert 'name="reason"' in asked

    post = {"action": "suspend", "_selected_action": [ana.pk], "post": "yes"}
    again = ops_client.post(url, {**post, "reason": ""})
    assert again.status_code == 200 and "This field is required" in again.content.decode()
    ana.refresh_from_db()
    assert ana.status == S.ACTIVE

    done = ops_client.post(url, {**post, "reason": "Too many misses this week."})
    assert done.status_code == 302 and done["Location"] == admin_url(Labeler, "change", ana.pk)
    ana.refresh_from_db()
    assert ana.status == S.SUSPENDED
    change = LabelerStatusChange.objects.filter(labeler=ana).latest("created_at")
    assert (change.to_status, change.actor, change.reason) == (
        S.SUSPENDED,
        ops_user,
        "Too many misses this week.",
    )


def test_a_refused_transition_is_said_and_nothing_changes(ops_client):
    offboarded = make_labeler(status=S.OFFBOARDED)
    url = reverse("admin:workforce_labeler_status", args=[offboarded.pk, "reactivate"])
    post = {"action": "reactivate", "_selected_action": [offboarded.pk], "post": "yes"}
    response = ops_client.post(url, {**post, "reason": "Try."}, follow=True)
    assert "Could not reactivate" in response.content.decode()
    offboarded.refresh_from_db()
    assert offboarded.status == S.OFFBOARDED


def test_unknown_button_and_labeler_are_404(ops_client):
    labeler = make_labeler()
    bad = reverse("admin:workforce_labeler_status", args=[labeler.pk, "delete"])
    assert ops_client.get(bad).status_code == 404
    missing = reverse("admin:workforce_labeler_status", args=[999999, "suspend"])
    assert ops_client.get(missing).status_code == 404


def test_a_vendor_manager_gets_no_status_page(client, manager_a, vendor_labeler):
    client.force_login(manager_a)
    url = reverse("admin:workforce_labeler_status", args=[vendor_labeler.pk, "suspend"])
    response = client.get(url)
    assert response.status_code in (302, 403, 404)
    vendor_labeler.refresh_from_db()
    assert vendor_labeler.status == S.ACTIVE
