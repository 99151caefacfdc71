"""Projects: creation and update with their validation, and the status workflow (through the
services and over HTTP), including the race of two concurrent status changes on PostgreSQL."""

from __future__ import annotations

from decimal import Decimal

import pytest
from django.core.exceptions import ValidationError

from assignments import services
from assignments.models import Project, ProjectStatusChange, Task
from config.errors import Conflict, InvalidTransition
from tests.assignments.factories import make_project
from tests.conftest import requires_postgres
from tests.factories import race
from tests.qc.factories import make_gold_set
from workforce.models import QualificationType

pytestmark = pytest.mark.django_db

S = Project.Status


def create(**overrides) -> Project:
    values = {
        "actor": None,
        "slug": "poles",
        "name": "Pole inspection",
        "answer_type": "single_choice",
        "classes": ["ok", "crack", "rust"],
        **overrides,
    }
    return services.project_create(**values)


# -- create ----------------------------------------------------------------------------------------


def test_create_a_draft_with_everything(ops_user):
    qtype = QualificationType.objects.create(slug="poles-q", name="Poles")
    gs = make_gold_set(slug="g", items=3)
    project = create(
        actor=ops_user,
        objective="Find cracked poles.",
        overlap=3,
        control_ratio="0.1",
        control_gold_set=gs,
        lease_seconds=120,
        required_qualifications=["poles-q"],
        priority=7,
    )
    project.refresh_from_db()
    assert project.status == S.DRAFT
    assert (project.overlap, project.max_overlap) == (3, 4)  # max defaults to k + 1
    assert project.control_ratio == Decimal("0.100")
    assert list(project.required_qualifications.all()) == [qtype]
    assert (project.created_by, project.priority, project.lease_seconds) == (ops_user, 7, 120)
    # Nothing is served from a draft: control tasks are made on activation.
    assert not Task.objects.filter(project=project).exists()


@pytest.mark.parametrize(
    ("overrides", "field", "message"),
    [
        ({"classes": []}, "classes", "non-empty list"),
        ({"classes": ["ok", "ok"]}, "classes", "listed twice"),
        ({"classes": ["x" * 101]}, "classes", "at most 100"),
        ({"classes": [" ok"]}, "classes", "spaces"),
        ({"classes": ["ok", 3]}, "classes", "non-empty string"),
        ({"answer_type": "free_text"}, "answer_type", "Must be one of"),
        ({"overlap": 0}, "overlap", "between 1 and"),
        ({"overlap": 3, "max_overlap": 2}, "max_overlap", "at least the overlap"),
        ({"control_ratio": "0.6"}, "control_ratio", "between 0 and 0.5"),
        ({"control_ratio": "0.1"}, "control_gold_set", "needs a gold set"),
        ({"lease_seconds": 29}, "lease_seconds", "between 30"),
        ({"required_qualifications": ["nope"]}, "required_qualifications", "Unknown"),
        ({"slug": "not a slug"}, "slug", "letters, digits"),
        ({"name": "  "}, "name", "required"),
        ({"iou_threshold": "1.5"}, "iou_threshold", "at most 1"),
        ({"priority": True}, "priority", "whole number"),
    ],
)
def test_create_rejects(overrides, field, message):
    with pytest.raises(ValidationError) as exc:
        create(**overrides)
    assert field in exc.value.message_dict, exc.value.message_dict
    assert message in " ".join(exc.value.message_dict[field])
    assert not Project.objects.exists()


def test_control_gold_set_must_match_the_schema():
    boxes = make_gold_set(answer_type="boxes", slug="b", items=3)
    with pytest.raises(ValidationError) as exc:
        create(control_ratio="0.2", control_gold_set=boxes)
    assert "answer type" in exc.value.message_dict["control_gold_set"][0]
    other = make_gold_set(classes=["ok", "crack"], slug="o", items=3)
    with pytest.raises(ValidationError) as exc:
        create(control_ratio="0.2", control_gold_set=other)
    assert "classes" in exc.value.message_dict["control_gold_set"][0]
    # The order of the classes does not matter.
    same = make_gold_set(classes=["rust", "ok", "crack"], slug="s", items=3)
    assert create(control_ratio="0.2", control_gold_set=same).control_gold_set == same


def test_taken_slug():
    create()
    with pytest.raises(ValidationError) as exc:
        create(name="Another")
    assert exc.value.message_dict == {"slug": ["A project with this slug exists."]}


# -- update ----------------------------------------------------------------------------------------


