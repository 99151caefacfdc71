"""The reads the labeler pages list projects with: every project's gate and waiting tasks in one
query (``assignments.selectors.gate.project_standings``), and the claim's refusal as a value
(``assignments.services.claim.claim_refusal``)."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.utils import timezone

from assignments import services
from assignments.models import Assignment, Project, Task
from assignments.selectors import gate as gate_selectors
from assignments.selectors.gate import project_gate, project_standings
from assignments.services.claim import claim_refusal
from config.errors import NotFound
from tests.assignments.factories import NeverControl, make_project, with_gold
from tests.factories import make_labeler
from tests.qc.factories import acknowledge, make_published_guide
from workforce import services as workforce_services
from workforce.models import Labeler, Qualification, QualificationType

pytestmark = pytest.mark.django_db


def _grant(labeler, qtype):
    workforce_services.qualification_grant(
        actor=None,
        labeler=labeler,
        qualification_type=qtype,
        source=Qualification.Source.MANUAL,
        reason="test",
    )


def _world():
    guide, _ = make_published_guide()
    beta, alpha = (
        QualificationType.objects.create(slug=s, name=s.title()) for s in ("beta", "alpha")
    )
    guarded = make_project(
        tasks=4, overlap=1, slug="guarded", name="Guarded", priority=5, guide=guide,
        require_guide_ack=True,
    )  # fmt: skip
    guarded.required_qualifications.set([alpha, beta])
    plain = make_project(tasks=3, overlap=2, slug="plain", name="Plain")
    paused = make_project(tasks=2, slug="paused", name="Paused", status=Project.Status.PAUSED)
    make_project(tasks=2, slug="draft", name="Draft", status=Project.Status.DRAFT)
    return guide, alpha, beta, guarded, plain, paused


def test_standings_are_the_gate_of_every_readable_project_in_priority_order():
    _guide, alpha, beta, guarded, plain, paused = _world()
    labeler = make_labeler()
    _grant(labeler, beta)  # alpha is missing
    now = timezone.now()

    standings = project_standings(labeler=labeler, now=now)

    assert [s.gate.project.pk for s in standings] == [guarded.pk, plain.pk, paused.pk]
    for standing in standings:
        assert standing.gate == project_gate(
            labeler=labeler, project_id=standing.gate.project.pk, now=now
        )
    first = standings[0]
    assert first.gate.missing_qualification == "Alpha"
    assert first.missing_qualification_id == alpha.pk
    assert first.gate.guide_ack_missing is True
    assert standings[1].missing_qualification_id is None


def test_waiting_counts_what_the_claim_would_hand_out():
    """Open tasks the labeler never touched with a free slot: another labeler's live lease on a
    one-slot task takes it; the labeler's own submission removes the task for them only."""
    _, _, _, _, plain, _ = _world()
    labeler, other = make_labeler(), make_labeler()
    with_gold(plain, n=3)  # control tasks are not in the claim queue
    now = timezone.now()
    assert [s.waiting for s in project_standings(labeler=labeler, now=now)][1] == 3

    claim = services.assignment_claim_next(labeler=labeler, project_id=plain.pk, rng=NeverControl())
    services.assignment_submit(labeler=labeler, assignment_id=claim.assignment.pk, answer="ok")
    standings = {s.gate.project.pk: s for s in project_standings(labeler=labeler, now=now)}
    others = {s.gate.project.pk: s for s in project_standings(labeler=other, now=now)}
    assert standings[plain.pk].waiting == 2
    assert others[plain.pk].waiting == 3  # two slots: one still free on the task

    # Count by claiming: the labeler gets exactly that many more tasks.
    handed = 0
    while True:
        claim = services.assignment_claim_next(
            labeler=labeler, project_id=plain.pk, rng=NeverControl()
        )
        if claim is None:
            break
        services.assignment_submit(labeler=labeler, assignment_id=claim.assignment.pk, answer="ok")
        handed += 1
    assert handed == 2
    assert project_standings(labeler=labeler, now=timezone.now())[1].waiting == 0


def test_waiting_stops_at_the_cap(monkeypatch):
    _world()
    monkeypatch.setattr(gate_selectors, "WAITING_CAP", 2)
    standings = project_standings(labeler=make_labeler(), now=timezone.now())
    assert [s.waiting for s in standings] == [2, 2, 2]


def test_expired_leases_free_their_slot_for_the_count():
    _, _, _, _, plain, _ = _world()
    Task.objects.filter(project=plain).update(target=1)
    labeler, other = make_labeler(), make_labeler()
    now = timezone.now()
    task = Task.objects.filter(project=plain).first()
    Assignment.objects.create(
        task=task, project=plain, labeler=other, status=Assignment.Status.LEASED,
        leased_at=now - timedelta(hours=1), expires_at=now - timedelta(minutes=1),
    )  # fmt: skip
    assert project_standings(labeler=labeler, now=now - timedelta(hours=1))[1].waiting == 2
    assert project_standings(labeler=labeler, now=now)[1].waiting == 3


def test_standings_cost_one_query(django_assert_num_queries):
    _world()
    labeler = make_labeler()
    with django_assert_num_queries(1):
        project_standings(labeler=labeler, now=timezone.now())


def test_claim_refusal_is_what_the_claim_raises():
    guide, alpha, beta, guarded, plain, paused = _world()
    assert guarded.guide_id == guide.pk
    ready = make_labeler()
    _grant(ready, alpha), _grant(ready, beta)
    unqualified = make_labeler()
    unread = make_labeler()
    _grant(unread, alpha), _grant(unread, beta)
    onboarding = make_labeler(status=Labeler.Status.ONBOARDING)
    acknowledge(ready, guide)
    now = timezone.now()

    def refusal(labeler, project):
        gate = project_gate(labeler=labeler, project_id=project.pk, now=now)
        error = claim_refusal(gate, labeler=labeler)
        return None if error is None else error.code

    assert refusal(ready, guarded) is None
    assert refusal(ready, paused) == "project_not_active"
    assert refusal(onboarding, plain) == "labeler_inactive"
    assert refusal(unqualified, guarded) == "qualification_missing"
    assert refusal(unread, guarded) == "guide_not_acknowledged"
    for labeler, project in ((onboarding, plain), (unqualified, guarded), (ready, paused)):
        with pytest.raises(Exception) as raised:
            services.assignment_claim_next(labeler=labeler, project_id=project.pk)
        assert raised.value.code == refusal(labeler, project)

    draft = Project.objects.get(slug="draft")
    gate = project_gate(labeler=ready, project_id=draft.pk, now=now)
    assert isinstance(claim_refusal(gate, labeler=ready), NotFound)


def test_a_labelers_project_scores_name_their_projects_and_leave_today_out():
    from assignments.selectors.quality_pages import labeler_project_scores
    from qc.selectors.quality_facts import start_of_day
    from tests.qc.factories import record_checks

    labeler = make_labeler()
    zulu = make_project(tasks=0, slug="zulu", name="Zulu")
    alpha = make_project(tasks=0, slug="alpha", name="Alpha")
    record_checks(labeler, "10", project_id=zulu.pk)
    record_checks(labeler, "111", project_id=alpha.pk)
    record_checks(labeler, "0", project_id=alpha.pk, start=start_of_day(timezone.now()))

    rows = labeler_project_scores(labeler=labeler)

    assert [(r["project"], r["gold_all_time"]["n"]) for r in rows] == [("Alpha", 3), ("Zulu", 2)]
    assert labeler_project_scores(labeler=make_labeler()) == []
