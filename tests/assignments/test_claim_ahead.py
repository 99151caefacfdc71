"""The look-ahead lease (docs/next-task.md, "Look-ahead lease"): the labeler pages lease the
labeler's next task while they work on the current one (``assignment_claim_next(ahead=True)``),
and the next claim promotes it. Rules: at most one lease of each kind per labeler and project;
a look-ahead lease holds its task's slot like any live lease; promotion extends its expiry only
while it still holds its slot. The races run on PostgreSQL only (SQLite serializes writers)."""

from __future__ import annotations

import threading
from collections import Counter
from datetime import timedelta

import pytest
from django.db import IntegrityError, connection, transaction
from django.db.models import Q
from django.utils import timezone

from assignments import services
from assignments.models import Assignment, Task
from tests.assignments.factories import AlwaysControl, NeverControl, make_project, with_gold
from tests.conftest import requires_postgres
from tests.factories import make_labeler, race, token_client

S = Assignment.Status


def claim(labeler, project, **kw):
    return services.assignment_claim_next(labeler=labeler, project_id=project.pk, **kw)


def holders(task_id, now) -> int:
    return Assignment.objects.filter(
        Q(status=S.SUBMITTED) | Q(status=S.LEASED, expires_at__gt=now), task_id=task_id
    ).count()