def test_update_a_draft_including_its_schema():
    project = create()
    QualificationType.objects.create(slug="q1", name="Q1")
    project = services.project_update(
        actor=None,
        project=project,
        data={
            "name": "Poles v2",
            "answer_type": "multiple_choice",
            "classes": ["a", "b"],
            "overlap": 3,
            "max_overlap": 5,
            "required_qualifications": ["q1"],
        },
    )
    project.refresh_from_db()
    assert (project.name, project.answer_type, project.classes) == (
        "Poles v2",
        "multiple_choice",
        ["a", "b"],
    )
    assert (project.overlap, project.max_overlap) == (3, 5)
    assert [q.slug for q in project.required_qualifications.all()] == ["q1"]


def test_update_checks_the_project_as_it_will_be():
    project = create(overlap=2, max_overlap=3)
    with pytest.raises(ValidationError) as exc:
        services.project_update(actor=None, project=project, data={"overlap": 4})
    assert "max_overlap" in exc.value.message_dict
    with pytest.raises(ValidationError) as exc:
        services.project_update(actor=None, project=project, data={"status": "active", "x": 1})
    assert set(exc.value.message_dict) == {"status", "x"}
    project.refresh_from_db()
    assert (project.overlap, project.status) == (2, S.DRAFT)


def test_schema_and_overlap_are_fixed_once_active():
    project = create()
    services.project_set_status(actor=None, project=project, status=S.ACTIVE)
    with pytest.raises(ValidationError) as exc:
        services.project_update(
            actor=None,
            project=project,
            data={"classes": ["ok", "crack"], "overlap": 3, "answer_type": "single_choice"},
        )
    assert set(exc.value.message_dict) == {"classes", "overlap"}  # an unchanged value is fine
    services.project_update(
        actor=None, project=project, data={"max_overlap": 4, "lease_seconds": 60}
    )
    project.refresh_from_db()
    assert (project.max_overlap, project.lease_seconds) == (4, 60)


def test_a_done_project_does_not_change():
    project = create()
    services.project_set_status(actor=None, project=project, status=S.DONE)
    with pytest.raises(Conflict) as exc:
        services.project_update(actor=None, project=project, data={"name": "x"})
    assert exc.value.code == "project_done"


def test_giving_an_active_project_a_control_set_makes_its_control_tasks():
    project = create()
    services.project_set_status(actor=None, project=project, status=S.ACTIVE)
    gs = make_gold_set(slug="g", items=4)
    services.project_update(
        actor=None, project=project, data={"control_gold_set": gs, "control_ratio": "0.25"}
    )
    controls = Task.objects.filter(project=project, gold_item__isnull=False)
    assert controls.count() == 4
    assert not controls.filter(is_open=True).exists()


# -- status ----------------------------------------------------------------------------------------


def test_the_workflow():
    project = create()
    for status in (S.ACTIVE, S.PAUSED, S.ACTIVE, S.PAUSED, S.DONE):
        services.project_set_status(actor=None, project=project, status=status)
        assert Project.objects.get(pk=project.pk).status == status == project.status


@pytest.mark.parametrize("start", [S.DRAFT, S.ACTIVE, S.PAUSED])
def test_any_unfinished_project_can_be_finished(start):
    project = make_project(tasks=0, status=start)
    services.project_set_status(actor=None, project=project, status=S.DONE)
    assert Project.objects.get(pk=project.pk).status == S.DONE


@pytest.mark.parametrize(
    ("start", "to"),
    [
        (S.DRAFT, S.PAUSED),
        (S.DONE, S.ACTIVE),
        (S.DONE, S.PAUSED),
        (S.DONE, S.DONE),
        (S.ACTIVE, S.ACTIVE),
        (S.PAUSED, S.PAUSED),
    ],
)
def test_moves_the_workflow_refuses(start, to):
    project = make_project(tasks=0, status=start)
    with pytest.raises(InvalidTransition) as exc:
        services.project_set_status(actor=None, project=project, status=to)
    assert exc.value.status == 409 and exc.value.code == "invalid_transition"
    assert Project.objects.get(pk=project.pk).status == start


def test_resume_is_only_from_paused_and_unknown_status_is_invalid():
    project = create()
    with pytest.raises(InvalidTransition):
        services.project_set_status(
            actor=None, project=project, status=S.ACTIVE, from_statuses={S.PAUSED}
        )
    with pytest.raises(ValidationError):
        services.project_set_status(actor=None, project=project, status="archived")


def test_activation_makes_control_tasks_once():
    gs = make_gold_set(slug="g", items=5)
    project = create(control_ratio="0.2", control_gold_set=gs)
    services.project_set_status(actor=None, project=project, status=S.ACTIVE)
    services.project_set_status(actor=None, project=project, status=S.PAUSED)
    services.project_set_status(actor=None, project=project, status=S.ACTIVE)
    assert Task.objects.filter(project=project, gold_item__isnull=False).count() == 5


def test_the_status_is_read_from_the_database_not_the_callers_copy():
    project = create()
    stale = Project.objects.get(pk=project.pk)
    services.project_set_status(actor=None, project=project, status=S.ACTIVE)
    # The stale copy still says draft; activating "again" is refused, not re-applied.
    with pytest.raises(InvalidTransition):
        services.project_set_status(actor=None, project=stale, status=S.ACTIVE)


