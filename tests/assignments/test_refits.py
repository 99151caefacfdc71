"""Refits as work arrives (``assignments.services.refits``): the submission follow-up counts each
real label, every ``refit_every`` labels it sends one refit, and a project is refitted by one
run at a time — the counted trigger and the hourly job alike; labels that arrive during a refit
stay counted for the next. The races run on PostgreSQL with real threads."""

from __future__ import annotations

import threading
from datetime import timedelta
from unittest import mock

import pytest
from django.core.exceptions import ValidationError
from django.db import OperationalError, connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse
from django.utils import timezone

from assignments import services as work_services
from assignments import tasks as work_tasks
from assignments.models import DEFAULT_REFIT_EVERY, Assignment, Project, ProjectRefit
from assignments.services import refits
from qc.models import ModelFit
from tests.assignments.factories import (
    AlwaysControl,
    NeverControl,
    make_project,
    project_form,
    submissions,
    with_gold,
)
from tests.conftest import requires_postgres
from tests.factories import make_labeler, race


def submit(project, labeler, answer="ok", *, control=False):
    """Claim and submit through the services, then run the submission's follow-up as the
    worker does (the after-commit message's task, called directly)."""
    rng = AlwaysControl() if control else NeverControl()
    claim = work_services.assignment_claim_next(labeler=labeler, project_id=project.pk, rng=rng)
    assert claim is not None and claim.assignment.is_control is control
    work_services.assignment_submit(
        labeler=labeler, assignment_id=claim.assignment.pk, answer=answer
    )
    work_tasks.assignment_submitted.apply(args=(claim.assignment.pk,))
    return claim.assignment


def state(project) -> ProjectRefit:
    return ProjectRefit.objects.get(pk=project.pk)