@pytest.mark.django_db
class TestLookAhead:
    def test_ahead_takes_a_current_lease_then_a_second_task(self):
        project = make_project(tasks=5, overlap=1)
        labeler = make_labeler()
        got = claim(labeler, project, ahead=True)
        assert got.created and not got.assignment.ahead
        assert got.ahead.created and got.ahead.assignment.ahead
        assert got.ahead.assignment.task_id != got.assignment.task_id
        assert got.ahead.assignment.task.payload  # loaded for the page, like the current one
        order = list(Task.objects.order_by("-priority", "id").values_list("pk", flat=True))
        assert [got.assignment.task_id, got.ahead.assignment.task_id] == order[:2]

    def test_both_leases_are_handed_back_and_never_a_third(self):
        project = make_project(tasks=5, overlap=1)
        labeler = make_labeler()
        first = claim(labeler, project, ahead=True)
        again = claim(labeler, project, ahead=True)
        assert not again.created and not again.ahead.created
        assert again.assignment.pk == first.assignment.pk
        assert again.ahead.assignment.pk == first.ahead.assignment.pk
        # The API's call (no look-ahead) hands back the current lease, as before.
        api = claim(labeler, project)
        assert api.assignment.pk == first.assignment.pk and api.ahead is None
        assert Assignment.objects.filter(labeler=labeler).count() == 2

    def test_a_second_look_ahead_lease_is_refused_by_the_constraint(self):
        project = make_project(tasks=5, overlap=1)
        labeler = make_labeler()
        first = claim(labeler, project, ahead=True)
        other = Task.objects.exclude(
            pk__in=[first.assignment.task_id, first.ahead.assignment.task_id]
        ).first()
        now = timezone.now()
        with pytest.raises(IntegrityError), transaction.atomic():
            Assignment.objects.create(
                task=other,
                project=project,
                labeler=labeler,
                ahead=True,
                leased_at=now,
                expires_at=now + timedelta(minutes=5),
            )

    def test_submitting_the_current_one_promotes_the_look_ahead_with_a_full_lease(self):
        project = make_project(tasks=5, overlap=1, lease_seconds=600)
        labeler = make_labeler()
        start = timezone.now() - timedelta(minutes=4)
        first = claim(labeler, project, ahead=True, now=start)
        look = first.ahead.assignment
        assert look.expires_at == start + timedelta(seconds=600)
        services.assignment_submit(
            labeler=labeler, assignment_id=first.assignment.pk, answer="ok", now=start
        )
        now = start + timedelta(minutes=4)
        promoted = claim(labeler, project, now=now)
        assert promoted.assignment.pk == look.pk and not promoted.created
        assert not promoted.assignment.ahead
        assert promoted.assignment.task_id == look.task_id
        assert promoted.assignment.task.payload == look.task.payload
        # A full lease from the promotion, no longer the one left from the look-ahead claim.
        assert promoted.assignment.expires_at == now + timedelta(seconds=600)
        stored = Assignment.objects.get(pk=look.pk)
        assert (stored.ahead, stored.expires_at) == (False, now + timedelta(seconds=600))
        # Leased as of the promotion: the four minutes on the first task are not counted (paid)
        # again on this one.
        assert stored.leased_at == now == promoted.assignment.leased_at
        submitted = services.assignment_submit(
            labeler=labeler, assignment_id=look.pk, answer="ok", now=now + timedelta(seconds=20)
        )
        assert submitted.assignment.active_seconds == 20

    def test_the_promoted_lease_is_the_current_one(self):
        project = make_project(tasks=5, overlap=1)
        labeler = make_labeler()
        first = claim(labeler, project, ahead=True)
        services.assignment_submit(labeler=labeler, assignment_id=first.assignment.pk, answer="ok")
        look = first.ahead.assignment
        assert claim(labeler, project).assignment.pk == look.pk  # promoted
        # Handed back as the current lease; a look-ahead call leases a new next task.
        assert claim(labeler, project).assignment.pk == look.pk
        nxt = claim(labeler, project, ahead=True)
        assert nxt.assignment.pk == look.pk and nxt.ahead.created
        assert nxt.ahead.assignment.task_id not in (first.assignment.task_id, look.task_id)

    def test_releasing_the_current_one_promotes_the_look_ahead(self):
        project = make_project(tasks=5, overlap=1)
        labeler = make_labeler()
        first = claim(labeler, project, ahead=True)
        services.assignment_release(labeler=labeler, assignment_id=first.assignment.pk)
        got = claim(labeler, project, ahead=True)
        assert got.assignment.pk == first.ahead.assignment.pk and not got.created
        assert got.ahead.created

    def test_submit_then_look_ahead_in_one_call_promotes_and_leases_the_next(self):
        """The labeler pages' submit: the current one submitted, then one ``ahead=True`` call
        (one gate): the look-ahead lease promoted, a new one leased."""
        project = make_project(tasks=3, overlap=1)
        labeler = make_labeler()
        seen = []
        got = claim(labeler, project, ahead=True)
        while got is not None:
            seen.append(got.assignment.task_id)
            services.assignment_submit(
                labeler=labeler, assignment_id=got.assignment.pk, answer="ok"
            )
            previous_ahead = got.ahead
            got = claim(labeler, project, ahead=True)
            if previous_ahead is not None:
                assert got.assignment.pk == previous_ahead.assignment.pk
        assert sorted(seen) == sorted(Task.objects.values_list("pk", flat=True))
        assert not Assignment.objects.filter(status=S.LEASED).exists()

    def test_the_last_task_has_no_look_ahead(self):
        project = make_project(tasks=1, overlap=1)
        labeler = make_labeler()
        got = claim(labeler, project, ahead=True)
        assert got.created and got.ahead is None
        assert claim(labeler, project, ahead=True).ahead is None

    def test_a_look_ahead_lease_holds_its_slot(self):
        project = make_project(tasks=2, overlap=1)
        a, b = make_labeler(), make_labeler()
        got = claim(a, project, ahead=True)
        assert got.ahead is not None
        assert holders(got.ahead.assignment.task_id, timezone.now()) == 1
        assert claim(b, project) is None  # both tasks' only slots are held by a's two leases

    def test_a_run_out_look_ahead_lease_frees_its_slot_and_is_not_promoted(self):
        project = make_project(tasks=2, overlap=1, lease_seconds=60)
        a, b = make_labeler(), make_labeler()
        start = timezone.now() - timedelta(minutes=5)
        got = claim(a, project, ahead=True, now=start)
        look = got.ahead.assignment
        # Both of a's leases ran out: b gets a's look-ahead task's slot (the top one is a's
        # current task, whose lease ran out too: b takes it first).
        now = timezone.now()
        taken = {claim(b, project, now=now).assignment.task_id}
        services.assignment_submit(
            labeler=b, assignment_id=Assignment.objects.get(labeler=b).pk, answer="ok", now=now
        )
        taken.add(claim(b, project, now=now).assignment.task_id)
        assert look.task_id in taken
        # a's next claim is not the run-out look-ahead lease: both are marked expired.
        assert claim(a, project, now=now) is None
        assert set(Assignment.objects.filter(labeler=a).values_list("status", flat=True)) == {
            S.EXPIRED
        }

    def test_a_run_out_look_ahead_is_replaced_while_the_current_one_lives(self):
        project = make_project(tasks=4, overlap=1)
        labeler = make_labeler()
        start = timezone.now() - timedelta(minutes=5)
        got = claim(labeler, project, ahead=True, now=start)
        Assignment.objects.filter(pk=got.ahead.assignment.pk).update(
            expires_at=start + timedelta(seconds=1)
        )
        again = claim(labeler, project, ahead=True)
        assert again.assignment.pk == got.assignment.pk
        assert again.ahead.created and again.ahead.assignment.pk != got.ahead.assignment.pk
        assert Assignment.objects.get(pk=got.ahead.assignment.pk).status == S.EXPIRED

    def test_promotion_keeps_the_expiry_when_a_later_claim_took_the_slot(self):
        """A claim whose ``now`` saw the look-ahead lease as run out took its slot; a promotion
        whose ``now`` is earlier (its call began before the expiry) must not revive the lease:
        its expiry stays, so the slot is never held twice."""
        project = make_project(tasks=1, overlap=1, lease_seconds=60)
        a, b = make_labeler(), make_labeler()
        start = timezone.now() - timedelta(seconds=30)
        # a's look-ahead lease, their current one already submitted (made so directly: the
        # project's only task).
        look = claim(a, project, now=start)
        Assignment.objects.filter(pk=look.assignment.pk).update(ahead=True)
        expiry = look.assignment.expires_at
        later = expiry + timedelta(seconds=1)
        taken = claim(b, project, now=later)  # the slot is free at b's ``now``
        assert taken.assignment.task_id == look.assignment.task_id
        before = expiry - timedelta(seconds=1)  # a's call began before the expiry
        promoted = claim(a, project, now=before)
        assert promoted.assignment.pk == look.assignment.pk and not promoted.assignment.ahead
        assert promoted.assignment.expires_at == expiry  # not extended
        assert holders(look.assignment.task_id, later) == 1

    def test_a_control_task_can_be_the_look_ahead(self):
        project = make_project(tasks=4, overlap=1)
        with_gold(project, n=3, ratio="0.5")
        labeler = make_labeler()
        got = claim(labeler, project, ahead=True, rng=AlwaysControl())
        assert got.assignment.is_control and got.ahead.assignment.is_control
        services.assignment_submit(labeler=labeler, assignment_id=got.assignment.pk, answer="ok")
        promoted = claim(labeler, project, ahead=True, rng=NeverControl())
        assert promoted.assignment.pk == got.ahead.assignment.pk
        assert promoted.assignment.is_control and not promoted.ahead.assignment.is_control
        # A control task has no slots to count: its promotion always gets a full lease.
        assert promoted.assignment.expires_at >= got.ahead.assignment.expires_at

    def test_the_api_is_unchanged_for_callers_who_never_ask_ahead(self):
        project = make_project(tasks=3, overlap=1)
        labeler = make_labeler()
        client = token_client(labeler)
        first = client.post(f"/api/v1/projects/{project.pk}/next-task/")
        assert first.status_code == 201
        assert client.post(f"/api/v1/projects/{project.pk}/next-task/").status_code == 200
        assert "ahead" not in first.json()
        assert not Assignment.objects.filter(ahead=True).exists()

    def test_the_api_gets_a_page_look_ahead_lease_promoted(self):
        """A labeler who used the pages and then the API: the API's next-task hands them the
        look-ahead task (promoted), not a third one."""
        project = make_project(tasks=4, overlap=1)
        labeler = make_labeler()
        got = claim(labeler, project, ahead=True)
        client = token_client(labeler)
        client.post(
            f"/api/v1/assignments/{got.assignment.pk}/submit/", {"answer": "ok"}, format="json"
        )
        response = client.post(f"/api/v1/projects/{project.pk}/next-task/")
        assert response.status_code == 200
        assert response.json()["id"] == got.ahead.assignment.pk
        assert Assignment.objects.filter(labeler=labeler).count() == 2


