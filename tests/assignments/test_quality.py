"""Quality reads and writes of the assignments app: throughput, the Dawid-Skene refit of a
project (set-based, idempotent, query count flat in the number of labelers), the project quality
page (hand-checked kappa, Fleiss, drift) and the scorecard API (the canary: a labeler's own card
never holds a gold answer or another labeler's answer)."""

from __future__ import annotations

import json
from datetime import timedelta

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from assignments import tasks as work_tasks
from assignments.models import Assignment, Batch, Project, Task
from assignments.selectors import quality_pages as selectors
from assignments.services import refits as services
from config.errors import NotFound
from qc.models import GoldCheck, LabelerEstimate, LabelOutcome, ModelFit
from tests.assignments.factories import NOW, gold_check, gold_item, make_project, submissions
from tests.factories import make_labeler, same_rows, token_client

pytestmark = pytest.mark.django_db


# -- throughput --------------------------------------------------------------------------------


def test_throughput_windows_and_median(django_assert_max_num_queries):
    project = make_project(tasks=0)
    me, other = make_labeler(), make_labeler()
    # My four submissions take 10 s each (the first of each task); the other labeler's 11 s.
    submissions(project, [[(me, "ok"), (other, "ok")]] * 2, days=2)
    submissions(project, [[(me, "ok"), (other, "ok")]] * 2, days=20)
    Assignment.objects.filter(labeler=me).order_by("id").filter(
        pk=Assignment.objects.filter(labeler=me).order_by("id").values("pk")[:1]
    ).update(active_seconds=30)
    with django_assert_max_num_queries(4):
        got = selectors.labeler_throughput(labeler_id=me.pk, project_id=project.pk, now=NOW)
    w = got["windows"]
    assert (w["last_7_days"]["submissions"], w["last_30_days"]["submissions"]) == (2, 4)
    assert w["last_7_days"]["per_day"] == pytest.approx(2 / 7)
    assert w["all_time"]["per_day"] == pytest.approx(4 / 20)  # 20 days since the first
    assert w["all_time"]["active_seconds"] == 30 + 10 * 3
    assert got["median_seconds_per_label"] == 10  # of 10, 10, 10, 30
    assert sum(d["submissions"] for d in got["daily"]) == 4


# -- the refit ---------------------------------------------------------------------------------


def test_refit_collects_answers_and_gold_and_is_idempotent():
    project = make_project(tasks=0)
    good, fair, coin = make_labeler(), make_labeler(), make_labeler()
    truth = ["ok", "crack", "rust"] * 10
    rows = []
    for i, true in enumerate(truth):
        wrong = "rust" if true != "rust" else "ok"
        rows.append(
            [(good, true), (fair, wrong if i % 5 == 0 else true), (coin, wrong if i % 2 else true)]
        )
    submissions(project, rows)
    item = gold_item()
    gold_check(coin, item, project, "rust")
    refit = services.project_refit(project_id=project.pk, now=NOW)
    assert refit.skipped == "" and refit.summary.n_labels == 91 and refit.summary.n_gold == 1
    fit = ModelFit.objects.get(project_id=project.pk)
    assert fit.classes == ["ok", "crack", "rust"]
    acc = dict(LabelerEstimate.objects.values_list("labeler_id", "accuracy"))
    assert acc[good.pk] > acc[fair.pk] > acc[coin.pk]
    before = list(LabelerEstimate.objects.order_by("id").values())
    services.project_refit(project_id=project.pk, now=NOW)
    # The same estimates up to EM's tolerance (the refit starts from the fit before).
    assert same_rows(list(LabelerEstimate.objects.order_by("id").values()), before)


def test_refit_of_a_multiple_choice_project_uses_class_keys():
    project = make_project(tasks=0, slug="multi")
    Project.objects.filter(pk=project.pk).update(answer_type="multiple_choice")
    a, b = make_labeler(), make_labeler()
    submissions(project, [[(a, ["crack", "rust"]), (b, ["crack", "rust"])], [(a, []), (b, [])]])
    services.project_refit(project_id=project.pk, now=NOW)
    assert ModelFit.objects.get().classes == ["(none)", "crack|rust"]


def test_box_projects_are_skipped_with_a_reason():
    project = make_project(tasks=0, slug="boxes")
    Project.objects.filter(pk=project.pk).update(answer_type="boxes")
    refit = services.project_refit(project_id=project.pk)
    assert "IoU" in refit.skipped and refit.summary is None
    assert not ModelFit.objects.exists()
    with pytest.raises(NotFound):
        services.project_refit(project_id=987654)


