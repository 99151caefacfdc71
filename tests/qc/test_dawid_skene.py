"""qc.dawid_skene: a toy set with a known answer, one EM step by hand, a synthetic crowd with known
confusion matrices, gold anchoring, the held-out model choice, warm starts, edge cases and
determinism. No database."""

from __future__ import annotations

import csv

import numpy as np
import pytest

from qc.dawid_skene import (
    METHODS,
    NO_LABEL,
    choose_method,
    dawid_skene,
    full_share,
    majority_vote,
    vote_counts,
)
from qc.stats import spearman
from tests.datasets import datasets_dir

GAL_TOY = datasets_dir("gal_toy") / "gal_toy"


def gal_toy():
    """Get-Another-Label's toy set, inlined from /work/shared/datasets/gal_toy/labels.csv so the
    test does not depend on that folder; its README: url1, url3, url5 are notporn, url2, url4
    porn; worker1 always says porn, worker2 is fair (wrong on url5), worker3 and worker4 are
    right every time, worker5 is always wrong."""
    answers = {  # worker -> answers for url1..url5 (0 = notporn, 1 = porn)
        0: [1, 1, 1, 1, 1],
        1: [0, 1, 0, 1, 1],
        2: [0, 1, 0, 1, 0],
        3: [0, 1, 0, 1, 0],
        4: [1, 0, 1, 0, 1],
    }
    items, workers, labels = [], [], []
    for worker, row in answers.items():
        for item, label in enumerate(row):
            items.append(item)
            workers.append(worker)
            labels.append(label)
    return np.array(items), np.array(workers), np.array(labels), np.array([0, 1, 0, 1, 0])


def test_inlined_gal_toy_is_the_shared_file():
    if not GAL_TOY.exists():
        pytest.skip("shared data set folder not present")
    with (GAL_TOY / "labels.csv").open() as fh:
        rows = [(r["item"], r["worker"], r["label"]) for r in csv.DictReader(fh)]
    items, workers, labels, truth = gal_toy()
    names = ["notporn", "porn"]
    expected = {
        (f"url{i + 1}", f"worker{w + 1}", names[c])
        for i, w, c in zip(items, workers, labels, strict=True)
    }
    assert set(rows) == expected
    with (GAL_TOY / "gold.csv").open() as fh:
        gold = {r["item"]: r["label"] for r in csv.DictReader(fh)}
    assert gold == {f"url{i + 1}": names[c] for i, c in enumerate(truth)}


@pytest.mark.parametrize("method", ["auto", "one_coin", "full"])
def test_gal_toy_recovers_the_truth_where_majority_fails(method):
    items, workers, labels, truth = gal_toy()
    # url5 has 3 porn votes (the lazy, the fair and the adversarial worker) against 2.
    assert majority_vote(items, labels, 2).tolist() == [0, 1, 0, 1, 1]
    result = dawid_skene(items, workers, labels, 2, method=method)
    assert result.labels.tolist() == truth.tolist()  # the README's answer, as crowd-kit's DS
    if method == "auto":
        assert set(result.choice) == set(METHODS)  # every model scored
        assert result.method == max(("one_coin", "full"), key=result.choice.__getitem__)
    else:
        assert result.method == method
        assert result.choice == {}  # no choice was made
    accuracy = result.worker_accuracy
    # the good workers first, then the fair one, the lazy one, the adversary last
    assert accuracy[2] > 0.9 and accuracy[3] > 0.9
    assert accuracy[2] > accuracy[1] > accuracy[0] > accuracy[4]
    assert accuracy[4] < 0.1
    assert result.converged


