"""Labeling in a real browser: single-choice tasks done with the keyboard alone and a box task
drawn with the mouse, each next task swapped in without a page load; the submit-to-next
timings the page records (window.labelforceTimings) are printed with their 95th percentile;
screenshots at both widths; axe-core finds no WCAG A/AA violation on the work page."""

from __future__ import annotations

import math

import pytest
from django.urls import reverse

from assignments.models import Assignment, Task
from tests.assignments.factories import make_project
from tests.factories import make_labeler
from tests.labeler_pages.conftest import axe_violations, needs_chromium, screenshot, sign_in

pytestmark = [needs_chromium, pytest.mark.django_db(transaction=True)]

PASSWORD = "a-long-test-password"
CHOICE_TASKS = 10


def pole(n: int) -> dict:
    return {"image_url": f"/static/labeler/examples/pole-{n}.svg"}


def projects():
    choice = make_project(tasks=0, slug="poles-choice", name="Pole condition", overlap=1)
    Task.objects.bulk_create(
        Task(project=choice, payload=pole(1 + i % 3), target=1) for i in range(CHOICE_TASKS + 2)
    )
    boxes = make_project(
        tasks=0,
        slug="poles-boxes",
        name="Pole parts",
        overlap=1,
        answer_type="boxes",
        classes=["pole", "crossarm", "insulator"],
    )
    Task.objects.bulk_create(Task(project=boxes, payload=pole(n), target=1) for n in (2, 3))
    return choice, boxes


def p95(values: list[float]) -> float:
    ordered = sorted(values)
    return ordered[max(0, math.ceil(0.95 * len(ordered)) - 1)]


def current_assignment(page) -> str:
    return page.locator("[data-task]").get_attribute("data-assignment")


def wait_for_next(page, previous: str, timings: int) -> None:
    page.wait_for_function(
        """([previous, timings]) =>
            document.querySelector('[data-task]').dataset.assignment !== previous
            && window.labelforceTimings.length === timings""",
        arg=[previous, timings],
    )


def test_label_with_the_keyboard_and_draw_a_box(desktop, phone):
    choice, boxes = projects()
    labeler = make_labeler(username="worker1", password=PASSWORD)
    sign_in(desktop, "worker1", PASSWORD)
    page = desktop

    # -- single choice, keyboard only ------------------------------------------------------
    page.goto(reverse("labeler:project-work", args=[choice.pk]))
    page.wait_for_function("document.querySelector('[data-item-image]').complete")
    page.evaluate("window.__sameDocument = true")
    assert axe_violations(page) == []
    screenshot(page, "label-choice-desktop")
    for i in range(CHOICE_TASKS):
        before = current_assignment(page)
        page.keyboard.press("2")
        assert page.locator('input[name="answer"][value="crack"]').is_checked()
        page.keyboard.press("Enter")
        wait_for_next(page, before, i + 1)
        assert page.evaluate("window.__sameDocument") is True  # no page load between tasks
    timings = page.evaluate("window.labelforceTimings")
    measures = page.evaluate(
        "performance.getEntriesByName('labelforce:submit-to-next').map(m => m.duration)"
    )
    assert len(timings) == CHOICE_TASKS and measures == timings
    # The server's share: each submit's round trip (submit and next claim in one request).
    trips = page.evaluate(
        """performance.getEntriesByType('resource')
            .filter(e => e.name.includes('/submit/')).map(e => e.duration)"""
    )
    print(
        f"\nsubmit-to-next over {len(timings)} tasks: p95 {p95(timings):.1f} ms, "
        f"median {sorted(timings)[len(timings) // 2]:.1f} ms, max {max(timings):.1f} ms; "
        f"the request's round trip: p95 {p95(trips):.1f} ms, "
        f"median {sorted(trips)[len(trips) // 2]:.1f} ms"
    )
    done = Assignment.objects.filter(
        labeler=labeler, project=choice, status=Assignment.Status.SUBMITTED
    )
    assert done.count() == CHOICE_TASKS
    assert set(done.values_list("answer", flat=True)) == {"crack"}

    # Esc skips; F opens the question box.
    before = current_assignment(page)
    page.keyboard.press("Escape")
    page.wait_for_function(
        "previous => document.querySelector('[data-task]').dataset.assignment !== previous",
        arg=before,
    )
    assert Assignment.objects.get(pk=int(before)).status == Assignment.Status.RELEASED
    page.keyboard.press("f")
    assert page.evaluate("document.activeElement.id") == "flag-question"
    page.keyboard.press("Escape")
    assert not page.locator("[data-flag]").evaluate("el => el.open")

    # -- a box task: drawn with the mouse, labelled with a key, submitted with Enter ---------
    page.goto(reverse("labeler:project-work", args=[boxes.pk]))
    page.wait_for_function("document.querySelector('[data-item-image]').naturalWidth > 0")
    image = page.locator("[data-item-image]").bounding_box()
    page.mouse.move(image["x"] + image["width"] * 0.25, image["y"] + image["height"] * 0.2)
    page.mouse.down()
    page.mouse.move(image["x"] + image["width"] * 0.5, image["y"] + image["height"] * 0.45, steps=5)
    page.mouse.move(image["x"] + image["width"] * 0.6, image["y"] + image["height"] * 0.7, steps=5)
    page.mouse.up()
    page.keyboard.press("2")  # the selected (new) box becomes a crossarm
    assert page.get_by_label("Label of box 1").input_value() == "crossarm"
    # The keyboard: the arrows move the selected box (a step is 1% of the image's width, 6 px
    # here), Shift with the arrows resizes it; "Add a box" and Delete.
    page.keyboard.press("ArrowRight")
    page.keyboard.press("Shift+ArrowDown")
    page.get_by_role("button", name="Add a box").click()
    assert page.locator("[data-box-count]").inner_text() == "2"
    page.keyboard.press("Delete")
    assert page.locator("[data-box-count]").inner_text() == "1"
    assert axe_violations(page) == []
    screenshot(page, "label-boxes-desktop")
    assignment_id = int(current_assignment(page))
    page.keyboard.press("Enter")
    page.wait_for_function(
        "previous => document.querySelector('[data-task]').dataset.assignment !== previous",
        arg=str(assignment_id),
    )
    (box,) = Assignment.objects.get(pk=assignment_id).answer
    assert box["label"] == "crossarm"
    # The image is 640 by 480 natural pixels: the drag went from 25%, 20% to 60%, 70% of it,
    # then the box moved 6 px right and grew 6 px taller.
    assert box["x"] == pytest.approx(166, abs=4) and box["y"] == pytest.approx(96, abs=4)
    assert box["w"] == pytest.approx(224, abs=6) and box["h"] == pytest.approx(246, abs=6)

    # -- the phone ---------------------------------------------------------------------------
    sign_in(phone, "worker1", PASSWORD)
    phone.goto(reverse("labeler:project-work", args=[choice.pk]))
    phone.wait_for_function("document.querySelector('[data-item-image]').complete")
    phone.get_by_text("rust", exact=True).tap()
    screenshot(phone, "label-choice-phone")
    assert axe_violations(phone) == []
    phone.goto(reverse("labeler:project-work", args=[boxes.pk]))
    phone.wait_for_function("document.querySelector('[data-item-image]').naturalWidth > 0")
    phone.get_by_role("button", name="Add a box").tap()
    phone.get_by_label("Label of box 1").select_option("pole")
    screenshot(phone, "label-boxes-phone")
    assert axe_violations(phone) == []
