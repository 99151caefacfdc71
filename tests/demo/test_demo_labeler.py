"""The demo labeler (``DEMO_LABELER``): after ``seed_demo`` a newcomer who signs in at /labeler/
with that login has something to do in every part of the labeler pages — a guide version to
acknowledge with its change note, a training quiz and a qualification test open, and tasks
waiting in the choice project and in the box project — through the same services the pages
call."""

from __future__ import annotations

from io import StringIO

import pytest
from django.core.management import call_command

from assignments import services as work_services
from assignments.models import Assignment, Project
from config.errors import ApplicationError
from demo.seed.boxes import BOX_GUIDE_SLUG, BOX_LABELERS, BOX_PROJECT, BOX_QUALIFICATION
from demo.seed.images import HARDWARE_PHOTOS
from demo.seed.qualification import GUIDE_SLUG, QUALIFICATION_QUIZ, TRAINING_QUIZ
from demo.seed.work import DEMO_PROJECT
from demo.seed.workforce import DEMO_LABELER, DEMO_PASSWORD, LOGIN_TABLE
from qc.models import GoldItem, Guide, Quiz, QuizAttempt
from qc.selectors import quizzes as quiz_selectors
from qc.selectors.guides import guide_states_for
from qc.services import guides as guide_services
from qc.services import quizzes as quiz_services
from workforce.models import Labeler, Qualification

pytestmark = pytest.mark.django_db


@pytest.fixture(autouse=True)
def _fast_hasher(settings):
    settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]


def _claim_refusal(labeler: Labeler, project: Project) -> str:
    with pytest.raises(ApplicationError) as refused:
        work_services.assignment_claim_next(labeler=labeler, project_id=project.pk)
    return refused.value.code


def test_the_demo_labeler_has_something_to_do_on_every_labeler_page(client):
    out = StringIO()
    call_command("seed_demo", force=True, base_url="http://127.0.0.1:8000", stdout=out)
    output = out.getvalue()
    assert f"Labeler pages: http://127.0.0.1:8000/labeler/  (log in as {DEMO_LABELER})" in output
    assert DEMO_LABELER in {username for _role, username, _hint in LOGIN_TABLE}
    labeler = Labeler.objects.select_related("user").get(user__username=DEMO_LABELER)
    assert labeler.status == Labeler.Status.ACTIVE
    assert labeler.user.check_password(DEMO_PASSWORD)

    # The pages answer for them.
    client.force_login(labeler.user)
    assert client.get("/labeler/").status_code == 200

    # A guide to acknowledge, with what changed since the version they read.
    box_guide = Guide.objects.get(slug=BOX_GUIDE_SLUG)
    pole_guide = Guide.objects.get(slug=GUIDE_SLUG)
    states = guide_states_for(actor=labeler.user, guides=[box_guide, pole_guide])
    box_state = states[box_guide.pk]
    assert box_state.must_acknowledge is True
    assert box_state.acknowledged_version.number == "1.0"
    assert [v.number for v in box_state.changes_since_ack] == ["2.0"]
    assert "bushings" in box_state.current.change_summary
    assert states[pole_guide.pk].must_acknowledge is False

    # A training quiz and a qualification test, both open.
    quizzes = list(Quiz.objects.filter(slug__in=[TRAINING_QUIZ, QUALIFICATION_QUIZ]))
    availability = quiz_selectors.quiz_availability_for(labeler=labeler, quizzes=quizzes)
    assert {q.slug: availability[q.pk].available for q in quizzes} == {
        TRAINING_QUIZ: True,
        QUALIFICATION_QUIZ: True,
    }

    # Tasks wait in both projects; each opens once its step is done.
    north = Project.objects.get(slug=DEMO_PROJECT)
    box = Project.objects.get(slug=BOX_PROJECT)
    assert (north.answer_type, box.answer_type) == ("single_choice", "boxes")
    assert box.tasks.filter(is_open=True).count() == HARDWARE_PHOTOS
    assert not Assignment.objects.filter(project=box).exists()  # new this week: all wait
    assert Qualification.objects.filter(
        labeler=labeler, qualification_type__slug=BOX_QUALIFICATION[0], revoked_at__isnull=True
    ).exists()
    assert DEMO_LABELER in BOX_LABELERS
    assert _claim_refusal(labeler, box) == "guide_not_acknowledged"
    assert _claim_refusal(labeler, north) == "qualification_missing"

    guide_services.guide_acknowledge(actor=labeler.user, labeler=labeler, guide=box_guide)
    claim = work_services.assignment_claim_next(labeler=labeler, project_id=box.pk)
    task = claim.assignment.task
    assert task.payload["image_url"].startswith("/static/demo/hardware/")
    assert task.prelabel and box.show_prelabels

    # The qualification test, answered right, opens the choice project.
    quiz = next(q for q in quizzes if q.slug == QUALIFICATION_QUIZ)
    attempt, _ = quiz_services.quiz_attempt_start(actor=labeler.user, quiz=quiz, labeler=labeler)
    while (question := quiz_selectors.attempt_next_question(attempt=attempt)) is not None:
        right = GoldItem.objects.get(pk=question.gold_item_id).accepted_answers[0]
        attempt = quiz_services.quiz_attempt_answer(
            actor=labeler.user, attempt=attempt, question_id=question.pk, answer=right
        ).attempt
    assert attempt.status == QuizAttempt.Status.PASSED
    claim = work_services.assignment_claim_next(labeler=labeler, project_id=north.pk)
    assert claim.assignment.task.payload["image_url"].startswith("/static/demo/north/")