def test_one_em_step_by_hand():
    # Two workers, two items: item 0 gets 0 and 0, item 1 gets 1 (worker 0) and 0 (worker 1).
    # Soft majority vote: item 0 = (1, 0), item 1 = (0.5, 0.5).
    # M-step: priors (1.5 + 1, 0.5 + 1) / 4 = (0.625, 0.375) (add-one); each worker's expected
    # right answers 1 + 0.5 = 1.5 of 2, accuracy (1.5 + 0.1) / (2 + 0.2) = 8/11.
    # E-step: item 0: 0.625 (8/11)^2 = 40/121 against 0.375 (3/11)^2 = 3.375/121, so
    # P(class 0) = 40 / 43.375 = 0.92219; item 1: the workers contradict each other with equal
    # accuracy, their factors cancel and the posterior is the prior (0.625, 0.375).
    result = dawid_skene([0, 0, 1, 1], [0, 1, 0, 1], [0, 0, 1, 0], 2, method="one_coin", max_iter=1)
    assert result.iterations == 1
    assert result.priors == pytest.approx([0.625, 0.375])
    assert result.worker_accuracy == pytest.approx([8 / 11, 8 / 11])
    assert result.posteriors[0] == pytest.approx([40 / 43.375, 3.375 / 43.375])
    assert result.posteriors[1] == pytest.approx([0.625, 0.375])
    # log-likelihood: log(40/121 + 3.375/121) + log(0.625 * 8/11 * 3/11 + 0.375 * 3/11 * 8/11)
    expected = np.log(43.375 / 121) + np.log(24 / 121)
    assert result.log_likelihood == pytest.approx(expected)
    assert result.confusion[0] == pytest.approx(np.array([[8, 3], [3, 8]]) / 11)


def synthetic_crowd(seed=20250601, n_items=600, per_item=5, k=3, n_workers=30):
    """Labels drawn from known confusion matrices: two workers in three have symmetric errors
    with an accuracy anywhere from chance to 0.95; every third over-answers class 0. Returns
    (items, workers, labels, truth, true worker accuracy sum_c prior_c pi_w[c, c])."""
    rng = np.random.default_rng(seed)
    confusions = np.empty((n_workers, k, k))
    for w in range(n_workers):
        if w % 3 == 2:
            d = rng.uniform(0.3, 0.9)
            m = np.zeros((k, k))
            m[:, 0] = 1 - d
            np.fill_diagonal(m, d)
            m[0] = [0.9] + [0.1 / (k - 1)] * (k - 1)
        else:
            d = rng.uniform(1 / k, 0.95)
            m = np.full((k, k), (1 - d) / (k - 1))
            np.fill_diagonal(m, d)
        confusions[w] = m
    priors = np.array([0.5, 0.3, 0.2])
    truth = rng.choice(k, size=n_items, p=priors)
    workers = np.concatenate(
        [rng.choice(n_workers, per_item, replace=False) for _ in range(n_items)]
    )
    items = np.repeat(np.arange(n_items), per_item)
    cumulative = np.cumsum(confusions[workers, truth[items]], axis=1)
    labels = (rng.random(items.size)[:, None] > cumulative).sum(axis=1)
    true_accuracy = confusions[:, np.arange(k), np.arange(k)] @ priors
    return items, workers, labels, truth, true_accuracy


def test_synthetic_crowd_beats_majority_and_ranks_workers():
    items, workers, labels, truth, true_accuracy = synthetic_crowd()
    result = dawid_skene(items, workers, labels, 3)
    assert result.method == "full"  # about 100 labels per worker
    ds_accuracy = (result.labels == truth).mean()
    best_majority = max(
        (majority_vote(items, labels, 3, tie=rule) == truth).mean() for rule in ("lowest", "random")
    )
    # Measured: DS 0.908, majority 0.875 (lowest) / 0.870 (random); one coin 0.877.
    assert ds_accuracy >= best_majority + 0.02
    one_coin = dawid_skene(items, workers, labels, 3, method="one_coin")
    assert ds_accuracy > (one_coin.labels == truth).mean()  # the biased workers need matrices
    # Measured 0.95.
    assert spearman(list(result.worker_accuracy), list(true_accuracy)) >= 0.9
    # The estimated class priors are close to the true ones (0.5, 0.3, 0.2).
    assert result.priors == pytest.approx([0.5, 0.3, 0.2], abs=0.05)
    assert result.converged