@requires_postgres
@pytest.mark.django_db(transaction=True)
def test_two_concurrent_pauses_one_wins():
    project = make_project(tasks=0, slug="race-status")

    def pause(_):
        services.project_set_status(actor=None, project=project, status=S.PAUSED)
        return "paused"

    results = race(2, pause)
    outcomes = ["refused" if isinstance(r, InvalidTransition) else r for r in results]
    assert sorted(outcomes, key=str) == ["paused", "refused"], results


# -- over HTTP -------------------------------------------------------------------------------------


def test_status_commands_over_http(client_for, ops_user):
    project = create()
    api = client_for(ops_user)
    base = f"/api/v1/projects/{project.pk}/"
    response = api.post(base + "resume/")
    assert response.status_code == 409 and response.json()["code"] == "invalid_transition"
    response = api.post(base + "activate/")
    assert response.status_code == 200 and response.json()["status"] == "active"
    assert api.post(base + "pause/").json()["status"] == "paused"
    assert api.post(base + "resume/").json()["status"] == "active"
    body = api.post(base + "finish/").json()
    assert body["status"] == "done" and body["slug"] == "poles"
    assert set(body) >= {"max_overlap", "control_ratio", "required_qualifications", "guide"}
    response = api.post(base + "pause/")
    assert response.status_code == 409
    assert set(response.json()) == {"detail", "code", "fields"}


# -- create and update over HTTP --------------------------


def test_create_over_http(client_for, ops_user):
    QualificationType.objects.create(slug="q1", name="Q1")
    gs = make_gold_set(slug="pole-gold", items=3)
    api = client_for(ops_user)
    response = api.post(
        "/api/v1/projects/",
        {
            "slug": "towers",
            "name": "Towers",
            "answer_type": "single_choice",
            "classes": ["ok", "crack", "rust"],
            "overlap": 3,
            "control_ratio": "0.1",
            "control_gold_set": "pole-gold",
            "required_qualifications": ["q1"],
        },
        format="json",
    )
    assert response.status_code == 201, response.content
    body = response.json()
    assert (body["status"], body["overlap"], body["max_overlap"]) == ("draft", 3, 4)
    assert (body["control_gold_set"], body["required_qualifications"]) == (gs.slug, ["q1"])
    response = api.post(
        "/api/v1/projects/",
        {"slug": "x", "name": "X", "answer_type": "boxes", "classes": ["a"], "state": "active"},
        format="json",
    )
    assert response.status_code == 400 and "state" in response.json()["fields"]
    response = api.post(
        "/api/v1/projects/",
        {"slug": "towers", "name": "X", "answer_type": "boxes", "classes": ["a"], "overlap": 0},
        format="json",
    )
    assert response.status_code == 400
    assert set(response.json()["fields"]) == {"slug", "overlap"}


def test_update_over_http(client_for, ops_user):
    project = create()
    api = client_for(ops_user)
    url = f"/api/v1/projects/{project.pk}/"
    response = api.patch(url, {"name": "Poles 2", "lease_seconds": 60}, format="json")
    assert response.status_code == 200, response.content
    assert (response.json()["name"], response.json()["lease_seconds"]) == ("Poles 2", 60)
    response = api.patch(url, {"status": "active"}, format="json")
    assert response.status_code == 400 and "status" in response.json()["fields"]
    services.project_set_status(actor=None, project=project, status=S.ACTIVE)
    response = api.patch(url, {"overlap": 4, "max_overlap": 5}, format="json")
    assert response.status_code == 400 and set(response.json()["fields"]) == {"overlap"}


# -- status history --------------------------------------------------------------------------------


def history(project) -> list[tuple]:
    return list(
        ProjectStatusChange.objects.filter(project=project)
        .order_by("id")
        .values_list("from_status", "to_status", "actor", "reason")
    )


def test_each_transition_writes_one_history_row_with_actor_and_reason(ops_user):
    project = create()
    moves = [
        (S.ACTIVE, None, "go"),
        (S.PAUSED, None, "  gold set under review "),
        (S.ACTIVE, {S.PAUSED}, ""),
        (S.DONE, None, "delivered"),
    ]
    for status, from_statuses, reason in moves:
        services.project_set_status(
            actor=ops_user,
            project=project,
            status=status,
            from_statuses=from_statuses,
            reason=reason,
        )
    assert history(project) == [
        (S.DRAFT, S.ACTIVE, ops_user.pk, "go"),
        (S.ACTIVE, S.PAUSED, ops_user.pk, "gold set under review"),
        (S.PAUSED, S.ACTIVE, ops_user.pk, ""),
        (S.ACTIVE, S.DONE, ops_user.pk, "delivered"),
    ]
    changes = ProjectStatusChange.objects.filter(project=project).order_by("id")
    assert all(c.at is not None for c in changes)
    assert changes.last().at == Project.objects.get(pk=project.pk).updated_at


