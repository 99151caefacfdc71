"""The control set check (docs/next-task.md, "Control tasks that look like real ones"): control
payloads compared with the real tasks' when a control gold set is attached, when gold or tasks
are imported and on activation; activation refused while they differ unless ops override with a
reason; warnings when a quiz that shows answers draws from the control set."""

from __future__ import annotations

import json
from decimal import Decimal

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.urls import reverse

from assignments import services
from assignments.models import Project, Task
from assignments.selectors import control_set as control_selectors
from assignments.services import control_set as control_services
from config.errors import Conflict
from qc.models import GoldItem, GoldSet, Quiz
from qc.services import gold as gold_services
from tests.qc.factories import demo_gold_payload
from tests.qc.quiz_factories import make_quiz

pytestmark = pytest.mark.django_db

S = Project.Status
CLASSES = ["ok", "crack", "rust"]


def real_rows(first: int, last: int, **metadata) -> str:
    return "\n".join(
        json.dumps(
            {
                "external_id": f"NORTH-{n:04d}",
                "image_url": f"https://demo.example/north/{n:04d}.jpg",
                "metadata": {"pole_id": f"N-{7000 + n}", "flight": f"F{1 + n // 30}", **metadata},
            }
        )
        for n in range(first, last + 1)
    )


def matching_payload(n: int) -> dict:
    return {
        "image_url": f"https://demo.example/north/{9000 + n:04d}.jpg",
        "metadata": {"pole_id": f"N-{9000 + n}", "flight": "F3"},
    }


def make_gold(slug: str, payload=demo_gold_payload, n: int = 8) -> GoldSet:
    gold_set = GoldSet.objects.create(
        slug=slug, name=slug, answer_type="single_choice", classes=CLASSES
    )
    for i in range(1, n + 1):
        GoldItem.objects.create(
            gold_set=gold_set,
            external_id=f"{slug}-{i:03d}",
            payload=payload(i),
            accepted_answers=["ok"],
            stratum="ok",
        )
    return gold_set


def make_control_project(gold_set: GoldSet | None, *, tasks: int = 20, ratio="0.25") -> Project:
    project = services.project_create(
        actor=None,
        slug="poles-north",
        name="Poles north",
        answer_type="single_choice",
        classes=CLASSES,
        control_ratio=Decimal(ratio) if gold_set is not None else Decimal(0),
        control_gold_set=gold_set,
    )
    if tasks:
        services.tasks_import(
            actor=None, project=project, data=real_rows(1, tasks), file_format="jsonl"
        )
    return project


def activate(project: Project, actor=None) -> Project:
    return services.project_set_status(actor=actor, project=project, status=S.ACTIVE)


# -- activation ------------------------------------------------------------------------------------


def test_activation_is_refused_while_control_tasks_look_different():
    project = make_control_project(make_gold("pole-gold"))
    with pytest.raises(Conflict) as exc:
        activate(project)
    assert exc.value.code == "control_tasks_differ"
    fields = exc.value.fields
    assert set(fields) == {"extra_key", "url_shape"}
    assert len(fields["extra_key"]) == 5  # material, region, captured_at, altitude_m, view
    assert any(
        m.startswith("metadata.view: present in 8 of 8 control items") for m in fields["extra_key"]
    )
    assert fields["url_shape"] == [
        "image_url: https://demo.example/poles/###.jpg in 8 of 8 control items; real tasks have "
        "https://demo.example/north/####.jpg."
    ]
    project.refresh_from_db()
    assert project.status == S.DRAFT
    assert not Task.objects.filter(project=project, gold_item__isnull=False).exists()
    # The refused activation's check is kept on the project for the admin and the API.
    assert project.control_check["controls_differing"] == 8
    assert project.control_checked_at is not None


def test_activation_goes_ahead_when_control_tasks_look_like_real_ones():
    project = activate(make_control_project(make_gold("pole-gold", matching_payload)))
    assert project.status == S.ACTIVE
    assert Task.objects.filter(project=project, gold_item__isnull=False).count() == 8
    project.refresh_from_db()
    assert project.control_check["ok"] and project.control_check["real_sampled"] == 20


def test_without_control_tasks_nothing_is_refused():
    # A control set attached with a ratio of 0 serves nothing: checked, reported, not gated.
    gold_set = make_gold("pole-gold")
    project = make_control_project(None)
    services.project_update(actor=None, project=project, data={"control_gold_set": gold_set})
    assert activate(project).status == S.ACTIVE
    project.refresh_from_db()
    assert project.control_check["controls_differing"] == 8