@pytest.mark.django_db
def test_the_look_ahead_call_costs_the_claims_statements(django_assert_num_queries):
    """With both leases held: the gate and the two hand-backs. After a submit: the gate, the
    promotion's lock and update, the claim and the lease (savepoint and release around)."""
    project = make_project(tasks=6, overlap=1)
    labeler = make_labeler()
    got = claim(labeler, project, ahead=True, rng=NeverControl())
    with django_assert_num_queries(2 + 3):
        claim(labeler, project, ahead=True, rng=NeverControl())
    services.assignment_submit(labeler=labeler, assignment_id=got.assignment.pk, answer="ok")
    with django_assert_num_queries(2 + 5):
        claim(labeler, project, ahead=True, rng=NeverControl())


# -- races --------------------------------------------------------------------------------------


@requires_postgres
@pytest.mark.django_db(transaction=True)
def test_concurrent_look_ahead_calls_of_one_labeler_give_one_lease_of_each_kind():
    project = make_project(tasks=10, overlap=2, slug="ahead-race", lease_seconds=3600)
    labeler = make_labeler()
    results = race(8, lambda i: claim(labeler, project, ahead=True))
    errors = [r for r in results if isinstance(r, BaseException)]
    assert not errors, errors
    leases = Assignment.objects.filter(labeler=labeler, status=S.LEASED)
    assert sorted(leases.values_list("ahead", flat=True)) == [False, True]
    current = leases.get(ahead=False)
    ahead = leases.get(ahead=True)
    assert {r.assignment.pk for r in results} == {current.pk}
    assert {r.ahead.assignment.pk for r in results} == {ahead.pk}
    # Nothing was burnt: no other assignment of theirs exists.
    assert Assignment.objects.filter(labeler=labeler).count() == 2


