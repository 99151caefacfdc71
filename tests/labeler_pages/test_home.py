"""The labeler's home page (/labeler/): guides to acknowledge with what changed, quizzes open
or why not, projects with waiting tasks or why not, the scorecard's headline, earnings; the
order of the sections; an onboarding labeler's page; the query pin."""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta

import pytest
from django.urls import reverse
from django.utils import timezone

from payments.models import PayPeriod
from payments.services.calculate import period_calculate
from qc.models import Quiz
from tests.assignments.factories import make_project
from tests.factories import make_labeler
from tests.labeler_pages.home_factories import home_world, make_guide, make_quiz
from tests.payments.factories import decided_labels, make_period, make_rate
from tests.qc.factories import (
    record_checks,
    record_outcomes,
)
from workforce import services as workforce_services
from workforce.models import Labeler, Qualification, QualificationType

pytestmark = pytest.mark.django_db

HOME = "/labeler/"


def _text(response) -> str:
    assert response.status_code == 200, response.status_code
    html = response.content.decode()
    return re.sub(r"\s+", " ", html.split('id="main"', 1)[1])


def test_each_section_in_order_with_what_the_labeler_may_do(labeler_client):
    home_world(labeler_client.labeler)

    text = _text(labeler_client.get(HOME))

    headings = re.findall(r"<h2[^>]*>(.*?)</h2>", text)
    assert headings == [
        "Guides to acknowledge",
        "Quizzes and qualification tests",
        "Projects",
        "Your quality",
        "Earnings",
    ]
    guides = text.split("Guides to acknowledge", 1)[1].split("Quizzes and qualification", 1)[0]
    # To acknowledge: never read, and a new major since; a minor change or none is not a to-do.
    assert "Pole basics" in guides and "Rust guide" in guides
    assert "Bird guide" not in guides and "Done guide" not in guides
    assert "Boxes around rust." in guides and "read it whole" in guides
    assert 'href="/labeler/guides/' in guides


def test_quizzes_open_first_then_each_with_why_not(labeler_client):
    labeler = labeler_client.labeler
    world = home_world(labeler)

    text = _text(labeler_client.get(HOME))
    quizzes = text.split("Quizzes and qualification tests", 1)[1].split("<h2", 1)[0]

    titles = re.findall(r"<strong>([^<]+)</strong>", quizzes)
    assert titles == ["Poles test", "Warm-up", "Bird drill", "One shot", "Rust drill"]
    assert "Hidden quiz" not in quizzes
    assert reverse("labeler:quiz", args=[world["qualifying"].pk]) in quizzes
    assert "Grants the qualification “Poles certified”" in quizzes
    bird = quizzes.split("Bird drill", 1)[1].split("</li>", 1)[0]
    assert "Attempts used: 1 of 3" in bird and "You may try again from" in bird
    assert re.search(r'<time datetime="[^"]+">', bird)
    assert reverse("labeler:quiz", args=[world["delayed"].pk]) not in bird
    one_shot = quizzes.split("One shot", 1)[1].split("</li>", 1)[0]
    assert "You have used your 1 attempt." in one_shot
    rust = quizzes.split("Rust drill", 1)[1].split("</li>", 1)[0]
    assert "Read and acknowledge the guide first." in rust and "Read “Rust guide”" in rust


def test_projects_workable_first_with_waiting_tasks_then_why_not(labeler_client):
    labeler = labeler_client.labeler
    world = home_world(labeler)

    text = _text(labeler_client.get(HOME))
    projects = text.split('id="projects-heading"', 1)[1].split("<h2", 1)[0]

    names = re.findall(r"<strong>([^<]+)</strong>", projects)
    assert names == [
        "Open poles", "Empty poles", "Certified poles", "Orphan project", "Guided poles",
        "Paused poles",
    ]  # fmt: skip
    assert "Draft poles" not in projects
    open_row = projects.split("Open poles", 1)[1].split("</li>", 1)[0]
    assert "5 tasks wait for you." in open_row
    assert reverse("labeler:project-work", args=[world["open"].pk]) in open_row
    empty = projects.split("Empty poles", 1)[1].split("</li>", 1)[0]
    assert "No task waits for you" in empty and "/work/" not in empty
    certified = projects.split("Certified poles", 1)[1].split("</li>", 1)[0]
    assert "You need the qualification “Poles certified”." in certified
    assert reverse("labeler:quiz", args=[world["qualifying"].pk]) in certified
    assert "/work/" not in certified
    orphan = projects.split("Orphan project", 1)[1].split("</li>", 1)[0]
    assert "No quiz grants it" in orphan
    guided = projects.split("Guided poles", 1)[1].split("</li>", 1)[0]
    assert "guide first" in guided and "Read “Pole basics”" in guided
    assert "Paused: no work" in projects.split("Paused poles", 1)[1]


