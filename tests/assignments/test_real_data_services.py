"""The real-data replay of bench/real_data_services.py, on small inputs: every label through
``assignment_submit`` (consensus after commit, Celery eager), the refit and the weighted
decisions, checked against gold with figures worked out here independently of the code."""

from __future__ import annotations

import csv
from collections import Counter, defaultdict

import pytest

from assignments.models import Assignment, Project, Task
from bench import real_data_services as bench
from qc.models import LabelerEstimate, ModelFit
from tests.conftest import requires_postgres
from tests.datasets import datasets_dir

DATASETS = datasets_dir("gal_toy", "temp")

pytestmark = [
    requires_postgres,  # the target UPDATE joins on unnest(text[], int[])
    pytest.mark.skipif(not DATASETS.is_dir(), reason=f"no data sets at {DATASETS}"),
    pytest.mark.django_db(transaction=True),  # consensus runs in on_commit callbacks
]


@pytest.fixture(autouse=True)
def _eager_celery(settings):
    settings.CELERY_TASK_ALWAYS_EAGER = True


def test_gal_toy_through_the_services():
    # By hand, from gal_toy/labels.csv (5 workers x 5 urls, 5 votes each) and gold.csv:
    #   url1 porn 2 / notporn 3 -> notporn (gold notporn)  right
    #   url2 porn 4 / notporn 1 -> porn    (gold porn)     right
    #   url3 porn 2 / notporn 3 -> notporn (gold notporn)  right
    #   url4 porn 4 / notporn 1 -> porn    (gold porn)     right
    #   url5 porn 3 / notporn 2 -> porn    (gold notporn)  wrong
    # so live majority is 4 of 5, nothing undecided. worker5 is adversarial (wrong on all five),
    # worker1 says porn to everything: weighing them down turns url5 to notporn, and
    # Dawid-Skene gets all 5 (crowd-kit 1.4.2: 1.0000, the data set's README).
    prepared = bench.prepare(DATASETS, "gal_toy")
    result = bench.replay(prepared, slug="replay-gal-toy")

    assert (result.labels, result.items, result.labelers, result.gold_scored) == (25, 5, 5, 5)
    assert (result.submitted, result.submit_errors) == (25, 0)
    assert (result.live_correct, result.live_undecided) == (4, 0)
    assert result.actions == {"decided": 5}
    assert (result.weighted_correct, result.weighted_undecided) == (5, 0)
    assert result.file_ds == 1.0
    assert result.weighted_vs_file == 0
    assert result.rho_labelers == 0 and result.rho is None  # 5 gold items each, 10 needed

    # What the services left behind: every lease submitted, every task full and decided by
    # consensus (url5 wrongly, before the refit), one estimate per labeler.
    project = Project.objects.get(slug="replay-gal-toy")
    assert project.consensus_method == "weighted"
    assert project.overlap == 5
    statuses = Counter(Assignment.objects.filter(project=project).values_list("status", flat=True))
    assert statuses == {"submitted": 25}
    tasks = {
        t.external_id: t
        for t in Task.objects.filter(project=project).only(
            "external_id", "target", "submitted", "final_answer", "decided_by", "state"
        )
    }
    assert {k: (t.target, t.submitted) for k, t in tasks.items()} == {
        f"url{i}": (5, 5) for i in range(1, 6)
    }
    assert {k: t.final_answer for k, t in tasks.items()} == {
        "url1": "notporn",
        "url2": "porn",
        "url3": "notporn",
        "url4": "porn",
        "url5": "porn",
    }
    assert {t.decided_by for t in tasks.values()} == {"consensus"}
    assert ModelFit.objects.get(project_id=project.pk).classes == ["notporn", "porn"]
    accuracy = dict(
        LabelerEstimate.objects.filter(project_id=project.pk).values_list(
            "labeler__user__username", "accuracy"
        )
    )
    assert len(accuracy) == 5
    # The adversarial worker ranks last, the always-porn worker below the good ones.
    assert min(accuracy, key=accuracy.get) == "replay-gal-toy-worker5"
    assert accuracy["replay-gal-toy-worker1"] < min(
        accuracy["replay-gal-toy-worker3"], accuracy["replay-gal-toy-worker4"]
    )


def _strict_majority_by_hand(items: set[str]) -> tuple[int, int, int]:
    """(right, undecided, plurality right) over ``items``, straight from temp's CSV files: a
    task is decided when one label has more than half of its votes."""
    votes: dict[str, Counter] = defaultdict(Counter)
    with (DATASETS / "temp" / "labels.csv").open(newline="") as fh:
        for row in csv.DictReader(fh):
            if row["item"] in items:
                votes[row["item"]][row["label"]] += 1
    with (DATASETS / "temp" / "gold.csv").open(newline="") as fh:
        gold = {row["item"]: row["label"] for row in csv.DictReader(fh) if row["item"] in items}
    right = undecided = plurality = 0
    for item, counter in votes.items():
        (top, n_top), *rest = counter.most_common()
        total = sum(counter.values())
        if n_top * 2 > total:
            right += top == gold[item]
        else:
            undecided += 1
        if not rest or rest[0][1] < n_top:
            plurality += top == gold[item]
    return right, undecided, plurality


def test_temp_slice_live_majority_matches_a_hand_count():
    prepared = bench.prepare(DATASETS, "temp", sample=100, seed=7)
    assert prepared.sampled_from == 462 and prepared.data.n_items == 100
    result = bench.replay(prepared, slug="replay-temp")

    right, undecided, plurality = _strict_majority_by_hand(set(prepared.item_names))
    assert result.gold_scored == 100
    assert (result.submitted, result.submit_errors) == (1000, 0)  # 10 labels per item
    assert (result.live_correct, result.live_undecided) == (right, undecided)
    assert undecided > 0  # 5-5 ties exist in this slice: the check above is not vacuous
    assert result.actions["decided"] == 100 - (
        Task.objects.filter(project__slug="replay-temp").exclude(decided_by="consensus").count()
    )
    assert round(result.mv_plurality * 100) == plurality
    # After the refit the service decides every item as the file-level fit does.
    assert result.weighted_vs_file == 0
    assert result.weighted_correct == round(result.file_ds * 100)
    assert result.weighted_correct > result.live_correct
