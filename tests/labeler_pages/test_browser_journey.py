"""The labeler's whole journey in a real browser, and the edge cases a person runs into.

The journey: operations set up the world with the services (a vendor labeler invited, a guide,
a training quiz and a qualification test on a gold set, a single-choice project and a box
project that need both); the labeler opens the invitation link, chooses a password, reads and
acknowledges the guide, is activated by operations, takes the training quiz (feedback with the
explanation), passes the qualification test, labels ten tasks with the keyboard (nine choices
and one box drawn with the mouse) and opens their scorecard. The edge cases: a double submit,
a reload mid-task and after an answer, an expired lease, a failed qualification test with its
retry delay.

The tests look at what a person sees (roles, labels, text, the image shown) rather than the
pages' internals, and wait with Playwright's auto-waiting ``expect`` (never a sleep): the
machine running them may be slow. A task is told apart from the next one by its image, each
task here having its own. Run with ``-s`` to see the submit-to-next timings the work page
records (``window.labelforceTimings``).
"""

from __future__ import annotations

import contextlib
import math
import re
import statistics
import time
from datetime import UTC, datetime, timedelta

import pytest
from django.core import mail
from django.utils import dateformat
from django.utils import timezone as dj_timezone
from playwright.sync_api import TimeoutError as PlaywrightTimeoutError
from playwright.sync_api import expect

from assignments.models import Assignment, Task
from qc.models import AttemptQuestion, GuideAcknowledgement, Quiz, QuizAttempt
from tests.assignments.factories import make_project
from tests.factories import VendorFactory, make_labeler
from tests.labeler_pages.conftest import (
    VIEWPORTS,
    axe_violations,
    needs_chromium,
    screenshot,
    sign_in,
)
from tests.qc.factories import (
    GuideFactory,
    acknowledge,
    make_gold_item,
    make_gold_set,
    publish_version,
)
from tests.qc.quiz_factories import make_qualification_type, make_quiz
from workforce import services as workforce
from workforce.models import Labeler, Qualification

pytestmark = [needs_chromium, pytest.mark.django_db(transaction=True)]

PASSWORD = "ochre-lantern-harbour-42"
QUIZ_CLASSES = ["crack", "ok", "rust"]
CLASSES = ["ok", "crack", "rust"]  # the projects' order: key 2 is "crack"
BOX_CLASSES = ["pole", "crossarm", "insulator"]  # key 2 is "crossarm"
CHOICE_TASKS = 9  # with the one box task, ten tasks labelled in the journey
EXPLANATIONS = {
    "crack": "The dark line crosses the grain of the wood near the base.",
    "rust": "Orange-brown stains cover the bracket bolts.",
    "ok": "No crack and no corrosion anywhere on the pole.",
}
GUIDE_BODY = """# What to label

Look at the **whole pole**, from the base to the crossarm, before you choose.

## Cracks

A crack is a dark line that *crosses* the grain of the wood.
"""


@pytest.fixture(autouse=True)
def _patient_expect():
    """The shared machine can be slow: ``expect`` waits up to 20 s (Playwright's default is
    5 s) before it calls a page wrong; restored afterwards for other modules."""
    expect.set_options(timeout=20_000)
    yield
    expect.set_options(timeout=5_000)


# -- the world, as operations set it up ---------------------------------------------------------


def guide_and_quizzes(*, actor=None):
    """A guide (1.0 published), a gold set of six demo images with explanations, a training
    quiz and a qualification test (three questions each, 60% to pass; the test waits six hours
    between attempts) granting "Pole defects"."""
    guide = GuideFactory(name="Utility poles: defects", project_family="utility poles")
    publish_version(guide, body=GUIDE_BODY, change_summary="First version.", actor=actor)
    gold_set = make_gold_set(classes=QUIZ_CLASSES, guide=guide, actor=actor)
    for n, label in enumerate(["crack", "rust", "ok", "crack", "rust", "ok"]):
        make_gold_item(
            gold_set,
            accepted_answers=[label],
            image_url=f"/static/demo/north/{101 + n:04d}.svg",
            explanation=EXPLANATIONS[label],
            actor=actor,
        )
    qualification_type = make_qualification_type("pole-defects", "Pole defects")
    training = make_quiz(
        gold_set,
        kind=Quiz.Kind.TRAINING,
        title="Pole defects: practice",
        num_questions=3,
        pass_mark="0.6",
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
        qualification_type=qualification_type,
        guide=guide,
    )
    return guide, training, qualification


