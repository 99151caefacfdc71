"""Guides and quizzes in a real browser (chromium, at desktop and phone width): read and
acknowledge the guide, take a timed training quiz with the keyboard and read its feedback, pass
or fail a qualification test and see what it grants or when to try again; a double click on
Start or Submit gives one attempt and one answer. Each page is checked with axe-core (WCAG A/AA)
and photographed into docs/screenshots/ (guide-*.png, quiz-*.png)."""

from __future__ import annotations

import pytest

from qc.models import Quiz, QuizAttempt
from tests.factories import make_labeler
from tests.labeler_pages.conftest import axe_violations, needs_chromium, screenshot, sign_in
from tests.qc.factories import (
    GuideFactory,
    acknowledge,
    make_gold_item,
    make_gold_set,
    publish_version,
)
from tests.qc.quiz_factories import make_qualification_type, make_quiz

pytestmark = [needs_chromium, pytest.mark.django_db(transaction=True)]

PASSWORD = "pw-Labelforce-1"
CLASSES = ["crack", "ok", "rust"]
GUIDE_BODY = """# What to label

Look at the **whole pole**, from the base to the crossarm, before you choose.

## Cracks

A crack is a dark line that *crosses* the grain of the wood. Shadows and paint seams are not
cracks.

## Rust

Orange-brown corrosion on metal parts (bolts, brackets, the transformer housing).

| You see | Label |
|:--|:--|
| a line across the grain | crack |
| orange-brown stains on metal | rust |
| neither | ok |
"""


def world(*readers):
    """A guide (1.0, which ``readers`` acknowledged, and 1.1 published since with its change
    note), a timed training quiz on it and a qualification test with a retry delay, on the
    demo's own images."""
    guide = GuideFactory(name="Utility poles: defects", project_family="utility poles")
    publish_version(guide, body=GUIDE_BODY)
    for labeler in readers:
        acknowledge(labeler, guide)
    publish_version(
        guide, body=GUIDE_BODY, change_summary="Paint seams are not cracks: see Cracks."
    )
    gold_set = make_gold_set(classes=CLASSES, guide=guide)
    for n, label in enumerate(["crack", "rust", "ok", "crack", "rust", "ok"]):
        make_gold_item(
            gold_set,
            accepted_answers=[label],
            image_url=f"/static/demo/north/{24 + n:04d}.svg",
            explanation={
                "crack": "The dark line crosses the grain of the wood near the base.",
                "rust": "Orange-brown stains cover the bracket bolts.",
                "ok": "No crack and no corrosion anywhere on the pole.",
            }[label],
        )
    training = make_quiz(
        gold_set,
        kind=Quiz.Kind.TRAINING,
        title="Pole defects: practice",
        description="Practise on six poles before the qualification test.",
        num_questions=3,
        pass_mark="0.6",
        time_limit_seconds=900,
        guide=guide,
    )
    qualification = make_quiz(
        gold_set,
        kind=Quiz.Kind.QUALIFICATION,
        title="Pole defects: qualification",
        num_questions=3,
        pass_mark="0.6",
        retry_delay_seconds=6 * 3600,
        max_attempts=3,
        validity_days=180,
        qualification_type=make_qualification_type("pole-defects", "Pole defects"),
        guide=guide,
    )
    return guide, training, qualification


def gold_of(page) -> str:
    """The accepted answer of the question on the page, read from the database by its id."""
    from qc.models import AttemptQuestion

    question_id = int(page.locator("input[name=question]").get_attribute("value"))
    return AttemptQuestion.objects.get(pk=question_id).gold_item.accepted_answers[0]


def check(page, name: str) -> None:
    assert axe_violations(page) == [], name
    screenshot(page, name)


