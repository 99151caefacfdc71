"""Small builders for quiz tests. Gold sets come from ``tests.qc.factories.make_gold_set`` (the
one builder, through the service); the guides and gold items a quiz draws on are written with
the ORM (any payload, versions numbered as given); quizzes and qualification types go through
their services, like production."""

from __future__ import annotations

import itertools
from typing import Any

from django.utils import timezone

from qc.answers import stratum_of
from qc.models import GoldItem, GoldSet, Guide, GuideAcknowledgement, GuideVersion, Quiz
from qc.services import quizzes as quiz_services
from tests.qc.factories import make_gold_set
from workforce import services as workforce_services
from workforce.models import Labeler, QualificationType

_seq = itertools.count(1)


def make_qualification_type(slug: str | None = None, name: str | None = None):
    slug = slug or f"qual-{next(_seq)}"
    existing = QualificationType.objects.filter(slug=slug).first()
    if existing:
        return existing
    return workforce_services.qualification_type_create(
        actor=None, slug=slug, name=name or slug.replace("-", " ").title()
    )


def add_item(
    gold_set: GoldSet,
    accepted: list[Any],
    *,
    explanation: str = "",
    payload: dict | None = None,
    status: str = GoldItem.Status.ACTIVE,
    external_id: str | None = None,
) -> GoldItem:
    n = next(_seq)
    return GoldItem.objects.create(
        gold_set=gold_set,
        external_id=external_id or f"item-{n}",
        payload=payload if payload is not None else {"image": f"https://img.example/{n}.jpg"},
        accepted_answers=accepted,
        explanation=explanation,
        status=status,
        stratum=stratum_of(gold_set.answer_type, accepted),
    )


def add_choice_items(gold_set: GoldSet, counts: dict[str, int]) -> dict[str, list[GoldItem]]:
    """Single-choice items: ``counts[label]`` items whose accepted answer is ``label``."""
    return {
        label: [add_item(gold_set, [label], explanation=f"It is {label}.") for _ in range(count)]
        for label, count in counts.items()
    }


def make_choice_set(counts: dict[str, int] | None = None, **kwargs) -> GoldSet:
    counts = counts or {"crack": 4, "rust": 3, "ok": 3}
    gold_set = make_gold_set(classes=sorted(counts), **kwargs)
    add_choice_items(gold_set, counts)
    return gold_set


def make_quiz(
    gold_set: GoldSet | None = None,
    *,
    kind: str = Quiz.Kind.QUALIFICATION,
    num_questions: int = 5,
    pass_mark: str = "0.8",
    qualification_type: QualificationType | None = None,
    **kwargs,
) -> Quiz:
    gold_set = gold_set or make_choice_set()
    if kind == Quiz.Kind.QUALIFICATION and qualification_type is None:
        qualification_type = make_qualification_type()
    n = next(_seq)
    return quiz_services.quiz_create(
        actor=None,
        slug=kwargs.pop("slug", f"quiz-{n}"),
        title=kwargs.pop("title", f"Quiz {n}"),
        kind=kind,
        gold_set=gold_set,
        num_questions=num_questions,
        pass_mark=pass_mark,
        qualification_type=qualification_type,
        **kwargs,
    )


def make_guide(*, published: tuple[tuple[int, int], ...] = ((1, 0),)) -> Guide:
    """A guide with published versions numbered as given."""
    n = next(_seq)
    guide = Guide.objects.create(slug=f"guide-{n}", name=f"Guide {n}")
    for major, minor in published:
        publish_version(guide, major, minor)
    return guide


def publish_version(guide: Guide, major: int, minor: int) -> GuideVersion:
    return GuideVersion.objects.create(
        guide=guide,
        status=GuideVersion.Status.PUBLISHED,
        major=major,
        minor=minor,
        body=f"Version {major}.{minor}",
        published_at=timezone.now(),
    )


def acknowledge(labeler: Labeler, version: GuideVersion) -> GuideAcknowledgement:
    return GuideAcknowledgement.objects.create(labeler=labeler, version=version)


def quiz_admin_samples(*, labeler: Labeler) -> dict[str, Any]:
    """One row of every model whose admin lives in the quiz area (quizzes, attempts,
    qualification types, qualifications), for the admin smoke test: a passed qualification
    attempt, which also creates its qualification."""
    qtype = make_qualification_type("admin-sample", "Admin sample")
    quiz = make_quiz(
        make_choice_set({"crack": 2, "rust": 1}),
        num_questions=3,
        pass_mark="0.5",
        qualification_type=qtype,
    )
    attempt, _ = quiz_services.quiz_attempt_start(actor=None, quiz=quiz, labeler=labeler)
    for question in attempt.questions.select_related("gold_item").order_by("position"):
        quiz_services.quiz_attempt_answer(
            actor=labeler.user,
            attempt=attempt,
            question_id=question.pk,
            answer=question.gold_item.accepted_answers[0],
        )
    attempt.refresh_from_db()
    return {"quiz": quiz, "attempt": attempt, "qualification": attempt.qualification}