def choice_project(*, slug="pole-condition", name="Pole condition", tasks=12, first=1, **extra):
    """An active single-choice project (ok, crack, rust), one answer per task, each task its
    own demo image (/static/demo/north/0001.svg, ...)."""
    project = make_project(tasks=0, slug=slug, name=name, overlap=1, classes=CLASSES, **extra)
    Task.objects.bulk_create(
        Task(
            project=project,
            payload={"image_url": f"/static/demo/north/{first + i:04d}.svg"},
            target=1,
        )
        for i in range(tasks)
    )
    return project


def box_project(*, tasks=2, **extra):
    project = make_project(
        tasks=0,
        slug="pole-hardware-boxes",
        name="Pole hardware boxes",
        overlap=1,
        answer_type="boxes",
        classes=BOX_CLASSES,
        **extra,
    )
    Task.objects.bulk_create(
        Task(project=project, payload={"image_url": f"/static/demo/hardware/{n:04d}.svg"}, target=1)
        for n in range(1, tasks + 1)
    )
    return project


def requiring(project, *, guide, qualification):
    """``project`` needs the guide acknowledged and the qualification test's grant."""
    project.guide = guide
    project.require_guide_ack = True
    project.save(update_fields=["guide", "require_guide_ack"])
    project.required_qualifications.add(qualification.qualification_type)
    return project


# -- what the person sees -----------------------------------------------------------------------


def item_image(page):
    """The item to label, as shown (the visible image; its src tells one task from another)."""
    return page.get_by_role("img", name="The item to label")


def shown_task(page) -> str:
    image = item_image(page)
    expect(image).to_be_visible()
    return image.get_attribute("src")


def wait_for_next_task(page, previous: str) -> str:
    """Wait until another task's image replaces ``previous``; return the new one's."""
    expect(item_image(page)).not_to_have_attribute("src", previous)
    return shown_task(page)


def gold_of(page) -> str:
    """The accepted answer of the question on the page (the test knows the gold)."""
    question_id = int(page.locator("input[name=question]").get_attribute("value"))
    return AttemptQuestion.objects.get(pk=question_id).gold_item.accepted_answers[0]


def answer_question(page, answer: str) -> None:
    page.get_by_role("radio", name=answer, exact=True).check()
    page.get_by_role("button", name="Submit answer").click()


def leased_assignment(labeler, image_url: str) -> Assignment:
    """The labeler's lease on the task whose image the page shows."""
    return Assignment.objects.get(
        labeler=labeler, task__payload__image_url=image_url, status=Assignment.Status.LEASED
    )


def submitted(labeler):
    return Assignment.objects.filter(labeler=labeler, status=Assignment.Status.SUBMITTED)


def seconds_left(page) -> int:
    """The lease's time left as the page shows it (m:ss or h:mm:ss)."""
    text = page.get_by_role("timer").inner_text().strip()
    seconds = 0
    for part in text.split(":"):
        seconds = seconds * 60 + int(part)
    return seconds


def percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[max(0, math.ceil(q * len(ordered)) - 1)]


def draw_box(page) -> None:
    """Drag a box on the item's image with the mouse, from 25%, 20% to 60%, 70% of it."""
    image = item_image(page)
    expect(image).to_have_js_property("complete", True)
    area = image.bounding_box()
    page.mouse.move(area["x"] + area["width"] * 0.25, area["y"] + area["height"] * 0.2)
    page.mouse.down()
    page.mouse.move(area["x"] + area["width"] * 0.45, area["y"] + area["height"] * 0.45, steps=5)
    page.mouse.move(area["x"] + area["width"] * 0.6, area["y"] + area["height"] * 0.7, steps=5)
    page.mouse.up()