def test_guide_and_training_quiz_at_desktop_width(desktop):
    guide, training, _ = world(make_labeler(username="ana"))
    page = desktop
    sign_in(page, "ana", PASSWORD)

    page.goto(f"/labeler/guides/{guide.pk}/")
    assert page.get_by_role("heading", name="What changed since version 1.0").is_visible()
    assert page.get_by_text("Paint seams are not cracks: see Cracks.").is_visible()
    check(page, "guide-desktop")
    page.get_by_role("button", name="I have read version 1.1: acknowledge").click()
    page.wait_for_url("**/labeler/")
    assert page.get_by_text("You acknowledged version 1.1").is_visible()

    page.goto(f"/labeler/quizzes/{training.pk}/")
    check(page, "quiz-desktop")
    start = page.get_by_role("button", name="Start the quiz")
    start.dblclick()  # a double click starts one attempt
    page.wait_for_url("**/labeler/attempts/*/")
    assert QuizAttempt.objects.filter(quiz=training).count() == 1
    assert page.get_by_text("Question 1 of 3").is_visible()
    assert page.locator("[data-countdown-value]").inner_text().startswith("14:")
    check(page, "quiz-question-desktop")

    # Keyboard: the key of a label picks it, Enter on the button submits.
    wrong = next(c for c in CLASSES if c != gold_of(page))
    page.keyboard.press(str(CLASSES.index(wrong) + 1))
    assert page.get_by_label(wrong).is_checked()
    page.get_by_role("button", name="Submit answer").focus()
    page.keyboard.press("Enter")
    page.wait_for_url("**?feedback=*")
    assert page.get_by_role("heading", name="Not correct").is_visible()
    check(page, "quiz-feedback-desktop")
    # Back and submit again: the first answer stands, the next question is untouched.
    page.go_back()
    page.get_by_role("button", name="Submit answer").click()
    page.wait_for_url("**?feedback=*")
    assert page.get_by_text("your first answer stands").is_visible()
    attempt = QuizAttempt.objects.get(quiz=training)
    assert attempt.answered_count == 1

    for _ in range(2):
        page.get_by_role("link", name="Next question").click()
        page.get_by_label(gold_of(page)).check()
        page.get_by_role("button", name="Submit answer").click()
        page.wait_for_url("**?feedback=*")
        assert page.get_by_role("heading", name="Correct").is_visible()
    page.get_by_role("link", name="See your result").click()
    assert page.get_by_role("heading", name="You passed").is_visible()
    check(page, "quiz-result-desktop")


def test_qualification_passed_and_failed_at_phone_width(phone, browser, live_server):
    guide, _, qualification = world()
    for username in ("bea", "caio"):
        acknowledge(make_labeler(username=username), guide)
    page = phone
    sign_in(page, "bea", PASSWORD)
    page.goto(f"/labeler/guides/{guide.pk}/")
    check(page, "guide-phone")

    page.goto(f"/labeler/quizzes/{qualification.pk}/")
    check(page, "quiz-phone")
    page.get_by_role("button", name="Start the test").click()
    page.wait_for_url("**/labeler/attempts/*/")
    check(page, "quiz-question-phone")
    for _ in range(3):
        page.get_by_label(gold_of(page)).check()
        page.get_by_role("button", name="Submit answer").click()
        page.wait_for_load_state()
    assert page.get_by_role("heading", name="You passed").is_visible()
    assert page.get_by_text("You now hold the qualification").is_visible()
    check(page, "quiz-result-phone")

    # Another labeler fails it: the result says when they may try again.
    context = browser.new_context(
        viewport={"width": 390, "height": 844}, base_url=live_server.url, is_mobile=True
    )
    other = context.new_page()
    sign_in(other, "caio", PASSWORD)
    other.goto(f"/labeler/quizzes/{qualification.pk}/")
    other.get_by_role("button", name="Start the test").click()
    other.wait_for_url("**/labeler/attempts/*/")
    for _ in range(3):
        wrong = next(c for c in CLASSES if c != gold_of(other))
        other.get_by_label(wrong).check()
        other.get_by_role("button", name="Submit answer").click()
        other.wait_for_load_state()
    assert other.get_by_role("heading", name="You did not pass").is_visible()
    assert other.get_by_text("You may try again from").is_visible()
    check(other, "quiz-result-failed-phone")
    context.close()
