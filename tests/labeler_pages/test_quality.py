"""My quality (/labeler/quality/): the scorecard as of the start of the day, per window, class
and project with Wilson intervals; the graded control answers, newest first, 20 a page, with
the accepted answer and the explanation; contesting a verdict (success, empty note, twice,
someone else's); the query pin."""

from __future__ import annotations

import re
from datetime import timedelta

import pytest
from django.urls import reverse
from django.utils import timezone

from qc.models import GoldCheck
from qc.selectors.quality_facts import start_of_day
from qc.services.quality_facts import gold_check_record
from tests.assignments.factories import make_project
from tests.factories import make_labeler
from tests.qc.factories import make_gold_item, make_gold_set, record_outcomes

pytestmark = pytest.mark.django_db

QUALITY = "/labeler/quality/"
YESTERDAY = start_of_day(timezone.now()) - timedelta(hours=12)
_assignments = iter(range(700_000, 800_000))


def _text(response) -> str:
    html = response.content.decode()
    return re.sub(r"\s+", " ", html.split('id="main"', 1)[1])


def _check(labeler, item, project, answer, *, at=YESTERDAY) -> GoldCheck:
    """A control answer graded through the real grading service, at ``at``."""
    assignment_id = next(_assignments)
    gold_check_record(
        labeler_id=labeler.pk,
        gold_item=item,
        project_id=project.pk,
        assignment_id=assignment_id,
        answer_type="single_choice",
        answer=answer,
        iou_threshold=0.5,
        now=at,
    )
    return GoldCheck.objects.get(assignment_id=assignment_id)


@pytest.fixture
def item():
    gold_set = make_gold_set(classes=["crack", "rust", "ok"])
    return make_gold_item(
        gold_set,
        accepted_answers=["crack"],
        explanation="The dark line at the base is a crack.",
        image_url="/static/labeler/examples/pole.png",
    )


@pytest.fixture
def project():
    return make_project(tasks=0, slug="poles", name="Pole inspection")


def test_the_scorecard_as_of_the_start_of_the_day(labeler_client, item, project):
    labeler = labeler_client.labeler
    for i, answer in enumerate(["crack"] * 8 + ["rust"] * 2):
        _check(labeler, item, project, answer, at=YESTERDAY - timedelta(minutes=i))
    record_outcomes(labeler, "1101", project_id=project.pk)
    _check(labeler, item, project, "rust", at=timezone.now() - timedelta(seconds=1))  # today

    response = labeler_client.get(QUALITY)
    assert response.status_code == 200
    text = _text(response)

    assert f"As of {start_of_day(timezone.now()).strftime('%-d %b %Y')}" in text
    windows = text.split('id="windows-heading"', 1)[1].split("</table>", 1)[0]
    assert windows.count("80% (49\u201394%)") == 3  # 7 days, 30 days, all time; not today's
    assert "n = 10" in windows
    per_class = text.split('id="classes-heading"', 1)[1].split("</table>", 1)[0]
    assert "crack" in per_class and "80% (49\u201394%)" in per_class
    per_project = text.split('id="projects-heading"', 1)[1].split("</table>", 1)[0]
    assert "Pole inspection" in per_project and "75% (30\u201395%)" in per_project


def test_graded_answers_show_the_verdict_the_answer_the_accepted_answer_and_why(
    labeler_client, item, project
):
    _check(labeler_client.labeler, item, project, "rust")
    _check(labeler_client.labeler, item, project, "crack", at=timezone.now())  # today: hidden

    text = _text(labeler_client.get(QUALITY))
    checks = text.split('id="checks-heading"', 1)[1]

    assert checks.count('class="card check"') == 1
    assert "Incorrect" in checks
    assert "<dt>Your answer</dt><dd>rust</dd>" in checks
    assert "<dt>Accepted answer</dt> <dd>crack</dd>" in checks or "<dd>crack</dd>" in checks
    assert "The dark line at the base is a crack." in checks
    assert "Contest this verdict" in checks