def test_refit_queries_do_not_grow_with_labelers():
    def queries(n_labelers: int, slug: str) -> int:
        project = make_project(tasks=0, slug=slug)
        labelers = [make_labeler() for _ in range(n_labelers)]
        rows = [
            [(labelers[(i + j) % n_labelers], "ok" if (i + j) % 3 else "crack") for j in range(3)]
            for i in range(max(12, n_labelers))
        ]
        submissions(project, rows)
        with CaptureQueriesContext(connection) as ctx:
            services.project_refit(project_id=project.pk, now=NOW)
        assert LabelerEstimate.objects.filter(project_id=project.pk).count() == n_labelers
        return len(ctx.captured_queries)

    assert queries(3, "few") == queries(24, "many")


def test_the_beat_job_refits_active_projects_only():
    active = make_project(tasks=0, slug="active")
    paused = make_project(tasks=0, slug="paused", status=Project.Status.PAUSED)
    for project in (active, paused):
        a, b = make_labeler(), make_labeler()
        submissions(project, [[(a, "ok"), (b, "ok")]])
    assert work_tasks.quality_refit.delay().get() == 1
    assert list(ModelFit.objects.values_list("project_id", flat=True)) == [active.pk]


# -- the project quality page ------------------------------------------------------------------


def test_project_quality_figures(django_assert_max_num_queries):
    project = make_project(tasks=0, overlap=2)
    a, b, c = make_labeler(), make_labeler(), make_labeler()
    # a and b share four tasks: kappa = (3/4 - 1/2) / (1 - 1/2) = 0.5 (hand-checked); Fleiss
    # over the same items: P-bar 3/4, P_e (3/8)^2 + (5/8)^2 = 34/64 -> 0.4667.
    submissions(
        project,
        [
            [(a, "crack"), (b, "crack")],
            [(a, "crack"), (b, "rust")],
            [(a, "rust"), (b, "rust")],
            [(a, "rust"), (b, "rust")],
        ],
    )
    submissions(project, [[(a, "ok"), (c, "ok")]], days=400)  # a second pair, one task
    with django_assert_max_num_queries(11):
        page = selectors.project_quality(project=project, now=NOW)
    first = page["pairs"][0]
    assert (first["labeler_a"], first["labeler_b"], first["n"]) == (a.pk, b.pk, 4)
    assert first["cohen_kappa"] == pytest.approx(0.5)
    assert page["pairs"][1]["n"] == 1
    coefficients = page["coefficients"]
    assert coefficients["tasks"] == 5
    # With the fifth task (ok, ok): P-bar 4/5, totals crack 3, rust 5, ok 2 of 10.
    assert coefficients["fleiss_kappa"] == pytest.approx((0.8 - 0.38) / (1 - 0.38))
    assert coefficients["krippendorff_alpha"] is not None
    assert page["decisions"] == {"consensus": 0, "model": 0, "review": 0, "undecided": 5}


def test_project_quality_flags_a_batch_that_drifts():
    project = make_project(tasks=0)
    first, drifting, same = (Batch.objects.create(project=project) for _ in range(3))

    def decided(batch, answers):
        Task.objects.bulk_create(
            Task(
                project=project,
                batch=batch,
                payload={},
                target=2,
                submitted=2,
                is_open=False,
                state="resolved",
                final_answer=answer,
                decided_by="consensus",
                decided_at=NOW,
                agreement=1.0,
                confidence=0.95,
            )
            for answer in answers
        )

    decided(first, ["crack"] * 30 + ["rust"] * 30)
    decided(drifting, ["crack"] * 50 + ["rust"] * 10)
    decided(same, ["crack"] * 28 + ["rust"] * 32)
    page = selectors.project_quality(project=project, now=NOW)
    batches = {row["batch"]: row for row in page["drift"]["batches"]}
    assert batches[first.pk]["p_value"] is None and not batches[first.pk]["drift"]
    assert batches[drifting.pk]["drift"] and batches[drifting.pk]["p_value"] < 0.01
    assert not batches[same.pk]["drift"] and batches[same.pk]["p_value"] > 0.5
    assert page["decisions"]["consensus"] == 180
    assert page["agreement"]["bins"][-1]["tasks"] == 180  # agreement 1.0 is in the last bin
    assert page["confidence"]["bins"][9]["tasks"] == 180 and page["confidence"]["missing"] == 0