def recorded_timings(page, expected: int) -> list[float]:
    """The submit-to-next times the work page recorded (``window.labelforceTimings``, in ms),
    once the last one is in (it is pushed after the next task is painted); whatever is there
    after a short wait if the page records fewer, or none."""
    with contextlib.suppress(PlaywrightTimeoutError):
        page.wait_for_function(
            "n => (window.labelforceTimings || []).length >= n", arg=expected, timeout=5_000
        )
    return page.evaluate("window.labelforceTimings || []")


# Counts the page's fetches still on their way (window.__inflight), whatever script makes them.
COUNT_FETCHES = """(() => {
    const fetch = window.fetch;
    window.__inflight = 0;
    window.fetch = (...args) => {
        window.__inflight += 1;
        return fetch(...args).finally(() => { window.__inflight -= 1; });
    };
})();"""


def home_link(page):
    return page.get_by_role("navigation", name="Main").get_by_role("link", name="Home")


# -- 1. the journey -----------------------------------------------------------------------------


def test_journey_from_invitation_to_scorecard(desktop, live_server, ops_user):
    page = desktop
    page.add_init_script(COUNT_FETCHES)
    guide, training, qualification = guide_and_quizzes(actor=ops_user)
    choice = requiring(choice_project(), guide=guide, qualification=qualification)
    boxes = requiring(box_project(), guide=guide, qualification=qualification)
    vendor = VendorFactory(name="Porto Annotation", slug="porto")
    labeler = workforce.labeler_create(
        actor=ops_user,
        username="rita",
        email="rita@porto.example",
        kind=Labeler.Kind.VENDOR,
        vendor=vendor,
    )
    assert labeler.status == Labeler.Status.INVITED
    issued = workforce.labeler_invitation_issue(
        actor=ops_user, labeler=labeler, base_url=live_server.url
    )
    (message,) = mail.outbox
    assert issued.link in message.body

    # -- the invitation link: choose a password, land home -------------------------------------
    page.goto(issued.link)
    expect(page.get_by_role("heading", name="Choose your password")).to_be_visible()
    page.get_by_label("New password", exact=True).fill(PASSWORD)
    page.get_by_label("Confirm the new password").fill(PASSWORD)
    page.get_by_role("button", name="Set my password and sign in").click()
    expect(page).to_have_url(re.compile(r"/labeler/$"))
    expect(page.get_by_text("Your password is set")).to_be_visible()
    expect(page.get_by_role("heading", name="Your account is being set up")).to_be_visible()

    # Home lists the guide to acknowledge; quizzes and work wait for activation.
    guides = page.get_by_role("region", name="Guides to acknowledge")
    expect(guides.get_by_role("link", name=guide.name, exact=True)).to_be_visible()
    expect(guides.get_by_text("You have not acknowledged this guide yet")).to_be_visible()
    expect(page.get_by_text("Opens once operations activate your account.").first).to_be_visible()
    assert axe_violations(page) == []
    screenshot(page, "journey-1-home-new")

    # -- the guide: read it, acknowledge it ----------------------------------------------------
    guides.get_by_role("link", name=f"Read and acknowledge {guide.name}").click()
    expect(page.get_by_role("heading", name="What to label")).to_be_visible()
    page.get_by_role("button", name="I have read version 1.0: acknowledge").click()
    expect(page).to_have_url(re.compile(r"/labeler/$"))
    expect(page.get_by_text("You acknowledged version 1.0")).to_be_visible()
    expect(page.get_by_text("You are up to date with every guide.")).to_be_visible()

    # Operations activate the account; the home page now opens the quizzes, and the project
    # says which qualification it needs and which test grants it.
    labeler.refresh_from_db()  # as operations would read it now: onboarding
    assert labeler.status == Labeler.Status.ONBOARDING
    workforce.labeler_activate(actor=ops_user, labeler=labeler, reason="Onboarding checked.")
    page.reload()
    expect(page.get_by_role("heading", name="Your account is being set up")).to_have_count(0)
    projects = page.get_by_role("region", name="Projects")
    expect(projects.get_by_text("You need the qualification “Pole defects”.").first).to_be_visible()
    expect(projects.get_by_role("link", name=qualification.title).first).to_be_visible()

    # -- the training quiz: feedback with the explanation after each answer --------------------
    page.get_by_role("link", name=f"Start {training.title}").click()
    page.get_by_role("button", name="Start the quiz").click()
    expect(page.get_by_text("Question 1 of 3")).to_be_visible()
    gold = gold_of(page)
    answer_question(page, gold)
    expect(page.get_by_role("heading", name="Correct", exact=True)).to_be_visible()
    expect(page.get_by_role("heading", name="Why")).to_be_visible()
    expect(page.get_by_text(EXPLANATIONS[gold])).to_be_visible()
    screenshot(page, "journey-2-training-feedback")
    for _ in range(2):
        page.get_by_role("link", name="Next question").click()
        expect(page.get_by_role("button", name="Submit answer")).to_be_visible()
        answer_question(page, gold_of(page))
        expect(page.get_by_role("heading", name="Correct", exact=True)).to_be_visible()
    page.get_by_role("link", name="See your result").click()
    expect(page.get_by_role("heading", name="You passed")).to_be_visible()
    expect(page.get_by_text("A training quiz grants nothing")).to_be_visible()

    # -- the qualification test, passed ----------------------------------------------------------
    page.get_by_role("link", name="Back to home").click()
    page.get_by_role("link", name=f"Start {qualification.title}").click()
    page.get_by_role("button", name="Start the test").click()
    for k in range(1, 4):
        expect(page.get_by_text(f"Question {k} of 3")).to_be_visible()
        answer_question(page, gold_of(page))
    expect(page.get_by_role("heading", name="You passed")).to_be_visible()
    expect(page.get_by_text("You now hold the qualification Pole defects")).to_be_visible()

    # -- home: the projects now have tasks waiting -------------------------------------------
    page.get_by_role("link", name="Back to home").click()
    projects = page.get_by_role("region", name="Projects")
    expect(projects.get_by_text("tasks wait for you").first).to_be_visible()
    expect(projects.get_by_role("link", name=f"Start labeling {choice.name}")).to_be_visible()
    expect(projects.get_by_role("link", name=f"Start labeling {boxes.name}")).to_be_visible()
    assert axe_violations(page) == []
    screenshot(page, "journey-3-home-qualified")

    # -- nine single-choice tasks with the keyboard alone --------------------------------------
    projects.get_by_role("link", name=f"Start labeling {choice.name}").click()
    expect(page.get_by_role("heading", name=choice.name)).to_be_visible()
    current = shown_task(page)
    expect(item_image(page)).to_have_js_property("complete", True)
    assert axe_violations(page) == []
    screenshot(page, "journey-4-work")
    seen = [current]
    for _ in range(CHOICE_TASKS):
        # A person looks at the item for a moment: by then the page has done what it does
        # while they look (fetching the next task ahead, say).
        quiet(page)
        page.keyboard.press("2")
        expect(page.get_by_role("radio", name="crack", exact=True)).to_be_checked()
        page.keyboard.press("Enter")
        current = wait_for_next_task(page, current)
        seen.append(current)
    assert len(set(seen)) == CHOICE_TASKS + 1  # each submit showed another task
    timings = recorded_timings(page, CHOICE_TASKS)
    wait_for_saved(page, labeler, CHOICE_TASKS)

    # -- one box task: drawn with the mouse, its class by key, Enter -------------------------
    home_link(page).click()
    page.get_by_role("link", name=f"Start labeling {boxes.name}").click()
    expect(page.get_by_role("heading", name=boxes.name)).to_be_visible()
    box_image = shown_task(page)
    quiet(page)
    draw_box(page)
    expect(page.get_by_label("Label of box 1")).to_be_visible()
    page.keyboard.press("2")
    expect(page.get_by_label("Label of box 1")).to_have_value("crossarm")
    page.keyboard.press("Enter")
    wait_for_next_task(page, box_image)
    timings += recorded_timings(page, 1)
    wait_for_saved(page, labeler, CHOICE_TASKS + 1)

    # -- My quality ----------------------------------------------------------------------------
    page.get_by_role("navigation", name="Main").get_by_role("link", name="My quality").click()
    expect(page.get_by_role("heading", name="My quality", level=1)).to_be_visible()
    expect(page.get_by_role("heading", name="Scorecard")).to_be_visible()
    expect(page.get_by_text("Today's answers count from tomorrow.")).to_be_visible()
    expect(page.get_by_role("table").first).to_be_visible()
    screenshot(page, "journey-5-quality")

    # -- what the database holds -----------------------------------------------------------------
    done = submitted(labeler)
    assert done.count() == CHOICE_TASKS + 1
    assert done.filter(project=choice).count() == CHOICE_TASKS
    assert set(done.filter(project=choice).values_list("answer", flat=True)) == {"crack"}
    (box_answer,) = done.get(project=boxes).answer
    assert box_answer["label"] == "crossarm"
    assert box_answer["w"] > 0 and box_answer["h"] > 0
    assert GuideAcknowledgement.objects.filter(labeler=labeler, version__guide=guide).exists()
    assert Qualification.objects.filter(
        labeler=labeler, qualification_type=qualification.qualification_type
    ).exists()
    labeler.refresh_from_db()
    assert labeler.status == Labeler.Status.ACTIVE

    if timings:
        print(
            f"\njourney submit-to-next over {len(timings)} tasks: "
            f"median {statistics.median(timings):.1f} ms, p95 {percentile(timings, 0.95):.1f} ms, "
            f"max {max(timings):.1f} ms"
        )
    else:
        print("\njourney: the work page exposes no window.labelforceTimings")


