"""Dawid-Skene refit writes (qc.services.estimates.estimates_fit) and the weighted posterior
(qc.consensus_maths.weighted_posterior), with hand-checked values."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from qc.consensus_maths import one_coin_matrix, weighted_posterior
from qc.models import LabelerEstimate, ModelFit
from qc.services.estimates import estimates_fit
from tests.factories import make_labeler, same_rows

# -- the weighted posterior (pure) -------------------------------------------------------------


class TestWeightedPosterior:
    def test_a_strong_labeler_outweighs_two_weak_ones(self):
        # P(a) ~ 0.5 * 0.9 * 0.4 * 0.4 = 0.072; P(b) ~ 0.5 * 0.1 * 0.6 * 0.6 = 0.018.
        post = weighted_posterior(["a", "b", "b"], [0.9, 0.6, 0.6], classes=["a", "b"])
        assert post.label == "a"
        assert post.confidence == pytest.approx(0.072 / 0.09)
        assert post.posteriors["b"] == pytest.approx(0.2)

    def test_priors_move_the_posterior(self):
        # a: 0.25 * 0.9 * 0.4 * 0.4 = 0.036; b: 0.75 * 0.1 * 0.6 * 0.6 = 0.027.
        post = weighted_posterior(
            ["a", "b", "b"], [0.9, 0.6, 0.6], classes=["a", "b"], priors=[0.25, 0.75]
        )
        assert post.label == "a"
        assert post.confidence == pytest.approx(0.036 / 0.063)

    def test_three_classes_with_matrices_and_the_default(self):
        # crack: 0.9 * 0.2 * 0.7 ; rust: 0.05 * 0.6 * 0.15 ; ok: 0.05 * 0.2 * 0.15 (uniform
        # priors); the third labeler has no model: one-coin 0.7.
        classes = ["ok", "crack", "rust"]
        models = [one_coin_matrix(0.9, 3), one_coin_matrix(0.6, 3), None]
        post = weighted_posterior(["crack", "rust", "crack"], models, classes=classes)
        crack, rust, ok = 0.9 * 0.2 * 0.7, 0.05 * 0.6 * 0.15, 0.05 * 0.2 * 0.15
        assert post.label == "crack"
        assert post.confidence == pytest.approx(crack / (crack + rust + ok))

    def test_a_full_matrix_reads_the_answer_column(self):
        # This labeler answers "b" for most true "a": their "b" is evidence for "a".
        matrix = [[0.2, 0.8], [0.1, 0.9]]
        post = weighted_posterior(["b"], [matrix], classes=["a", "b"])
        assert post.posteriors["a"] == pytest.approx(0.8 / (0.8 + 0.9))

    def test_an_exact_tie_has_no_label(self):
        post = weighted_posterior(["a", "b"], [0.8, 0.8], classes=["a", "b"])
        assert post.label is None
        assert post.confidence == pytest.approx(0.5)

    def test_bad_input(self):
        with pytest.raises(ValueError):
            weighted_posterior(["z"], [0.8], classes=["a", "b"])
        with pytest.raises(ValueError):
            weighted_posterior(["a"], [[[1.0]]], classes=["a", "b"])
        with pytest.raises(ValueError):
            weighted_posterior(["a", "b"], [0.8], classes=["a", "b"])


# -- estimates_fit -----------------------------------------------------------------------------

NOW = timezone.now().replace(microsecond=0)


ERRORS = (
    lambda i: False,  # always right
    lambda i: i % 5 == 0,  # 80%
    lambda i: i % 3 == 1,  # 67%
    lambda i: i % 4 in (0, 1),  # a coin
)


def toy_answers(labelers, *, items: int = 30):
    """Four labelers (or the first few of them) on ``items`` items of truth a/b alternating,
    each wrong on the items of their rule in ``ERRORS``."""
    answers, truth = [], {}
    for i in range(items):
        true = "a" if i % 2 == 0 else "b"
        wrong = "b" if true == "a" else "a"
        truth[i] = true
        for labeler, is_wrong in zip(labelers, ERRORS, strict=False):
            answers.append((i, labeler.pk, wrong if is_wrong(i) else true))
    return answers, truth


@pytest.mark.django_db
class TestEstimatesFit:
    def test_fit_writes_one_row_per_labeler_and_ranks_them(self):
        labelers = [make_labeler() for _ in range(4)]
        answers, _ = toy_answers(labelers)
        gold = {("g", 1): "a"}
        answers += [(("g", 1), labelers[3].pk, "b")]
        summary = estimates_fit(
            project_id=7, classes=["a", "b"], answers=answers, gold=gold, now=NOW
        )
        assert summary.n_labels == 121 and summary.n_items == 31 and summary.n_gold == 1
        fit = ModelFit.objects.get(project_id=7)
        # The model is chosen by held-out likelihood; the choice and its scores are stored.
        scores = fit.choice["scores"]
        assert set(scores) >= {"one_coin", "full"} and fit.choice["n_labels"] == 121
        assert summary.method == fit.method == fit.choice["method"]
        assert scores[summary.method] == max(scores["one_coin"], scores["full"])
        assert fit.classes == ["a", "b"] and fit.n_gold == 1
        assert sum(fit.priors) == pytest.approx(1.0, abs=1e-5)
        rows = {e.labeler_id: e for e in LabelerEstimate.objects.filter(project_id=7)}
        assert set(rows) == {x.pk for x in labelers}
        acc = [rows[x.pk].accuracy for x in labelers]
        assert acc[0] > acc[1] > acc[2] > acc[3]
        assert acc[0] > 0.9 and acc[3] < 0.55
        assert rows[labelers[0].pk].n_items == 30 and rows[labelers[3].pk].n_items == 31
        assert len(rows[labelers[0].pk].confusion) == 2

    def test_thin_data_is_one_coin(self):
        labelers = [make_labeler() for _ in range(3)]
        answers, _ = toy_answers(labelers, items=5)
        summary = estimates_fit(project_id=8, classes=["a", "b"], answers=answers, gold={}, now=NOW)
        assert summary.method == "one_coin"
        assert set(LabelerEstimate.objects.values_list("method", flat=True)) == {"one_coin"}

    def test_same_data_twice_gives_the_same_rows(self):
        labelers = [make_labeler() for _ in range(3)]
        answers, _ = toy_answers(labelers)

        def snapshot():
            fit = ModelFit.objects.filter(project_id=9).values().get()
            rows = list(LabelerEstimate.objects.filter(project_id=9).order_by("id").values())
            return fit, rows

        estimates_fit(project_id=9, classes=["a", "b"], answers=answers, gold={}, now=NOW)
        first = snapshot()
        estimates_fit(project_id=9, classes=["a", "b"], answers=answers, gold={}, now=NOW)
        again = snapshot()
        # The same rows up to EM's tolerance — the second fit starts from the first's
        # parameters, so it converges at once — but for the fit's version, which counts fits.
        assert again[0].pop("version") == first[0].pop("version") + 1
        assert first[0].pop("iterations") > 10 and again[0].pop("iterations") <= 3
        assert same_rows(again, first)
        assert ModelFit.objects.count() == 1 and LabelerEstimate.objects.count() == 3

    def test_a_labeler_without_answers_any_more_loses_their_estimate(self):
        labelers = [make_labeler() for _ in range(3)]
        answers, _ = toy_answers(labelers)
        estimates_fit(project_id=10, classes=["a", "b"], answers=answers, gold={}, now=NOW)
        fewer = [a for a in answers if a[1] != labelers[2].pk]
        later = NOW + timedelta(hours=1)
        estimates_fit(project_id=10, classes=["a", "b"], answers=fewer, gold={}, now=later)
        assert set(LabelerEstimate.objects.values_list("labeler_id", flat=True)) == {
            labelers[0].pk,
            labelers[1].pk,
        }
        assert ModelFit.objects.get(project_id=10).fitted_at == later
        estimates_fit(project_id=10, classes=["a", "b"], answers=[], gold={}, now=later)
        assert not ModelFit.objects.exists() and not LabelerEstimate.objects.exists()

    def test_other_projects_are_left_alone(self):
        labelers = [make_labeler() for _ in range(3)]
        answers, _ = toy_answers(labelers)
        estimates_fit(project_id=11, classes=["a", "b"], answers=answers, gold={}, now=NOW)
        estimates_fit(project_id=12, classes=["a", "b"], answers=answers[:30], gold={}, now=NOW)
        assert LabelerEstimate.objects.filter(project_id=11).count() == 3

    def test_unknown_class_is_refused(self):
        labeler = make_labeler()
        with pytest.raises(ValueError):
            estimates_fit(
                project_id=13, classes=["a", "b"], answers=[(1, labeler.pk, "c")], gold={}, now=NOW
            )
        assert not ModelFit.objects.exists()

    def test_queries_do_not_grow_with_labelers(self):
        def queries(n_labelers: int, project_id: int) -> int:
            labelers = [make_labeler() for _ in range(n_labelers)]
            answers = [
                (i, labeler.pk, "a" if (i + j) % 3 else "b")
                for j, labeler in enumerate(labelers)
                for i in range(12)
            ]
            with CaptureQueriesContext(connection) as ctx:
                estimates_fit(
                    project_id=project_id, classes=["a", "b"], answers=answers, gold={}, now=NOW
                )
            return len(ctx.captured_queries)

        few, many = queries(3, 20), queries(30, 21)
        assert many == few
        assert LabelerEstimate.objects.filter(project_id=21).count() == 30


@pytest.mark.django_db
def test_the_model_is_chosen_again_only_when_the_labels_have_doubled():
    labelers = [make_labeler() for _ in range(3)]
    answers, _ = toy_answers(labelers)  # 90 labels
    fit = estimates_fit(project_id=5, classes=["a", "b"], answers=answers, gold={}, now=NOW)
    assert ModelFit.objects.get(project_id=5).choice["n_labels"] == 90
    more = answers + [((i, "new"), w, name) for i, w, name in answers[:60]]  # 150 < 2 x 90
    estimates_fit(project_id=5, classes=["a", "b"], answers=more, gold={}, now=NOW)
    kept = ModelFit.objects.get(project_id=5)
    assert (kept.choice["n_labels"], kept.method) == (90, fit.method)
    doubled = answers + [((i, "new"), w, name) for i, w, name in answers]  # 180
    estimates_fit(project_id=5, classes=["a", "b"], answers=doubled, gold={}, now=NOW)
    rechosen = ModelFit.objects.get(project_id=5)
    assert rechosen.choice["n_labels"] == 180
    # A new choice starts from the votes, not from the fit before: the same fit as a project
    # fitted once on these labels.
    estimates_fit(project_id=6, classes=["a", "b"], answers=doubled, gold={}, now=NOW)
    fresh = ModelFit.objects.get(project_id=6)
    assert (rechosen.iterations, rechosen.log_likelihood) == (
        fresh.iterations,
        fresh.log_likelihood,
    )