def adversarial_majority():
    """Three workers who always give the wrong class (of two) and one who is always right, on
    ten items of alternating truth: without outside knowledge the majority (and EM, which has
    no reason to doubt it) is wrong everywhere."""
    truth = np.array([0, 1] * 5)
    items, workers, labels = [], [], []
    for item, cls in enumerate(truth):
        for worker in range(4):
            items.append(item)
            workers.append(worker)
            labels.append(cls if worker == 3 else 1 - cls)
    return np.array(items), np.array(workers), np.array(labels), truth


@pytest.mark.parametrize("method", ["one_coin", "full"])
def test_gold_anchoring_turns_the_answer_where_it_should(method):
    items, workers, labels, truth = adversarial_majority()
    free = dawid_skene(items, workers, labels, 2, method=method)
    assert (free.labels != truth).all()
    gold = {0: 0, 1: 1, 2: 0, 3: 1}  # four items with known answers
    anchored = dawid_skene(items, workers, labels, 2, method=method, gold=gold)
    assert (anchored.labels == truth).all()  # the six other items flip to the truth too
    # gold items are clamped to their class; the adversaries are found out
    assert anchored.posteriors[list(gold)] == pytest.approx(np.eye(2)[list(gold.values())])
    assert anchored.worker_accuracy[3] > 0.8
    assert (anchored.worker_accuracy[:3] < 0.2).all()


def test_gold_is_clamped_even_against_unanimous_labels():
    # Both workers say 1 on item 0, gold says 0: its posterior stays on 0. The only evidence
    # about the workers is that their "1" meant 0, so item 1, where both say 1 again, is read
    # as 0 too; without gold both items are 1.
    result = dawid_skene([0, 0, 1, 1], [0, 1, 0, 1], [1, 1, 1, 1], 2, gold={0: 0})
    assert result.posteriors[0].tolist() == [1.0, 0.0]
    assert result.labels.tolist() == [0, 0]
    assert dawid_skene([0, 0, 1, 1], [0, 1, 0, 1], [1, 1, 1, 1], 2).labels.tolist() == [1, 1]


def test_single_worker_is_taken_at_their_word():
    labels = [0, 2, 1, 1, 0, 2]
    result = dawid_skene(range(6), [0] * 6, labels, 3)
    assert result.labels.tolist() == labels
    assert result.worker_accuracy[0] > 0.5


def test_single_class():
    result = dawid_skene([0, 0, 1], [0, 1, 0], [0, 0, 0], 1)
    assert result.posteriors.tolist() == [[1.0], [1.0]]
    assert result.labels.tolist() == [0, 0]
    assert result.worker_accuracy == pytest.approx([1.0, 1.0])


def test_only_one_class_observed_of_two():
    result = dawid_skene([0, 1, 2], [0, 0, 1], [1, 1, 1], 2)
    assert result.labels.tolist() == [1, 1, 1]
    assert result.priors[1] > result.priors[0]


def test_items_and_workers_without_labels():
    # Item 2 and worker 2 have no labels: the item gets the priors, the worker only smoothing.
    result = dawid_skene([0, 1], [0, 1], [1, 1], 2, n_items=3, n_workers=3)
    assert result.posteriors[2] == pytest.approx(result.priors)
    assert result.worker_label_counts.tolist() == [1, 1, 0]
    assert result.confusion[2] == pytest.approx(np.full((2, 2), 0.5))


def test_no_labels_at_all():
    result = dawid_skene([], [], [], 3)
    assert result.posteriors.shape == (0, 3)
    assert result.labels.shape == (0,)
    assert result.priors == pytest.approx([1 / 3] * 3)


def test_full_share_is_the_share_of_labels_from_experienced_workers():
    # Worker 0 gives 20 labels, worker 1 gives 2: 20 of 22 labels come from a worker with >= 20.
    assert full_share(np.array([20, 2])) == pytest.approx(20 / 22)
    assert full_share(np.array([20, 2]), min_labels_full=2) == 1.0
    assert full_share(np.array([0, 0])) == 0.0