# -- 2. the edge cases ----------------------------------------------------------------------------


@pytest.fixture
def worker(desktop):
    """An active labeler signed in at desktop width, and a project with work for them."""
    labeler = make_labeler(username="worker", password=PASSWORD)
    project = choice_project(tasks=6)
    desktop.add_init_script(COUNT_FETCHES)
    sign_in(desktop, "worker", PASSWORD)
    return desktop, labeler, project


def open_work(page, project) -> str:
    page.goto(f"/labeler/projects/{project.pk}/work/")
    expect(page.get_by_role("heading", name=project.name)).to_be_visible()
    return shown_task(page)


def quiet(page) -> None:
    """Wait until no request the page made with fetch is still on its way."""
    page.wait_for_function("() => (window.__inflight || 0) === 0")


def wait_for_saved(page, labeler, count: int) -> None:
    """Wait until the labeler has ``count`` answers saved and the page has no request left on
    its way (a second submit would land by then); then there are exactly ``count``. The work
    page may show the next task before its answer to this one is sent (the look-ahead task is
    swapped in at once), so the next image on the screen does not mean the answer is saved."""
    deadline = time.monotonic() + 20
    while submitted(labeler).count() < count and time.monotonic() < deadline:
        page.wait_for_timeout(100)  # polling the database, which the page cannot wait on
    quiet(page)
    assert submitted(labeler).count() == count


