"""quiz_create and quiz_update: every rule reported on its field, nothing written on error."""

from __future__ import annotations

from decimal import Decimal

import pytest
from django.core.exceptions import ValidationError
from django.db import IntegrityError, transaction

from config.errors import Conflict
from qc.models import Quiz
from qc.services import quizzes as services
from tests.qc.quiz_factories import make_choice_set, make_qualification_type, make_quiz

pytestmark = pytest.mark.django_db


_DEFAULT = object()


def _create(**overrides):
    """A valid qualification quiz unless ``overrides`` say otherwise; ``qualification_type``
    may be a slug, None, or left out (a default type for a qualification quiz, none for a
    training one)."""
    qtype = overrides.pop("qualification_type", _DEFAULT)
    if qtype is _DEFAULT:
        qtype = None if overrides.get("kind") == Quiz.Kind.TRAINING else "poles"
    data = {
        "actor": None,
        "slug": "poles-qual",
        "title": "Poles",
        "kind": Quiz.Kind.QUALIFICATION,
        "gold_set": make_choice_set(),
        "num_questions": 10,
        "pass_mark": "0.8",
        "qualification_type": make_qualification_type(qtype) if qtype else None,
        **overrides,
    }
    return services.quiz_create(**data)


def test_create_a_qualification_quiz():
    quiz = _create(validity_days=90, time_limit_seconds=600, max_attempts=3)
    assert quiz.pk and quiz.pass_mark == Decimal("0.800") and quiz.validity_days == 90


def test_settings_left_out_take_the_model_defaults():
    quiz = _create(kind=Quiz.Kind.TRAINING)
    quiz.refresh_from_db()
    assert (quiz.description, quiz.guide, quiz.time_limit_seconds, quiz.max_attempts) == (
        "",
        None,
        None,
        None,
    )
    assert (quiz.retry_delay_seconds, quiz.validity_days, quiz.is_active) == (0, None, True)
    assert (quiz.sequential, quiz.seq_p0, quiz.seq_min_questions) == (False, None, 5)
    assert (quiz.seq_alpha, quiz.seq_beta) == (Decimal("0.050"), Decimal("0.050"))


def test_a_keyword_outside_the_quiz_settings_is_a_type_error():
    with pytest.raises(TypeError, match="unexpected keyword arguments: colour"):
        _create(colour="blue")
    assert not Quiz.objects.exists()


def test_create_a_sequential_quiz_with_valid_sprt_parameters():
    quiz = _create(sequential=True, seq_p0="0.55", seq_min_questions=4)
    params = services.sprt_params(quiz)
    assert (params.p1, params.p0, params.n_min, params.n_max) == (0.8, 0.55, 4, 10)


@pytest.mark.parametrize(
    ("overrides", "field"),
    [
        ({"pass_mark": "0"}, "pass_mark"),
        ({"pass_mark": "1.2"}, "pass_mark"),
        ({"pass_mark": "-0.1"}, "pass_mark"),
        ({"pass_mark": "0.8125"}, "pass_mark"),  # more than three decimal places
        ({"num_questions": 0}, "num_questions"),
        ({"time_limit_seconds": 0}, "time_limit_seconds"),
        ({"max_attempts": 0}, "max_attempts"),
        ({"validity_days": 0}, "validity_days"),
        ({"kind": "exam"}, "kind"),
        ({"slug": "not a slug"}, "slug"),
        ({"qualification_type": None, "kind": "qualification"}, "qualification_type"),
        ({"kind": "training", "qualification_type": "poles"}, "qualification_type"),
        ({"kind": "training", "validity_days": 30}, "validity_days"),
        ({"kind": "training", "sequential": True, "seq_p0": "0.5"}, "sequential"),
        ({"sequential": True}, "seq_p0"),
        ({"sequential": True, "seq_p0": "0.8"}, "seq_p0"),
        ({"sequential": True, "seq_p0": "0.9"}, "seq_p0"),
        ({"sequential": True, "seq_p0": "0"}, "seq_p0"),
        ({"sequential": True, "seq_p0": "0.5", "pass_mark": "1"}, "pass_mark"),
        ({"sequential": True, "seq_p0": "0.5", "seq_alpha": "0.5"}, "seq_alpha"),
        ({"sequential": True, "seq_p0": "0.5", "seq_beta": "0"}, "seq_beta"),
        ({"sequential": True, "seq_p0": "0.5", "seq_min_questions": 11}, "seq_min_questions"),
    ],
)
def test_invalid_settings_are_reported_on_their_field(overrides, field):
    with pytest.raises(ValidationError) as info:
        _create(**overrides)
    assert field in info.value.message_dict, info.value.message_dict
    assert not Quiz.objects.exists()


def test_slug_is_unique():
    _create()
    with pytest.raises(ValidationError) as info:
        _create()
    assert "slug" in info.value.message_dict


def test_update_changes_settings_and_rechecks_them():
    quiz = _create()
    quiz = services.quiz_update(actor=None, quiz=quiz, data={"pass_mark": "0.9", "title": "New"})
    assert (quiz.pass_mark, quiz.title) == (Decimal("0.900"), "New")
    with pytest.raises(ValidationError) as info:
        services.quiz_update(actor=None, quiz=quiz, data={"sequential": True})
    assert "seq_p0" in info.value.message_dict
    with pytest.raises(ValidationError) as info:
        services.quiz_update(actor=None, quiz=quiz, data={"correct_count": 3})
    assert "correct_count" in info.value.message_dict
    quiz.refresh_from_db()
    assert quiz.sequential is False


def test_kind_and_gold_set_are_frozen_once_there_are_attempts(internal_labeler):
    quiz = make_quiz(num_questions=2)
    services.quiz_attempt_start(actor=None, quiz=quiz, labeler=internal_labeler)
    other = make_choice_set()
    with pytest.raises(Conflict) as info:
        services.quiz_update(actor=None, quiz=quiz, data={"gold_set": other})
    assert info.value.code == "quiz_has_attempts"
    # everything else may change
    services.quiz_update(actor=None, quiz=quiz, data={"gold_set": quiz.gold_set, "title": "T"})
    services.quiz_update(actor=None, quiz=quiz, data={"is_active": False})
    quiz.refresh_from_db()
    assert (quiz.title, quiz.is_active) == ("T", False)


def test_the_database_refuses_a_sequential_training_quiz():
    quiz = make_quiz(kind="training", num_questions=2, pass_mark="0.5")
    with pytest.raises(IntegrityError), transaction.atomic():
        Quiz.objects.filter(pk=quiz.pk).update(sequential=True, seq_p0=Decimal("0.2"))
