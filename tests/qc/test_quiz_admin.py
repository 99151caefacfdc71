"""The operations admin for quizzes, attempts, qualification types and qualifications: forms and
actions go through the services; attempts are read-only with per-question results; the
changelists cost a constant number of queries."""

from __future__ import annotations

import pytest
from django.contrib.messages import get_messages
from django.db import connection
from django.test.utils import CaptureQueriesContext

from qc.models import Quiz, QuizAttempt
from qc.services import quizzes as services
from tests.factories import admin_url, make_labeler
from tests.qc.quiz_factories import (
    make_choice_set,
    make_qualification_type,
    make_quiz,
    quiz_admin_samples,
)
from workforce import services as workforce_services
from workforce.models import Qualification, QualificationType

pytestmark = pytest.mark.django_db


def _messages(response) -> list[str]:
    return [str(m) for m in get_messages(response.wsgi_request)]


def _quiz_form(gold_set, qtype=None, **overrides) -> dict:
    data = {
        "title": "Poles qualification",
        "slug": "poles-qual",
        "description": "",
        "kind": "qualification",
        "is_active": "on",
        "gold_set": gold_set.pk,
        "guide": "",
        "num_questions": 5,
        "pass_mark": "0.8",
        "time_limit_seconds": "",
        "max_attempts": "",
        "retry_delay_seconds": 0,
        "qualification_type": qtype.pk if qtype else "",
        "validity_days": "90",
        "seq_p0": "",
        "seq_alpha": "0.05",
        "seq_beta": "0.05",
        "seq_min_questions": 5,
        **overrides,
    }
    return {k: v for k, v in data.items() if v is not None}


def test_add_quiz_goes_through_the_service(ops_client):
    gold_set, qtype = make_choice_set(), make_qualification_type("poles")
    response = ops_client.post(admin_url(Quiz, "add"), _quiz_form(gold_set, qtype))
    assert response.status_code == 302, response.content[:2000]
    quiz = Quiz.objects.get(slug="poles-qual")
    assert (quiz.qualification_type, quiz.validity_days) == (qtype, 90)


@pytest.mark.parametrize(
    ("overrides", "field", "text"),
    [
        ({"qualification_type": ""}, "qualification_type", "grants a qualification type"),
        ({"sequential": "on", "seq_p0": "0.9"}, "seq_p0", "below the pass mark"),
        ({"pass_mark": "1.5"}, "pass_mark", "at most 1"),
    ],
)
def test_add_quiz_shows_service_errors_on_the_form(ops_client, overrides, field, text):
    gold_set, qtype = make_choice_set(), make_qualification_type("poles")
    form = _quiz_form(gold_set, qtype, **overrides)
    if overrides.get("qualification_type") == "":
        form["qualification_type"] = ""
    response = ops_client.post(admin_url(Quiz, "add"), form)
    assert response.status_code == 200
    errors = response.context["adminform"].form.errors
    assert field in errors and text in " ".join(errors[field]), errors
    assert not Quiz.objects.exists()


def test_change_quiz_goes_through_update_and_refuses_a_new_gold_set(ops_client, internal_labeler):
    quiz = make_quiz(num_questions=2)
    form = _quiz_form(quiz.gold_set, quiz.qualification_type, slug=quiz.slug, pass_mark="0.6")
    response = ops_client.post(admin_url(Quiz, "change", quiz.pk), form)
    assert response.status_code == 302
    quiz.refresh_from_db()
    assert str(quiz.pass_mark) == "0.600"

    services.quiz_attempt_start(actor=None, quiz=quiz, labeler=internal_labeler)
    other = make_choice_set()
    form = _quiz_form(other, quiz.qualification_type, slug=quiz.slug, pass_mark="0.6")
    response = ops_client.post(admin_url(Quiz, "change", quiz.pk), form)
    assert response.status_code == 200
    assert "cannot change once it has attempts" in str(response.context["adminform"].form.errors)
    quiz.refresh_from_db()
    assert quiz.gold_set_id != other.pk


def test_deactivate_action(ops_client):
    quiz = make_quiz(num_questions=2)
    response = ops_client.post(
        admin_url(Quiz, "changelist"),
        {"action": "deactivate_quizzes", "_selected_action": [quiz.pk]},
    )
    assert response.status_code == 302
    quiz.refresh_from_db()
    assert quiz.is_active is False


def test_attempt_page_shows_per_question_results_read_only(ops_client, internal_labeler):
    samples = quiz_admin_samples(labeler=internal_labeler)
    attempt = samples["attempt"]
    response = ops_client.get(admin_url(QuizAttempt, "change", attempt.pk))
    assert response.status_code == 200
    page = response.content.decode()
    for question in attempt.questions.select_related("gold_item"):
        assert question.gold_item.external_id in page
    assert "Accepted answers" in page and "&quot;crack&quot;" in page
    assert 'name="_save"' not in page  # read-only
    assert ops_client.get(admin_url(QuizAttempt, "add")).status_code == 403


