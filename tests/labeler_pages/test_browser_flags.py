"""My flags and the e-mail choices in a real browser (issue 14): at phone and desktop width the
labeler reads the answer to a flag, with the guide version that answers it, and sees the flag
still waiting; axe-core finds no WCAG A/AA violation on either page; the e-mail choices are saved
with the keyboard. Photographed for docs/screenshots (flags-*.png, notifications-desktop.png)."""

from __future__ import annotations

import pytest

from assignments import services as work_services
from assignments.services import review as review_services
from notifications.models import Event, NotificationPreference
from tests.assignments.factories import NeverControl, make_project
from tests.factories import make_labeler
from tests.labeler_pages.conftest import axe_violations, needs_chromium, screenshot, sign_in
from tests.qc.quiz_factories import make_guide

pytestmark = [needs_chromium, pytest.mark.django_db(transaction=True)]

PASSWORD = "a-long-test-password"
ANSWERED = "Is a faint streak along the grain a crack?"
WAITING = "The crossarm is hidden by leaves: what should I answer?"
NOTE = "Streaks along the grain shorter than 2 cm are weathering, not cracks."


def _flags(labeler, ops_user) -> None:
    """Two labels of ``labeler`` flagged: one answered by a senior labeler who proposes a guide
    change, linked by ops to guide version 1.1; one still waiting."""
    guide = make_guide(published=((1, 0), (1, 1)))
    project = make_project(
        tasks=2, overlap=1, guide=guide, require_guide_ack=False, name="Pole inspection, north"
    )
    flags = []
    for question in (ANSWERED, WAITING):
        claim = work_services.assignment_claim_next(
            labeler=labeler, project_id=project.pk, rng=NeverControl()
        )
        work_services.assignment_submit(
            labeler=labeler, assignment_id=claim.assignment.pk, answer="ok"
        )
        flags.append(
            review_services.assignment_flag(
                labeler=labeler, assignment_id=claim.assignment.pk, question=question
            ).review
        )
    senior = make_labeler(seniority="senior")
    claimed = review_services.review_claim_next(reviewer=senior, project_id=project.pk).review
    assert claimed.pk == flags[0].pk  # the older flag first (the same confidence)
    review_services.review_resolve(
        reviewer=senior, review_id=claimed.pk, answer="ok", note=NOTE, proposes_guide_change=True
    )
    review_services.flag_link_guide_version(
        actor=ops_user,
        review_id=claimed.pk,
        guide_version_id=guide.versions.get(major=1, minor=1).pk,
    )


def test_my_flags_and_email_choices_at_both_widths(desktop, phone, internal_labeler, ops_user):
    user = internal_labeler.user
    user.set_password(PASSWORD)
    user.email = "labeler@example.com"
    user.save()
    _flags(internal_labeler, ops_user)

    for name, page in (("desktop", desktop), ("phone", phone)):
        sign_in(page, user.username, PASSWORD)
        page.get_by_role("link", name="My flags").click()
        assert page.get_by_role("heading", name="My flags").is_visible()
        body = page.locator("main").inner_text()
        assert ANSWERED in body and WAITING in body and NOTE in body
        assert "Waiting for an answer" in body
        assert "version 1.1" in body  # the guide version that answers the flag
        assert axe_violations(page) == []
        screenshot(page, f"flags-{name}")

    # The e-mail choices, with the keyboard only: untick one, save, and it is stored.
    page = desktop
    page.goto("/labeler/notifications/")
    assert axe_violations(page) == []
    screenshot(page, "notifications-desktop")
    box = page.get_by_label("A guide I work with has a new version to read")
    assert box.is_checked()
    box.focus()
    page.keyboard.press("Space")
    page.get_by_role("button", name="Save").focus()
    with page.expect_navigation():
        page.keyboard.press("Enter")
    assert page.get_by_text("Your e-mail choices are saved.").is_visible()
    muted = NotificationPreference.objects.get(user=user).muted
    assert muted == [Event.GUIDE_VERSION_MAJOR]