# --- model choice ------------------------------------------------------------------------------


def sparse_one_coin_crowd(seed, n_items=1500, n_workers=50, k=4):
    """One-coin labelers (accuracy uniform in [0.55, 0.9], errors uniform over the other
    classes), 2 or 3 labels per item, about 75 labels per labeler: the thin crowd on which a
    full matrix per labeler overfits. Returns (items, workers, labels, truth)."""
    rng = np.random.default_rng(seed)
    skill = rng.uniform(0.55, 0.9, n_workers)
    truth = rng.integers(0, k, n_items)
    per_item = rng.integers(2, 4, n_items)
    items = np.repeat(np.arange(n_items), per_item)
    workers = np.concatenate([rng.choice(n_workers, p, replace=False) for p in per_item])
    right = rng.random(items.size) < skill[workers]
    labels = np.where(right, truth[items], (truth[items] + rng.integers(1, k, items.size)) % k)
    return items, workers, labels, truth


def dense_swapping_crowd(seed, n_items=600, n_workers=12, k=3, per_item=3):
    """Labelers right 80% of the time, but every third one swaps classes 1 and 2 (answers 2 for
    1 and 1 for 2): strongly asymmetric confusion, 150 labels per labeler. Returns (items,
    workers, labels, truth)."""
    rng = np.random.default_rng(seed)
    items = np.repeat(np.arange(n_items), per_item)
    workers = np.concatenate(
        [rng.choice(n_workers, per_item, replace=False) for _ in range(n_items)]
    )
    truth = rng.integers(0, k, n_items)
    confusions = np.empty((n_workers, k, k))
    for w in range(n_workers):
        m = np.full((k, k), 0.2 / (k - 1))
        np.fill_diagonal(m, 0.8)
        confusions[w] = m[:, [0, 2, 1]] if w % 3 == 0 else m
    cumulative = np.cumsum(confusions[workers, truth[items]], axis=1)
    labels = (rng.random(items.size)[:, None] > cumulative).sum(axis=1)
    return items, workers, labels, truth


def accuracy_of(method, items, workers, labels, k, truth):
    return (dawid_skene(items, workers, labels, k, method=method).labels == truth).mean()


@pytest.mark.parametrize("seed", [0, 1, 2])
@pytest.mark.parametrize(
    ("crowd", "k", "better", "worse", "margin"),
    [
        # Measured: one-coin scores 0.08 to 0.11 per label above full and is 2 to 4 points more
        # accurate.
        (sparse_one_coin_crowd, 4, "one_coin", "full", 0.0),
        # Measured: full scores about 0.1 per label above one-coin and is 7 to 9 points more
        # accurate (0.89 against 0.81).
        (dense_swapping_crowd, 3, "full", "one_coin", 0.03),
    ],
)
def test_choice_picks_the_model_that_fits_the_crowd(crowd, k, better, worse, margin, seed):
    items, workers, labels, truth = crowd(seed)
    method, scores = choose_method(items, workers, labels, k)
    assert method == better
    # The choice is the more accurate model, and by a clear held-out margin, not a coin toss.
    assert scores[better] > scores[worse] + 0.03
    assert accuracy_of(better, items, workers, labels, k, truth) > margin + accuracy_of(
        worse, items, workers, labels, k, truth
    )
    result = dawid_skene(items, workers, labels, k)
    assert result.method == better
    assert result.choice == scores


