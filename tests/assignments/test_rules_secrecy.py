"""Rule firings never tell a labeler which submission was a control task (issue 9, point 3).

Rules are decided by the periodic sweep on the facts recorded before the start of the day, never
right after a submit: a pause, a warning or a clearing rests on whole past days. Labelers and
vendor managers see a firing only when its facts are from before today (``as_of``); ops see
everything, and their reversals show at once. The sweep is idempotent and scheduled by default.
"""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.conf import settings
from django.db.models import F
from django.utils import timezone

from assignments.tasks import quality_rules_sweep
from qc.models import GoldCheck, RuleFiring
from qc.selectors.quality_facts import start_of_day
from qc.services import rules as rule_services
from tests.assignments.factories import answer_controls, make_project, pause_rule, with_gold
from tests.factories import make_labeler
from tests.qc.factories import make_rule

pytestmark = pytest.mark.django_db


def _answer_control(labeler, project, answer, capture):
    """Claim a control task and submit it, running the after-commit work as production does."""
    answer_controls(labeler, project, [answer], capture)


def _a_day_earlier(labeler):
    """What a day's passing does to the labeler's facts, seen from the cut-off."""
    GoldCheck.objects.filter(labeler=labeler).update(checked_at=F("checked_at") - timedelta(days=1))


@pytest.fixture
def ruled(ops_user, vendor_a):
    project = make_project(tasks=20)
    with_gold(project, n=20)
    pause_rule(project, actor=ops_user)
    return project, make_labeler(vendor=vendor_a)


def test_a_control_submit_changes_nothing_a_labeler_can_see_until_the_next_day(
    ruled, client_for, manager_a, django_capture_on_commit_callbacks
):
    project, labeler = ruled
    for _ in range(2):
        _answer_control(labeler, project, "rust", django_capture_on_commit_callbacks)
    _a_day_earlier(labeler)  # two wrong checks yesterday: n = 2 < min_n

    # Today's wrong answer would make the breach. Nothing shows, nothing stops the labeler.
    _answer_control(labeler, project, "rust", django_capture_on_commit_callbacks)
    quality_rules_sweep()  # the hourly job runs too
    labeler_client = client_for(labeler.user)
    assert labeler_client.get("/api/v1/rule-firings/").json()["results"] == []
    assert client_for(manager_a).get("/api/v1/rule-firings/").json()["results"] == []
    assert labeler_client.post(f"/api/v1/projects/{project.pk}/next-task/").status_code == 201
    assert not RuleFiring.objects.exists()

    # The next day the sweep decides on the whole of yesterday.
    _a_day_earlier(labeler)
    assert quality_rules_sweep() == 1
    (shown,) = labeler_client.get("/api/v1/rule-firings/").json()["results"]
    assert (shown["action"], shown["inputs"]["n"], shown["inputs"]["successes"]) == (
        "pause_on_project",
        3,
        0,
    )
    firing = RuleFiring.objects.get()
    assert firing.as_of == start_of_day(timezone.now())
    assert shown["as_of"] is not None
    refused = labeler_client.post(f"/api/v1/projects/{project.pk}/next-task/")
    assert refused.status_code == 403 and refused.json()["code"] == "paused_on_project"
    # Idempotent: more runs of the day change nothing.
    assert quality_rules_sweep() == 0
    assert RuleFiring.objects.count() == 1


def test_todays_right_answers_do_not_clear_a_warning_today(ops_user, vendor_a):
    project = make_project()
    rule = make_rule(
        "warn",
        project_id=project.pk,
        actor=ops_user,
        name="warn",
        threshold="0.8",
        window=10,
        min_n=3,
        bound="rate",
    )
    labeler = make_labeler(vendor=vendor_a)
    now = timezone.now()
    yesterday = start_of_day(now) - timedelta(hours=12)
    item = with_gold(project, n=1).items.get()

    def check(correct: bool, at):
        GoldCheck.objects.create(
            labeler=labeler,
            gold_item=item,
            project_id=project.pk,
            assignment_id=GoldCheck.objects.count() + 10**8,
            answer="ok" if correct else "rust",
            correct=correct,
            checked_at=at,
        )

    for i in range(3):
        check(False, yesterday + timedelta(minutes=i))
    assert rule_services.rules_sweep(now=now) == 1
    for i in range(10):
        check(True, now - timedelta(seconds=i + 1))  # today: back within the rule
    rule_services.rules_sweep(now=now)
    assert RuleFiring.objects.get(rule=rule).status == "open"
    # Tomorrow it clears.
    rule_services.rules_sweep(now=now + timedelta(days=1))
    assert RuleFiring.objects.get(rule=rule).status == "cleared"


def test_labelers_and_managers_see_no_firing_decided_on_todays_facts_and_reversals_at_once(
    ruled, client_for, manager_a, ops_user
):
    project, labeler = ruled
    item = project.control_gold_set.items.first()
    now = timezone.now()
    for i in range(3):
        GoldCheck.objects.create(
            labeler=labeler,
            gold_item=item,
            project_id=project.pk,
            assignment_id=10**8 + i,
            answer="rust",
            correct=False,
            checked_at=now - timedelta(seconds=i + 1),
        )
    # An evaluation on facts up to now (not the sweep's: e.g. a call by hand).
    (firing,) = rule_services.rules_evaluate(
        labeler_id=labeler.pk, project_id=project.pk, before=now
    )
    assert client_for(labeler.user).get("/api/v1/rule-firings/").json()["results"] == []
    assert client_for(manager_a).get("/api/v1/rule-firings/").json()["results"] == []
    assert client_for(labeler.user).get(f"/api/v1/rule-firings/{firing.pk}/").status_code == 404
    assert [
        r["id"] for r in client_for(ops_user).get("/api/v1/rule-firings/").json()["results"]
    ] == [firing.pk]

    # A firing of the sweep (as of the start of today) shows at once, and so does its reversal.
    RuleFiring.objects.filter(pk=firing.pk).update(as_of=start_of_day(now))
    assert client_for(labeler.user).get(f"/api/v1/rule-firings/{firing.pk}/").json()["status"] == (
        "open"
    )
    reversed_ = client_for(ops_user).post(
        f"/api/v1/rule-firings/{firing.pk}/reverse/", {"reason": "Gold was wrong."}, format="json"
    )
    assert reversed_.status_code == 200
    for client in (client_for(labeler.user), client_for(manager_a)):
        assert client.get(f"/api/v1/rule-firings/{firing.pk}/").json()["status"] == "reversed"


def test_the_sweep_is_in_the_default_beat_schedule():
    tasks = {entry["task"] for entry in settings.CELERY_BEAT_SCHEDULE.values()}
    assert "assignments.quality_rules_sweep" in tasks
