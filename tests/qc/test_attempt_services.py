"""The attempt services: drawing questions, gating (every reason), attempts and retry delay,
time limit, requalification after expiry or revocation, sequential decisions, finishing, and
the overdue sweep. Times are passed explicitly (``now=``)."""

from __future__ import annotations

import random
from collections import Counter
from datetime import timedelta
from decimal import Decimal

import pytest
from django.utils import timezone

from config.errors import Conflict, Forbidden, InvalidInput, NotFound
from qc import tasks
from qc.models import AttemptQuestion, GoldItem, Quiz, QuizAttempt
from qc.selectors import quizzes as selectors
from qc.selectors.guides import guide_ack_missing
from qc.sequential import Verdict, decide
from qc.services import quizzes as services
from tests.factories import make_labeler
from tests.qc.quiz_factories import (
    acknowledge,
    make_choice_set,
    make_guide,
    make_quiz,
    publish_version,
)
from workforce import services as workforce_services
from workforce.models import Labeler, Qualification

pytestmark = pytest.mark.django_db

T0 = timezone.now()


@pytest.fixture(autouse=True)
def _t0():
    """T0 is the start of each test, so a service called without ``now`` (the real clock) runs
    a few moments after T0, never minutes."""
    global T0
    T0 = timezone.now().replace(microsecond=0)


def start(quiz, labeler, now=None, rng=None):
    return services.quiz_attempt_start(
        actor=labeler.user, quiz=quiz, labeler=labeler, now=now or T0, rng=rng
    )


def questions(attempt) -> list[AttemptQuestion]:
    return list(attempt.questions.select_related("gold_item").order_by("position"))


def answer_all(attempt, labeler, *, right, now=None):
    """Answer in order; ``right`` is a bool or a callable of the position."""
    now = now or T0
    outcome = None
    for q in questions(attempt):
        ok = right(q.position) if callable(right) else right
        gold = q.gold_item
        given = gold.accepted_answers[0] if ok else _wrong(gold)
        outcome = services.quiz_attempt_answer(
            actor=labeler.user, attempt=attempt, question_id=q.pk, answer=given, now=now
        )
        if outcome.attempt.status != QuizAttempt.Status.IN_PROGRESS:
            break
    return outcome.attempt


def _wrong(gold: GoldItem) -> str:
    return next(c for c in gold.gold_set.classes if c not in gold.accepted_answers)


def gate_codes(quiz, labeler, now=None) -> list[str]:
    now = now or T0
    availability = selectors.quiz_availability_for(labeler=labeler, quizzes=[quiz], now=now)
    return [b.code for b in availability[quiz.pk].blocked]


def refused(quiz, labeler, now=None) -> Exception:
    now = now or T0
    with pytest.raises((Forbidden, Conflict, NotFound)) as info:
        start(quiz, labeler, now=now)
    return info.value


# -- drawing ------------------------------------------------------------------------------------


def test_questions_are_stratified_by_class(internal_labeler):
    gold_set = make_choice_set({"crack": 50, "rust": 30, "ok": 20})
    quiz = make_quiz(gold_set, kind=Quiz.Kind.TRAINING, num_questions=10, pass_mark="0.5")
    attempt, created = start(quiz, internal_labeler)
    assert created
    drawn = Counter(q.gold_item.stratum for q in questions(attempt))
    assert drawn == {"crack": 5, "rust": 3, "ok": 2}
    assert [q.position for q in questions(attempt)] == list(range(1, 11))
    assert attempt.question_count == 10


def test_only_active_items_are_drawn(internal_labeler):
    gold_set = make_choice_set({"crack": 3, "rust": 3})
    GoldItem.objects.filter(gold_set=gold_set, accepted_answers=["rust"]).update(
        status=GoldItem.Status.QUARANTINED
    )
    quiz = make_quiz(gold_set, num_questions=3)
    attempt, _ = start(quiz, internal_labeler)
    assert {q.gold_item.status for q in questions(attempt)} == {"active"}


