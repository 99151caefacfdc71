"""A vendor's status (docs/operations.md, "Vendor status"): suspending or offboarding goes
through a service that records who, why and how many leases it ended; it stops every one of the
vendor's labelers from getting work at once and ends their live leases; reactivating gives the
access back; offboarding is final. The API commands are for ops; the vendor's managers read the
status and its history; the admin asks for a reason.

The lock order against concurrent claims is proven with threads in
tests/assignments/test_vendor_suspension_race.py."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.core.exceptions import ValidationError
from django.utils import timezone

from assignments import services as work_services
from assignments.models import Assignment, Review, Task
from assignments.services import review as review_services
from config.errors import Conflict, Forbidden, InvalidTransition
from tests.assignments.factories import make_project
from tests.factories import admin_url, make_labeler, token_client
from workforce import services
from workforce.models import Labeler, Vendor, VendorStatusChange
from workforce.signals import vendor_status_changed

pytestmark = pytest.mark.django_db


def claim(labeler, project):
    return work_services.assignment_claim_next(labeler=labeler, project_id=project.pk)


def refused(labeler, project) -> str | None:
    try:
        claim(labeler, project)
    except Forbidden as exc:
        return exc.code
    return None


# -- the service ----------------------------------------------------------------------------------


def test_suspending_records_who_why_and_the_leases_it_ended(ops_user, vendor_a, vendor_b):
    project = make_project(tasks=10, overlap=1)
    mine = [make_labeler(vendor=vendor_a) for _ in range(2)]
    theirs, staff = make_labeler(vendor=vendor_b), make_labeler()
    leases = {labeler.pk: claim(labeler, project).assignment for labeler in [*mine, theirs, staff]}
    # A lease already run out is not live: it is left for the expiry job.
    lapsed = make_labeler(vendor=vendor_a)
    old = claim(lapsed, project).assignment
    gone = timezone.now() - timedelta(minutes=1)
    Assignment.objects.filter(pk=old.pk).update(
        leased_at=gone - timedelta(minutes=5), expires_at=gone
    )
    sent = []
    vendor_status_changed.connect(
        lambda sender, **kw: sent.append(kw), dispatch_uid="test.sent", weak=False
    )
    try:
        change = services.vendor_suspend(actor=ops_user, vendor=vendor_a, reason="  audit  ")
    finally:
        vendor_status_changed.disconnect(dispatch_uid="test.sent")

    vendor_a.refresh_from_db()
    assert vendor_a.status == Vendor.Status.SUSPENDED
    assert vendor_a.status_changed_at is not None
    assert change.vendor.status == Vendor.Status.SUSPENDED
    row = VendorStatusChange.objects.get(vendor=vendor_a)
    assert (row.from_status, row.to_status, row.actor, row.reason, row.leases_ended) == (
        "active",
        "suspended",
        ops_user,
        "audit",
        2,
    )
    status = dict(Assignment.objects.values_list("labeler_id", "status"))
    assert [status[labeler.pk] for labeler in mine] == ["released", "released"]
    assert status[theirs.pk] == status[staff.pk] == "leased"  # other vendors, internal staff
    assert status[lapsed.pk] == "leased"
    assert leases[theirs.pk].pk and leases[staff.pk].pk
    # The labelers' own statuses are untouched.
    assert set(Labeler.objects.filter(vendor=vendor_a).values_list("status", flat=True)) == {
        "active"
    }
    [event] = sent
    assert event["change"].pk == row.pk and event["vendor"].pk == vendor_a.pk


def test_a_suspended_vendors_labeler_gets_no_work_and_cannot_submit_the_ended_lease(vendor_a):
    project = make_project(tasks=5, overlap=1)
    labeler = make_labeler(vendor=vendor_a)
    lease = claim(labeler, project).assignment
    services.vendor_suspend(actor=None, vendor=vendor_a, reason="audit")
    assert refused(labeler, project) == "vendor_inactive"
    with pytest.raises(Conflict) as exc:
        work_services.assignment_submit(labeler=labeler, assignment_id=lease.pk, answer="ok")
    assert exc.value.code == "released"


def test_the_next_task_api_answers_403_vendor_inactive(vendor_a):
    project = make_project(tasks=5, overlap=1)
    labeler = make_labeler(vendor=vendor_a)
    client = token_client(labeler)
    assert client.post(f"/api/v1/projects/{project.pk}/next-task/").status_code == 201
    services.vendor_suspend(actor=None, vendor=vendor_a, reason="audit")
    response = client.post(f"/api/v1/projects/{project.pk}/next-task/")
    assert response.status_code == 403
    body = response.json()
    assert body["code"] == "vendor_inactive"
    assert body["detail"].startswith("Your vendor is suspended")
    services.vendor_offboard(actor=None, vendor=vendor_a, reason="contract ended")
    response = client.post(f"/api/v1/projects/{project.pk}/next-task/")
    assert (response.status_code, response.json()["code"]) == (403, "vendor_inactive")
    assert response.json()["detail"].startswith("Your vendor is offboarded")


def test_a_suspended_vendors_senior_takes_no_review_and_loses_the_one_held(vendor_a):
    project = make_project(tasks=3, overlap=1)
    senior = make_labeler(vendor=vendor_a, seniority="senior")
    other = make_labeler(seniority="senior")
    tasks = list(Task.objects.filter(project=project).order_by("id")[:2])
    for task in tasks:
        Task.objects.filter(pk=task.pk).update(state=Task.State.REVIEW, is_open=False)
        Review.objects.create(task=task, project=project, kind=Review.Kind.DISAGREEMENT)
    held = review_services.review_claim_next(reviewer=senior, project_id=project.pk).review

    change = services.vendor_suspend(actor=None, vendor=vendor_a, reason="audit")

    held.refresh_from_db()
    assert (held.status, held.reviewer_id) == ("open", None)  # back to the queue
    assert change.leases_ended == 1
    with pytest.raises(Forbidden) as exc:
        review_services.review_claim_next(reviewer=senior, project_id=project.pk)
    assert exc.value.code == "vendor_inactive"
    # Another senior takes what the suspended one held.
    taken = {review_services.review_claim_next(reviewer=other, project_id=project.pk).review.pk}
    assert taken <= {review.pk for review in Review.objects.filter(project=project)}
    services.vendor_reactivate(actor=None, vendor=vendor_a, reason="audit passed")
    assert review_services.review_claim_next(reviewer=senior, project_id=project.pk) is not None


def test_reactivating_gives_back_the_access_each_labeler_had(vendor_a):
    project = make_project(tasks=5, overlap=1)
    working = make_labeler(vendor=vendor_a)
    on_hold = make_labeler(vendor=vendor_a, status=Labeler.Status.SUSPENDED)
    services.vendor_suspend(actor=None, vendor=vendor_a, reason="audit")
    assert refused(working, project) == "vendor_inactive"
    change = services.vendor_reactivate(actor=None, vendor=vendor_a, reason="resolved")
    assert (change.from_status, change.to_status, change.leases_ended) == (
        "suspended",
        "active",
        0,
    )
    assert claim(working, project).created
    assert refused(on_hold, project) == "labeler_inactive"  # suspended on their own account
    history = list(
        VendorStatusChange.objects.filter(vendor=vendor_a).values_list("from_status", "to_status")
    )
    assert history == [("suspended", "active"), ("active", "suspended")]  # newest first


@pytest.mark.parametrize("reason", ["", "   ", None])
def test_a_reason_is_required_and_nothing_is_written(vendor_a, reason):
    project = make_project(tasks=2, overlap=1)
    lease = claim(make_labeler(vendor=vendor_a), project).assignment
    with pytest.raises(ValidationError) as exc:
        services.vendor_suspend(actor=None, vendor=vendor_a, reason=reason)
    assert exc.value.message_dict == {"reason": ["A reason is required."]}
    assert Vendor.objects.get(pk=vendor_a.pk).status == Vendor.Status.ACTIVE
    assert not VendorStatusChange.objects.exists()
    assert Assignment.objects.get(pk=lease.pk).status == "leased"


@pytest.mark.parametrize(
    ("path", "service", "message"),
    [
        ((), services.vendor_reactivate, "Only a suspended vendor can be reactivated"),
        (("suspended",), services.vendor_suspend, "cannot go from suspended to suspended"),
        (("offboarded",), services.vendor_reactivate, "Offboarding is final."),
        (("offboarded",), services.vendor_suspend, "Offboarding is final."),
        (("offboarded",), services.vendor_offboard, "Offboarding is final."),
        (("suspended", "offboarded"), services.vendor_offboard, "Offboarding is final."),
    ],
)
def test_the_transitions_the_lifecycle_does_not_allow_are_409(vendor_a, path, service, message):
    steps = {"suspended": services.vendor_suspend, "offboarded": services.vendor_offboard}
    for status in path:
        steps[status](actor=None, vendor=vendor_a, reason="set-up")
    before = VendorStatusChange.objects.count()
    with pytest.raises(InvalidTransition) as exc:
        service(actor=None, vendor=vendor_a, reason="again")
    assert exc.value.status == 409 and message in exc.value.detail
    assert VendorStatusChange.objects.count() == before


def test_a_stale_copy_cannot_slip_past_the_locked_row(vendor_a):
    stale = Vendor.objects.get(pk=vendor_a.pk)  # read as active
    services.vendor_offboard(actor=None, vendor=vendor_a, reason="contract ended")
    with pytest.raises(InvalidTransition, match="Offboarding is final"):
        services.vendor_suspend(actor=None, vendor=stale, reason="audit")
    assert Vendor.objects.get(pk=vendor_a.pk).status == Vendor.Status.OFFBOARDED


def test_a_failing_receiver_rolls_the_whole_change_back(vendor_a):
    project = make_project(tasks=2, overlap=1)
    lease = claim(make_labeler(vendor=vendor_a), project).assignment

    def boom(sender, **kwargs):
        raise RuntimeError("receiver failed")

    vendor_status_changed.connect(boom, dispatch_uid="test.boom", weak=False)
    try:
        with pytest.raises(RuntimeError):
            services.vendor_suspend(actor=None, vendor=vendor_a, reason="audit")
    finally:
        vendor_status_changed.disconnect(dispatch_uid="test.boom")
    assert Vendor.objects.get(pk=vendor_a.pk).status == Vendor.Status.ACTIVE
    assert not VendorStatusChange.objects.exists()
    assert Assignment.objects.get(pk=lease.pk).status == "leased"


def test_a_suspended_or_offboarded_vendor_takes_no_new_labelers(vendor_a):
    services.vendor_offboard(actor=None, vendor=vendor_a, reason="contract ended")
    with pytest.raises(ValidationError) as exc:
        make_labeler(vendor=vendor_a)
    assert exc.value.message_dict["vendor"] == ["This vendor is offboarded."]


# -- the API --------------------------------------------------------------------------------------


def test_ops_suspend_through_the_api_and_managers_read_it(
    client_for, ops_user, manager_a, vendor_a
):
    response = client_for(ops_user).post(
        f"/api/v1/vendors/{vendor_a.pk}/suspend/", {"reason": "audit"}, format="json"
    )
    assert response.status_code == 200, response.json()
    assert response.json()["status"] == "suspended"
    assert response.json()["status_changed_at"]
    manager = client_for(manager_a)
    assert manager.get(f"/api/v1/vendors/{vendor_a.pk}/").json()["status"] == "suspended"
    [row] = manager.get(f"/api/v1/vendors/{vendor_a.pk}/history/").json()
    assert (row["to_status"], row["reason"], row["actor"], row["leases_ended"]) == (
        "suspended",
        "audit",
        ops_user.username,
        0,
    )
    # A manager reads their vendor's status but may not change it.
    response = manager.post(
        f"/api/v1/vendors/{vendor_a.pk}/reactivate/", {"reason": "please"}, format="json"
    )
    assert response.status_code == 403
    assert Vendor.objects.get(pk=vendor_a.pk).status == Vendor.Status.SUSPENDED


def test_api_bad_input_is_a_field_error_and_a_wrong_transition_409(client_for, ops_user, vendor_a):
    client = client_for(ops_user)
    url = f"/api/v1/vendors/{vendor_a.pk}/suspend/"
    for body in ({}, {"reason": ""}, {"reason": "x", "status": "active"}):
        response = client.post(url, body, format="json")
        assert response.status_code == 400, body
        fields = response.json()["fields"]
        assert ("status" if "status" in body else "reason") in fields
    assert not VendorStatusChange.objects.exists()
    response = client.post(
        f"/api/v1/vendors/{vendor_a.pk}/reactivate/", {"reason": "x"}, format="json"
    )
    assert (response.status_code, response.json()["code"]) == (409, "invalid_transition")


# -- the admin ------------------------------------------------------------------------------------


def test_the_vendor_page_shows_the_buttons_its_status_allows_and_the_history(
    ops_client, ops_user, vendor_a
):
    page = ops_client.get(admin_url(Vendor, "change", vendor_a.pk)).content.decode()
    suspend_url = admin_url(Vendor, "suspend", vendor_a.pk)
    assert suspend_url in page and "Offboard…" in page and "Reactivate…" not in page
    # The button asks for the reason, then suspends and comes back to the vendor's page.
    asked = ops_client.get(suspend_url)
    assert asked.status_code == 200 and "reason" in asked.context["form"].fields
    assert Vendor.objects.get(pk=vendor_a.pk).status == Vendor.Status.ACTIVE
    done = ops_client.post(
        suspend_url,
        {
            "action": "suspend_vendors",
            "_selected_action": [vendor_a.pk],
            "post": "yes",
            "reason": "late invoices",
        },
    )
    assert done.status_code == 302 and done.url == admin_url(Vendor, "change", vendor_a.pk)
    assert Vendor.objects.get(pk=vendor_a.pk).status == Vendor.Status.SUSPENDED
    page = ops_client.get(admin_url(Vendor, "change", vendor_a.pk))
    html = page.content.decode()
    assert "Reactivate…" in html and suspend_url not in html
    assert "late invoices" in html  # the history inline
    form = page.context["adminform"].form
    assert "status" not in form.fields  # read-only: only the services change it


def test_an_offboarded_vendor_has_no_status_buttons(ops_client, vendor_a):
    services.vendor_offboard(actor=None, vendor=vendor_a, reason="contract ended")
    html = ops_client.get(admin_url(Vendor, "change", vendor_a.pk)).content.decode()
    for view in ("suspend", "offboard", "reactivate"):
        assert admin_url(Vendor, view, vendor_a.pk) not in html
    # Asking anyway is refused by the service, said as a message.
    response = ops_client.post(
        admin_url(Vendor, "reactivate", vendor_a.pk),
        {
            "action": "reactivate_vendors",
            "_selected_action": [vendor_a.pk],
            "post": "yes",
            "reason": "try",
        },
        follow=True,
    )
    shown = " ".join(str(m) for m in response.context["messages"])
    assert "Offboarding is final." in shown
