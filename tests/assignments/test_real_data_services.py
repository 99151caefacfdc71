"""The real-data replay of bench/real_data_services.py, on small inputs: every label through
``assignment_submit`` with the live policy (Celery eager: the follow-up decides, counts the
label and refits every ``refit_every`` labels), then the export through the API, checked
against what the tasks hold and against gold with figures worked out here independently of the
code."""

from __future__ import annotations

import csv
from collections import Counter, defaultdict

import numpy as np
import pytest

from assignments.models import Assignment, Project, Task, TaskDecision
from bench import real_data_services as bench
from qc.models import LabelerEstimate, ModelFit
from tests.conftest import requires_postgres
from tests.datasets import datasets_dir

DATASETS = datasets_dir("gal_toy", "temp")

pytestmark = [
    requires_postgres,  # the target UPDATE joins on unnest(text[], int[])
    pytest.mark.skipif(not DATASETS.is_dir(), reason=f"no data sets at {DATASETS}"),
    pytest.mark.django_db(transaction=True),  # the follow-up runs in on_commit callbacks
]


@pytest.fixture(autouse=True)
def _eager_celery(settings):
    settings.CELERY_TASK_ALWAYS_EAGER = True


def _exported_equals_stored(slug: str) -> list[dict]:
    """The export as the API returns it, checked row by row against the stored tasks."""
    from django.contrib.auth import get_user_model

    project = Project.objects.get(slug=slug)
    staff = get_user_model().objects.get(username=f"{slug}-ops")
    rows = bench.export_jsonl(project.pk, staff)
    stored = {
        t.external_id: (t.final_answer, t.decided_by, t.confidence)
        for t in Task.objects.filter(project=project).exclude(decided_by="")
    }
    assert {
        r["task_external_id"]: (r["final_answer"], r["decided_by"], r["confidence"]) for r in rows
    } == stored
    return rows


def test_fill_order_is_by_item_with_one_lease_per_labeler_per_batch():
    data = bench.prepare(DATASETS, "temp", sample=30, seed=3).data
    batches = bench._fill_order(data)
    rows = [row for batch in batches for row in batch]
    assert sorted(rows) == list(range(data.labels.size))  # every label once
    assert np.all(np.diff(data.items[rows]) >= 0)  # item by item, as the claim fills tasks
    for batch in batches:
        workers = data.workers[batch].tolist()
        assert len(set(workers)) == len(workers)


def test_gal_toy_majority_decision_is_redecided_by_the_first_fit():
    # By hand, from gal_toy/labels.csv (5 workers x 5 urls, 5 votes each) and gold.csv:
    #   url1 porn 2 / notporn 3 -> notporn (gold notporn)  right
    #   url2 porn 4 / notporn 1 -> porn    (gold porn)     right
    #   url3 porn 2 / notporn 3 -> notporn (gold notporn)  right
    #   url4 porn 4 / notporn 1 -> porn    (gold porn)     right
    #   url5 porn 3 / notporn 2 -> porn    (gold notporn)  wrong
    # Tasks fill one after another; with refit_every = 25 the first fit comes with the last
    # label, after every task was decided by majority. worker5 is adversarial (wrong on all
    # five), worker1 says porn to everything: the fit weighs them down and turns url5 to
    # notporn (crowd-kit 1.4.2's DS: 1.0000, the data set's README), so the refit re-decides
    # url5 and the export delivers 5 of 5.
    prepared = bench.prepare(DATASETS, "gal_toy")
    result = bench.replay(prepared, slug="replay-gal-toy", policy=bench.Policy(refit_every=25))

    assert (result.labels, result.items, result.labelers, result.gold_scored) == (25, 5, 5, 5)
    assert (result.submitted, result.submit_errors) == (25, 0)
    assert result.refits == 1  # sent by the follow-up's label count
    delivered = result.delivered
    assert (delivered.tasks, delivered.exported, delivered.in_review) == (5, 5, 0)
    assert delivered.by == {"consensus": 4, "model": 1}
    assert (delivered.gold_correct, delivered.accuracy_all) == (5, 1.0)
    assert delivered.gold_correct_unreviewed == 5
    assert result.model_only_ds == 1.0
    # Before the fit (the checkpoint at 80% of the labels: url1 to url4 decided, right), and
    # at the end.
    assert result.during[7] == 4 / 5 and result.during[-1] == 1.0
    assert result.rho_labelers == 0 and result.rho is None  # 5 gold items each, 10 needed

    rows = _exported_equals_stored("replay-gal-toy")
    url5 = next(r for r in rows if r["task_external_id"] == "url5")
    assert (url5["final_answer"], url5["decided_by"]) == ("notporn", "model")
    assert url5["confidence"] > 0.5
    history = TaskDecision.objects.filter(
        task__external_id="url5", task__project__slug="replay-gal-toy"
    )
    assert [(d.decided_by, d.final_answer, d.previous_answer) for d in history] == [
        ("consensus", "porn", None),
        ("model", "notporn", "porn"),
    ]
    project = Project.objects.get(slug="replay-gal-toy")
    assert (project.consensus_method, project.refit_every) == ("weighted", 25)
    statuses = Counter(Assignment.objects.filter(project=project).values_list("status", flat=True))
    assert statuses == {"submitted": 25}
    assert ModelFit.objects.get(project_id=project.pk).classes == ["notporn", "porn"]
    accuracy = dict(
        LabelerEstimate.objects.filter(project_id=project.pk).values_list(
            "labeler__user__username", "accuracy"
        )
    )
    assert min(accuracy, key=accuracy.get) == "replay-gal-toy-worker5"