def answered(project, n: int) -> list[int]:
    """``n`` submitted real answers of ``project`` (bulk, as facts); their assignment ids."""
    labelers = [make_labeler() for _ in range(2)]
    tasks = submissions(project, [[(labelers[0], "ok"), (labelers[1], "crack")]] * (n // 2 + 1))
    ids = Assignment.objects.filter(task__in=tasks).order_by("id").values_list("id", flat=True)
    return list(ids[:n])


@pytest.fixture
def sent():
    """The ``project_refit`` messages the counts send (not run)."""
    with mock.patch.object(work_tasks.project_refit, "delay") as delay:
        yield delay


# -- counting ----------------------------------------------------------------------------------


@pytest.mark.django_db
def test_each_real_label_is_counted_once_and_a_control_answer_not_at_all(sent):
    project = make_project(tasks=4, overlap=2)
    with_gold(project)
    a, b = make_labeler(), make_labeler()
    submit(project, a)
    assert state(project).labels_since == 1  # the row is made by the project's first label
    submit(project, b, "crack")
    submit(project, a, control=True)
    assert state(project).labels_since == 2
    assert not sent.called  # far below the default of 1,000


@pytest.mark.django_db
def test_the_count_is_one_statement(sent):
    project = make_project(tasks=0)
    first, second = answered(project, 2)
    for assignment_id, expected in ((first, 1), (second, 2)):  # the insert, then the update
        with CaptureQueriesContext(connection) as ctx:
            count = refits.project_label_count(assignment_id=assignment_id)
        assert len(ctx.captured_queries) == 1
        assert (count.project_id, count.labels_since) == (project.pk, expected)


@pytest.mark.django_db
def test_an_unknown_or_unsubmitted_assignment_counts_nothing(sent):
    project = make_project(tasks=1)
    claim = work_services.assignment_claim_next(labeler=make_labeler(), project_id=project.pk)
    assert refits.project_label_count(assignment_id=claim.assignment.pk) is None
    assert refits.project_label_count(assignment_id=987654) is None
    assert not ProjectRefit.objects.exists()


@pytest.mark.django_db
def test_every_refit_every_labels_one_refit_is_sent(sent):
    project = make_project(tasks=0, refit_every=3)
    counts = [refits.project_label_count(assignment_id=pk) for pk in answered(project, 7)]
    assert [c.labels_since for c in counts] == [1, 2, 3, 4, 5, 6, 7]
    assert [c.refit_sent for c in counts] == [False, False, True, False, False, True, False]
    assert sent.call_args_list == [mock.call(project.pk)] * 2


@pytest.mark.django_db
def test_refit_every_zero_never_sends_a_refit(sent):
    project = make_project(tasks=0, refit_every=0)
    for pk in answered(project, 5):
        refits.project_label_count(assignment_id=pk)
    assert state(project).labels_since == 5
    assert not sent.called


@pytest.mark.django_db
def test_no_refit_is_sent_while_one_runs_unless_it_is_stale(sent):
    project = make_project(tasks=0, refit_every=2)
    ids = answered(project, 4)
    refits.project_label_count(assignment_id=ids[0])
    ProjectRefit.objects.filter(pk=project.pk).update(running_since=timezone.now())
    assert not refits.project_label_count(assignment_id=ids[1]).refit_sent
    refits.project_label_count(assignment_id=ids[2])
    long_ago = timezone.now() - refits.REFIT_STALE_AFTER - timedelta(minutes=1)
    ProjectRefit.objects.filter(pk=project.pk).update(running_since=long_ago)
    assert refits.project_label_count(assignment_id=ids[3]).refit_sent
    assert sent.call_count == 1


@pytest.mark.django_db
def test_a_broker_that_refuses_the_refit_does_not_fail_the_count():
    from kombu.exceptions import OperationalError as BrokerError

    project = make_project(tasks=0, refit_every=1)
    (pk,) = answered(project, 1)
    with mock.patch.object(work_tasks.project_refit, "delay", side_effect=BrokerError("down")):
        count = refits.project_label_count(assignment_id=pk)
    assert count.labels_since == 1 and not count.refit_sent


@pytest.mark.django_db
def test_labels_through_the_api_path_refit_the_project_in_process(
    django_capture_on_commit_callbacks,
):
    """End to end with in-process Celery (the demo and the tests): the submit's after-commit
    message counts the label and the count's refit runs — the model is fitted, the count
    starts again and the run is recorded."""
    project = make_project(tasks=2, overlap=2, refit_every=4)
    a, b = make_labeler(), make_labeler()
    for labeler, answer in ((a, "ok"), (b, "ok"), (a, "crack"), (b, "rust")):
        claim = work_services.assignment_claim_next(labeler=labeler, project_id=project.pk)
        with django_capture_on_commit_callbacks(execute=True):
            work_services.assignment_submit(
                labeler=labeler, assignment_id=claim.assignment.pk, answer=answer
            )
    assert ModelFit.objects.filter(project_id=project.pk).exists()
    row = state(project)
    assert row.labels_since == 0 and row.running_since is None
    assert row.last_refit_at is not None and row.last_duration_ms is not None


# -- one run at a time -------------------------------------------------------------------------


@pytest.fixture
def fits():
    """The fits ``project_refit_run`` runs (the real refit, counted)."""
    calls = []
    real = refits.project_refit

    def counted(**kwargs):
        calls.append(kwargs["project_id"])
        return real(**kwargs)

    with mock.patch.object(refits, "project_refit", side_effect=counted):
        yield calls


@pytest.mark.django_db
def test_a_run_subtracts_the_labels_it_counted_and_records_itself(sent, fits):
    project = make_project(tasks=0, refit_every=100)
    for pk in answered(project, 5):
        refits.project_label_count(assignment_id=pk)
    refit = refits.project_refit_run(project_id=project.pk)
    assert refit is not None and not refit.skipped and fits == [project.pk]
    row = state(project)
    assert (row.labels_since, row.running_since) == (0, None)
    assert row.last_refit_at is not None and row.last_duration_ms >= 0
    assert row.last_redecided == getattr(refit, "redecided", 0)


@pytest.mark.django_db
def test_a_running_refit_is_not_run_again_until_it_is_stale(fits):
    project = make_project(tasks=0)
    answered(project, 2)
    begun = timezone.now() - timedelta(minutes=5)
    ProjectRefit.objects.create(project=project, labels_since=2, running_since=begun)
    assert refits.project_refit_run(project_id=project.pk) is None
    assert fits == [] and state(project).running_since == begun  # not released by the loser

    ProjectRefit.objects.filter(pk=project.pk).update(
        running_since=timezone.now() - refits.REFIT_STALE_AFTER - timedelta(seconds=1)
    )
    assert refits.project_refit_run(project_id=project.pk) is not None
    assert fits == [project.pk] and state(project).running_since is None


@pytest.mark.django_db
def test_the_counted_trigger_runs_only_while_labels_are_due(fits):
    project = make_project(tasks=0, refit_every=3)
    answered(project, 2)
    assert refits.project_refit_run(project_id=project.pk, due_only=True) is None  # no row yet
    ProjectRefit.objects.create(project=project, labels_since=2)
    assert refits.project_refit_run(project_id=project.pk, due_only=True) is None
    ProjectRefit.objects.filter(pk=project.pk).update(labels_since=3)
    assert work_tasks.project_refit.delay(project.pk).get() is True
    # A duplicate message after the refit: nothing is due any more.
    assert work_tasks.project_refit.delay(project.pk).get() is False
    Project.objects.filter(pk=project.pk).update(refit_every=0)
    ProjectRefit.objects.filter(pk=project.pk).update(labels_since=50)
    assert refits.project_refit_run(project_id=project.pk, due_only=True) is None
    assert fits == [project.pk]


@pytest.mark.django_db
def test_a_failed_refit_releases_the_run_and_keeps_the_count():
    project = make_project(tasks=0)
    ProjectRefit.objects.create(project=project, labels_since=7)
    with (
        mock.patch.object(refits, "project_refit", side_effect=ValueError("bad data")),
        pytest.raises(ValueError),
    ):
        refits.project_refit_run(project_id=project.pk)
    row = state(project)
    assert (row.labels_since, row.running_since, row.last_refit_at) == (7, None, None)


@pytest.mark.django_db
def test_the_refit_task_retries_a_database_outage(settings):
    settings.CELERY_TASK_EAGER_PROPAGATES = False  # as a worker: the retry is applied at once
    project = make_project(tasks=0)
    answered(project, 2)
    real = refits.project_refit
    calls = []

    def once_down(**kwargs):
        calls.append(1)
        if len(calls) == 1:
            raise OperationalError("server closed the connection unexpectedly")
        return real(**kwargs)

    with mock.patch.object(refits, "project_refit", side_effect=once_down):
        result = work_tasks.project_refit.apply(args=(project.pk, False))
    assert result.successful(), result.traceback
    assert len(calls) == 2 and state(project).last_refit_at is not None


@pytest.mark.django_db
def test_the_hourly_job_goes_through_the_same_claim(fits):
    busy = make_project(tasks=0, slug="busy")
    idle = make_project(tasks=0, slug="idle")
    paused = make_project(tasks=0, slug="paused", status=Project.Status.PAUSED)
    for project in (busy, idle, paused):
        answered(project, 2)
    begun = timezone.now()
    ProjectRefit.objects.create(project=busy, labels_since=2, running_since=begun)
    assert work_tasks.quality_refit.delay().get() == 1
    assert fits == [idle.pk]
    assert state(busy).running_since == begun and state(busy).labels_since == 2
    assert state(idle).last_refit_at is not None  # made by the hourly run itself


# -- races on PostgreSQL -----------------------------------------------------------------------


@requires_postgres
@pytest.mark.django_db(transaction=True)
def test_concurrent_runs_fit_once_and_labels_counted_meanwhile_are_kept(sent):
    """Two runs of one project at the same moment: one claims, the other returns None at once.
    While the winner fits (held until the loser is done and three labels were counted), the
    labels counted stay counted after it."""
    project = make_project(tasks=0, refit_every=1000)
    ids = answered(project, 7)
    for pk in ids[:4]:
        refits.project_label_count(assignment_id=pk)
    loser_done = threading.Event()
    fitting = []
    real = refits.project_refit

    def slow_fit(**kwargs):
        fitting.append(kwargs["project_id"])
        assert loser_done.wait(timeout=20)
        for pk in ids[4:]:  # labels arriving during the refit
            refits.project_label_count(assignment_id=pk)
        return real(**kwargs)

    def run(i: int):
        result = None
        try:
            result = refits.project_refit_run(project_id=project.pk)
            return result
        finally:
            if result is None:  # the loser (or a failure): let the winner's fit go on
                loser_done.set()

    with mock.patch.object(refits, "project_refit", side_effect=slow_fit):
        results = race(2, run)
    assert not [r for r in results if isinstance(r, Exception)], results
    assert sorted(r is None for r in results) == [False, True]
    assert fitting == [project.pk]
    row = state(project)
    assert (row.labels_since, row.running_since) == (3, None)
    assert ModelFit.objects.filter(project_id=project.pk).exists()


@requires_postgres
@pytest.mark.django_db(transaction=True)
def test_concurrent_counts_lose_no_label_and_send_once_per_multiple(sent):
    project = make_project(tasks=0, refit_every=5)
    ids = answered(project, 10)
    results = race(10, lambda i: refits.project_label_count(assignment_id=ids[i]))
    assert sorted(r.labels_since for r in results) == list(range(1, 11))
    assert sum(r.refit_sent for r in results) == 2 and sent.call_count == 2
    assert state(project).labels_since == 10


# -- the setting -------------------------------------------------------------------------------


@pytest.mark.django_db
def test_ops_set_refit_every_through_the_api(client_for, ops_user):
    client = client_for(ops_user)
    created = client.post(
        "/api/v1/projects/",
        {"slug": "often", "name": "Often", "answer_type": "single_choice", "classes": ["a", "b"]},
        format="json",
    )
    assert created.status_code == 201, created.content
    assert created.json()["refit_every"] == DEFAULT_REFIT_EVERY
    url = f"/api/v1/projects/{created.json()['id']}/"
    for value in (250, 0):
        response = client.patch(url, {"refit_every": value}, format="json")
        assert response.status_code == 200, response.content
        assert response.json()["refit_every"] == value
    assert client.get(url).json()["refit_every"] == 0


@pytest.mark.django_db
@pytest.mark.parametrize("value", [-1, 2**31, "often", 1.5, True, None])
def test_a_bad_refit_every_is_a_400_naming_the_field(client_for, ops_user, value):
    project = make_project(tasks=0)
    response = client_for(ops_user).patch(
        f"/api/v1/projects/{project.pk}/", {"refit_every": value}, format="json"
    )
    assert response.status_code == 400, response.content
    assert list(response.json()["fields"]) == ["refit_every"]
    project.refresh_from_db()
    assert project.refit_every == DEFAULT_REFIT_EVERY


@pytest.mark.django_db
def test_the_service_says_what_refit_every_takes(ops_user):
    project = make_project(tasks=0)
    with pytest.raises(ValidationError) as exc:
        work_services.project_update(actor=ops_user, project=project, data={"refit_every": -5})
    assert exc.value.message_dict == {
        "refit_every": [
            "A whole number of new labels, 0 or more (0: the model is refitted hourly only)."
        ]
    }


@pytest.mark.django_db
def test_the_admin_form_takes_refit_every_and_the_bookkeeping_is_read_only(client, ops_user):
    client.force_login(ops_user)
    data = project_form()
    add = reverse("admin:assignments_project_add")
    response = client.post(add, {**data, "refit_every": "-1"})
    assert response.status_code == 200
    assert "refit_every" in response.context["adminform"].form.errors
    assert not Project.objects.exists()
    assert client.post(add, {**data, "refit_every": "0"}).status_code == 302
    assert client.post(add, {**data, "slug": "towers-2"}).status_code == 302  # left empty
    assert dict(Project.objects.values_list("slug", "refit_every")) == {
        "towers": 0,
        "towers-2": DEFAULT_REFIT_EVERY,
    }

    project = Project.objects.get(slug="towers")
    refits.project_refit_run(project_id=project.pk)
    change = reverse("admin:assignments_projectrefit_change", args=[project.pk])
    assert client.get(change).status_code == 200
    assert client.post(change, {"labels_since": "9"}).status_code == 403
    listing = client.get(reverse("admin:assignments_projectrefit_changelist"))
    assert "hourly only" in listing.content.decode()
    assert state(project).labels_since == 0


@pytest.mark.django_db
def test_the_label_that_finishes_the_project_refits_it_at_once(sent):
    project = make_project(tasks=2, overlap=2)
    a, b = make_labeler(), make_labeler()
    submit(project, a)
    submit(project, b)  # completes the first task; the second is still open
    refits.project_refit(project_id=project.pk)  # a project with a model
    assert not sent.called
    submit(project, a)
    assert not sent.called  # the last task still wants a label
    submit(project, b)  # the project's last open task is done
    sent.assert_called_once_with(project.pk, due_only=False)


@pytest.mark.django_db
def test_a_finished_project_is_refitted_through_the_claim(fits):
    project = make_project(tasks=2, overlap=2)
    first, second = make_labeler(), make_labeler()
    submit(project, first)
    submit(project, second)
    refits.project_refit(project_id=project.pk)  # the fit before the last labels
    fits.clear()
    submit(project, first)
    submit(project, second)
    assert fits == [project.pk]
    assert state(project).last_refit_at is not None and state(project).labels_since == 0


@pytest.mark.django_db
def test_a_project_never_fitted_is_not_refitted_when_it_finishes(sent):
    project = make_project(tasks=1, overlap=2)
    for labeler in (make_labeler(), make_labeler()):
        submit(project, labeler)
    assert not sent.called  # majority until the hourly job or its refit_every-th label
