"""Gold health: the binomial tail, flagged items on a synthetic set, contests, quarantine /
correction / reinstatement (and the scores they move), and quarantined gold going to review
(the beat job, the ops-only claim, resolution correcting or reinstating)."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.core.exceptions import ValidationError
from django.utils import timezone

from assignments.models import Review
from assignments.services import review as review_services
from config.errors import Conflict, InvalidTransition, NotFound
from qc.models import GoldCheck, GoldItem, GoldItemStatusChange, GoldSet
from qc.selectors import quality_facts
from qc.selectors.gold_health import (
    binomial_tail,
    gold_health_for_set,
    gold_items_flagged_ids,
)
from qc.services import gold_health as services
from tests.assignments.factories import resolve_gold_review
from tests.factories import UserFactory, make_labeler

pytestmark = pytest.mark.django_db
NOW = timezone.now()


# -- the binomial tail --------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("k", "n", "p", "expected"),
    [
        (2, 3, 0.5, 0.5),  # (3 + 1) / 8
        (1, 10, 0.1, 1 - 0.9**10),  # 0.6513
        (3, 5, 0.2, 0.05792),  # 10 * .008 * .64 + 5 * .0016 * .8 + .00032
        (0, 5, 0.3, 1.0),
        (6, 5, 0.3, 0.0),
        (4, 4, 0.05, 0.05**4),
        (1, 3, 0.0, 0.0),
    ],
)
def test_binomial_tail_hand_checked(k, n, p, expected):
    assert binomial_tail(k, n, p) == pytest.approx(expected, rel=1e-9, abs=1e-15)


def test_binomial_tail_survives_large_n():
    # P(X >= 600 | 1000, .5) is about 1.4e-10; no overflow on the way.
    assert 1e-11 < binomial_tail(600, 1000, 0.5) < 1e-9


# -- the synthetic set --------------------------------------------------------------------------

_ids = iter(range(500_000, 10_000_000))


def _set(slug="health", answer_type="single_choice"):
    classes = ["crack", "rust", "ok"] if answer_type != "boxes" else ["pole"]
    return GoldSet.objects.create(slug=slug, name=slug, answer_type=answer_type, classes=classes)


def _item(gold_set, external_id, accepted=("crack",)):
    return GoldItem.objects.create(
        gold_set=gold_set,
        external_id=external_id,
        payload={"image_url": f"https://img.example.test/{external_id}.jpg"},
        accepted_answers=list(accepted),
        explanation="Look at the base.",
    )


def _check(labeler, item, answer, *, project_id=1, contest="", counted=True, minutes=0):
    right = answer in item.accepted_answers
    return GoldCheck(
        labeler=labeler,
        gold_item=item,
        project_id=project_id,
        assignment_id=next(_ids),
        answer=answer,
        correct=right,
        expected_class=str(item.accepted_answers[0]),
        answer_class=str(answer),
        counted=counted,
        checked_at=NOW - timedelta(minutes=minutes),
        contest=contest,
        contest_note="I think not" if contest else "",
    )


@pytest.fixture
def synthetic():
    """Ten strong labelers (each right on 60 of 60 other checks), two weak ones (half right);
    twenty ordinary items; ``bad`` (missed by 6 strong labelers of 10: its gold is wrong);
    ``contested`` (2 open contests, nobody strong missed it)."""
    gold_set = _set()
    strong = [make_labeler() for _ in range(10)]
    weak = [make_labeler() for _ in range(2)]
    ordinary = [_item(gold_set, f"o{i}") for i in range(20)]
    bad = _item(gold_set, "bad")
    contested = _item(gold_set, "contested")
    rows = []
    for labeler in strong:
        for i in range(60):
            rows.append(_check(labeler, ordinary[i % 20], "crack", minutes=i))
    for labeler in weak:
        for i in range(20):
            rows.append(_check(labeler, ordinary[i], "crack" if i % 2 else "rust", minutes=i))
    for i, labeler in enumerate(strong):
        rows.append(_check(labeler, bad, "rust" if i < 6 else "crack"))
    for labeler in weak:  # weak misses never count against an item
        rows.append(_check(labeler, contested, "rust", contest=GoldCheck.Contest.OPEN))
    rows.append(_check(strong[0], contested, "crack"))
    GoldCheck.objects.bulk_create(rows)
    return gold_set, bad, contested, strong, weak


def test_flagged_items_on_a_synthetic_set(synthetic, django_assert_max_num_queries):
    gold_set, bad, contested, _strong, _weak = synthetic
    with django_assert_max_num_queries(3):
        health = gold_health_for_set(gold_set=gold_set)
    by_id = {h.item_id: h for h in health}
    assert {h.item_id for h in health if h.flagged} == {bad.pk, contested.pk}
    b = by_id[bad.pk]
    assert (b.checks, b.misses, b.strong_checks, b.strong_misses) == (10, 6, 10, 6)
    assert b.flags == ("strong_misses",)
    # Strong labelers missed nothing elsewhere: (0 + 1) / (600 + 1 + 2) = 1/603 → 1% floor.
    assert b.expected_miss_rate == pytest.approx(0.01)
    assert b.p_value == pytest.approx(binomial_tail(6, 10, 0.01))
    assert b.accuracy.n == 10 and b.accuracy.rate == pytest.approx(0.4)
    c = by_id[contested.pk]
    assert c.flags == ("contests",) and c.contests_open == 2
    assert (c.strong_checks, c.strong_misses) == (1, 0)  # the weak labelers are not strong
    assert health[0].item_id == bad.pk  # flagged first, smallest p first
    ordinary = [h for h in health if not h.flagged]
    assert len(ordinary) == 20 and all(h.p_value is not None for h in ordinary)
    assert gold_items_flagged_ids() == {bad.pk, contested.pk}
    assert [h.item_id for h in gold_health_for_set(gold_set=gold_set, flagged_only=True)] == [
        bad.pk,
        contested.pk,
    ]


def test_strength_excludes_the_items_own_checks():
    """A labeler right on 20 other checks and wrong on 3 of this item: with the item's checks
    their lower bound would be 20/23 → 0.68 (not strong); without, 20/20 → 0.839 (not strong
    either); with 30 others right, 30/30 → 0.886: strong, though 30/33 → 0.76 is not."""
    gold_set = _set()
    labeler = make_labeler()
    other = _item(gold_set, "other")
    item = _item(gold_set, "item")
    GoldCheck.objects.bulk_create(
        [_check(labeler, other, "crack", minutes=i) for i in range(30)]
        + [_check(labeler, item, "rust", minutes=i) for i in range(3)]
    )
    (h,) = [h for h in gold_health_for_set(gold_set=gold_set) if h.item_id == item.pk]
    assert (h.strong_checks, h.strong_misses) == (3, 3)


def test_a_set_without_checks_has_no_health():
    assert gold_health_for_set(gold_set=_set()) == []


# -- contests -----------------------------------------------------------------------------------


def test_contest_once_with_a_note_and_only_ones_own():
    gold_set = _set()
    item = _item(gold_set, "i")
    me, other = make_labeler(), make_labeler()
    day = 24 * 60 + 1  # recorded yesterday or earlier: the labeler sees them
    mine = _check(me, item, "rust", minutes=day)
    theirs = _check(other, item, "rust", minutes=day)
    today = _check(me, _item(gold_set, "j"), "rust")  # checked_at = now: not shown yet
    GoldCheck.objects.bulk_create([mine, theirs, today])
    with pytest.raises(NotFound):
        # Contesting a check recorded today would confirm a control task just submitted.
        services.gold_check_contest(labeler=me, check_id=today.pk, note="wrong")
    with pytest.raises(ValidationError) as exc:
        services.gold_check_contest(labeler=me, check_id=mine.pk, note="  ")
    assert "note" in exc.value.message_dict
    with pytest.raises(NotFound):
        services.gold_check_contest(labeler=me, check_id=theirs.pk, note="wrong")
    with pytest.raises(NotFound):
        services.gold_check_contest(labeler=me, check_id=987654321, note="wrong")
    check = services.gold_check_contest(labeler=me, check_id=mine.pk, note="It is rust.")
    assert (check.contest, check.contest_note) == ("open", "It is rust.")
    assert check.contested_at is not None
    with pytest.raises(Conflict) as conflict:
        services.gold_check_contest(labeler=me, check_id=mine.pk, note="It is rust.")
    assert conflict.value.code == "already_contested"
    theirs.refresh_from_db()
    assert theirs.contest == ""


# -- quarantine, correction, reinstatement --------------------------------------------------------


@pytest.fixture
def contested_item():
    """One item (gold "crack") answered by three labelers: a (crack, right), b (rust, wrong,
    contests), c (rust, wrong); a second item right for all of them."""
    gold_set = _set()
    item = _item(gold_set, "doubtful")
    fine = _item(gold_set, "fine")
    a, b, c = make_labeler(), make_labeler(), make_labeler()
    GoldCheck.objects.bulk_create(
        [
            _check(a, item, "crack"),
            _check(b, item, "rust", contest=GoldCheck.Contest.OPEN),
            _check(c, item, "rust"),
            *[_check(x, fine, "crack") for x in (a, b, c)],
        ]
    )
    return item, a, b, c


def _all_time(labeler):
    return quality_facts.gold_accuracy(labeler_id=labeler.pk)["windows"]["all_time"]


def test_quarantine_stops_counting_and_records_the_reason(contested_item):
    item, a, b, _c = contested_item
    assert _all_time(b)["n"] == 2 and _all_time(b)["correct"] == 1
    ops = UserFactory(is_staff=True)
    services.gold_item_quarantine(actor=ops, item=item, reason="Strong labelers miss it")
    item.refresh_from_db()
    assert item.status == GoldItem.Status.QUARANTINED
    assert not GoldCheck.objects.filter(gold_item=item, counted=True).exists()
    assert (_all_time(b)["n"], _all_time(b)["correct"]) == (1, 1)
    assert (_all_time(a)["n"], _all_time(a)["correct"]) == (1, 1)
    change = GoldItemStatusChange.objects.filter(gold_item=item).first()
    assert (change.to_status, change.actor, change.reason) == (
        "quarantined",
        ops,
        "Strong labelers miss it",
    )
    with pytest.raises(InvalidTransition):
        services.gold_item_quarantine(actor=ops, item=item, reason="again")


def test_correction_regrades_every_check_and_the_scores_move(contested_item):
    item, a, b, c = contested_item
    services.gold_item_quarantine(actor=None, item=item, reason="doubt")
    result = services.gold_item_correct(
        actor=None, item=item, accepted_answers=["rust"], reason="The rust is visible."
    )
    assert (result.regraded, result.changed, result.upheld, result.overturned) == (3, 3, 0, 1)
    item.refresh_from_db()
    assert item.status == GoldItem.Status.ACTIVE
    assert (item.accepted_answers, item.stratum) == (["rust"], "rust")
    verdicts = dict(GoldCheck.objects.filter(gold_item=item).values_list("labeler_id", "correct"))
    assert verdicts == {a.pk: False, b.pk: True, c.pk: True}
    assert GoldCheck.objects.get(gold_item=item, labeler=b).contest == "overturned"
    assert GoldCheck.objects.filter(gold_item=item, counted=True).count() == 3
    assert (_all_time(a)["correct"], _all_time(b)["correct"], _all_time(c)["correct"]) == (1, 2, 2)
    assert "Answer corrected (3 of 3 verdicts changed)" in item.status_changes.first().reason


def test_correction_with_a_second_accepted_answer_upholds_an_unchanged_verdict(contested_item):
    item, a, b, _c = contested_item
    GoldCheck.objects.filter(gold_item=item, labeler=a).update(contest="open")
    result = services.gold_item_correct(
        actor=None, item=item, accepted_answers=["crack", "rust"], reason="Both are fine."
    )
    assert (result.changed, result.upheld, result.overturned) == (2, 1, 1)
    contests = dict(GoldCheck.objects.filter(gold_item=item).values_list("labeler_id", "contest"))
    assert (contests[a.pk], contests[b.pk]) == ("upheld", "overturned")


def test_correction_validates_the_answers_and_needs_a_reason(contested_item):
    item = contested_item[0]
    with pytest.raises(ValidationError) as exc:
        services.gold_item_correct(actor=None, item=item, accepted_answers=["blue"], reason="x")
    assert "accepted_answers" in exc.value.message_dict
    with pytest.raises(ValidationError) as exc:
        services.gold_item_correct(actor=None, item=item, accepted_answers=["rust"], reason="")
    assert "reason" in exc.value.message_dict
    item.refresh_from_db()
    assert item.accepted_answers == ["crack"]  # nothing written


def test_box_items_are_regraded_in_python():
    gold_set = _set(slug="boxes", answer_type="boxes")
    box = {"label": "pole", "x": 10.0, "y": 10.0, "w": 10.0, "h": 10.0}
    moved = {"label": "pole", "x": 50.0, "y": 50.0, "w": 10.0, "h": 10.0}
    item = _item(gold_set, "b", accepted=[[box]])
    labelers = [make_labeler() for _ in range(3)]
    checks = [
        _check(labelers[0], item, [box]),
        _check(labelers[1], item, [moved], contest="open"),
        _check(labelers[2], item, [moved]),
    ]
    for ch, right in zip(checks, (True, False, False), strict=True):
        ch.correct = right
    GoldCheck.objects.bulk_create(checks)
    result = services.gold_item_correct(
        actor=None, item=item, accepted_answers=[[moved]], reason="The pole is further right."
    )
    assert (result.changed, result.overturned) == (3, 1)
    got = dict(GoldCheck.objects.filter(gold_item=item).values_list("labeler_id", "correct"))
    assert got == {labelers[0].pk: False, labelers[1].pk: True, labelers[2].pk: True}


def test_reinstate_counts_again_and_upholds_contests(contested_item):
    item, _a, b, _c = contested_item
    with pytest.raises(InvalidTransition):
        services.gold_item_reinstate(actor=None, item=item, reason="fine")
    services.gold_item_quarantine(actor=None, item=item, reason="doubt")
    services.gold_item_reinstate(actor=None, item=item, reason="The gold was right.")
    item.refresh_from_db()
    assert item.status == GoldItem.Status.ACTIVE and item.accepted_answers == ["crack"]
    assert GoldCheck.objects.filter(gold_item=item, counted=True).count() == 3
    assert GoldCheck.objects.get(gold_item=item, labeler=b).contest == "upheld"
    assert _all_time(b)["n"] == 2


# -- quarantined gold goes to review --------------------------------------------------------------


def _gold_reviews():
    return Review.objects.filter(kind=Review.Kind.GOLD)


def test_the_beat_job_opens_one_gold_review_per_control_task(control_world):
    project, item, _answers, _ops = control_world
    assert review_services.gold_reviews_open() == 0  # nothing quarantined
    services.gold_item_quarantine(actor=None, item=item, reason="doubt")
    assert review_services.gold_reviews_open() == 1
    assert review_services.gold_reviews_open() == 0  # run twice: still one
    (review,) = _gold_reviews()
    assert review.for_ops and review.status == "open"
    assert review.task.gold_item_id == item.pk and review.project_id == project.pk
    assert review.assignment.status == "submitted"


def test_gold_reviews_reach_ops_seniors_only(control_world):
    _project, item, _answers, ops_senior = control_world
    services.gold_item_quarantine(actor=None, item=item, reason="doubt")
    review_services.gold_reviews_open()
    plain_senior = make_labeler(seniority="senior")
    assert review_services.review_claim_next(reviewer=plain_senior) is None
    claim = review_services.review_claim_next(reviewer=ops_senior)
    assert claim.review.kind == Review.Kind.GOLD and claim.review.reviewer_id == ops_senior.pk


def test_resolving_with_another_answer_corrects_the_gold(control_world):
    _project, item, answers, ops_senior = control_world
    resolve_gold_review(item, ops_senior, answer="rust", note="Rust, clearly.")
    item.refresh_from_db()
    assert (item.status, item.accepted_answers) == ("active", ["rust"])
    verdicts = dict(GoldCheck.objects.filter(gold_item=item).values_list("answer", "correct"))
    assert verdicts == {"crack": False, "rust": True}
    assert GoldCheck.objects.filter(gold_item=item, counted=True).count() == 2
    assert _all_time(answers["rust"])["correct"] == 1
    assert item.status_changes.first().actor == ops_senior.user
    assert _gold_reviews().get().status == "resolved"
    assert review_services.gold_reviews_open() == 0  # settled: nothing to reopen


def test_resolving_with_the_gold_answer_reinstates_it(control_world):
    _project, item, _answers, ops_senior = control_world
    resolve_gold_review(item, ops_senior, answer="crack", note="The gold is right.")
    item.refresh_from_db()
    assert (item.status, item.accepted_answers) == ("active", ["crack"])
    verdicts = dict(GoldCheck.objects.filter(gold_item=item).values_list("answer", "correct"))
    assert verdicts == {"crack": True, "rust": False}
    assert GoldCheck.objects.filter(gold_item=item, counted=True).count() == 2


def test_an_open_gold_review_is_withdrawn_when_ops_settle_the_item_first(control_world):
    _project, item, _answers, _ops = control_world
    services.gold_item_quarantine(actor=None, item=item, reason="doubt")
    review_services.gold_reviews_open()
    services.gold_item_reinstate(actor=None, item=item, reason="Checked: right.")
    assert review_services.gold_reviews_open() == 0
    assert not _gold_reviews().exists()


# -- the gold item admin ------------------------------------------------------------------------


def _act(client, action, items, **extra):
    from django.urls import reverse

    data = {"action": action, "_selected_action": [i.pk for i in items], **extra}
    return client.post(reverse("admin:qc_golditem_changelist"), data)


def test_admin_quarantine_stops_counting_and_correct_regrades(client, ops_user, contested_item):
    item, a, _b, _c = contested_item
    client.force_login(ops_user)
    response = _act(client, "quarantine", [item], post="yes", reason="Strong labelers miss it.")
    assert response.status_code == 302
    assert not GoldCheck.objects.filter(gold_item=item, counted=True).exists()
    two = _act(client, "correct_answer", [item, GoldItem.objects.exclude(pk=item.pk).first()])
    assert two.status_code == 302  # exactly one item: refused with a message
    page = _act(client, "correct_answer", [item])
    assert page.status_code == 200 and "accepted_answers" in page.context["form"].fields
    bad = _act(
        client, "correct_answer", [item], post="yes", accepted_answers='["blue"]', reason="x"
    )
    assert bad.status_code == 302
    item.refresh_from_db()
    assert item.status == GoldItem.Status.QUARANTINED  # refused, nothing written
    done = _act(
        client, "correct_answer", [item], post="yes", accepted_answers='["rust"]', reason="Rust."
    )
    assert done.status_code == 302
    item.refresh_from_db()
    assert (item.status, item.accepted_answers) == ("active", ["rust"])
    assert not GoldCheck.objects.get(gold_item=item, labeler=a).correct


def test_admin_changelist_shows_health_and_filters_flagged(client, ops_user, synthetic):
    from django.urls import reverse

    _set, bad, contested, _strong, _weak = synthetic
    client.force_login(ops_user)
    url = reverse("admin:qc_golditem_changelist")
    flagged = client.get(url, {"health": "flagged"})
    assert {i.pk for i in flagged.context["cl"].result_list} == {bad.pk, contested.pk}
    row = next(i for i in flagged.context["cl"].result_list if i.pk == bad.pk)
    assert (row.checks_n, row.misses_n, row.open_contests) == (10, 6, 0)
    with_contests = client.get(url, {"health": "contested"})
    assert [i.pk for i in with_contests.context["cl"].result_list] == [contested.pk]
