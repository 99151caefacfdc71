"""The admin of work: every page renders for an operations manager; the project list's progress
columns come from the page's own query (pinned: 2 and 10 projects cost the same); the status
actions, the stale-lease action and the task import go through the services; tasks are
read-only but for their priority; batches and assignments are read-only."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.contrib import admin
from django.contrib.messages import get_messages
from django.core.files.uploadedfile import SimpleUploadedFile
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from assignments import services
from assignments.models import (
    Assignment,
    Batch,
    Project,
    ProjectRefit,
    ProjectStatusChange,
    Review,
    Task,
)
from assignments.services.review import assignment_flag
from tests.assignments.factories import (
    assignments_admin_samples,
    do_import,
    jsonl,
    make_project,
    project_form,
    task_row,
)
from tests.factories import admin_url, make_labeler
from workforce.models import QualificationType

pytestmark = pytest.mark.django_db

MODELS = (Project, Batch, Task, Assignment, Review, ProjectRefit)
S = Project.Status


def _messages(response) -> list[str]:
    return [str(m) for m in get_messages(response.wsgi_request)]


@pytest.fixture
def samples(ops_user, vendor_labeler):
    return assignments_admin_samples(actor=ops_user, labeler=vendor_labeler)


# -- every page renders ----------------------------------------------------------------------------


def test_our_models_are_registered():
    assert set(MODELS) <= set(admin.site._registry)


@pytest.mark.parametrize("model", MODELS, ids=lambda m: m.__name__)
def test_pages_render_for_ops_manager(model, ops_client, ops_user, samples):
    assert not ops_user.is_superuser
    for params in ({}, {"q": "a"}):
        response = ops_client.get(admin_url(model, "changelist"), params)
        assert response.status_code == 200, f"{model.__name__} changelist {params}"
    obj = model.objects.order_by("pk").first()
    assert ops_client.get(admin_url(model, "change", obj.pk)).status_code == 200
    add = ops_client.get(admin_url(model, "add"))
    assert add.status_code == (200 if model is Project else 403)


def test_project_page_shows_its_status_history_read_only(ops_client, samples):
    response = ops_client.get(admin_url(Project, "change", samples["project"].pk))
    (formset,) = response.context["inline_admin_formsets"]
    assert formset.opts.model is ProjectStatusChange
    assert not (formset.has_add_permission or formset.has_change_permission)
    assert not formset.has_delete_permission
    text = response.content.decode()
    assert "sample" in text and "Paused" in text
    # A project being added has no history inline.
    assert not ops_client.get(admin_url(Project, "add")).context["inline_admin_formsets"]


def test_review_list_costs_the_same_whatever_the_rows(ops_client, samples, vendor_labeler):
    url = admin_url(Review, "changelist")
    ops_client.get(url)
    with CaptureQueriesContext(connection) as few:
        response = ops_client.get(url)
    assert len(response.context["cl"].result_list) == 1
    project = samples["project"]
    for _ in range(4):
        labeler = make_labeler()
        claim = services.assignment_claim_next(labeler=labeler, project_id=project.pk)
        assignment_flag(labeler=labeler, assignment_id=claim.assignment.pk, question="Why?")
    for params in ({}, {"kind__exact": "flag", "status__exact": "open"}, {"q": "why"}):
        with CaptureQueriesContext(connection) as many:
            response = ops_client.get(url, params)
        assert response.status_code == 200
        assert len(response.context["cl"].result_list) >= 4, params
    with CaptureQueriesContext(connection) as many:
        response = ops_client.get(url)
    assert len(response.context["cl"].result_list) == 5
    assert len(few) == len(many), [q["sql"] for q in many.captured_queries]


def test_reviews_are_read_only(ops_client, samples):
    review = samples["review"]
    page = ops_client.get(admin_url(Review, "change", review.pk))
    assert page.status_code == 200 and not page.context["has_change_permission"]
    response = ops_client.post(
        admin_url(Review, "change", review.pk), {"note": "x", "status": "open"}
    )
    assert response.status_code == 403
    assert (
        ops_client.post(admin_url(Review, "delete", review.pk), {"post": "yes"}).status_code == 403
    )
    assert Review.objects.get(pk=review.pk).note == ""


def test_task_filters_render(ops_client, samples):
    project, batch = samples["project"], samples["batch"]
    for params in (
        {"project__id__exact": project.pk},
        {"project__id__exact": project.pk, "batch": batch.pk},
        {"state__exact": "open", "is_open__exact": "1", "kind": "real"},
        {"kind": "control", "complexity": ""},
        {"q": "img-000001"},
    ):
        response = ops_client.get(admin_url(Task, "changelist"), params)
        assert response.status_code == 200, params
    response = ops_client.get(admin_url(Task, "changelist"), {"q": "img-000001"})
    assert [t.external_id for t in response.context["cl"].result_list] == ["img-000001"]


# -- progress columns ------------------------------------------------------------------------------


def test_project_list_shows_progress_from_aggregates(ops_client, samples):
    response = ops_client.get(admin_url(Project, "changelist"))
    (row,) = response.context["cl"].result_list
    assert (row.progress_total, row.progress_open, row.progress_leased) == (3, 3, 1)
    assert (row.progress_done, row.progress_review) == (0, 0)
    text = response.content.decode()
    for header in ("tasks", "open", "leased", "done", "in review"):
        assert f">{header}<" in text or f">{header.capitalize()}<" in text


def test_project_list_costs_the_same_for_2_and_10_projects(ops_client):
    def add(start: int, n: int) -> None:
        for i in range(start, start + n):
            project = make_project(tasks=2, slug=f"p{i}")
            services.assignment_claim_next(labeler=make_labeler(), project_id=project.pk)

    url = admin_url(Project, "changelist")
    add(0, 2)
    ops_client.get(url)  # warm-up: session, content types
    with CaptureQueriesContext(connection) as few:
        response = ops_client.get(url)
    assert len(response.context["cl"].result_list) == 2
    add(2, 8)
    with CaptureQueriesContext(connection) as many:
        response = ops_client.get(url)
    rows = response.context["cl"].result_list
    assert len(rows) == 10 and all(r.progress_leased == 1 for r in rows)
    assert len(few) == len(many), [q["sql"] for q in many.captured_queries]


def test_batch_and_task_lists_cost_the_same_whatever_the_rows(ops_client, samples):
    project = samples["project"]
    ids = iter(range(100, 10_000))
    for model in (Batch, Task, Assignment):
        url = admin_url(model, "changelist")
        ops_client.get(url)
        with CaptureQueriesContext(connection) as few:
            ops_client.get(url)
        for _ in range(3):
            do_import(project, jsonl([task_row(next(ids)) for _ in range(5)]))
        for _ in range(2):
            services.assignment_claim_next(labeler=make_labeler(), project_id=project.pk)
        with CaptureQueriesContext(connection) as many:
            ops_client.get(url)
        assert len(few) == len(many), (model, [q["sql"] for q in many.captured_queries])


# -- actions ---------------------------------------------------------------------------------------


def _act(client, action: str, objs, **extra):
    data = {"action": action, "_selected_action": [o.pk for o in objs], **extra}
    return client.post(admin_url(Project, "changelist"), data)


def test_pause_resume_activate_through_the_service(ops_client):
    active = make_project(tasks=1, slug="a")
    draft = make_project(tasks=1, slug="d", status=S.DRAFT)
    response = _act(ops_client, "pause", [active, draft])
    assert response.status_code == 302
    messages = _messages(response)
    assert "Paused 1 project(s)." in messages
    assert any("A draft project cannot become paused" in m for m in messages)
    assert Project.objects.get(pk=active.pk).status == S.PAUSED
    response = _act(ops_client, "resume", [active, draft])
    assert Project.objects.get(pk=active.pk).status == S.ACTIVE
    assert Project.objects.get(pk=draft.pk).status == S.DRAFT  # resume does not activate
    _act(ops_client, "activate", [draft])
    assert Project.objects.get(pk=draft.pk).status == S.ACTIVE


def test_finish_asks_first(ops_client):
    project = make_project(tasks=2)
    response = _act(ops_client, "finish", [project])
    assert response.status_code == 200
    assert "cannot be undone" in response.content.decode()
    assert Project.objects.get(pk=project.pk).status == S.ACTIVE
    response = _act(ops_client, "finish", [project], post="yes")
    assert response.status_code == 302
    assert Project.objects.get(pk=project.pk).status == S.DONE
    # A done project is view-only.
    page = ops_client.get(admin_url(Project, "change", project.pk))
    assert page.status_code == 200 and not page.context["has_change_permission"]


def test_release_stale_leases_of_the_selected_projects_only(ops_client, samples):
    project = samples["project"]
    other = make_project(tasks=2, slug="other")
    other_claim = services.assignment_claim_next(labeler=make_labeler(), project_id=other.pk)
    old = timezone.now() - timedelta(hours=2)
    Assignment.objects.filter(pk__in=[samples["assignment"].pk, other_claim.assignment.pk]).update(
        leased_at=old, expires_at=old + timedelta(minutes=5)
    )
    response = _act(ops_client, "release_stale_leases", [project])
    assert response.status_code == 302
    assert any("Marked 1 lapsed lease(s) as expired" in m for m in _messages(response))
    assert Assignment.objects.get(pk=samples["assignment"].pk).status == "expired"
    assert Assignment.objects.get(pk=other_claim.assignment.pk).status == "leased"


def test_status_actions_record_history_with_the_admin_user(ops_client, ops_user):
    project = make_project(tasks=1, slug="h")
    _act(ops_client, "pause", [project])
    _act(ops_client, "pause", [project])  # refused: already paused, no row
    (change,) = ProjectStatusChange.objects.filter(project=project)
    assert (change.from_status, change.to_status, change.actor) == (S.ACTIVE, S.PAUSED, ops_user)


# -- add and change through the services -----------------------------------------------------------


def test_add_project_calls_the_service(ops_client, ops_user):
    QualificationType.objects.create(slug="q", name="Q")
    qtype = QualificationType.objects.get()
    data = project_form(
        objective="",
        answer_type="multiple_choice",
        required_qualifications=[qtype.pk],
        require_guide_ack="on",
        priority="1",
    )
    response = ops_client.post(admin_url(Project, "add"), data)
    assert response.status_code == 302, response.context["adminform"].form.errors
    project = Project.objects.get(slug="towers")
    assert (project.status, project.created_by, project.classes) == (
        S.DRAFT,
        ops_user,
        ["rust", "crack"],
    )
    assert list(project.required_qualifications.all()) == [qtype]
    bad = {**data, "slug": "towers2", "classes": '["a", "a"]', "overlap": "4"}
    response = ops_client.post(admin_url(Project, "add"), bad)
    assert response.status_code == 200
    errors = response.context["adminform"].form.errors
    assert "classes" in errors and "max_overlap" not in errors  # field rules first
    assert not Project.objects.filter(slug="towers2").exists()


def test_an_active_projects_schema_is_read_only(ops_client, samples):
    project = samples["project"]
    response = ops_client.get(admin_url(Project, "change", project.pk))
    readonly = response.context["adminform"].readonly_fields
    assert {"slug", "answer_type", "classes", "overlap", "status"} <= set(readonly)
    assert "Import tasks" in response.content.decode()


def test_task_priority_is_the_only_editable_field(ops_client, samples):
    task = Task.objects.filter(batch=samples["batch"]).order_by("id").first()
    response = ops_client.get(admin_url(Task, "change", task.pk))
    assert list(response.context["adminform"].form.fields) == ["priority"]
    response = ops_client.post(
        admin_url(Task, "change", task.pk),
        {"priority": "42.5", "submitted": "2", "state": "complete"},
    )
    assert response.status_code == 302
    task.refresh_from_db()
    assert (task.priority, task.submitted, task.state) == (42.5, 0, "open")


def test_batches_and_assignments_are_read_only(ops_client, samples):
    for model, obj in ((Batch, samples["batch"]), (Assignment, samples["assignment"])):
        response = ops_client.post(admin_url(model, "change", obj.pk), {"note": "x"})
        assert response.status_code == 403
        assert (
            ops_client.post(admin_url(model, "delete", obj.pk), {"post": "yes"}).status_code == 403
        )
    assert Batch.objects.filter(pk=samples["batch"].pk).exists()


# -- the import view -------------------------------------------------------------------------------


def test_import_view_imports_and_reports(ops_client, samples):
    project = samples["project"]
    url = admin_url(Project, "import", project.pk)
    assert ops_client.get(url).status_code == 200
    upload = SimpleUploadedFile("more.jsonl", jsonl(task_row(i) for i in range(10, 30)))
    response = ops_client.post(
        url, {"file": upload, "format": "", "source": "cam-9", "note": "", "priority": "2"}
    )
    assert response.status_code == 302
    assert response["Location"] == admin_url(Project, "change", project.pk)
    (message,) = _messages(response)
    assert message.startswith("Imported 20 task(s) from more.jsonl as batch")
    batch = Batch.objects.get(source="cam-9")
    assert batch.tasks.count() == 20 and batch.priority == 2


def test_import_view_takes_csv(ops_client, samples):
    project = samples["project"]
    data = b"external_id,image_url,prelabel\r\nc-1,a/1.jpg,rust\r\nc-2,a/2.jpg,\r\n"
    response = ops_client.post(
        admin_url(Project, "import", project.pk),
        {
            "file": SimpleUploadedFile("more.csv", data),
            "format": "",
            "source": "",
            "note": "",
            "priority": "0",
        },
    )
    assert response.status_code == 302
    assert dict(
        Task.objects.filter(external_id__startswith="c-").values_list("external_id", "prelabel")
    ) == {
        "c-1": "rust",
        "c-2": None,
    }


def test_import_view_lists_row_errors_and_writes_nothing(ops_client, samples):
    project = samples["project"]
    before = Task.objects.count()
    rows = [task_row(i) for i in range(50, 60)]
    rows[4]["prelabel"] = "paint"
    upload = SimpleUploadedFile("bad.jsonl", jsonl(rows))
    response = ops_client.post(
        admin_url(Project, "import", project.pk),
        {"file": upload, "format": "", "source": "", "note": "", "priority": "0"},
    )
    assert response.status_code == 200
    assert response.context["row_errors"] == [
        {"row": 5, "field": "prelabel", "message": "'paint' is not one of the labels."}
    ]
    assert 'id="import-errors"' in response.content.decode()
    assert Task.objects.count() == before
    assert Batch.objects.count() == 1


def test_import_view_needs_a_format(ops_client, samples):
    upload = SimpleUploadedFile("tasks.txt", b'{"image_url": "a.jpg"}\n')
    response = ops_client.post(
        admin_url(Project, "import", samples["project"].pk),
        {"file": upload, "format": "", "source": "", "note": "", "priority": "0"},
    )
    assert response.status_code == 200 and "format" in response.context["form"].errors
