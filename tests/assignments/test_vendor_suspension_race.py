"""A vendor's suspension against its labelers' claims, with real threads on PostgreSQL: once the
suspension commits, no claim of the vendor's labelers succeeds and none of their leases is live
(docs/next-task.md, "Who may work on a project").

The order comes from one row lock: the suspension holds the vendor row's ``FOR UPDATE`` lock
while it ends the leases, and the claim's gate reads the vendor's status under ``FOR SHARE``. The
two deterministic tests stop each side inside its transaction to show both orders; the race
runs many claims against one suspension.

PostgreSQL only: SQLite serializes writers with its database lock, so a race there proves
nothing."""

from __future__ import annotations

import threading
import time

import pytest
from django.db import connection
from django.utils import timezone

from assignments import services
from assignments.models import Assignment
from assignments.services import claim as claim_module
from config.errors import Conflict, Forbidden
from tests.assignments.factories import make_project
from tests.conftest import requires_postgres
from tests.factories import VendorFactory, make_labeler
from workforce import services as workforce_services
from workforce.models import Vendor, VendorStatusChange
from workforce.signals import vendor_status_changed

pytestmark = [requires_postgres, pytest.mark.django_db(transaction=True)]

# How long a thread that must be waiting on a lock is given to (wrongly) get through.
BLOCKED = 0.4


def live_leases(vendor: Vendor) -> int:
    return Assignment.objects.filter(
        labeler__vendor=vendor, status=Assignment.Status.LEASED, expires_at__gt=timezone.now()
    ).count()


def in_thread(fn, results: dict, key: str) -> threading.Thread:
    def run():
        try:
            results[key] = fn()
        except BaseException as exc:  # reported to the main thread
            results[key] = exc
        finally:
            connection.close()

    thread = threading.Thread(target=run)
    thread.start()
    return thread


def test_a_claim_that_read_the_vendor_first_is_waited_for_and_its_lease_ended(monkeypatch):
    """The claim has passed its gate (the vendor read as active, under the share lock) and is
    held just before it leases; the suspension must wait for it, then end the lease it made."""
    vendor = VendorFactory(slug="acme")
    labeler = make_labeler(vendor=vendor)
    project = make_project(tasks=3, overlap=1, slug="first")
    gate_passed, go_on = threading.Event(), threading.Event()
    lease_next = claim_module._lease_next

    def held_lease_next(**kwargs):
        gate_passed.set()
        go_on.wait(10)
        return lease_next(**kwargs)

    monkeypatch.setattr(claim_module, "_lease_next", held_lease_next)
    results: dict = {}
    claimer = in_thread(
        lambda: services.assignment_claim_next(labeler=labeler, project_id=project.pk),
        results,
        "claim",
    )
    assert gate_passed.wait(10)
    suspender = in_thread(
        lambda: workforce_services.vendor_suspend(actor=None, vendor=vendor, reason="audit"),
        results,
        "suspend",
    )
    suspender.join(BLOCKED)
    assert suspender.is_alive(), "the suspension did not wait for the claim that read first"
    go_on.set()
    claimer.join(10), suspender.join(10)

    claim, change = results["claim"], results["suspend"]
    assert claim.created  # the claim went through: it read the vendor before the suspension
    assert change.leases_ended == 1  # ... and the suspension ended the lease it made
    lease = Assignment.objects.get(pk=claim.assignment.pk)
    assert lease.status == Assignment.Status.RELEASED
    assert live_leases(vendor) == 0
    assert VendorStatusChange.objects.get(pk=change.pk).leases_ended == 1


def test_a_claim_that_comes_during_the_suspension_waits_and_is_refused():
    """The suspension has written the new status and holds the vendor row; a claim that starts
    then waits for its commit and reads the new status: 403 ``vendor_inactive``, no lease."""
    vendor = VendorFactory(slug="acme")
    labeler = make_labeler(vendor=vendor)
    project = make_project(tasks=3, overlap=1, slug="second")
    written, go_on = threading.Event(), threading.Event()

    def hold(sender, **kwargs):
        written.set()
        go_on.wait(10)

    vendor_status_changed.connect(hold, dispatch_uid="test.hold")
    try:
        results: dict = {}
        suspender = in_thread(
            lambda: workforce_services.vendor_suspend(actor=None, vendor=vendor, reason="audit"),
            results,
            "suspend",
        )
        assert written.wait(10)
        claimer = in_thread(
            lambda: services.assignment_claim_next(labeler=labeler, project_id=project.pk),
            results,
            "claim",
        )
        claimer.join(BLOCKED)
        assert claimer.is_alive(), "the claim did not wait for the suspension's commit"
        go_on.set()
        suspender.join(10), claimer.join(10)
    finally:
        vendor_status_changed.disconnect(dispatch_uid="test.hold")

    assert isinstance(results["claim"], Forbidden), results["claim"]
    assert results["claim"].code == "vendor_inactive"
    assert not Assignment.objects.filter(labeler=labeler).exists()