def test_order_is_random_and_differs_across_attempts(internal_labeler):
    gold_set = make_choice_set({"crack": 4, "rust": 4, "ok": 4})
    quiz = make_quiz(gold_set, kind=Quiz.Kind.TRAINING, num_questions=12, pass_mark="0.5")
    orders = []
    for i in range(3):
        attempt, _ = start(quiz, internal_labeler, now=T0 + timedelta(minutes=i))
        orders.append([q.gold_item_id for q in questions(attempt)])
        services.quiz_attempt_finish(
            actor=None, attempt=attempt, now=T0 + timedelta(minutes=i, seconds=30)
        )
    assert len({tuple(o) for o in orders}) == 3  # 12! orders: a repeat is a broken shuffle
    assert len({frozenset(o) for o in orders}) == 1  # all 12 items each time
    assert [a.number for a in QuizAttempt.objects.order_by("number")] == [1, 2, 3]


def test_a_seeded_rng_draws_reproducibly(internal_labeler, vendor_labeler):
    quiz = make_quiz(make_choice_set({"crack": 5, "rust": 5}), num_questions=6)
    a, _ = start(quiz, internal_labeler, rng=random.Random(7))
    b, _ = start(quiz, vendor_labeler, rng=random.Random(7))
    assert [q.gold_item_id for q in questions(a)] == [q.gold_item_id for q in questions(b)]


# -- gating -------------------------------------------------------------------------------------


def test_each_gate_blocks_with_its_code_and_the_list_agrees(vendor_a):
    labeler = make_labeler(vendor=vendor_a)

    # labeler_inactive
    quiz = make_quiz(num_questions=2)
    workforce_services.labeler_suspend(actor=None, labeler=labeler, reason="x")
    labeler.refresh_from_db()
    error = refused(quiz, labeler)
    assert (type(error), error.code) == (Forbidden, "labeler_inactive")
    assert gate_codes(quiz, labeler)[0] == "labeler_inactive"
    workforce_services.labeler_reactivate(actor=None, labeler=labeler, reason="x")
    labeler.refresh_from_db()

    # guide_not_acknowledged
    guide = make_guide(published=((1, 0),))
    quiz = make_quiz(num_questions=2, guide=guide)
    error = refused(quiz, labeler)
    assert (type(error), error.code) == (Forbidden, "guide_not_acknowledged")
    assert "1.0" in error.detail
    assert gate_codes(quiz, labeler) == ["guide_not_acknowledged"]
    acknowledge(labeler, guide.versions.get())
    assert gate_codes(quiz, labeler) == []

    # already_qualified
    quiz = make_quiz(num_questions=2)
    workforce_services.qualification_grant(
        actor=None,
        labeler=labeler,
        qualification_type=quiz.qualification_type,
        source="manual",
        reason="known expert",
        now=T0 - timedelta(days=1),
    )
    error = refused(quiz, labeler)
    assert (type(error), error.code) == (Conflict, "already_qualified")
    assert gate_codes(quiz, labeler) == ["already_qualified"]

    # attempts_exhausted and retry_delay
    quiz = make_quiz(num_questions=2, max_attempts=1, retry_delay_seconds=3600)
    attempt, _ = start(quiz, labeler)
    answer_all(attempt, labeler, right=False)
    later = T0 + timedelta(minutes=5)
    error = refused(quiz, labeler, now=later)
    assert (type(error), error.code) == (Conflict, "attempts_exhausted")
    assert gate_codes(quiz, labeler, now=later) == ["attempts_exhausted", "retry_delay"]

    # not_enough_items
    quiz = make_quiz(make_choice_set({"crack": 1, "rust": 1}), num_questions=3)
    error = refused(quiz, labeler)
    assert (type(error), error.code) == (Conflict, "not_enough_items")
    assert gate_codes(quiz, labeler) == ["not_enough_items"]

    # an inactive quiz does not exist for a labeler
    quiz = make_quiz(num_questions=2, is_active=False)
    assert isinstance(refused(quiz, labeler), NotFound)
    assert not QuizAttempt.objects.filter(quiz=quiz).exists()