def test_double_submit_gives_one_answer(worker):
    page, labeler, project = worker
    first = open_work(page, project)

    # Submit clicked twice fast.
    page.get_by_role("radio", name="rust", exact=True).check()
    page.get_by_role("button", name="Submit", exact=True).dblclick()
    second = wait_for_next_task(page, first)
    wait_for_saved(page, labeler, 1)
    assert submitted(labeler).get().task.payload["image_url"] == first

    # Enter pressed twice.
    page.keyboard.press("2")
    expect(page.get_by_role("radio", name="crack", exact=True)).to_be_checked()
    page.keyboard.press("Enter")
    page.keyboard.press("Enter")
    third = wait_for_next_task(page, second)
    wait_for_saved(page, labeler, 2)
    assert submitted(labeler).filter(task__payload__image_url=second).count() == 1
    # The task that came next is untouched, still the labeler's to answer.
    assert shown_task(page) == third
    assert leased_assignment(labeler, third).answer is None


def test_reload_keeps_the_task_and_never_submits_again(worker, browser, live_server):
    page, labeler, project = worker
    first = open_work(page, project)
    lease = leased_assignment(labeler, first)
    before = seconds_left(page)

    # Reloading mid-task shows the same task on the same lease; its clock did not restart.
    page.reload()
    assert shown_task(page) == first
    assert seconds_left(page) <= before
    assert leased_assignment(labeler, first).pk == lease.pk

    # Answer, then reload: the next task shows, nothing is submitted a second time.
    page.keyboard.press("3")
    expect(page.get_by_role("radio", name="rust", exact=True)).to_be_checked()
    page.keyboard.press("Enter")
    second = wait_for_next_task(page, first)
    wait_for_saved(page, labeler, 1)
    page.reload()
    assert shown_task(page) == second
    wait_for_saved(page, labeler, 1)
    assert submitted(labeler).get().answer == "rust"
    expect(page.get_by_role("radio", name="rust", exact=True)).not_to_be_checked()

    # Without JavaScript the form posts and redirects: reloading the page it lands on gets
    # the page again, it does not post the answer again.
    context = browser.new_context(
        viewport=VIEWPORTS["desktop"], base_url=live_server.url, java_script_enabled=False
    )
    plain = context.new_page()
    sign_in(plain, "worker", PASSWORD)
    other = choice_project(slug="pole-condition-2", name="Pole condition again", first=50)
    shown = open_work(plain, other)
    plain.get_by_role("radio", name="ok", exact=True).check()
    plain.get_by_role("button", name="Submit", exact=True).click()
    expect(plain.get_by_text("Saved.")).to_be_visible()
    after = shown_task(plain)
    plain.reload()
    assert shown_task(plain) == after
    assert submitted(labeler).filter(project=other).count() == 1
    assert submitted(labeler).get(project=other).task.payload["image_url"] == shown
    context.close()