def test_nothing_to_compare_before_the_first_real_task():
    project = make_control_project(make_gold("pole-gold"), tasks=0)
    assert activate(project).status == S.ACTIVE
    project.refresh_from_db()
    assert project.control_check["compared"] is False


def test_giving_an_active_project_differing_controls_is_refused():
    project = activate(make_control_project(None))
    with pytest.raises(Conflict) as exc:
        services.project_update(
            actor=None,
            project=project,
            data={"control_gold_set": make_gold("pole-gold"), "control_ratio": "0.2"},
        )
    assert exc.value.code == "control_tasks_differ" and "url_shape" in exc.value.fields
    project.refresh_from_db()
    assert project.control_gold_set_id is None and project.control_ratio == 0
    assert not Task.objects.filter(project=project, gold_item__isnull=False).exists()


# -- the override ----------------------------------------------------------------------------------


def test_an_override_with_a_reason_lets_activation_through(ops_user):
    project = make_control_project(make_gold("pole-gold"))
    with pytest.raises(Exception) as exc:
        control_services.project_control_override(actor=ops_user, project=project, reason="  ")
    assert "reason" in exc.value.message_dict
    control_services.project_control_override(
        actor=ops_user, project=project, reason="Labelers never see URLs in this tool."
    )
    project.refresh_from_db()
    assert project.control_override_by == ops_user and project.control_override_at is not None
    assert project.control_override_accepts["gold_set"] == project.control_gold_set_id
    assert activate(project, ops_user).status == S.ACTIVE
    # More items differing in the same ways do not withdraw it.
    GoldItem.objects.create(
        gold_set=project.control_gold_set,
        external_id="more",
        payload=demo_gold_payload(77),
        accepted_answers=["ok"],
        stratum="ok",
    )
    check = control_services.project_control_check(actor=ops_user, project=project)
    assert check.overridden and not check.override_dropped


def test_nothing_to_override_when_the_controls_match(ops_user):
    project = make_control_project(make_gold("pole-gold", matching_payload))
    with pytest.raises(Conflict) as exc:
        control_services.project_control_override(actor=ops_user, project=project, reason="x")
    assert exc.value.code == "nothing_to_override"


def test_changing_the_control_set_withdraws_the_override(ops_user):
    project = make_control_project(make_gold("pole-gold"))
    control_services.project_control_override(actor=ops_user, project=project, reason="ok")
    services.project_update(
        actor=ops_user, project=project, data={"control_gold_set": make_gold("other-gold")}
    )
    project.refresh_from_db()
    assert project.control_override_at is None and project.control_override_reason == ""
    with pytest.raises(Conflict):
        activate(project)


def test_a_gold_import_with_new_differences_withdraws_the_override(client_for, ops_user):
    gold_set = make_gold("pole-gold")
    project = make_control_project(gold_set)
    control_services.project_control_override(actor=ops_user, project=project, reason="ok")
    row = {
        "external_id": "NEW-1",
        "image_url": "https://demo.example/poles/001.jpg",
        "metadata": {**demo_gold_payload(1)["metadata"], "camera": "DJI"},
        "accepted_answers": ["ok"],
    }
    response = client_for(ops_user).post(
        f"/api/v1/gold-sets/{gold_set.pk}/import/?format=jsonl",
        json.dumps(row),
        content_type="application/x-ndjson",
    )
    assert response.status_code == 201, response.content
    (check,) = response.json()["control_checks"]
    assert check["project"] == project.pk and check["ok"] is False
    differences = {(d["kind"], d["path"], d["items"]) for d in check["check"]["differences"]}
    assert ("extra_key", "metadata.camera", 1) in differences
    assert [w["code"] for w in check["warnings"]] == ["control_tasks_differ"]
    project.refresh_from_db()
    assert project.control_override_at is None


def test_a_task_import_reports_the_check_and_warns_an_active_project(client_for, ops_user):
    project = activate(make_control_project(make_gold("pole-gold"), tasks=0))
    response = client_for(ops_user).post(
        f"/api/v1/projects/{project.pk}/batches/?format=jsonl",
        real_rows(1, 5),
        content_type="application/x-ndjson",
    )
    assert response.status_code == 201, response.content
    check = response.json()["control_check"]
    assert check["compared"] and not check["ok"] and check["controls_differing"] == 8
    assert {d["kind"] for d in check["differences"]} == {"extra_key", "url_shape"}
    body = client_for(ops_user).get(f"/api/v1/projects/{project.pk}/").json()
    (warning,) = body["warnings"]
    assert (
        warning["code"] == "control_tasks_differ" and "The project is active" in warning["message"]
    )


