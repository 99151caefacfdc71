"""An invited labeler opens their invitation link in a real browser, chooses a password and
lands on the labeler home, signed in; the invitation page has no WCAG A/AA violation at either
width (axe-core) and is photographed for docs/screenshots."""

import pytest

from tests.labeler_pages.conftest import axe_violations, needs_chromium, screenshot
from workforce import services
from workforce.models import Labeler

pytestmark = [needs_chromium, pytest.mark.django_db(transaction=True)]

PASSWORD = "ochre-lantern-harbour-42"


def test_accepting_an_invitation_in_the_browser(desktop, phone):
    labeler = services.labeler_create(actor=None, username="newcomer", kind="internal")
    link = services.labeler_invitation_issue(actor=None, labeler=labeler).link

    phone.goto(link)
    assert phone.get_by_role("heading", name="Choose your password").is_visible()
    assert axe_violations(phone) == []
    screenshot(phone, "invitation-phone")

    desktop.goto(link)
    # A refused password is said on its field, and the form can be corrected.
    desktop.get_by_label("New password", exact=True).fill("12345678")
    desktop.get_by_label("Confirm the new password").fill("12345678")
    desktop.get_by_role("button", name="Set my password and sign in").click()
    desktop.wait_for_load_state()
    assert desktop.locator(".field-error").first.is_visible()
    assert axe_violations(desktop) == []
    screenshot(desktop, "invitation-desktop")

    desktop.get_by_label("New password", exact=True).fill(PASSWORD)
    desktop.get_by_label("Confirm the new password").fill(PASSWORD)
    desktop.keyboard.press("Enter")
    desktop.wait_for_url("**/labeler/")
    assert desktop.get_by_text("Your password is set").is_visible()
    labeler.refresh_from_db()
    assert labeler.status == Labeler.Status.ONBOARDING

    # The link works once: opened again elsewhere, it says so.
    phone.goto(link)
    assert phone.get_by_role("heading", name="This invitation link does not work").is_visible()
    assert axe_violations(phone) == []
