"""The landing page in a real browser at 1400 px: realistic data, nothing overflows its panel
or the window, axe-core finds no WCAG A/AA violation, and the page is photographed as
docs/screenshots/operations-landing.png."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.utils import timezone

from assignments.models import Task
from tests.assignments.factories import make_project
from tests.labeler_pages.conftest import axe_violations, needs_chromium, screenshot
from tests.operations.factories import busy_project_with_attention, named_labelers

pytestmark = [needs_chromium, pytest.mark.django_db(transaction=True)]

WIDTH = 1400
PROJECTS = (
    "Utility poles: defects",
    "Street signs: bounding boxes",
    "Shop receipts: totals and dates",
    "Solar panels: soiling",
)


def _history(project, now, per_day):
    """Tasks done on each of the last days (``per_day[i]`` i days ago), for the sparklines."""
    Task.objects.bulk_create(
        Task(
            project=project,
            payload={"image_url": "https://img.example.test/h.jpg"},
            target=2,
            submitted=2,
            is_open=False,
            state=Task.State.RESOLVED,
            decided_by="consensus",
            final_answer="ok",
            decided_at=now - timedelta(days=days_ago, hours=1),
        )
        for days_ago, n in enumerate(per_day)
        for _ in range(n)
    )


def test_landing_page_at_1400px(browser, live_server, ops):
    now = timezone.now()
    labelers = named_labelers()
    for k, name in enumerate(PROJECTS, start=1):
        project = busy_project_with_attention(k, now=now, labelers=labelers, name=name)
        _history(project, now, [(3 * k + 5 * d) % 17 for d in range(1, 14)])
    make_project(tasks=40, slug="stalled", name="Bridge cables: corrosion (stalled)")
    ops.set_password("a-long-test-password")
    ops.first_name, ops.last_name = "Olga", "Marques"
    ops.save()

    context = browser.new_context(
        viewport={"width": WIDTH, "height": 1000}, base_url=live_server.url
    )
    page = context.new_page()
    page.goto("/admin/login/?next=/admin/")
    page.get_by_label("Username").fill(ops.username)
    page.get_by_label("Password").fill("a-long-test-password")
    page.get_by_role("button", name="Log in").click()
    page.wait_for_url("**/admin/")

    assert page.get_by_role("heading", name="Today").is_visible()
    for heading in ("Active projects", "Review backlog", "Gold items to look at"):
        assert page.get_by_role("heading", name=heading).first.is_visible(), heading
    # Nothing wider than the window, no panel whose content spills out of it.
    assert page.evaluate("document.documentElement.scrollWidth") <= WIDTH
    spills = page.evaluate(
        """() => [...document.querySelectorAll('.lf-panel')]
            .filter(p => p.scrollWidth > p.clientWidth + 1).map(p => p.id)"""
    )
    assert spills == []
    # A figure leads to its list: the backlog's total opens the review list, filtered.
    page.locator("#lf-backlog h2 a.lf-n").click()
    page.wait_for_load_state()
    assert "/admin/assignments/review/" in page.url and "status__in=open%2Cleased" in page.url
    page.go_back()
    page.wait_for_load_state()
    assert axe_violations(page) == []
    screenshot(page, "operations-landing")
    context.close()
