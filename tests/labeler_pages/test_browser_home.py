"""Home and My quality in a real browser: at phone and desktop width, axe-core finds no WCAG
A/AA violation, the contest form works with the keyboard, and the pages are photographed for
docs/screenshots (home-*.png, quality-*.png)."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.utils import timezone

from qc.models import GoldCheck
from qc.selectors.quality_facts import start_of_day
from qc.services.quality_facts import gold_check_record
from tests.assignments.factories import make_project
from tests.labeler_pages.conftest import axe_violations, needs_chromium, screenshot, sign_in
from tests.labeler_pages.home_factories import home_world
from tests.qc.factories import make_gold_item, make_gold_set, record_outcomes

pytestmark = [needs_chromium, pytest.mark.django_db(transaction=True)]

PASSWORD = "a-long-test-password"


def _graded(labeler) -> None:
    """A scorecard to show: eleven graded control answers yesterday, three decided labels."""
    project = make_project(tasks=0, slug="graded", name="Pole inspection (graded)")
    item = make_gold_item(
        make_gold_set(classes=["crack", "rust", "ok"]),
        accepted_answers=["crack"],
        explanation="The dark line running up from the base is a crack.",
        image_url="/static/demo/poles/001.svg",
    )
    yesterday = start_of_day(timezone.now()) - timedelta(hours=12)
    for i, answer in enumerate(["crack"] * 9 + ["rust", "ok"]):
        gold_check_record(
            labeler_id=labeler.pk,
            gold_item=item,
            project_id=project.pk,
            assignment_id=600_000 + i,
            answer_type="single_choice",
            answer=answer,
            iou_threshold=0.5,
            now=yesterday - timedelta(minutes=i),
        )
    record_outcomes(labeler, "110", project_id=project.pk)


def test_home_and_quality_at_both_widths(desktop, phone, internal_labeler):
    internal_labeler.user.set_password(PASSWORD)
    internal_labeler.user.save()
    home_world(internal_labeler)
    _graded(internal_labeler)

    for name, page in (("desktop", desktop), ("phone", phone)):
        sign_in(page, internal_labeler.user.username, PASSWORD)
        page.goto("/labeler/")
        assert page.get_by_role("heading", name="Guides to acknowledge").is_visible()
        assert page.get_by_role("heading", name="Projects").is_visible()
        assert axe_violations(page) == []
        screenshot(page, f"home-{name}")

        page.goto("/labeler/quality/")
        assert page.get_by_role("heading", name="My quality").is_visible()
        assert axe_violations(page) == []
        screenshot(page, f"quality-{name}")

    # Contest a verdict with the keyboard only: open the form, type the note, send.
    wrong = GoldCheck.objects.filter(labeler=internal_labeler, correct=False).first()
    page = desktop
    page.goto("/labeler/quality/")
    card = page.locator(f"#check-{wrong.pk}")
    card.locator("summary").focus()
    page.keyboard.press("Enter")
    note = card.get_by_label("Why do you think this verdict is wrong?")
    assert note.is_visible()
    note.focus()
    page.keyboard.type("The line is rust, not a crack.")
    page.keyboard.press("Tab")
    assert page.evaluate("document.activeElement.textContent.trim()") == "Send contest"
    with page.expect_navigation():
        page.keyboard.press("Enter")
    assert page.get_by_text("Your contest is recorded.").is_visible()
    wrong.refresh_from_db()
    assert wrong.contest == GoldCheck.Contest.OPEN