def test_a_passed_qualification_opens_its_project(labeler_client):
    labeler = labeler_client.labeler
    home_world(labeler)
    workforce_services.qualification_grant(
        actor=None,
        labeler=labeler,
        qualification_type=QualificationType.objects.get(slug="poles"),
        source=Qualification.Source.MANUAL,
        reason="test",
    )
    text = _text(labeler_client.get(HOME))
    projects = text.split('id="projects-heading"', 1)[1]
    assert re.findall(r"<strong>([^<]+)</strong>", projects)[0] == "Certified poles"
    quizzes = text.split("Quizzes and qualification tests", 1)[1].split("<h2", 1)[0]
    assert "You hold this qualification." in quizzes


def test_the_scorecard_summary_and_earnings(labeler_client):
    labeler = labeler_client.labeler
    record_checks(labeler, "1111011110")  # yesterday: 8 of 10
    record_outcomes(labeler, "1101")
    record_checks(labeler, "0000", start=timezone.now() - timedelta(seconds=5))  # today: not yet
    project = make_project(tasks=0, slug="paid", name="Paid")
    make_rate(project, "0.25", "EUR")
    start = datetime(2026, 3, 1, tzinfo=UTC)
    decided_labels(project, labeler, accepted=6, at=start + timedelta(days=2))
    period = make_period(start, datetime(2026, 4, 1, tzinfo=UTC))
    period_calculate(actor=None, period_id=period.pk)
    PayPeriod.objects.filter(pk=period.pk).update(status=PayPeriod.Status.APPROVED)

    text = _text(labeler_client.get(HOME))
    quality = text.split('id="scorecard-heading"', 1)[1].split("<h2", 1)[0]
    assert "80% (49\u201394%)" in quality and "10 control answers" in quality
    assert "Last 30 days, as of" in quality
    assert reverse("labeler:quality") in quality
    earnings = text.split('id="earnings-heading"', 1)[1]
    assert "1.50 EUR" in earnings


def test_empty_states(labeler_client):
    text = _text(labeler_client.get(HOME))
    assert "You are up to date with every guide." in text
    assert "No quiz is open at the moment." in text
    assert "No project is open at the moment." in text
    assert "No scores yet" in text
    assert "nothing approved yet" in text and "0 answers" in text


def test_an_onboarding_labeler_sees_what_to_do_and_that_work_opens_on_activation(client):
    labeler = make_labeler(status=Labeler.Status.ONBOARDING, username="newcomer")
    guide, _ = make_guide("first", "First guide")
    entry = QualificationType.objects.create(slug="entry", name="Entry")
    make_quiz("entry", title="Entry test", kind=Quiz.Kind.QUALIFICATION, qualification_type=entry)
    make_project(tasks=3, slug="work", name="Some work")
    client.force_login(labeler.user)

    text = _text(client.get(HOME))

    assert "Your account is being set up" in text
    assert "First guide" in text and reverse("labeler:guide", args=[guide.pk]) in text
    quizzes = text.split("Quizzes and qualification tests", 1)[1].split("<h2", 1)[0]
    assert "Entry test" in quizzes and "Opens once operations activate your account." in quizzes
    assert "/labeler/quizzes/" not in quizzes  # the service refuses an onboarding labeler
    projects = text.split('id="projects-heading"', 1)[1].split("<h2", 1)[0]
    assert "Work opens once operations activate your account." in projects
    assert "/work/" not in projects


def test_the_home_page_costs_at_most_ten_queries(labeler_client, django_assert_max_num_queries):
    home_world(labeler_client.labeler)
    record_checks(labeler_client.labeler, "101")
    labeler_client.get(HOME)  # warm caches (content types, translations)
    with django_assert_max_num_queries(10):
        response = labeler_client.get(HOME)
    assert response.status_code == 200


def test_the_home_page_costs_the_same_for_more_guides_quizzes_and_projects(labeler_client):
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    home_world(labeler_client.labeler)
    with CaptureQueriesContext(connection) as few:
        labeler_client.get(HOME)
    for i in range(4):
        make_guide(f"more-{i}", f"More guide {i}")
        make_quiz(f"more-{i}", title=f"More {i}")
        make_project(tasks=2, slug=f"more-{i}", name=f"More {i}")
    with CaptureQueriesContext(connection) as many:
        labeler_client.get(HOME)
    assert len(many) == len(few) <= 10