def test_choice_scores_every_model_and_picks_only_among_candidates():
    items, workers, labels, _ = sparse_one_coin_crowd(0)
    method, scores = choose_method(items, workers, labels, 4)
    assert set(scores) == {"majority", "one_coin", "full"}
    # Each score is a mean log-probability per held-out label: below 0, above log(1/K) for a
    # crowd better than chance.
    assert all(np.log(1 / 4) < score < 0 for score in scores.values())
    assert method == max(("one_coin", "full"), key=scores.__getitem__)
    only_full, same_scores = choose_method(items, workers, labels, 4, candidates=["full"])
    assert only_full == "full"
    assert same_scores == scores
    with_majority, _ = choose_method(items, workers, labels, 4, candidates=METHODS)
    assert with_majority == max(METHODS, key=scores.__getitem__)
    # Ten folds: other held-out labels, other scores, the same choice.
    ten_method, ten = choose_method(items, workers, labels, 4, folds=10)
    assert ten != scores
    assert ten_method == method


def test_choice_is_deterministic_and_does_not_depend_on_the_order_of_the_rows():
    items, workers, labels, _ = dense_swapping_crowd(5)
    first = choose_method(items, workers, labels, 3)
    assert choose_method(items.copy(), workers.copy(), labels.copy(), 3) == first
    # The folds come from a hash of (item, worker), not from the row positions.
    order = np.random.default_rng(1).permutation(items.size)
    method, scores = choose_method(items[order], workers[order], labels[order], 3)
    assert method == first[0]
    assert scores == pytest.approx(first[1], abs=1e-6)


def test_choice_keeps_gold_anchors_in_every_fold():
    # The adversarial majority: three workers always wrong, one always right. Without gold the
    # folds read the three as right and the one as wrong, which predicts held-out labels almost
    # as well (the crowd is consistent either way); with gold in every fold's fit each model
    # predicts them better still, and the refit on all labels is right everywhere.
    items, workers, labels, truth = adversarial_majority()
    gold = {0: 0, 1: 1, 2: 0, 3: 1}
    _, free = choose_method(items, workers, labels, 2)
    method, anchored = choose_method(items, workers, labels, 2, gold=gold)
    assert all(anchored[m] > free[m] for m in METHODS)  # measured: by 0.002 to 0.04
    result = dawid_skene(items, workers, labels, 2, gold=gold)
    assert result.method == method
    assert (result.labels == truth).all()


def test_choice_without_labels_and_bad_options():
    assert choose_method([], [], [], 3) == ("one_coin", {})
    assert choose_method([], [], [], 3, candidates=["full"]) == ("full", {})
    for kwargs in ({"candidates": []}, {"candidates": ["glad"]}, {"folds": 1}):
        with pytest.raises(ValueError):
            choose_method([0, 0], [0, 1], [0, 1], 2, **kwargs)
        with pytest.raises(ValueError):
            dawid_skene([0, 0], [0, 1], [0, 1], 2, **kwargs)


def test_majority_model_is_one_coin_with_one_shared_accuracy():
    items, workers, labels, _ = sparse_one_coin_crowd(3)
    result = dawid_skene(items, workers, labels, 4, method="majority")
    assert result.method == "majority"
    assert np.ptp(result.confusion[:, 0, 0]) == 0.0  # the same accuracy for everyone
    votes = vote_counts(items, labels, 4)
    clear = (votes == votes.max(axis=1, keepdims=True)).sum(axis=1) == 1
    # Where the vote has a single winner, the majority model agrees with it.
    assert (result.labels[clear] == votes[clear].argmax(axis=1)).all()
    # ...but its labelers still differ in their expected own fraction correct.
    assert np.ptp(result.worker_expected_correct) > 0.1


# --- warm start --------------------------------------------------------------------------------


@pytest.mark.parametrize("method", ["one_coin", "full"])
def test_warm_start_from_a_converged_fit_converges_at_once_to_the_same_answer(method):
    items, workers, labels, _, _ = synthetic_crowd(seed=11)
    cold = dawid_skene(items, workers, labels, 3, method=method)
    assert cold.iterations > 5
    warm = dawid_skene(items, workers, labels, 3, method=method, init_posteriors=cold.posteriors)
    assert warm.converged
    assert warm.iterations <= 3
    assert np.array_equal(warm.labels, cold.labels)
    # "Converged" means the log-likelihood moved by at most tol per label, not that the
    # parameters stopped: the two more E-steps move posteriors by a few 1e-4 (measured at most
    # 6e-4 with one coin, 3e-3 with full) and, EM being monotone, only up.
    assert warm.posteriors == pytest.approx(cold.posteriors, abs=0.01)
    assert warm.confusion == pytest.approx(cold.confusion, abs=0.01)
    assert warm.log_likelihood >= cold.log_likelihood
    assert warm.log_likelihood == pytest.approx(cold.log_likelihood, rel=1e-6)


