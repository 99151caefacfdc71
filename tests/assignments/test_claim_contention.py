"""204 means that no task is available to the labeler — never that a race was lost (issue 9:
"204 'no task left' while thousands are open"). A lost race is retried, then answered 409
``claim_contended`` with ``Retry-After``.

PostgreSQL only: SQLite serializes claims with its database lock, so nothing is ever skipped
there and a race proves nothing."""

from __future__ import annotations

import threading
from collections import Counter

import pytest
from django.db import connection, transaction
from django.db.models import Q

from assignments import services
from assignments.models import Assignment, Task
from tests.assignments.factories import make_project
from tests.conftest import requires_postgres
from tests.factories import make_labeler, token_client


def open_for(labeler, project) -> list[int]:
    """Tasks that still have a free slot this labeler may take: open, not done by them, fewer
    submissions and live leases than the target. In these tests leases never lapse and nobody
    releases, so a task's used slots only grow: if a task is open for the labeler now, it was
    open at any earlier moment too."""
    out = []
    for task in Task.objects.filter(project=project, is_open=True):
        if Assignment.objects.filter(task=task, labeler=labeler).exists():
            continue
        used = Assignment.objects.filter(
            Q(status="submitted") | Q(status="leased"), task=task
        ).count()
        if used < task.target:
            out.append(task.pk)
    return out


@requires_postgres
@pytest.mark.django_db(transaction=True)
def test_no_spurious_204_under_contention():
    """24 labelers race for 4 tasks of 6 slots each (every claim wants the same top rows):
    each claims and submits until told nothing is left. After every 204 the labeler's view is
    checked: a task still open for them would make it spurious. Every slot ends filled."""
    project = make_project(tasks=4, overlap=6, slug="contended", lease_seconds=3600)
    labelers = [make_labeler() for _ in range(24)]
    start = threading.Barrier(len(labelers))
    outcomes: Counter[str] = Counter()
    spurious: list[tuple[int, list[int]]] = []
    errors: list[BaseException] = []
    lock = threading.Lock()

    def work(labeler):
        try:
            start.wait()
            for _ in range(200):
                try:
                    claim = services.assignment_claim_next(labeler=labeler, project_id=project.pk)
                except services.ClaimContended:
                    with lock:
                        outcomes["409 claim_contended"] += 1
                    continue
                if claim is None:
                    still_open = open_for(labeler, project)
                    with lock:
                        outcomes["204"] += 1
                        if still_open:
                            spurious.append((labeler.pk, still_open))
                    return
                with lock:
                    outcomes["201"] += 1
                services.assignment_submit(
                    labeler=labeler, assignment_id=claim.assignment.pk, answer="ok"
                )
            raise AssertionError("no 204 after 200 calls")
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
    assert spurious == [], f"{len(spurious)} spurious 204s: {spurious[:5]}; {dict(outcomes)}"
    assert outcomes["204"] == len(labelers)
    # All 24 slots were filled, none twice.
    assert Assignment.objects.filter(status="submitted").count() == 24
    assert outcomes["201"] == 24
    for task in Task.objects.filter(project=project):
        assert (task.submitted, task.is_open) == (6, False)


@requires_postgres
@pytest.mark.django_db(transaction=True)
def test_a_claim_that_only_finds_held_rows_is_a_409_with_retry_after():
    """The project's one open task is locked by a claim in progress (another connection holds
    its row): the call cannot take it, but it is open for the caller — 409 claim_contended with
    Retry-After, not 204. Once the other claim is gone, the same call gets the task."""
    project = make_project(tasks=1, overlap=2, slug="held")
    task = Task.objects.get(project=project)
    labeler = make_labeler()
    held, release = threading.Event(), threading.Event()

    def hold():
        try:
            with transaction.atomic():
                Task.objects.select_for_update(no_key=True).get(pk=task.pk)
                held.set()
                release.wait(30)
        finally:
            connection.close()

    holder = threading.Thread(target=hold)
    holder.start()
    try:
        assert held.wait(10)
        client = token_client(labeler)
        response = client.post(f"/api/v1/projects/{project.pk}/next-task/")
        assert response.status_code == 409, response.content
        assert response.json()["code"] == "claim_contended"
        assert response["Retry-After"] == "1"
        assert not Assignment.objects.exists()
    finally:
        release.set()
        holder.join()
    response = client.post(f"/api/v1/projects/{project.pk}/next-task/")
    assert response.status_code == 201
    assert response.json()["id"] == Assignment.objects.get().pk


@pytest.mark.django_db
def test_204_still_means_nothing_left():
    """A labeler who did every task, and one facing only full tasks, get 204 — the extra check
    runs only on that path."""
    project = make_project(tasks=1, overlap=1, slug="done")
    a, b = make_labeler(), make_labeler()
    claim = services.assignment_claim_next(labeler=a, project_id=project.pk)
    assert services.assignment_claim_next(labeler=b, project_id=project.pk) is None
    services.assignment_submit(labeler=a, assignment_id=claim.assignment.pk, answer="ok")
    assert services.assignment_claim_next(labeler=a, project_id=project.pk) is None
    assert services.assignment_claim_next(labeler=b, project_id=project.pk) is None