def test_guide_acknowledgement_follows_the_major_line(internal_labeler):
    guide = make_guide(published=((1, 0),))
    quiz = make_quiz(num_questions=2, guide=guide, kind=Quiz.Kind.TRAINING, pass_mark="0.5")
    acknowledge(internal_labeler, guide.versions.get(major=1))
    publish_version(guide, 1, 1)  # minor: still fine
    assert gate_codes(quiz, internal_labeler) == []
    v2 = publish_version(guide, 2, 0)  # major: acknowledge again
    assert gate_codes(quiz, internal_labeler) == ["guide_not_acknowledged"]
    assert refused(quiz, internal_labeler).code == "guide_not_acknowledged"
    acknowledge(internal_labeler, v2)
    _, created = start(quiz, internal_labeler)
    assert created


def test_bulk_guide_check_agrees_with_guide_ack_missing(internal_labeler, vendor_labeler):
    nothing = make_guide(published=())
    unread = make_guide(published=((1, 0), (1, 1)))
    read_minor = make_guide(published=((1, 0),))
    acknowledge(internal_labeler, read_minor.versions.get())
    publish_version(read_minor, 1, 1)
    read_old_major = make_guide(published=((1, 0),))
    acknowledge(internal_labeler, read_old_major.versions.get())
    publish_version(read_old_major, 2, 0)
    guides = [nothing, unread, read_minor, read_old_major]
    for labeler in (internal_labeler, vendor_labeler):
        bulk = selectors.guide_versions_missing(labeler=labeler, guide_ids=[g.pk for g in guides])
        one_by_one = {g.pk: v for g in guides if (v := guide_ack_missing(labeler=labeler, guide=g))}
        assert {k: v.pk for k, v in bulk.items()} == {k: v.pk for k, v in one_by_one.items()}
    assert set(
        selectors.guide_versions_missing(labeler=internal_labeler, guide_ids=[g.pk for g in guides])
    ) == {unread.pk, read_old_major.pk}


def test_retry_delay_runs_from_the_end_of_the_last_attempt(internal_labeler):
    quiz = make_quiz(num_questions=2, retry_delay_seconds=3600)
    attempt, _ = start(quiz, internal_labeler)
    ended_at = T0 + timedelta(minutes=3)
    answer_all(attempt, internal_labeler, right=False, now=ended_at)

    just_before = ended_at + timedelta(seconds=3599)
    error = refused(quiz, internal_labeler, now=just_before)
    assert error.code == "retry_delay"
    availability = selectors.quiz_availability_for(
        labeler=internal_labeler, quizzes=[quiz], now=just_before
    )[quiz.pk]
    assert availability.next_attempt_at == ended_at + timedelta(hours=1)
    assert availability.blocked[0].until == ended_at + timedelta(hours=1)
    assert availability.attempts_used == 1 and availability.attempts_left is None

    attempt, created = start(quiz, internal_labeler, now=ended_at + timedelta(hours=1))
    assert created and attempt.number == 2


def test_max_attempts_counts_every_attempt(internal_labeler):
    quiz = make_quiz(num_questions=2, max_attempts=2)
    for i in range(2):
        attempt, _ = start(quiz, internal_labeler, now=T0 + timedelta(minutes=i))
        answer_all(attempt, internal_labeler, right=False, now=T0 + timedelta(minutes=i))
    availability = selectors.quiz_availability_for(
        labeler=internal_labeler, quizzes=[quiz], now=T0 + timedelta(minutes=5)
    )[quiz.pk]
    assert (availability.attempts_used, availability.attempts_left) == (2, 0)
    assert refused(quiz, internal_labeler, now=T0 + timedelta(days=9)).code == (
        "attempts_exhausted"
    )


@pytest.mark.parametrize("how", ["expiry", "revocation"])
def test_a_lapsed_qualification_requires_requalification_with_fresh_attempts(internal_labeler, how):
    quiz = make_quiz(num_questions=2, pass_mark="1", max_attempts=1, validity_days=30)
    attempt, _ = start(quiz, internal_labeler)
    passed = answer_all(attempt, internal_labeler, right=True)
    grant = passed.qualification
    assert grant is not None and grant.expires_at == T0 + timedelta(days=30)
    valid = selectors.quiz_availability_for(
        labeler=internal_labeler, quizzes=[quiz], now=T0 + timedelta(days=1)
    )[quiz.pk]
    # Holding it is the one reason: its used attempt matters again only once it lapses.
    assert [b.code for b in valid.blocked] == ["already_qualified"]
    assert valid.attempts_left == 0

    if how == "expiry":
        when = T0 + timedelta(days=31)
        assert grant.is_valid_at(when) is False
    else:
        workforce_services.qualification_revoke(
            actor=None, qualification=grant, reason="failed an audit"
        )
        grant.refresh_from_db()
        when = grant.revoked_at + timedelta(minutes=1)
    assert gate_codes(quiz, internal_labeler, now=when) == []
    again, created = start(quiz, internal_labeler, now=when)
    assert created and again.number == 2
    failed = answer_all(again, internal_labeler, right=False, now=when)
    assert failed.status == "failed"
    # the one fresh attempt is used: exhausted again until the next lapse
    assert refused(quiz, internal_labeler, now=when + timedelta(hours=1)).code == (
        "attempts_exhausted"
    )


