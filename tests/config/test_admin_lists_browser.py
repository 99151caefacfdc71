"""Every list of the operations admin fits a 1400 px screen (issue 14): a superuser opens every
registered model's changelist in chromium at 1400 px, with a few rows in each, and no list's
table is wider than the space it is given (no column pushed off the right edge, no horizontal
scroll of the page). The labeler page and the tasks list are photographed at that width
(docs/screenshots/admin-labeler.png, admin-tasks.png).

Needs Debian's chromium (tests/labeler_pages/conftest.py says how it is found); runs against
the live server, so its data is committed.
"""

from __future__ import annotations

import pytest
from django.contrib import admin
from django.utils import timezone

from assignments.models import Task
from tests.assignments.factories import assignments_admin_samples, make_project, submissions
from tests.factories import SkillFactory, UserFactory, admin_url, make_labeler
from tests.labeler_pages.conftest import needs_chromium, screenshot
from tests.payments.factories import payments_admin_samples
from tests.qc.factories import qc_admin_samples, rules_admin_samples
from tests.qc.quiz_factories import quiz_admin_samples
from workforce import services
from workforce.models import Labeler

pytestmark = [needs_chromium, pytest.mark.django_db(transaction=True)]

WIDTH = 1400
PASSWORD = "a-long-admin-password"

# The table and the page, measured in the browser: the result table's right edge against the
# width its container gives it, and the page's own width against the window's.
MEASURE = """() => {
    const table = document.querySelector('#result_list');
    const box = table ? table.closest('.results') || table.parentElement : null;
    return {
        table: table ? Math.ceil(table.getBoundingClientRect().width) : 0,
        room: box ? Math.floor(box.clientWidth) : 0,
        right: table ? Math.ceil(table.getBoundingClientRect().right) : 0,
        page: document.documentElement.scrollWidth,
        window: window.innerWidth,
    };
}"""


@pytest.fixture
def rows(vendor_a, manager_a, vendor_labeler, internal_labeler, ops_user):
    """A few rows in every table with an admin (the admin smoke test's samples), people with
    real-length names, and work with final answers."""
    SkillFactory(slug="bbox", name="Bounding boxes")
    for labeler, (first, last) in (
        (vendor_labeler, ("Ana Catarina", "Silva Rodrigues")),
        (internal_labeler, ("Bartholomew", "Featherstonehaugh")),
    ):
        services.labeler_update(
            actor=None, labeler=labeler, data={"first_name": first, "last_name": last}
        )
    samples = {
        **qc_admin_samples(actor=ops_user, labeler=vendor_labeler),
        **quiz_admin_samples(labeler=vendor_labeler),
        **assignments_admin_samples(actor=ops_user, labeler=vendor_labeler),
        **rules_admin_samples(actor=ops_user, labeler=vendor_labeler),
        **payments_admin_samples(actor=ops_user, labeler=vendor_labeler),
    }
    project = make_project(tasks=0, slug="wide-rows", name="Utility pole inspection, north")
    others = [make_labeler(vendor=vendor_a, username=f"wide{i}") for i in range(3)]
    box = [{"x": 1, "y": 2, "w": 30, "h": 40, "label": "crack"}]
    tasks = submissions(
        project,
        [[(vendor_labeler, "crack"), (others[0], "crack"), (others[1], "rust")]] * 4
        + [[(internal_labeler, box)]],
    )
    for task, answer in zip(tasks, ["crack"] * 4 + [box], strict=True):
        Task.objects.filter(pk=task.pk).update(
            final_answer=answer, decided_by="consensus", decided_at=timezone.now(), state="resolved"
        )
    return samples


@pytest.fixture
def page(browser, live_server, rows):
    superuser = UserFactory(username="root", is_staff=True, is_superuser=True)
    superuser.set_password(PASSWORD)
    superuser.save()
    context = browser.new_context(
        viewport={"width": WIDTH, "height": 900}, base_url=live_server.url
    )
    page = context.new_page()
    page.goto("/admin/login/")
    page.fill("#id_username", "root")
    page.fill("#id_password", PASSWORD)
    page.click("input[type=submit]")
    page.wait_for_load_state()
    assert "/admin/login/" not in page.url, "the superuser could not sign in"
    yield page
    context.close()


def test_every_changelist_fits_1400_px(page):
    models = sorted(admin.site._registry, key=lambda m: m._meta.label)
    assert len(models) > 30  # every app's admin is registered (a sanity check of the loop)
    too_wide, checked = [], 0
    for model in models:
        response = page.goto(admin_url(model, "changelist"))
        assert response.ok, f"{model._meta.label}: {response.status}"
        m = page.evaluate(MEASURE)
        if m["page"] > m["window"]:
            too_wide.append(f"{model._meta.label}: page {m['page']} px > {m['window']} px")
        if m["table"]:
            checked += 1
            if m["table"] > m["room"] or m["right"] > m["window"]:
                too_wide.append(
                    f"{model._meta.label}: table {m['table']} px in {m['room']} px "
                    f"(right edge {m['right']} px)"
                )
    assert not too_wide, "\n".join(too_wide)
    assert checked >= 25, checked  # most lists had rows to measure


def test_labeler_page_and_tasks_list_screenshots(page, vendor_labeler):
    page.goto(admin_url(Labeler, "change", vendor_labeler.pk))
    assert page.get_by_text(f"Ana Catarina Silva Rodrigues ({vendor_labeler.public_code})").first
    for title in ("Scorecard summary", "Recent assignments", "Quiz attempts", "Rule firings"):
        assert page.get_by_role("heading", name=title).is_visible()
    assert page.get_by_role("link", name="Suspend…").is_visible()
    screenshot(page, "admin-labeler")
    assert page.evaluate(MEASURE)["page"] <= WIDTH

    page.goto("/admin/assignments/task/")
    header = page.locator("#result_list thead").inner_text()
    for column in ("Final answer", "Decided by", "Agreement"):
        assert column.lower() in header.lower()
    screenshot(page, "admin-tasks")
    m = page.evaluate(MEASURE)
    assert m["table"] <= m["room"] and m["page"] <= WIDTH


def test_the_labeler_filter_is_an_autocomplete_that_filters(page, vendor_labeler):
    # Typed, not listed: the person is found by name, chosen, and the list filtered to them.
    page.goto("/admin/assignments/assignment/?status__exact=submitted")
    field = page.locator("#filter_labeler__id__exact").locator("xpath=following-sibling::span[1]")
    field.click()
    page.locator(".select2-search__field").fill("Catarina")
    option = page.locator(".select2-results__option", has_text="Ana Catarina Silva Rodrigues")
    option.wait_for()
    assert option.inner_text() == f"Ana Catarina Silva Rodrigues ({vendor_labeler.public_code})"
    option.click()
    page.locator("#filter_labeler__id__exact").locator("xpath=ancestor::form[1]").locator(
        "input[type=submit]"
    ).click()
    page.wait_for_load_state()
    assert f"labeler__id__exact={vendor_labeler.pk}" in page.url
    assert "status__exact=submitted" in page.url  # the other filter kept
    shown = set(page.locator("#result_list td.field-person").all_inner_texts())
    assert shown == {f"Ana Catarina Silva Rodrigues ({vendor_labeler.public_code})"}
