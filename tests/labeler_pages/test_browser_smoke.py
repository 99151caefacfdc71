"""The browser harness itself: chromium starts, the sign-in page renders at both widths and
axe-core finds no WCAG A/AA violation on it."""

import pytest

from tests.labeler_pages.conftest import axe_violations, needs_chromium, screenshot, sign_in

pytestmark = [needs_chromium, pytest.mark.django_db(transaction=True)]


def test_sign_in_page_at_both_widths_has_no_axe_violation(desktop, phone, internal_labeler):
    for name, page in (("desktop", desktop), ("phone", phone)):
        page.goto("/labeler/login/")
        assert page.get_by_role("heading", name="Sign in").is_visible()
        assert axe_violations(page) == []
        screenshot(page, f"login-{name}")
    internal_labeler.user.set_password("a-long-test-password")
    internal_labeler.user.save()
    sign_in(desktop, internal_labeler.user.username, "a-long-test-password")
    assert desktop.url.endswith("/labeler/")