def test_warm_start_after_new_items_and_with_unusable_rows():
    items, workers, labels, _, _ = synthetic_crowd(seed=11)
    old = items < 500  # the previous fit saw the first 500 items; 100 arrived since
    previous = dawid_skene(items[old], workers[old], labels[old], 3, method="full")
    start = previous.posteriors.copy()
    start[:10] = np.nan  # e.g. items whose previous verdict was dropped
    cold = dawid_skene(items, workers, labels, 3, method="full")
    warm = dawid_skene(items, workers, labels, 3, method="full", init_posteriors=start)
    assert warm.converged
    assert warm.iterations < cold.iterations
    assert np.array_equal(warm.labels, cold.labels)
    assert warm.log_likelihood == pytest.approx(cold.log_likelihood, rel=1e-6)


def test_warm_start_rejects_bad_shapes_and_negative_entries():
    with pytest.raises(ValueError):
        dawid_skene([0, 1], [0, 0], [0, 1], 2, init_posteriors=np.ones((2, 3)))
    with pytest.raises(ValueError):
        dawid_skene([0, 1], [0, 0], [0, 1], 2, init_posteriors=-np.ones((2, 2)))


def test_old_callers_keep_working():
    # The arguments of the old share rule are accepted (and no longer decide anything), and the
    # explicit methods fit as before, with an empty choice.
    items, workers, labels, _, _ = synthetic_crowd(seed=7)
    old = dawid_skene(
        items, workers, labels, 3, method="auto", min_labels_full=5, full_min_share=0.5
    )
    new = dawid_skene(items, workers, labels, 3)
    assert old.method == new.method
    assert old.choice == new.choice
    assert np.array_equal(old.posteriors, new.posteriors)
    explicit = dawid_skene(items, workers, labels, 3, method="full", min_labels_full=5)
    assert explicit.choice == {}
    assert explicit.method == "full"


def test_results_are_deterministic_and_consistent():
    items, workers, labels, _, _ = synthetic_crowd(seed=7)
    first = dawid_skene(items, workers, labels, 3)
    second = dawid_skene(items.copy(), workers.copy(), labels.copy(), 3)
    assert np.array_equal(first.posteriors, second.posteriors)
    assert np.array_equal(first.worker_accuracy, second.worker_accuracy)
    assert first.iterations == second.iterations
    # The order of the rows does not matter (up to the order of floating-point sums).
    order = np.random.default_rng(0).permutation(items.size)
    shuffled = dawid_skene(items[order], workers[order], labels[order], 3)
    assert np.array_equal(shuffled.labels, first.labels)
    assert shuffled.posteriors == pytest.approx(first.posteriors, abs=1e-6)
    # Contract of the result: rows sum to 1, accuracy is the prior-weighted diagonal.
    assert first.posteriors.sum(axis=1) == pytest.approx(np.ones(first.posteriors.shape[0]))
    assert first.confusion.sum(axis=2) == pytest.approx(np.ones((30, 3)))
    diagonal = first.confusion[:, np.arange(3), np.arange(3)]
    assert first.worker_accuracy == pytest.approx(diagonal @ first.priors)
    assert np.array_equal(first.labels, np.argmax(first.posteriors, axis=1))