@requires_postgres
@pytest.mark.django_db(transaction=True)
def test_concurrent_promotions_of_one_labeler_promote_once():
    project = make_project(tasks=10, overlap=1, slug="promote-race", lease_seconds=3600)
    labeler = make_labeler()
    got = claim(labeler, project, ahead=True)
    services.assignment_submit(labeler=labeler, assignment_id=got.assignment.pk, answer="ok")
    results = race(6, lambda i: claim(labeler, project, ahead=bool(i % 2)))
    errors = [r for r in results if isinstance(r, BaseException)]
    assert not errors, errors
    assert {r.assignment.pk for r in results} == {got.ahead.assignment.pk}
    leases = Assignment.objects.filter(labeler=labeler, status=S.LEASED)
    assert sorted(leases.values_list("ahead", flat=True)) == [False, True]


@requires_postgres
@pytest.mark.django_db(transaction=True)
def test_many_labelers_with_look_ahead_never_overfill_a_task():
    """16 labelers race over 6 tasks of 3 slots, each claiming with a look-ahead lease and
    submitting the current one until nothing is left; after every call no task has more slot
    holders than its target, and every slot ends filled once."""
    project = make_project(tasks=6, overlap=3, slug="ahead-contended", lease_seconds=3600)
    labelers = [make_labeler() for _ in range(16)]
    start = threading.Barrier(len(labelers))
    overfilled: list[tuple[int, int]] = []
    errors: list[BaseException] = []
    outcomes: Counter[str] = Counter()
    lock = threading.Lock()
    tasks = list(Task.objects.filter(project=project).values_list("pk", flat=True))

    def check():
        now = timezone.now()
        for task_id in tasks:
            count = holders(task_id, now)
            if count > 3:
                overfilled.append((task_id, count))

    def work(labeler):
        try:
            start.wait()
            for _ in range(100):
                try:
                    got = claim(labeler, project, ahead=True)
                except services.ClaimContended:
                    with lock:
                        outcomes["contended"] += 1
                    continue
                check()
                if got is None:
                    with lock:
                        outcomes["none"] += 1
                    return
                with lock:
                    outcomes["claimed"] += 1
                    outcomes["with ahead"] += got.ahead is not None
                services.assignment_submit(
                    labeler=labeler, assignment_id=got.assignment.pk, answer="ok"
                )
            raise AssertionError("nothing left never came")
        except BaseException as exc:  # reported to the main thread below
            errors.append(exc)
        finally:
            connection.close()

    threads = [threading.Thread(target=work, args=(labeler,)) for labeler in labelers]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert not errors, errors
    assert overfilled == [], overfilled
    assert outcomes["with ahead"] > 0, outcomes
    # Every slot filled once; no lease left over (a look-ahead lease left at the end would be
    # a task some labeler holds but never gets: each one's last call promoted it).
    for task in Task.objects.filter(project=project):
        assert (task.submitted, task.is_open) == (3, False)
    assert Assignment.objects.filter(status=S.SUBMITTED).count() == 18
    assert not Assignment.objects.filter(status=S.LEASED).exists()
