"""Worlds for the home page's tests (tests/labeler_pages/test_home.py and
test_browser_home.py): guides, quizzes and projects in every state the page explains."""

from __future__ import annotations

from assignments.models import Project
from qc.models import GuideVersion, Quiz
from qc.services import quizzes as quiz_services
from tests.assignments.factories import make_project
from tests.qc.factories import GuideFactory, acknowledge, make_gold_set, publish_version
from workforce.models import Labeler, QualificationType


def make_quiz(slug, *, title=None, kind=Quiz.Kind.TRAINING, guide=None, items=3, **extra):
    return Quiz.objects.create(
        slug=slug,
        title=title or slug.replace("-", " ").title(),
        kind=kind,
        gold_set=make_gold_set(items=items),
        guide=guide,
        num_questions=extra.pop("num_questions", 2),
        pass_mark="0.5",
        **extra,
    )


def make_guide(slug: str, name: str):
    guide = GuideFactory(slug=slug, name=name)
    return guide, publish_version(guide, change_summary="First version.")


def home_world(labeler: Labeler):
    """Several guides, quizzes and projects in every state the page explains."""
    unread, _ = make_guide("unread", "Pole basics")
    updated, _ = make_guide("updated", "Rust guide")
    acknowledge(labeler, updated)
    publish_version(updated, bump=GuideVersion.Bump.MAJOR, change_summary="Boxes around rust.")
    minor, _ = make_guide("minor", "Bird guide")
    acknowledge(labeler, minor)
    publish_version(minor, change_summary="Gulls count as birds.")
    done, _ = make_guide("done", "Done guide")
    acknowledge(labeler, done)

    poles = QualificationType.objects.create(slug="poles", name="Poles certified")
    orphan = QualificationType.objects.create(slug="orphan", name="Orphan skill")
    qualifying = make_quiz(
        "poles-test", title="Poles test", kind=Quiz.Kind.QUALIFICATION,
        qualification_type=poles, validity_days=90, guide=done,
    )  # fmt: skip
    make_quiz("warm-up", title="Warm-up")
    make_quiz("rust-drill", title="Rust drill", guide=updated)
    delayed = make_quiz("bird-drill", title="Bird drill", max_attempts=3, retry_delay_seconds=7200)
    exhausted = make_quiz("one-shot", title="One shot", max_attempts=1)
    make_quiz("hidden", title="Hidden quiz", is_active=False)
    for quiz in (delayed, exhausted):
        attempt, _ = quiz_services.quiz_attempt_start(
            actor=labeler.user, labeler=labeler, quiz=quiz
        )
        quiz_services.quiz_attempt_finish(actor=labeler.user, attempt=attempt)

    open_project = make_project(tasks=5, slug="open", name="Open poles", priority=1)
    qualified = make_project(tasks=2, slug="qualified", name="Certified poles", priority=9)
    qualified.required_qualifications.set([poles])
    orphaned = make_project(tasks=2, slug="orphaned", name="Orphan project")
    orphaned.required_qualifications.set([orphan])
    make_project(tasks=2, slug="guided", name="Guided poles", guide=unread, require_guide_ack=True)
    make_project(tasks=2, slug="paused", name="Paused poles", status=Project.Status.PAUSED)
    make_project(tasks=2, slug="drafted", name="Draft poles", status=Project.Status.DRAFT)
    make_project(tasks=0, slug="empty", name="Empty poles")
    return {"qualifying": qualifying, "delayed": delayed, "open": open_project}