# -- over HTTP -------------------------------------------------------------------------------------


def test_activation_over_http_is_a_409_with_the_differences(client_for, ops_user):
    project = make_control_project(make_gold("pole-gold"))
    api = client_for(ops_user)
    response = api.post(f"/api/v1/projects/{project.pk}/activate/")
    assert response.status_code == 409
    body = response.json()
    assert body["code"] == "control_tasks_differ"
    assert set(body["fields"]) == {"extra_key", "url_shape"}
    response = api.post(
        f"/api/v1/projects/{project.pk}/control-check/override/",
        {"reason": "Trial run; URLs are hidden by the labeling tool."},
        format="json",
    )
    assert response.status_code == 200, response.content
    override = response.json()["control_override"]
    assert override["by"] == ops_user.username and override["reason"].startswith("Trial run")
    assert response.json()["control_check"]["overridden"] is True
    response = api.post(f"/api/v1/projects/{project.pk}/activate/")
    assert response.status_code == 200
    assert response.json()["control_override"]["reason"].startswith("Trial run")
    assert response.json()["warnings"] == []
    response = api.delete(f"/api/v1/projects/{project.pk}/control-check/override/")
    assert response.status_code == 200 and response.json()["control_override"] is None
    assert response.json()["warnings"][0]["code"] == "control_tasks_differ"


def test_attaching_a_set_over_http_reports_the_differences(client_for, ops_user):
    make_gold("pole-gold")
    project = make_control_project(None)
    response = client_for(ops_user).patch(
        f"/api/v1/projects/{project.pk}/",
        {"control_gold_set": "pole-gold", "control_ratio": "0.2"},
        format="json",
    )
    assert response.status_code == 200, response.content
    body = response.json()
    check = body["control_check"]
    assert (check["real_sampled"], check["controls_checked"], check["controls_differing"]) == (
        20,
        8,
        8,
    )
    url = next(d for d in check["differences"] if d["kind"] == "url_shape")
    assert url["control"] == "https://demo.example/poles/###.jpg"
    assert url["real"] == ["https://demo.example/north/####.jpg"]
    assert url["examples"] == [f"pole-gold-{i:03d}" for i in range(1, 6)]
    assert [w["code"] for w in body["warnings"]] == ["control_tasks_differ"]


def test_control_check_routes_are_ops_only(client_for, ops_user, internal_labeler, manager_a):
    project = make_control_project(make_gold("pole-gold"))
    url = f"/api/v1/projects/{project.pk}/control-check/"
    for user in (internal_labeler.user, manager_a):
        assert client_for(user).get(url).status_code == 403
        assert client_for(user).post(url + "override/", {"reason": "x"}).status_code == 403
    api = client_for(ops_user)
    assert api.get(url).json()["control_check"]["controls_differing"] == 8
    assert api.post(url).status_code == 200
    bad = api.post(url + "override/", {}, format="json")
    assert bad.status_code == 400 and "reason" in bad.json()["fields"]


# -- quizzes that show answers ---------------------------------------------------------------------


def test_a_control_set_a_training_quiz_teaches_is_warned_about(client_for, ops_user):
    gold_set = make_gold("pole-gold", matching_payload)
    project = make_control_project(gold_set)
    api = client_for(ops_user)
    assert api.get(f"/api/v1/projects/{project.pk}/").json()["warnings"] == []
    make_quiz(gold_set, kind=Quiz.Kind.QUALIFICATION, num_questions=3, title="Pole exam")
    assert api.get(f"/api/v1/projects/{project.pk}/").json()["warnings"] == []
    make_quiz(gold_set, kind=Quiz.Kind.TRAINING, num_questions=3, title="Pole practice")
    (warning,) = api.get(f"/api/v1/projects/{project.pk}/").json()["warnings"]
    assert warning["code"] == "control_set_shows_answers"
    assert "Pole practice" in warning["message"] and "Pole exam" not in warning["message"]
    # A warning, not a refusal: ops may keep it knowingly.
    assert activate(project).status == S.ACTIVE


def test_the_warnings_of_a_page_of_projects_cost_one_query(django_assert_num_queries):
    from django.urls import get_resolver

    assert get_resolver().url_patterns  # the API's id converter is registered with the URLs
    from assignments.api.projects import OPS_PREFETCH, ProjectOpsOut

    gold_set = make_gold("pole-gold", matching_payload)
    make_quiz(gold_set, kind=Quiz.Kind.TRAINING, num_questions=3)
    for i in range(5):
        services.project_create(
            actor=None,
            slug=f"p{i}",
            name=f"P{i}",
            answer_type="single_choice",
            classes=CLASSES,
            control_ratio=Decimal("0.1"),
            control_gold_set=gold_set,
        )
    # As the list view loads them (its relations prefetched).
    projects = list(
        Project.objects.select_related("guide", "control_gold_set").prefetch_related(*OPS_PREFETCH)
    )
    with django_assert_num_queries(1):
        rows = ProjectOpsOut(projects, many=True).data
    assert all(
        [w["code"] for w in row["warnings"]] == ["control_set_shows_answers"] for row in rows
    )