def _strict_majority_by_hand(items: set[str]) -> tuple[int, int]:
    """(right, no strict majority) over ``items``, straight from temp's CSV files."""
    votes: dict[str, Counter] = defaultdict(Counter)
    with (DATASETS / "temp" / "labels.csv").open(newline="") as fh:
        for row in csv.DictReader(fh):
            if row["item"] in items:
                votes[row["item"]][row["label"]] += 1
    with (DATASETS / "temp" / "gold.csv").open(newline="") as fh:
        gold = {row["item"]: row["label"] for row in csv.DictReader(fh) if row["item"] in items}
    right = undecided = 0
    for item, counter in votes.items():
        top, n_top = counter.most_common(1)[0]
        if n_top * 2 > sum(counter.values()):
            right += top == gold[item]
        else:
            undecided += 1
    return right, undecided


def test_temp_slice_exports_what_the_fit_believes():
    prepared = bench.prepare(DATASETS, "temp", sample=100, seed=7)
    assert prepared.sampled_from == 462 and prepared.data.n_items == 100
    # refit_every = 1,000: the only fit comes with the last of the 1,000 labels.
    result = bench.replay(prepared, slug="replay-temp", policy=bench.Policy(refit_every=1000))

    right, ties = _strict_majority_by_hand(set(prepared.item_names))
    assert ties > 0  # 5-5 ties exist in this slice: they went to review before the fit
    assert result.gold_scored == 100
    assert (result.submitted, result.submit_errors, result.refits) == (1000, 0, 1)
    assert result.from_review == ties  # the fit decided every tied task, out of review
    delivered = result.delivered
    assert (delivered.exported, delivered.in_review, delivered.waiting) == (100, 0, 0)
    # Each task is now the fit's label: the export agrees with the file-level fit on the
    # same labels, which is above majority vote here.
    assert delivered.gold_correct == round(result.model_only_ds * 100)
    assert delivered.gold_correct > right
    assert delivered.by["model"] == result.redecided
    # At 90% of the labels the first 90 tasks were complete, decided by majority, ties in
    # review: an export then delivered the hand count's right answers among them.
    assert result.during[-2] == _strict_majority_by_hand(set(prepared.item_names[:90]))[0] / 100
    _exported_equals_stored("replay-temp")
    changed = TaskDecision.objects.filter(
        task__project__slug="replay-temp", decided_by="model"
    ).count()
    # Here the fit keeps every strict majority and decides the ties (gal_toy above has a
    # majority it turns).
    assert changed == result.redecided == ties


def test_an_hour_later_runs_the_hourly_job_and_exports_again():
    # Refits at 10 and 20 labels, and at 25: url5 (labels 21 to 25) completes the project's
    # last open task, which refits it at once, so the export right after the replay already
    # holds 5 of 5. The hourly job then fits the same 25 labels (the project's fourth fit) and
    # changes nothing.
    prepared = bench.prepare(DATASETS, "gal_toy")
    result = bench.replay(prepared, slug="later-gal-toy", policy=bench.Policy(refit_every=10))
    assert result.refits == 3
    assert (result.delivered.exported, result.delivered.gold_correct) == (5, 5)

    later = bench.an_hour_later(prepared, slug="later-gal-toy")
    assert later.before == result.delivered  # nothing changed the project in between
    project = Project.objects.get(slug="later-gal-toy")
    assert ModelFit.objects.get(project_id=project.pk).version == 4
    assert (later.after.exported, later.after.gold_correct) == (5, 5)
    assert later.redecided == 0
    _exported_equals_stored("later-gal-toy")