def test_requalifying_supersedes_the_old_grant(internal_labeler):
    quiz = make_quiz(num_questions=2, pass_mark="1", validity_days=10)
    first = answer_all(start(quiz, internal_labeler)[0], internal_labeler, right=True)
    when = T0 + timedelta(days=11)
    second = answer_all(
        start(quiz, internal_labeler, now=when)[0], internal_labeler, right=True, now=when
    )
    old, new = first.qualification, second.qualification
    old.refresh_from_db()
    assert old.superseded_at == when and new.superseded_at is None
    assert new.expires_at == when + timedelta(days=10)
    assert Qualification.objects.filter(superseded_at__isnull=True).count() == 1


# -- time limit ---------------------------------------------------------------------------------


def test_answer_after_the_deadline_ends_the_attempt_and_commits_that(internal_labeler):
    quiz = make_quiz(num_questions=3, pass_mark="0.6", time_limit_seconds=60)
    attempt, _ = start(quiz, internal_labeler)
    assert attempt.deadline == T0 + timedelta(seconds=60)
    qs = questions(attempt)
    services.quiz_attempt_answer(
        actor=internal_labeler.user,
        attempt=attempt,
        question_id=qs[0].pk,
        answer=qs[0].gold_item.accepted_answers[0],
        now=T0 + timedelta(seconds=59),
    )
    with pytest.raises(Conflict) as info:
        services.quiz_attempt_answer(
            actor=internal_labeler.user,
            attempt=attempt,
            question_id=qs[1].pk,
            answer=qs[1].gold_item.accepted_answers[0],
            now=T0 + timedelta(seconds=60),
        )
    assert info.value.code == "time_limit_passed"
    attempt.refresh_from_db()
    assert attempt.status == "failed"  # 1 of 3 < 0.6
    assert (attempt.end_reason, attempt.finished_at) == ("time_limit", attempt.deadline)
    assert attempt.score == Decimal("0.3333")
    assert AttemptQuestion.objects.get(pk=qs[1].pk).answer is None


def test_starting_after_the_deadline_ends_the_old_attempt_first(internal_labeler):
    quiz = make_quiz(num_questions=2, time_limit_seconds=60, retry_delay_seconds=30)
    old, _ = start(quiz, internal_labeler)
    # within the deadline: the same attempt
    assert start(quiz, internal_labeler, now=T0 + timedelta(seconds=30)) == (old, False)
    # past the deadline, but within the retry delay counted from the deadline: refused, and
    # the old attempt's end is kept
    assert refused(quiz, internal_labeler, now=T0 + timedelta(seconds=70)).code == "retry_delay"
    old.refresh_from_db()
    assert (old.status, old.end_reason, old.finished_at) == (
        "failed",
        "time_limit",
        T0 + timedelta(seconds=60),
    )
    new, created = start(quiz, internal_labeler, now=T0 + timedelta(seconds=90))
    assert created and new.number == 2