def test_expired_lease_says_what_happened(worker):
    page, labeler, project = worker
    first = open_work(page, project)
    # Time runs out while the page is open (lease_seconds cannot go below 30).
    now = dj_timezone.now()
    Assignment.objects.filter(pk=leased_assignment(labeler, first).pk).update(
        leased_at=now - timedelta(minutes=11), expires_at=now - timedelta(minutes=1)
    )

    page.keyboard.press("1")
    expect(page.get_by_role("radio", name="ok", exact=True)).to_be_checked()
    page.keyboard.press("Enter")
    expect(
        page.get_by_text("Your time on this task ran out before you submitted").first
    ).to_be_visible()
    expect(page.get_by_text("your answer was not saved").first).to_be_visible()
    expect(item_image(page)).to_be_visible()  # and the next task is there to label
    quiet(page)
    assert submitted(labeler).count() == 0
    assert not Assignment.objects.filter(
        labeler=labeler, task__payload__image_url=first, answer__isnull=False
    ).exists()


def test_failed_qualification_shows_the_retry_delay(desktop):
    guide, _, qualification = guide_and_quizzes()
    labeler = make_labeler(username="tiago", password=PASSWORD)
    acknowledge(labeler, guide)
    page = desktop
    sign_in(page, "tiago", PASSWORD)

    page.get_by_role("link", name=f"Start {qualification.title}").click()
    page.get_by_role("button", name="Start the test").click()
    for k in range(1, 4):
        expect(page.get_by_text(f"Question {k} of 3")).to_be_visible()
        answer_question(page, next(c for c in QUIZ_CLASSES if c != gold_of(page)))
    expect(page.get_by_role("heading", name="You did not pass")).to_be_visible()

    attempt = QuizAttempt.objects.get(quiz=qualification, labeler=labeler)
    assert attempt.status == QuizAttempt.Status.FAILED
    retry_at = attempt.finished_at + timedelta(seconds=qualification.retry_delay_seconds)
    shown = dateformat.format(retry_at.astimezone(UTC), "j M Y, H:i")

    trying = page.get_by_role("region", name="Trying again")
    expect(trying.get_by_text("You may try again from")).to_be_visible()
    expect(trying.locator("time")).to_contain_text(shown)
    assert datetime.fromisoformat(trying.locator("time").get_attribute("datetime")) == retry_at

    # Home: the test is not open yet, with the same time; no Start button for it.
    page.get_by_role("link", name="Back to home").click()
    quizzes = page.get_by_role("region", name="Quizzes and qualification tests")
    row = quizzes.get_by_role("listitem").filter(has_text=qualification.title)
    expect(row.get_by_text("You may try again from")).to_be_visible()
    expect(row.locator("time")).to_have_text(shown)
    assert datetime.fromisoformat(row.locator("time").get_attribute("datetime")) == retry_at
    expect(row.get_by_text("Attempts used: 1 of 3")).to_be_visible()
    expect(page.get_by_role("link", name=f"Start {qualification.title}")).to_have_count(0)