# -- bounded work ----------------------------------------------------------------------------------


def test_the_check_reads_a_bounded_sample_in_four_queries(django_assert_num_queries, monkeypatch):
    project = make_control_project(make_gold("pole-gold", matching_payload), tasks=30)
    first = Task.objects.filter(project=project).order_by("id").first()
    last = Task.objects.filter(project=project).order_by("id").last()
    monkeypatch.setattr(control_selectors, "REAL_SAMPLE", 4)
    sample = control_selectors.real_payload_sample(project_id=project.pk, n=4)
    assert len(sample) == 4 and first.payload in sample and last.payload in sample
    with django_assert_num_queries(4):
        report = control_selectors.control_set_report(project=project)
    assert report.ok and report.controls_checked == 8


# -- the admin -------------------------------------------------------------------------------------


def test_admin_project_page_shows_the_check_and_ops_can_override(client, ops_user):
    gold_set = make_gold("pole-gold")
    make_quiz(gold_set, kind=Quiz.Kind.TRAINING, num_questions=3, title="Pole practice")
    project = make_control_project(gold_set)
    client.force_login(ops_user)
    change = reverse("admin:assignments_project_change", args=[project.pk])
    page = client.get(change).content.decode()
    assert "control tasks against real ones" in page.lower()
    assert "8 of 8 control items differ" in page
    assert "metadata.view" in page and "https://demo.example/poles/###.jpg" in page
    assert "Pole practice" in page  # the answer-showing quiz warning

    changelist = reverse("admin:assignments_project_changelist")
    response = client.post(
        changelist, {"action": "activate", "_selected_action": [project.pk]}, follow=True
    )
    assert "do not look like the project" in response.content.decode()
    project.refresh_from_db()
    assert project.status == S.DRAFT

    response = client.post(
        changelist,
        {
            "action": "override_control_check",
            "_selected_action": [project.pk],
            "reason": "Known difference, accepted for the pilot.",
            "post": "yes",
        },
        follow=True,
    )
    assert response.status_code == 200
    project.refresh_from_db()
    assert project.control_override_reason == "Known difference, accepted for the pilot."
    page = client.get(change).content.decode()
    assert "Known difference, accepted for the pilot." in page and ops_user.username in page
    assert activate(project).status == S.ACTIVE


def test_admin_gold_set_page_warns_and_its_import_reports(client, ops_user):
    gold_set = make_gold("pole-gold", matching_payload)
    make_quiz(gold_set, kind=Quiz.Kind.TRAINING, num_questions=3, title="Pole practice")
    make_control_project(gold_set)
    client.force_login(ops_user)
    page = client.get(reverse("admin:qc_goldset_change", args=[gold_set.pk])).content.decode()
    assert "Poles north" in page and "Pole practice" in page
    assert "control_set_shows_answers" not in page  # messages, not codes
    row = {
        "external_id": "NEW-1",
        "image_url": "https://demo.example/poles/001.jpg",
        "metadata": {"pole_id": "PL-1", "flight": "F1"},
        "accepted_answers": ["ok"],
    }
    response = client.post(
        reverse("admin:qc_goldset_import", args=[gold_set.pk]),
        {
            "file": SimpleUploadedFile("g.jsonl", json.dumps(row).encode()),
            "format": "jsonl",
        },
        follow=True,
    )
    text = response.content.decode()
    assert "Imported g.jsonl" in text
    assert "Poles north: 1 of 9 control items differ" in text


def test_gold_services_alone_know_nothing_of_projects():
    """qc stays below assignments: the gold import itself writes no project."""
    gold_set = make_gold("pole-gold")
    project = make_control_project(gold_set)
    before = Project.objects.get(pk=project.pk).control_checked_at
    gold_services.gold_import(
        actor=None,
        gold_set=gold_set,
        data=json.dumps(
            {
                "external_id": "x",
                "image_url": "https://demo.example/north/0001.jpg",
                "accepted_answers": ["ok"],
            }
        ),
        file_format="jsonl",
    )
    assert Project.objects.get(pk=project.pk).control_checked_at == before
