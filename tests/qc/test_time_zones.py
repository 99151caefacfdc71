"""Time zones (issue 14): a labeler's "start of day" — the cut-off of their own scorecard — is
midnight in their stored time zone (``Labeler.timezone``), and an audit week runs from Monday
00:00 to Monday 00:00 in the project's (``Project.timezone``), daylight saving included."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta

import pytest
from django.core.exceptions import ValidationError

from assignments.models import Review, Task
from assignments.selectors import quality_pages
from assignments.services import review as review_services
from config.errors import NotFound
from qc.models import GoldCheck
from qc.selectors import gold_health, quality_facts
from qc.selectors.quality_facts import start_of_day
from qc.services import gold_health as gold_health_services
from tests.assignments.factories import make_project, submissions
from tests.factories import make_labeler
from tests.qc.factories import record_checks
from workforce import services as workforce_services


def utc(*args) -> datetime:
    return datetime(*args, tzinfo=UTC)


# -- the labeler's start of day -------------------------------------------------------------------


@pytest.mark.parametrize(
    ("now", "zone", "expected"),
    [
        # Auckland (UTC+13 in January): its midnight is 11:00 UTC the day before.
        (utc(2026, 1, 15, 10, 59), "Pacific/Auckland", utc(2026, 1, 14, 11)),
        (utc(2026, 1, 15, 11, 0), "Pacific/Auckland", utc(2026, 1, 15, 11)),
        # Los Angeles (UTC-8 in January): its midnight is 08:00 UTC.
        (utc(2026, 1, 15, 7, 59), "America/Los_Angeles", utc(2026, 1, 14, 8)),
        (utc(2026, 1, 15, 8, 0), "America/Los_Angeles", utc(2026, 1, 15, 8)),
        # The day daylight saving starts in LA (8 March 2026, 02:00 -> 03:00): midnight was
        # still PST; the next midnight is PDT (a 23-hour day).
        (utc(2026, 3, 8, 20), "America/Los_Angeles", utc(2026, 3, 8, 8)),
        (utc(2026, 3, 9, 7, 30), "America/Los_Angeles", utc(2026, 3, 9, 7)),
        # Auckland's daylight saving ends on 5 April 2026 (03:00 -> 02:00): a 25-hour day.
        (utc(2026, 4, 5, 12), "Pacific/Auckland", utc(2026, 4, 5, 12)),
        (utc(2026, 4, 5, 11, 59), "Pacific/Auckland", utc(2026, 4, 4, 11)),
        # No zone: the server's (UTC); an unknown name reads as UTC.
        (utc(2026, 1, 15, 10, 59), None, utc(2026, 1, 15)),
        (utc(2026, 1, 15, 10, 59), "Mars/Olympus", utc(2026, 1, 15)),
    ],
)
def test_start_of_day_is_midnight_in_the_zone(now, zone, expected):
    cut = start_of_day(now, zone)
    assert cut == expected
    assert cut <= now < cut + timedelta(hours=25)


@pytest.mark.django_db
def test_the_labelers_own_scorecard_stops_at_their_midnight():
    """Three checks on 15 January (UTC): 05:00, 10:00 and 12:00. At 20:00 UTC the Auckland
    labeler's day began at 11:00 UTC (16 January 00:00 there) and the LA labeler's at 08:00
    UTC: each sees the checks before their own midnight."""
    now = utc(2026, 1, 15, 20)
    seen = {}
    for zone in ("Pacific/Auckland", "America/Los_Angeles", "UTC"):
        labeler = make_labeler()
        workforce_services.labeler_update(actor=None, labeler=labeler, data={"timezone": zone})
        labeler.refresh_from_db()
        for hour in (5, 10, 12):
            record_checks(labeler, "1", start=utc(2026, 1, 15, hour))
        card = quality_pages.labeler_scorecard(labeler=labeler, own_view=True, now=now)
        summary = quality_facts.labeler_summary(
            labeler_id=labeler.pk, before=card["as_of"], now=now
        )
        checks = gold_health.gold_check_list_for_labeler(labeler=labeler, now=now)
        seen[zone] = (card["as_of"], summary["gold"]["n"], checks.count())
        ops = quality_pages.labeler_scorecard(labeler=labeler, own_view=False, now=now)
        assert ops["as_of"] == now  # ops see everything up to now
    assert seen == {
        "Pacific/Auckland": (utc(2026, 1, 15, 11), 2, 2),
        "America/Los_Angeles": (utc(2026, 1, 15, 8), 1, 1),
        "UTC": (utc(2026, 1, 15), 0, 0),
    }


@pytest.mark.django_db
@pytest.mark.parametrize(("zone", "contestable"), [("Pacific/Auckland", 2), ("UTC", 0)])
def test_a_labeler_contests_exactly_the_checks_their_list_shows(zone, contestable):
    """At 20:00 UTC on 15 January the Auckland labeler's list shows the checks of 05:00 and
    10:00 UTC (before their midnight, 11:00 UTC); each can be contested. The UTC labeler's day
    began at 00:00: none is shown, and none can be contested (it would give a control task
    away)."""
    now = utc(2026, 1, 15, 20)
    labeler = make_labeler()
    workforce_services.labeler_update(actor=None, labeler=labeler, data={"timezone": zone})
    labeler.refresh_from_db()
    for hour in (5, 10, 12):
        record_checks(labeler, "0", start=utc(2026, 1, 15, hour))
    shown = set(
        gold_health.gold_check_list_for_labeler(labeler=labeler, now=now).values_list(
            "pk", flat=True
        )
    )
    contested = set()
    for check in GoldCheck.objects.filter(labeler=labeler):
        try:
            gold_health_services.gold_check_contest(
                labeler=labeler, check_id=check.pk, note="The gold is wrong.", now=now
            )
            contested.add(check.pk)
        except NotFound:
            pass
    assert contested == shown
    assert len(contested) == contestable


@pytest.mark.django_db
def test_an_unknown_time_zone_is_a_field_error():
    labeler = make_labeler()
    with pytest.raises(ValidationError) as raised:
        workforce_services.labeler_update(
            actor=None, labeler=labeler, data={"timezone": "Mars/Olympus"}
        )
    assert set(raised.value.message_dict) == {"timezone"}
    labeler.refresh_from_db()
    assert labeler.timezone == "UTC"


def test_the_api_refuses_an_unknown_time_zone_field_by_field(client_for, ops_user, vendor_labeler):
    url = f"/api/v1/labelers/{vendor_labeler.pk}/"
    response = client_for(ops_user).patch(url, {"timezone": "Mars/Olympus"}, format="json")
    assert response.status_code == 400 and set(response.json()["fields"]) == {"timezone"}
    response = client_for(ops_user).patch(url, {"timezone": "Pacific/Auckland"}, format="json")
    assert response.status_code == 200
    vendor_labeler.refresh_from_db()
    assert vendor_labeler.timezone == "Pacific/Auckland"


# -- audit weeks -------------------------------------------------------------------------------


def decided_at(project, *moments: datetime) -> list[Task]:
    """One task per moment, answered by one labeler and decided by consensus at that moment."""
    labeler = make_labeler()
    tasks = submissions(project, [[(labeler, "ok")] for _ in moments])
    for task, at in zip(tasks, moments, strict=True):
        Task.objects.filter(pk=task.pk).update(
            decided_by="consensus", final_answer="ok", decided_at=at, state="resolved"
        )
    return tasks


def audited(project) -> set[int]:
    return set(
        Review.objects.filter(project=project, kind="audit").values_list("task_id", flat=True)
    )


@pytest.mark.django_db
@pytest.mark.parametrize(
    ("zone", "inside", "outside"),
    [
        # The week of Monday 12 January 2026 in Auckland: 11 Jan 11:00 UTC to 18 Jan 11:00 UTC.
        ("Pacific/Auckland", [utc(2026, 1, 11, 12)], [utc(2026, 1, 18, 12)]),
        # ... in Los Angeles: 12 Jan 08:00 UTC to 19 Jan 08:00 UTC.
        ("America/Los_Angeles", [utc(2026, 1, 19, 7)], [utc(2026, 1, 12, 7)]),
        # ... in UTC, for comparison.
        ("UTC", [utc(2026, 1, 12, 7), utc(2026, 1, 18, 12)], [utc(2026, 1, 19, 7)]),
    ],
)
def test_an_audit_week_starts_monday_midnight_in_the_projects_zone(zone, inside, outside):
    project = make_project(tasks=0, audit_percent=100, timezone=zone)
    kept = decided_at(project, *inside)
    decided_at(project, *outside)
    review_services.audit_sample_week(project_id=project.pk, week_start=date(2026, 1, 12))
    assert audited(project) == {t.pk for t in kept}


@pytest.mark.django_db
def test_an_audit_week_with_a_daylight_saving_change_is_167_hours():
    """LA's week of Monday 2 March 2026 ends at Monday 9 March 00:00 PDT = 07:00 UTC (daylight
    saving began on the 8th), not 7 times 24 hours after 2 March 00:00 PST (08:00 UTC)."""
    project = make_project(tasks=0, audit_percent=100, timezone="America/Los_Angeles")
    kept = decided_at(project, utc(2026, 3, 2, 8), utc(2026, 3, 9, 6, 59))
    decided_at(project, utc(2026, 3, 9, 7, 30), utc(2026, 3, 2, 7, 59))
    review_services.audit_sample_week(project_id=project.pk, week_start=date(2026, 3, 2))
    assert audited(project) == {t.pk for t in kept}


@pytest.mark.django_db
def test_the_weekly_run_samples_each_projects_own_last_week():
    """Monday 19 January 2026, 12:00 UTC (when the beat job runs): in Auckland it is already
    Tuesday 20th, in LA Monday 19th 04:00 — both have just finished the week of the 12th; at
    Monday 03:00 UTC, LA's week of the 12th was not over yet and its last week was the 5th."""
    kiwi = make_project(tasks=0, audit_percent=100, timezone="Pacific/Auckland", slug="kiwi")
    la = make_project(tasks=0, audit_percent=100, timezone="America/Los_Angeles", slug="la")
    decided_at(kiwi, utc(2026, 1, 12))
    decided_at(la, utc(2026, 1, 13))
    review_services.audit_sample_all(now=utc(2026, 1, 19, 12))
    weeks = dict(Review.objects.filter(kind="audit").values_list("project_id", "audit_week"))
    assert weeks == {kiwi.pk: date(2026, 1, 12), la.pk: date(2026, 1, 12)}
    assert review_services.audit_sample_all(now=utc(2026, 1, 19, 3)) == 0  # LA: week of the 5th