def test_labels_tie_to_the_lowest_class():
    # Two workers split 1-1 on one item: soft vote (0.5, 0.5), priors (1.5, 1.5) / 3, each
    # worker (0.5 + 0.1) / (1 + 0.2) = 0.5 accurate, so the posterior is (0.5, 0.5): a tie,
    # which goes to class 0.
    result = dawid_skene([0, 0], [0, 1], [0, 1], 2, method="one_coin", max_iter=1)
    assert result.posteriors[0] == pytest.approx([0.5, 0.5])
    assert result.labels.tolist() == [0]


def test_iteration_cap():
    items, workers, labels, _, _ = synthetic_crowd(seed=7)
    result = dawid_skene(items, workers, labels, 3, max_iter=2, tol=0.0)
    assert result.iterations == 2
    assert not result.converged


@pytest.mark.parametrize(
    ("args", "kwargs"),
    [
        (([0, 1], [0], [0, 1], 2), {}),  # lengths differ
        (([0], [0], [2], 2), {}),  # class out of range
        (([-1], [0], [0], 2), {}),  # negative index
        (([0.5], [0], [0], 2), {}),  # not integers
        (([0], [0], [0], 2), {"gold": {0: 2}}),  # gold class out of range
        (([0], [0], [0], 2), {"gold": {5: 0}}),  # gold item out of range
        (([0], [0], [0], 2), {"method": "glad"}),
        (([0], [0], [0], 2), {"init_posteriors": [0.5, 0.5]}),
        (([0], [0], [0], 2), {"smoothing": 0.0}),
        (([0], [0], [0], 2), {"shrinkage": -1.0}),
        (([0], [0], [0], 2), {"max_iter": 0}),
        (([0], [0], [0], 0), {}),
        (([3], [0], [0], 2), {"n_items": 2}),
    ],
)
def test_rejects_bad_input(args, kwargs):
    with pytest.raises(ValueError):
        dawid_skene(*args, **kwargs)


# --- majority vote -----------------------------------------------------------------------------


def test_majority_vote_tie_rules():
    # item 0: 2-1 for class 1; item 1: 1-1 tie between 0 and 2; item 2: no labels.
    items, labels = [0, 0, 0, 1, 1], [1, 1, 0, 2, 0]
    assert vote_counts(items, labels, 3, n_items=3).tolist() == [[1, 2, 0], [1, 0, 1], [0, 0, 0]]
    assert majority_vote(items, labels, 3, n_items=3).tolist() == [1, NO_LABEL, NO_LABEL]
    assert majority_vote(items, labels, 3, n_items=3, tie="lowest").tolist() == [1, 0, NO_LABEL]
    picks = {
        int(majority_vote(items, labels, 3, n_items=3, tie="random", seed=s)[1]) for s in range(40)
    }
    assert picks == {0, 2}  # only tied classes, and both of them over enough seeds
    again = [majority_vote(items, labels, 3, tie="random", seed=5)[1] for _ in range(3)]
    assert len(set(again)) == 1  # a seed fixes the choice
    with pytest.raises(ValueError):
        majority_vote(items, labels, 3, tie="coin")


def test_expected_correct_is_the_mean_posterior_of_each_workers_own_labels():
    # Two items; worker 0 labels both 0, worker 1 labels item 0 as 0 and item 1 as 1.
    items = [0, 0, 1, 1]
    workers = [0, 1, 0, 1]
    labels = [0, 0, 0, 1]
    result = dawid_skene(items, workers, labels, 2, method="one_coin")
    post = result.posteriors
    # By hand from the fitted posteriors: worker 0 gave (item 0, 0) and (item 1, 0); worker 1
    # gave (item 0, 0) and (item 1, 1).
    expected = [(post[0, 0] + post[1, 0]) / 2, (post[0, 0] + post[1, 1]) / 2]
    assert result.worker_expected_correct.tolist() == pytest.approx(expected)
    # Each value is a fraction, and a worker with no labels has none (NaN), not a made-up 0.
    lonely = dawid_skene([0], [0], [1], 2, n_workers=2, method="one_coin")
    assert 0.0 <= lonely.worker_expected_correct[0] <= 1.0
    assert np.isnan(lonely.worker_expected_correct[1])