def test_end_attempts_action_calls_the_service(ops_client, internal_labeler):
    quiz = make_quiz(num_questions=2)
    attempt, _ = services.quiz_attempt_start(actor=None, quiz=quiz, labeler=internal_labeler)
    response = ops_client.post(
        admin_url(QuizAttempt, "changelist"),
        {"action": "end_attempts", "_selected_action": [attempt.pk]},
    )
    assert response.status_code == 302
    assert "Ended 1 attempt(s)." in _messages(response)
    attempt.refresh_from_db()
    assert (attempt.status, attempt.end_reason) == ("failed", "finished")


def test_attempt_and_qualification_changelists_are_constant(ops_client, vendor_a):
    def add(n):
        for _ in range(n):
            quiz_admin_samples(labeler=make_labeler(vendor=vendor_a))

    add(1)
    urls = [
        admin_url(QuizAttempt, "changelist"),
        admin_url(Qualification, "changelist"),
        admin_url(Quiz, "changelist"),
    ]
    for url in urls:
        ops_client.get(url)
    few = {}
    for url in urls:
        with CaptureQueriesContext(connection) as ctx:
            assert ops_client.get(url).status_code == 200
        few[url] = len(ctx)
    add(4)
    for url in urls:
        with CaptureQueriesContext(connection) as ctx:
            assert ops_client.get(url).status_code == 200
        assert len(ctx) == few[url], url


def test_add_qualification_is_a_manual_grant(ops_client, ops_user, vendor_labeler):
    qtype = make_qualification_type("poles")
    url = admin_url(Qualification, "add")
    response = ops_client.post(
        url, {"labeler": vendor_labeler.pk, "qualification_type": qtype.pk, "reason": ""}
    )
    assert response.status_code == 200
    assert "reason" in response.context["adminform"].form.errors
    assert not Qualification.objects.exists()

    response = ops_client.post(
        url,
        {
            "labeler": vendor_labeler.pk,
            "qualification_type": qtype.pk,
            "valid_days": "30",
            "reason": "Certified elsewhere.",
        },
    )
    assert response.status_code == 302
    grant = Qualification.objects.get()
    assert (grant.source, grant.granted_by, grant.reason) == (
        "manual",
        ops_user,
        "Certified elsewhere.",
    )
    assert grant.expires_at is not None
    page = ops_client.get(admin_url(Qualification, "change", grant.pk)).content.decode()
    assert 'name="_save"' not in page


def test_revoke_action_asks_for_a_reason_then_revokes(ops_client, ops_user, vendor_labeler):
    qtype = make_qualification_type("poles")
    grant = workforce_services.qualification_grant(
        actor=None, labeler=vendor_labeler, qualification_type=qtype, source="manual", reason="x"
    )
    url = admin_url(Qualification, "changelist")
    response = ops_client.post(url, {"action": "revoke", "_selected_action": [grant.pk]})
    assert response.status_code == 200
    assert "admin/reason_confirmation.html" in [t.name for t in response.templates]
    grant.refresh_from_db()
    assert grant.revoked_at is None

    response = ops_client.post(
        url,
        {"action": "revoke", "_selected_action": [grant.pk], "post": "yes", "reason": "Audit."},
    )
    assert response.status_code == 302
    grant.refresh_from_db()
    assert (grant.revoked_by, grant.revoke_reason) == (ops_user, "Audit.")

    response = ops_client.post(
        url,
        {"action": "revoke", "_selected_action": [grant.pk], "post": "yes", "reason": "Again."},
    )
    assert any(m.startswith("Could not revoke") for m in _messages(response))


def test_renew_action_grants_again(ops_client, vendor_labeler):
    qtype = make_qualification_type("poles")
    old = workforce_services.qualification_grant(
        actor=None, labeler=vendor_labeler, qualification_type=qtype, source="manual", reason="x"
    )
    response = ops_client.post(
        admin_url(Qualification, "changelist"),
        {
            "action": "renew",
            "_selected_action": [old.pk],
            "post": "yes",
            "reason": "Renewed after review.",
            "valid_days": "365",
        },
    )
    assert response.status_code == 302
    old.refresh_from_db()
    new = Qualification.objects.exclude(pk=old.pk).get()
    assert old.superseded_at is not None and new.reason == "Renewed after review."
    assert new.expires_at is not None


def test_add_qualification_type_goes_through_the_service(ops_client):
    response = ops_client.post(
        admin_url(QualificationType, "add"), {"slug": "bad slug", "name": "X", "description": ""}
    )
    assert response.status_code == 200
    assert not QualificationType.objects.exists()
    response = ops_client.post(
        admin_url(QualificationType, "add"), {"slug": "poles", "name": "Poles", "description": ""}
    )
    assert response.status_code == 302
    qtype = QualificationType.objects.get(slug="poles")
    page = ops_client.get(admin_url(QualificationType, "change", qtype.pk)).content.decode()
    assert 'name="slug"' not in page  # the slug is read-only once created