def test_graded_answers_are_paged_newest_first(labeler_client, item, project):
    made = [
        _check(labeler_client.labeler, item, project, "crack", at=YESTERDAY - timedelta(minutes=i))
        for i in range(45)
    ]
    first = _text(labeler_client.get(QUALITY))
    ids = [int(i) for i in re.findall(r'id="check-(\d+)"', first)]
    assert ids == [c.pk for c in made[:20]]
    assert 'rel="next"' in first and 'rel="prev"' not in first

    third = _text(labeler_client.get(QUALITY + "?page=3"))
    assert [int(i) for i in re.findall(r'id="check-(\d+)"', third)] == [c.pk for c in made[40:]]
    assert 'rel="next"' not in third and 'rel="prev"' in third
    assert "No more graded answers." in _text(labeler_client.get(QUALITY + "?page=9"))
    assert labeler_client.get(QUALITY + "?page=x").status_code == 200


def test_empty_states(labeler_client):
    text = _text(labeler_client.get(QUALITY))
    assert "No graded control answers yet." in text
    assert "Nothing graded or decided on any project yet." in text
    assert "No graded control answers with a label yet." in text
    assert text.count("not yet") >= 9


def _contest_url(check) -> str:
    return reverse("labeler:quality-contest", args=[check.pk])


def test_contesting_a_verdict(labeler_client, item, project):
    check = _check(labeler_client.labeler, item, project, "rust")

    response = labeler_client.post(
        _contest_url(check), {f"check-{check.pk}-note": "It is rust, look again."}, follow=True
    )

    assert response.redirect_chain[-1][0].endswith(f"#check-{check.pk}")
    text = _text(response)
    assert "Your contest is recorded." in text
    assert "You contested this verdict: operations are reviewing it." in text
    assert "It is rust, look again." in text
    check.refresh_from_db()
    assert (
        check.contest == GoldCheck.Contest.OPEN and check.contest_note == "It is rust, look again."
    )


def test_an_empty_note_is_a_field_error_and_nothing_is_written(labeler_client, item, project):
    check = _check(labeler_client.labeler, item, project, "rust")

    response = labeler_client.post(_contest_url(check), {f"check-{check.pk}-note": "   "})

    assert response.status_code == 400
    text = _text(response)
    assert "field-error" in text and "Say why you think the verdict is wrong." in text
    assert '<details class="contest-form" open>' in text
    check.refresh_from_db()
    assert check.contest == "" and check.contest_note == ""


def test_a_second_contest_is_refused_with_a_message(labeler_client, item, project):
    check = _check(labeler_client.labeler, item, project, "rust")
    url, field = _contest_url(check), f"check-{check.pk}-note"
    labeler_client.post(url, {field: "First."})

    response = labeler_client.post(url, {field: "Second."}, follow=True)

    text = _text(response)
    assert "You already contested this verdict; it cannot be contested twice." in text
    check.refresh_from_db()
    assert check.contest_note == "First."
    assert "Contest this verdict" not in text.split(f'id="check-{check.pk}"', 1)[1]


def test_another_labelers_check_is_404(labeler_client, item, project):
    other = make_labeler(username="someone-else")
    theirs = _check(other, item, project, "rust")
    today = _check(labeler_client.labeler, item, project, "rust", at=timezone.now())

    for check in (theirs, today):  # someone else's, and one not shown yet
        response = labeler_client.post(_contest_url(check), {f"check-{check.pk}-note": "Mine?"})
        assert response.status_code == 404
        check.refresh_from_db()
        assert check.contest == ""
    assert f'id="check-{theirs.pk}"' not in _text(labeler_client.get(QUALITY))
    assert labeler_client.get(_contest_url(theirs)).status_code == 405


def test_the_quality_page_costs_at_most_ten_queries(
    labeler_client, item, project, django_assert_max_num_queries
):
    other = make_project(tasks=0, slug="other", name="Other")
    for i in range(25):
        _check(labeler_client.labeler, item, project if i % 2 else other, "crack")
    record_outcomes(labeler_client.labeler, "110", project_id=project.pk)
    labeler_client.get(QUALITY)
    with django_assert_max_num_queries(10):
        response = labeler_client.get(QUALITY)
    assert response.status_code == 200