def test_no_claim_succeeds_and_no_lease_lives_after_the_suspension_commits():
    """Twelve labelers of one vendor (two threads each, as from two tabs) claim, hold a moment
    and submit, over and over, while one thread suspends the vendor; an internal labeler works
    alongside. Every claim that started after the suspension's commit is refused (403
    ``vendor_inactive``), every submit that started after it is refused (409 ``released``: no
    lease survived it); when all is done no lease of the vendor's labelers is live, and every
    lease live at the suspension was ended by it, counted in its history row. The internal
    labeler is never refused."""
    vendor = VendorFactory(slug="acme")
    labelers = [make_labeler(vendor=vendor) for _ in range(12)]
    internal = make_labeler()
    project = make_project(tasks=400, overlap=2, slug="race", lease_seconds=3600)
    committed, going = threading.Event(), threading.Event()
    start = threading.Barrier(2 * len(labelers) + 2)
    lock = threading.Lock()
    after: list[str] = []  # outcomes of claims that started after the commit
    before_ok = [0]
    survived: list[int] = []  # submits started after the commit that were accepted
    internal_refused: list[BaseException] = []
    errors: list[BaseException] = []
    change_box: dict = {}

    def claims(labeler, *, rounds: int):
        try:
            start.wait()
            refused_after = 0
            for _ in range(rounds):
                # The internal labeler is not the vendor's: their claims go on regardless.
                started_after = committed.is_set() and labeler is not internal
                try:
                    claim = services.assignment_claim_next(labeler=labeler, project_id=project.pk)
                except Forbidden as exc:
                    if labeler is internal:
                        internal_refused.append(exc)
                    if started_after:
                        with lock:
                            after.append(exc.code)
                    refused_after += started_after
                    if refused_after >= 5:
                        return
                    continue
                except Conflict as exc:
                    # The labeler's other thread was claiming at the same moment (the service's
                    # own retryable answers to one person's concurrent calls): no lease, ask
                    # again, as a client would.
                    assert exc.code in {"concurrent_claim", "claim_contended"}, exc.code
                    continue
                with lock:
                    if started_after:
                        after.append("leased")
                    else:
                        before_ok[0] += 1
                        if before_ok[0] >= 30:
                            going.set()
                if claim is None:
                    return
                time.sleep(0.002)  # hold the lease a moment: some are live at the suspension
                submit_after = committed.is_set() and labeler is not internal
                try:
                    services.assignment_submit(
                        labeler=labeler, assignment_id=claim.assignment.pk, answer="ok"
                    )
                except Conflict as exc:
                    # Only a lease the suspension ended is refused, and only as released.
                    assert exc.code == "released", exc.code
                else:
                    if submit_after:
                        # A lease that survived the suspension (its claim read the vendor as
                        # active, its lease landed after the leases were ended).
                        with lock:
                            survived.append(claim.assignment.pk)
        except BaseException as exc:  # reported to the main thread below
            errors.append(exc)
        finally:
            connection.close()

    def suspend():
        try:
            start.wait()
            going.wait(60)  # let the claims get going
            change_box["change"] = workforce_services.vendor_suspend(
                actor=None, vendor=vendor, reason="contract dispute"
            )
            committed.set()
        except BaseException as exc:
            errors.append(exc)
        finally:
            connection.close()

    threads = [
        threading.Thread(target=claims, args=(labeler,), kwargs={"rounds": 400})
        for labeler in labelers * 2
    ]
    threads.append(threading.Thread(target=suspend))
    threads.append(threading.Thread(target=claims, args=(internal,), kwargs={"rounds": 60}))
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()

    assert not errors, errors
    assert before_ok[0] > 0  # the race was real: claims went through before the suspension
    assert after and set(after) == {"vendor_inactive"}, sorted(set(after))
    assert live_leases(vendor) == 0
    assert survived == []
    assert not internal_refused
    change = VendorStatusChange.objects.get(pk=change_box["change"].pk)
    released = Assignment.objects.filter(
        labeler__vendor=vendor, status=Assignment.Status.RELEASED
    ).count()
    assert change.leases_ended == released
    assert Vendor.objects.get(pk=vendor.pk).status == Vendor.Status.SUSPENDED