def test_the_overdue_sweep_ends_only_overdue_attempts_and_is_idempotent(
    internal_labeler, vendor_labeler
):
    timed = make_quiz(num_questions=2, pass_mark="0.5", time_limit_seconds=60)
    untimed = make_quiz(num_questions=2)
    overdue, _ = start(timed, internal_labeler)
    q = questions(overdue)[0]
    services.quiz_attempt_answer(
        actor=internal_labeler.user,
        attempt=overdue,
        question_id=q.pk,
        answer=q.gold_item.accepted_answers[0],
    )
    running, _ = start(timed, vendor_labeler, now=T0 + timedelta(seconds=90))
    open_forever, _ = start(untimed, vendor_labeler)

    assert services.quiz_attempts_end_overdue(now=T0 + timedelta(minutes=2)) == 1
    overdue.refresh_from_db()
    assert (overdue.status, overdue.end_reason) == ("passed", "time_limit")
    assert overdue.qualification is not None
    for other in (running, open_forever):
        other.refresh_from_db()
        assert other.status == "in_progress"

    tasks.quiz_attempts_end_overdue.delay()  # eager, at the real now: the same state again
    assert Qualification.objects.count() == 1
    assert services.quiz_attempts_end_overdue(now=T0 + timedelta(minutes=2)) == 0


def test_time_limit_request_before_the_deadline_leaves_the_attempt_open(internal_labeler):
    quiz = make_quiz(num_questions=2, time_limit_seconds=60)
    attempt, _ = start(quiz, internal_labeler)
    result = services.quiz_attempt_finish(
        actor=None, attempt=attempt, end_reason="time_limit", now=T0 + timedelta(seconds=10)
    )
    assert result.status == "in_progress"


# -- finishing ----------------------------------------------------------------------------------


def test_finishing_twice_gives_the_same_result_and_one_qualification(internal_labeler):
    quiz = make_quiz(num_questions=4, pass_mark="0.5")
    attempt, _ = start(quiz, internal_labeler)
    for q in questions(attempt)[:2]:
        services.quiz_attempt_answer(
            actor=internal_labeler.user,
            attempt=attempt,
            question_id=q.pk,
            answer=q.gold_item.accepted_answers[0],
        )
    first = services.quiz_attempt_finish(actor=internal_labeler.user, attempt=attempt, now=T0)
    second = services.quiz_attempt_finish(
        actor=internal_labeler.user, attempt=attempt, now=T0 + timedelta(hours=1)
    )
    assert (
        (first.status, first.score, first.finished_at, first.end_reason)
        == (
            second.status,
            second.score,
            second.finished_at,
            second.end_reason,
        )
        == ("passed", Decimal("0.5000"), T0, "finished")
    )
    assert Qualification.objects.count() == 1
    assert second.qualification_id == first.qualification.pk


def test_finish_by_someone_else_is_not_found(internal_labeler, vendor_labeler, ops_user):
    quiz = make_quiz(num_questions=2)
    attempt, _ = start(quiz, internal_labeler)
    with pytest.raises(NotFound):
        services.quiz_attempt_finish(actor=vendor_labeler.user, attempt=attempt)
    with pytest.raises(NotFound):
        q = questions(attempt)[0]
        services.quiz_attempt_answer(
            actor=vendor_labeler.user, attempt=attempt, question_id=q.pk, answer="crack"
        )
    assert services.quiz_attempt_finish(actor=ops_user, attempt=attempt).status == "failed"


def test_an_invalid_answer_changes_nothing(internal_labeler):
    quiz = make_quiz(num_questions=2)
    attempt, _ = start(quiz, internal_labeler)
    q = questions(attempt)[0]
    with pytest.raises(InvalidInput) as info:
        services.quiz_attempt_answer(
            actor=internal_labeler.user, attempt=attempt, question_id=q.pk, answer="granite"
        )
    assert info.value.fields == {"answer": ["'granite' is not one of the labels."]}
    q.refresh_from_db()
    attempt.refresh_from_db()
    assert q.answer is None and attempt.answered_count == 0


# -- sequential ---------------------------------------------------------------------------------


def _sequential_quiz(**kwargs):
    return make_quiz(
        make_choice_set({"crack": 10, "rust": 10, "ok": 10}),
        num_questions=20,
        pass_mark="0.8",
        sequential=True,
        seq_p0="0.5",
        seq_min_questions=5,
        **kwargs,
    )