# -- the scorecard API -------------------------------------------------------------------------


def test_own_scorecard_never_holds_gold_answers_or_other_labelers_answers(label, ops_user):
    project = make_project(tasks=1, overlap=3)
    me, peer, other = make_labeler(), make_labeler(), make_labeler()
    label(project, me, "crack")
    label(project, peer, "crack")
    label(project, other, "rust")  # only another labeler ever answered rust
    assert Task.objects.get().final_answer == "crack"
    item = gold_item()
    gold_check(me, item, project, "crack", days=0.0)  # today: not in the own view yet
    LabelOutcome.objects.update(decided_at=NOW - timedelta(days=2))

    response = token_client(me).get("/api/v1/me/scorecard/")
    assert response.status_code == 200
    body = response.json()
    text = json.dumps(body)
    assert "rust" not in text
    assert "zq-canary" not in text
    assert other.public_code not in text and peer.public_code not in text
    assert '"gold_item' not in text
    assert body["scores"]["gold_accuracy"]["all_time"]["n"] == 0  # today's check is held back
    assert body["scores"]["agreement"]["with_final"]["all_time"]["n"] == 1
    assert body["scores"]["agreement"]["pairwise"]["all_time"] == {
        "n": 2,
        "agreeing": 1,
        "rate": 0.5,
        "low": pytest.approx(0.0945, abs=1e-4),
        "high": pytest.approx(0.9055, abs=1e-4),
    }
    assert body["throughput"]["windows"]["all_time"]["submissions"] == 1
    # The same card through /labelers/{id}/ is the same restricted view; ops see today's check.
    mine = token_client(me).get(f"/api/v1/labelers/{me.pk}/scorecard/").json()
    assert mine["scores"]["gold_accuracy"]["all_time"]["n"] == 0
    from rest_framework.test import APIClient

    client = APIClient()
    client.force_authenticate(ops_user)
    ops_view = client.get(f"/api/v1/labelers/{me.pk}/scorecard/?project={project.pk}").json()
    assert ops_view["scores"]["gold_accuracy"]["all_time"]["n"] == 1
    assert "zq-canary" not in json.dumps(ops_view)


def test_scorecard_api_query_count_is_constant(label, ops_user, django_assert_max_num_queries):
    project = make_project(tasks=3, overlap=2)
    me = make_labeler()
    for _ in range(3):
        label(project, me, "crack")
        label(project, make_labeler(), "crack")
    from rest_framework.test import APIClient

    client = APIClient()
    client.force_authenticate(ops_user)
    with django_assert_max_num_queries(16):
        response = client.get(f"/api/v1/labelers/{me.pk}/scorecard/?project={project.pk}")
    assert response.status_code == 200
    assert response.json()["scores"]["agreement"]["with_final"]["all_time"]["n"] == 3


def test_a_vendor_manager_sees_gold_figures_as_of_the_start_of_the_day(
    vendor_a, manager_a, ops_user, client_for
):
    """Today's gold checks would tell a manager which of today's answers were control and how
    they were graded: the scorecard, the project's per-labeler table and the vendor comparison
    count them for ops only."""
    project = make_project(tasks=1, overlap=1)
    labeler = make_labeler(vendor=vendor_a)
    item = gold_item()
    gold_check(labeler, item, project, "crack", days=3.0)
    gold_check(labeler, item, project, "rust")
    GoldCheck.objects.filter(answer="rust").update(checked_at=timezone.now())  # today, wrong

    def figures(user):
        client = client_for(user)
        card = client.get(f"/api/v1/labelers/{labeler.pk}/scorecard/").json()
        page = client.get(f"/api/v1/projects/{project.pk}/quality/").json()
        (row,) = [r for r in page["labelers"] if r["labeler"] == labeler.pk]
        vendors = client.get("/api/v1/vendor-comparison/").json()
        (vendor,) = [v for v in vendors if v["vendor_id"] == vendor_a.pk]
        return (
            card["scores"]["gold_accuracy"]["all_time"]["n"],
            row["gold_all_time"]["n"],
            vendor["gold_all_time"]["n"],
        )

    assert figures(manager_a) == (1, 1, 1)
    assert figures(ops_user) == (2, 2, 2)