@pytest.mark.parametrize(
    ("start", "to", "from_statuses"),
    [
        (S.DRAFT, S.PAUSED, None),
        (S.DRAFT, S.ACTIVE, {S.PAUSED}),  # resume a draft
        (S.ACTIVE, S.ACTIVE, None),
        (S.DONE, S.ACTIVE, None),
    ],
)
def test_an_illegal_transition_writes_no_history(start, to, from_statuses):
    project = make_project(tasks=0, status=start)
    with pytest.raises(InvalidTransition):
        services.project_set_status(
            actor=None, project=project, status=to, from_statuses=from_statuses, reason="x"
        )
    assert history(project) == []
    assert Project.objects.get(pk=project.pk).status == start


def test_bad_status_or_reason_is_a_field_error_and_writes_nothing():
    project = create()
    with pytest.raises(ValidationError) as exc:
        services.project_set_status(actor=None, project=project, status="archived", reason=7)
    assert set(exc.value.message_dict) == {"status", "reason"}
    with pytest.raises(ValidationError) as exc:
        services.project_set_status(actor=None, project=project, status=S.ACTIVE, reason="x" * 2001)
    assert set(exc.value.message_dict) == {"reason"}
    assert history(project) == [] and Project.objects.get(pk=project.pk).status == S.DRAFT


def test_status_commands_take_a_reason_and_list_the_history_over_http(client_for, ops_user):
    project = create()
    api = client_for(ops_user)
    base = f"/api/v1/projects/{project.pk}/"
    response = api.post(base + "activate/", {"reason": "kick-off"}, format="json")
    assert response.status_code == 200 and response.json()["status"] == "active"
    assert api.post(base + "pause/").status_code == 200  # no body: no reason
    response = api.post(base + "resume/", {"reason": "x" * 2001}, format="json")
    assert response.status_code == 400 and set(response.json()["fields"]) == {"reason"}
    response = api.post(base + "resume/", {"reason": "ok", "status": "done"}, format="json")
    assert response.status_code == 400 and set(response.json()["fields"]) == {"status"}
    assert Project.objects.get(pk=project.pk).status == S.PAUSED
    rows = api.get(base + "status-changes/").json()["results"]
    assert [(r["from_status"], r["to_status"], r["actor"], r["reason"]) for r in rows] == [
        ("active", "paused", ops_user.username, ""),
        ("draft", "active", ops_user.username, "kick-off"),
    ]


def test_status_history_is_ops_only_over_http(client_for, vendor_labeler, manager_a):
    project = make_project(tasks=0)
    for user in (vendor_labeler.user, manager_a):
        response = client_for(user).get(f"/api/v1/projects/{project.pk}/status-changes/")
        assert response.status_code == 403


# -- pre-labels for labelers -----------------------------------------------------------------------


def test_show_prelabels_is_a_project_setting(client_for, ops_user):
    project = create()
    assert project.show_prelabels is False
    assert create(slug="shown", show_prelabels=True).show_prelabels is True
    with pytest.raises(ValidationError) as exc:
        create(slug="bad", show_prelabels="yes")
    assert set(exc.value.message_dict) == {"show_prelabels"}
    api = client_for(ops_user)
    url = f"/api/v1/projects/{project.pk}/"
    response = api.patch(url, {"show_prelabels": True}, format="json")
    assert response.status_code == 200 and response.json()["show_prelabels"] is True
    response = api.patch(url, {"show_prelabels": "maybe"}, format="json")
    assert response.status_code == 400 and set(response.json()["fields"]) == {"show_prelabels"}


# -- stale leases of some projects -----------------------------------------------------------------


def test_project_leases_expire_touches_only_the_given_projects():
    from django.utils import timezone

    from assignments.models import Assignment
    from tests.factories import make_labeler

    mine, other = make_project(tasks=2, slug="mine"), make_project(tasks=2, slug="other")
    labeler = make_labeler()
    leases = {
        p.slug: services.assignment_claim_next(labeler=labeler, project_id=p.pk).assignment
        for p in (mine, other)
    }
    later = timezone.now() + timezone.timedelta(hours=1)
    assert services.project_leases_expire(projects=[mine], now=later) == 1
    assert Assignment.objects.get(pk=leases["mine"].pk).status == "expired"
    assert Assignment.objects.get(pk=leases["other"].pk).status == "leased"
    assert services.project_leases_expire(projects=[mine.pk], now=later) == 0  # idempotent
    assert services.project_leases_expire(projects=[], now=later) == 0
    # A lease still live is never touched.
    assert services.project_leases_expire(projects=[other]) == 0