@pytest.mark.parametrize(
    ("right", "verdict", "status"), [(True, "pass", "passed"), (False, "fail", "failed")]
)
def test_sequential_quiz_ends_early_on_a_run(internal_labeler, right, verdict, status):
    quiz = _sequential_quiz()
    attempt, _ = start(quiz, internal_labeler)
    ended = answer_all(attempt, internal_labeler, right=right)
    n = ended.answered_count
    assert ended.status == status and ended.end_reason == "sequential"
    assert n < 20  # early: before n_max (curtailment may even stop before n_min)
    params = services.sprt_params(quiz)
    decision = decide(params, n, n if right else 0)
    assert decision.verdict == Verdict(verdict)
    assert decide(params, n - 1, (n - 1) if right else 0).verdict == Verdict.CONTINUE
    assert ended.sequential_llr == pytest.approx(decision.llr)
    stored = QuizAttempt.objects.get(pk=ended.pk)
    assert stored.score == (Decimal("1.0000") if right else Decimal("0.0000"))
    assert stored.sequential_llr == pytest.approx(decision.llr)
    assert AttemptQuestion.objects.filter(attempt=stored, answered_at__isnull=True).count() == (
        20 - n
    )
    assert (stored.qualification_id is not None) is right


def test_sequential_undecided_answers_continue_and_llr_is_recorded(internal_labeler):
    quiz = _sequential_quiz()
    attempt, _ = start(quiz, internal_labeler)
    qs = questions(attempt)
    pattern = [True, False, True, True, False, True]
    for q, ok in zip(qs, pattern, strict=False):
        gold = q.gold_item
        out = services.quiz_attempt_answer(
            actor=internal_labeler.user,
            attempt=attempt,
            question_id=q.pk,
            answer=gold.accepted_answers[0] if ok else _wrong(gold),
        )
    assert out.attempt.status == "in_progress"
    expected = decide(services.sprt_params(quiz), 6, 4)
    assert expected.verdict == Verdict.CONTINUE
    assert QuizAttempt.objects.get(pk=attempt.pk).sequential_llr == pytest.approx(expected.llr)


def test_sequential_finish_counts_unanswered_as_wrong(internal_labeler):
    quiz = _sequential_quiz(time_limit_seconds=60)
    attempt, _ = start(quiz, internal_labeler)
    qs = questions(attempt)
    for q in qs[:3]:  # 3 right: undecided (n_min is 5)
        services.quiz_attempt_answer(
            actor=internal_labeler.user,
            attempt=attempt,
            question_id=q.pk,
            answer=q.gold_item.accepted_answers[0],
        )
    ended = services.quiz_attempt_finish(
        actor=None, attempt=attempt, end_reason="time_limit", now=T0 + timedelta(minutes=5)
    )
    assert (ended.status, ended.end_reason) == ("failed", "time_limit")
    assert ended.score == Decimal("0.1500")  # 3 of the 20 the test would have asked


# -- quizzes ------------------------------------------------------------------------------------


def test_the_attempt_row_records_number_and_counts(internal_labeler):
    quiz = make_quiz(num_questions=3, pass_mark="0.6")
    attempt, _ = start(quiz, internal_labeler)
    ended = answer_all(attempt, internal_labeler, right=lambda pos: pos != 2)
    stored = QuizAttempt.objects.get(pk=ended.pk)
    assert (stored.answered_count, stored.correct_count, stored.question_count) == (3, 2, 3)
    assert (stored.status, stored.end_reason, stored.score) == (
        "passed",
        "all_answered",
        Decimal("0.6667"),
    )
    assert [q.is_correct for q in questions(stored)] == [True, False, True]


def test_offboarded_labeler_is_refused(vendor_a):
    labeler = make_labeler(vendor=vendor_a, status=Labeler.Status.OFFBOARDED)
    quiz = make_quiz(num_questions=2)
    assert refused(quiz, labeler).code == "labeler_inactive"


def test_a_passed_qualification_quiz_gives_no_retry_time(internal_labeler):
    # The retry delay runs after every attempt, but a labeler who holds the qualification is
    # told that, not when they could take the test again.
    quiz = make_quiz(num_questions=2, pass_mark="1", retry_delay_seconds=6 * 3600)
    attempt, _ = start(quiz, internal_labeler)
    assert answer_all(attempt, internal_labeler, right=True).qualification is not None
    soon = T0 + timedelta(minutes=30)
    held = selectors.quiz_availability_for(labeler=internal_labeler, quizzes=[quiz], now=soon)
    assert [b.code for b in held[quiz.pk].blocked] == ["already_qualified"]
    assert held[quiz.pk].next_attempt_at is None
