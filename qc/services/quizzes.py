"""Writes of quizzes and attempts: setting quizzes up, starting an attempt, answering, ending
it, and granting the qualification a passed qualification quiz earns.

Concurrency. Every attempt entry point (start, answer, finish) is one durable transaction that
first locks the labeler's row and then, where there is one, the attempt's row. Locking in that
order everywhere — ``workforce.services.qualification_grant`` also locks the labeler — keeps
two requests of one labeler from deadlocking and serializes them: two starts give one attempt
(the partial unique constraint ``qc_quizattempt_one_open`` backs that up), two answers to one
question keep the first (the write is also a guarded ``UPDATE … WHERE answered_at IS NULL``),
two finishes give one result and one qualification.

An attempt past its deadline has ended, whether or not anything recorded it yet: every entry
point first ends such an attempt (``time_limit``, finished at its deadline) and commits that,
even when it then refuses the request. ``qc.tasks.quiz_attempts_end_overdue`` does the same for
attempts nobody comes back to.

What a labeler learns. A training answer returns the feedback of the question just answered
(after its answer is written); a qualification answer returns nothing about correctness, and a
qualification attempt reveals only its score and pass/fail once it has ended. The errors raised
here never carry gold data. Every question an attempt draws is recorded as a gold exposure of
the labeler when it is drawn (``qc.services.exposures``), so that item is never served to them
as a control task.
"""

from __future__ import annotations

import json
import random
from dataclasses import dataclass
from datetime import datetime, timedelta
from decimal import ROUND_HALF_UP, Decimal
from typing import Any

from django.core.exceptions import ValidationError
from django.db import transaction
from django.db.models import F, Max, Min, Q
from django.utils import timezone
from django.utils.translation import gettext as _

from config.errors import Conflict, Forbidden, InvalidInput, NotFound
from config.services import save_unique, with_defaults
from qc.answers import AnswerError, grade, validate_answer
from qc.models import AttemptQuestion, GoldExposure, GoldItem, GoldSet, Quiz, QuizAttempt
from qc.sampling import draw_stratified
from qc.selectors import quizzes as quiz_selectors
from qc.selectors.guides import guide_ack_missing
from qc.sequential import SprtParams, Verdict, decide, fixed_passes, llr
from qc.services.exposures import gold_exposures_record
from workforce.models import Labeler, Qualification, User
from workforce.selectors import is_ops
from workforce.services import qualification_grant

A = QuizAttempt.Status
End = QuizAttempt.EndReason

MAX_ANSWER_BYTES = 64 * 1024
# A quiz answer's measured active time is accepted up to this (more is a 400) and clamped to the
# wall time since the question was served; unmeasured, that wall time counts up to the cap.
MAX_ACTIVE_SECONDS = 86_400
QUESTION_ACTIVE_CAP_SECONDS = 900
SCORE_PLACES = Decimal("0.0001")

# How a quiz is taken and what passing it grants: part of QUIZ_FIELDS, and what the API's quiz
# output shows of them in this order.
QUIZ_TERMS = (
    "num_questions",
    "pass_mark",
    "time_limit_seconds",
    "max_attempts",
    "retry_delay_seconds",
    "qualification_type",
    "validity_days",
)
QUIZ_FIELDS = (
    "slug",
    "title",
    "description",
    "kind",
    "gold_set",
    "guide",
    *QUIZ_TERMS,
    "is_active",
    "sequential",
    "seq_p0",
    "seq_alpha",
    "seq_beta",
    "seq_min_questions",
)
# An attempt's clock and counts, in the order the admin's attempt page and the API's attempt
# output list them.
ATTEMPT_PROGRESS_FIELDS = (
    "started_at",
    "deadline",
    "finished_at",
    "question_count",
    "answered_count",
    "correct_count",
)
# Changing these under existing attempts would change what those attempts mean.
FROZEN_ONCE_ATTEMPTED = frozenset({"kind", "gold_set"})
SLUG_TAKEN = "A quiz with this slug exists."
# Settings given as decimals, or as floats or strings that ``_decimal`` reads.
DECIMAL_FIELDS = frozenset({"pass_mark", "seq_p0", "seq_alpha", "seq_beta"})


# -- quizzes ------------------------------------------------------------------------------------


def _decimal(value: Any) -> Decimal | None:
    if value is None or value == "":
        return None
    try:
        return Decimal(str(value))
    except ArithmeticError:
        return None


def sprt_params(quiz: Quiz) -> SprtParams:
    """The sequential test of a quiz (qc/sequential.py): H1 accuracy >= pass mark against H0
    accuracy <= seq_p0, truncated at ``num_questions``."""
    return SprtParams(
        p1=float(quiz.pass_mark),
        p0=float(quiz.seq_p0),
        alpha=float(quiz.seq_alpha),
        beta=float(quiz.seq_beta),
        n_min=quiz.seq_min_questions,
        n_max=quiz.num_questions,
    )


def _check_quiz(quiz: Quiz) -> None:
    """Field-level checks beyond the model's, reported on their fields (the model's check
    constraints would be non-field errors). Raises ValidationError."""
    errors: dict[str, list[str]] = {}
    pass_mark = _decimal(quiz.pass_mark)
    if pass_mark is None or not (0 < pass_mark <= 1):
        errors["pass_mark"] = ["The pass mark is a fraction above 0 and at most 1, e.g. 0.8."]
    if quiz.num_questions is None or quiz.num_questions < 1:
        errors["num_questions"] = ["A quiz has at least one question."]
    if quiz.time_limit_seconds is not None and quiz.time_limit_seconds < 1:
        errors["time_limit_seconds"] = ["Leave it empty for no limit, or give at least 1 second."]
    if quiz.max_attempts is not None and quiz.max_attempts < 1:
        errors["max_attempts"] = ["Leave it empty for no limit, or allow at least 1 attempt."]
    if quiz.validity_days is not None and quiz.validity_days < 1:
        errors["validity_days"] = ["Leave it empty for no expiry, or give at least 1 day."]
    if quiz.kind == Quiz.Kind.QUALIFICATION and quiz.qualification_type_id is None:
        errors["qualification_type"] = ["A qualification quiz grants a qualification type."]
    if quiz.kind == Quiz.Kind.TRAINING:
        if quiz.qualification_type_id is not None:
            errors["qualification_type"] = ["A training quiz grants no qualification."]
        if quiz.validity_days is not None:
            errors["validity_days"] = ["A training quiz grants no qualification."]
        if quiz.sequential:
            errors["sequential"] = ["Only a qualification quiz can decide early."]
    if quiz.sequential and quiz.kind == Quiz.Kind.QUALIFICATION and "pass_mark" not in errors:
        p0 = _decimal(quiz.seq_p0)
        if p0 is None or not (0 < p0 < pass_mark):
            errors["seq_p0"] = ["Give the failing accuracy p0, above 0 and below the pass mark."]
        elif pass_mark >= 1:
            errors["pass_mark"] = ["A sequential quiz needs a pass mark below 1."]
        else:
            for name in ("seq_alpha", "seq_beta"):
                value = _decimal(getattr(quiz, name))
                if value is None or not (0 < value < Decimal("0.5")):
                    errors[name] = ["An error rate lies strictly between 0 and 0.5."]
            n_min = quiz.seq_min_questions
            if n_min is None or not (1 <= n_min <= (quiz.num_questions or 0)):
                errors["seq_min_questions"] = [
                    "The minimum number of questions lies between 1 and the number of questions."
                ]
    if errors:
        raise ValidationError(errors)
    if quiz.sequential:
        sprt_params(quiz)  # the checks above are exactly SprtParams' preconditions


def _full_clean(quiz: Quiz) -> None:
    try:
        quiz.full_clean()
    except ValidationError as exc:
        raise ValidationError(exc.message_dict) from None


def quiz_create(
    *,
    actor: User | None,
    slug: str,
    title: str,
    kind: str,
    gold_set: GoldSet,
    num_questions: int,
    pass_mark: Decimal | float | str,
    **settings: Any,
) -> Quiz:
    """Create a quiz. ``settings`` are any other of ``QUIZ_FIELDS``; one left out takes the
    model field's default (no guide, time limit, attempt limit, qualification type or expiry;
    no retry delay; active; not sequential, with alpha and beta 0.05 and at least 5
    questions). A keyword outside them is a TypeError, as for any function.

    A qualification quiz needs a qualification type; a training quiz grants none. A sequential
    quiz is a qualification quiz with 0 < seq_p0 < pass_mark < 1, error rates in (0, 0.5) and
    1 <= seq_min_questions <= num_questions. The gold set's size is not checked here but when
    an attempt starts (items come and go). Raises ValidationError (field-level)."""
    unknown = sorted(set(settings) - set(QUIZ_FIELDS))
    if unknown:
        raise TypeError(f"quiz_create() got unexpected keyword arguments: {', '.join(unknown)}")
    given = {
        **settings,
        "slug": slug,
        "title": title,
        "kind": kind,
        "gold_set": gold_set,
        "num_questions": num_questions,
        "pass_mark": pass_mark,
    }
    quiz = Quiz(
        **{
            name: _decimal(value) if name in DECIMAL_FIELDS else value
            for name, value in with_defaults(Quiz, QUIZ_FIELDS, given).items()
        }
    )
    _check_quiz(quiz)
    _full_clean(quiz)
    save_unique(quiz, field="slug", message=SLUG_TAKEN)
    return quiz


def quiz_update(*, actor: User | None, quiz: Quiz, data: dict[str, Any]) -> Quiz:
    """Change a quiz's settings (any of ``QUIZ_FIELDS``). Attempts in progress keep their
    questions and are ended under the new settings. Raises ValidationError for unknown fields or
    bad values and Conflict (``quiz_has_attempts``) when the kind or the gold set would change
    under existing attempts. Locks the quiz row."""
    unknown = set(data) - set(QUIZ_FIELDS)
    if unknown:
        raise ValidationError({k: ["This field cannot be changed here."] for k in sorted(unknown)})
    with transaction.atomic():
        locked = Quiz.objects.select_for_update().get(pk=quiz.pk)
        changed = [name for name in data if _differs(locked, name, data[name])]
        if set(changed) & FROZEN_ONCE_ATTEMPTED and locked.attempts.exists():
            raise Conflict(
                "The kind and the gold set of a quiz cannot change once it has attempts; create "
                "a new quiz instead.",
                code="quiz_has_attempts",
            )
        for name in changed:
            value = data[name]
            if name in DECIMAL_FIELDS:
                value = _decimal(value)
            setattr(locked, name, value)
        _check_quiz(locked)
        _full_clean(locked)
        if changed:
            save_unique(locked, field="slug", message=SLUG_TAKEN, update_fields=changed)
    quiz.refresh_from_db()
    return quiz


def _differs(quiz: Quiz, name: str, value: Any) -> bool:
    field = Quiz._meta.get_field(name)
    current = getattr(quiz, field.attname)
    if field.is_relation:
        value = value.pk if value is not None else None
    elif name in DECIMAL_FIELDS:
        value = _decimal(value)
    return current != value


# -- attempts: start ----------------------------------------------------------------------------


def _lock_labeler(labeler_id: int) -> Labeler:
    return Labeler.objects.select_for_update().get(pk=labeler_id)


def _lock_attempt(attempt_id: int) -> QuizAttempt:
    return (
        QuizAttempt.objects.select_for_update(of=("self",))
        .select_related("quiz__gold_set", "quiz__qualification_type", "labeler")
        .get(pk=attempt_id)
    )


def quiz_attempt_start(
    *,
    actor: User | None,
    quiz: Quiz,
    labeler: Labeler,
    now: datetime | None = None,
    rng: random.Random | None = None,
) -> tuple[QuizAttempt, bool]:
    """Start an attempt of ``labeler`` at ``quiz``, or return the one in progress.

    Returns ``(attempt, created)``. The questions are drawn now, stratified by class over the
    gold set's active items (``qc.sampling.draw_stratified``) in a random order, and fixed.

    Locks the labeler's row, so one labeler's starts serialize. An attempt of this quiz past its
    deadline is ended first (``time_limit``) and that is committed even when the start is then
    refused. Refusals (``quiz_gate``, checked in this order) raise Forbidden —
    ``labeler_inactive``, ``guide_not_acknowledged`` — or Conflict — ``already_qualified``,
    ``attempts_exhausted``, ``retry_delay``, ``not_enough_items``; an inactive quiz is NotFound.
    """
    now = now or timezone.now()
    rng = rng or random.SystemRandom()
    refusal: Exception | None = None
    result: tuple[QuizAttempt, bool] | None = None
    with transaction.atomic(durable=True):
        locked_labeler = _lock_labeler(labeler.pk)
        quiz = Quiz.objects.select_related("gold_set").get(pk=quiz.pk)
        if not quiz.is_active:
            raise NotFound()
        due = QuizAttempt.objects.filter(
            quiz=quiz, labeler=locked_labeler, status=A.IN_PROGRESS, deadline__lte=now
        ).values_list("pk", flat=True)
        for pk in due:
            _finish_locked(_lock_attempt(pk), end_reason=End.TIME_LIMIT, now=now)

        attempts = quiz_selectors.attempt_facts(
            labeler=locked_labeler, quiz_ids=[quiz.pk], now=now
        ).get(quiz.pk, [])
        grants = quiz_selectors.qualification_facts(
            labeler=locked_labeler, qualification_type_ids=[quiz.qualification_type_id]
        )
        items = list(
            GoldItem.objects.filter(
                gold_set_id=quiz.gold_set_id, status=GoldItem.Status.ACTIVE
            ).values_list("pk", "stratum")
        )
        gate = quiz_selectors.quiz_gate(
            quiz=quiz,
            labeler_status=locked_labeler.status,
            guide_version_missing=(
                guide_ack_missing(labeler=locked_labeler, guide=quiz.guide_id)
                if quiz.guide_id
                else None
            ),
            attempts=attempts,
            qualifications=grants,
            active_items=len(items),
            now=now,
        )
        if gate.blocked:
            refusal = gate.blocked[0].as_error()
        elif gate.open_attempt_id is not None:
            result = (QuizAttempt.objects.get(pk=gate.open_attempt_id), False)
        else:
            result = (
                _create_attempt(quiz, locked_labeler, attempts, items, now=now, rng=rng),
                True,
            )
    if refusal is not None:
        raise refusal
    return result


def _create_attempt(
    quiz: Quiz,
    labeler: Labeler,
    attempts: list[quiz_selectors.AttemptFact],
    items: list[tuple[int, str]],
    *,
    now: datetime,
    rng: random.Random,
) -> QuizAttempt:
    by_stratum: dict[str, list[int]] = {}
    for pk, stratum in items:
        by_stratum.setdefault(stratum, []).append(pk)
    chosen = draw_stratified(by_stratum, quiz.num_questions, rng)
    attempt = QuizAttempt.objects.create(
        quiz=quiz,
        labeler=labeler,
        number=max((a.number for a in attempts), default=0) + 1,
        status=A.IN_PROGRESS,
        started_at=now,
        deadline=(
            now + timedelta(seconds=quiz.time_limit_seconds) if quiz.time_limit_seconds else None
        ),
        question_count=len(chosen),
    )
    AttemptQuestion.objects.bulk_create(
        AttemptQuestion(attempt=attempt, position=i, gold_item_id=pk)
        for i, pk in enumerate(chosen, start=1)
    )
    # Every question drawn is an exposure, recorded with the draw: a training quiz shows each
    # answer in its feedback, and an item met in any quiz would be recognised if it came back
    # as a control task — which real tasks never do (docs/quality.md, "Secrecy of control
    # tasks"). Drawn, not answered: the questions are fixed now and may all be shown.
    gold_exposures_record(
        labeler_ids=[labeler.pk],
        gold_item_ids=chosen,
        reason=(
            GoldExposure.Reason.QUIZ_TRAINING
            if quiz.kind == Quiz.Kind.TRAINING
            else GoldExposure.Reason.QUIZ_QUALIFICATION
        ),
        now=now,
    )
    return attempt


# -- attempts: answer ---------------------------------------------------------------------------


@dataclass(frozen=True)
class Feedback:
    """Training feedback for the question just answered."""

    correct: bool
    accepted_answers: list[Any]
    explanation: str


@dataclass(frozen=True)
class AnswerOutcome:
    attempt: QuizAttempt
    question_id: int
    feedback: Feedback | None  # training quizzes only


def clean_answer(gold_set: GoldSet, answer: Any) -> Any:
    """The canonical form of ``answer`` for the gold set's answer type (qc.answers), or
    InvalidInput with messages on ``answer``. Pure."""
    try:
        size = len(json.dumps(answer))
    except (TypeError, ValueError):
        raise InvalidInput(fields={"answer": [_("Expected a JSON value.")]}) from None
    if size > MAX_ANSWER_BYTES:
        raise InvalidInput(
            fields={
                "answer": [
                    _("The answer is too large (at most %(n)s bytes).") % {"n": MAX_ANSWER_BYTES}
                ]
            }
        )
    try:
        return validate_answer(gold_set.answer_type, list(gold_set.classes or []), answer)
    except AnswerError as exc:
        raise InvalidInput(_("The answer is not valid."), fields={"answer": exc.messages}) from None


def quiz_attempt_answer(
    *,
    actor: User,
    attempt: QuizAttempt,
    question_id: int,
    answer: Any,
    active_seconds: int | None = None,
    now: datetime | None = None,
) -> AnswerOutcome:
    """Record ``actor``'s answer to one question of their attempt, grade it, and end the
    attempt when it is decided (all questions answered, or the sequential test decided).

    Questions are answered in order: ``question_id`` must be the first unanswered one. An
    answer, once written, is locked. Locks the labeler's row, then the attempt's.

    ``active_seconds``: the labeler's active time on the question as their client measured it,
    clamped to the wall time since the question was served (the previous answer, or the
    attempt's start for the first); without it, that wall time capped at
    ``QUESTION_ACTIVE_CAP_SECONDS`` (a page left open is not work). Recorded on the question.

    Raises NotFound (not the actor's attempt), InvalidInput (a malformed answer, on ``answer``;
    a question that is not this attempt's or not the current one, on ``question``), Conflict
    ``attempt_ended``, ``already_answered`` (the first answer stands), ``time_limit_passed``
    (the attempt is ended and that is committed), Forbidden ``labeler_inactive``.
    """
    now = now or timezone.now()
    canonical = clean_answer(attempt.quiz.gold_set, answer)
    refusal: Exception | None = None
    outcome: AnswerOutcome | None = None
    with transaction.atomic(durable=True):
        labeler = _lock_labeler(attempt.labeler_id)
        if labeler.user_id != actor.pk:
            raise NotFound()
        locked = _lock_attempt(attempt.pk)
        if locked.status != A.IN_PROGRESS:
            raise Conflict(_("This attempt has ended."), code="attempt_ended")
        if locked.deadline is not None and locked.deadline <= now:
            _finish_locked(locked, end_reason=End.TIME_LIMIT, now=now)
            refusal = Conflict(
                _("The time limit has passed; the attempt has ended."), code="time_limit_passed"
            )
        elif labeler.status != Labeler.Status.ACTIVE:
            raise Forbidden(
                _("Your labeler account is %(status)s, not active.") % {"status": labeler.status},
                code="labeler_inactive",
            )
        else:
            outcome = _answer_locked(
                locked, question_id, canonical, now=now, active_seconds=active_seconds
            )
    if refusal is not None:
        raise refusal
    return outcome


def question_active_seconds(*, served_at: datetime, measured: int | None, now: datetime) -> int:
    """A quiz answer's active seconds: the client's measure, never more than the wall time
    since the question was served; nothing measured → that wall time, at most
    ``QUESTION_ACTIVE_CAP_SECONDS``. Pure."""
    wall = max(int((now - served_at).total_seconds()), 0)
    if measured is None:
        return min(wall, QUESTION_ACTIVE_CAP_SECONDS)
    return min(max(int(measured), 0), wall)


def _answer_locked(
    attempt: QuizAttempt,
    question_id: int,
    canonical: Any,
    *,
    now: datetime,
    active_seconds: int | None = None,
) -> AnswerOutcome:
    quiz = attempt.quiz
    question = (
        AttemptQuestion.objects.filter(attempt_id=attempt.pk, pk=question_id)
        .select_related("gold_item")
        .first()
    )
    if question is None:
        raise InvalidInput(fields={"question": [_("Not a question of this attempt.")]})
    if question.answered_at is not None:
        raise Conflict(
            _("This question is already answered; the first answer stands."),
            code="already_answered",
        )
    # One query: the current question (the first unanswered position) and when it was served
    # (the latest answer so far).
    state = AttemptQuestion.objects.filter(attempt_id=attempt.pk).aggregate(
        current=Min("position", filter=Q(answered_at__isnull=True)),
        served_at=Max("answered_at"),
    )
    if state["current"] != question.position:
        raise InvalidInput(fields={"question": [_("Answer the current question first.")]})
    active = question_active_seconds(
        served_at=state["served_at"] or attempt.started_at, measured=active_seconds, now=now
    )

    item = question.gold_item
    correct = grade(
        quiz.gold_set.answer_type,
        canonical,
        item.accepted_answers,
        float(quiz.gold_set.iou_threshold),
    )
    written = AttemptQuestion.objects.filter(pk=question.pk, answered_at__isnull=True).update(
        answer=canonical, is_correct=correct, answered_at=now, active_seconds=active
    )
    if not written:  # cannot happen under the attempt lock; the guard is the backstop
        raise Conflict(
            _("This question is already answered; the first answer stands."),
            code="already_answered",
        )
    n, k = attempt.answered_count + 1, attempt.correct_count + int(correct)
    changes: dict[str, Any] = {
        "answered_count": F("answered_count") + 1,
        "correct_count": F("correct_count") + int(correct),
    }
    decision = None
    if quiz.sequential:
        decision = decide(sprt_params(quiz), n, k)
        changes["sequential_llr"] = decision.llr
        attempt.sequential_llr = decision.llr
    QuizAttempt.objects.filter(pk=attempt.pk).update(**changes)
    # We hold the attempt's lock: these are the values just written.
    attempt.answered_count, attempt.correct_count = n, k

    if n >= attempt.question_count:
        _finish_locked(attempt, end_reason=End.ALL_ANSWERED, now=now)
    elif decision is not None and decision.verdict is not Verdict.CONTINUE:
        _finish_locked(attempt, end_reason=End.SEQUENTIAL, now=now)

    feedback = None
    if quiz.kind == Quiz.Kind.TRAINING:
        feedback = Feedback(
            correct=correct,
            accepted_answers=list(item.accepted_answers),
            explanation=item.explanation,
        )
    return AnswerOutcome(attempt=attempt, question_id=question.pk, feedback=feedback)


# -- attempts: finish ---------------------------------------------------------------------------


def _score(correct: int, out_of: int) -> Decimal:
    return (Decimal(correct) / Decimal(out_of)).quantize(SCORE_PLACES, rounding=ROUND_HALF_UP)


def _finish_locked(attempt: QuizAttempt, *, end_reason: str, now: datetime) -> QuizAttempt:
    """End an attempt whose row (and labeler row) the caller holds locked, in the caller's
    transaction: score it, decide pass or fail, and for a passed qualification quiz grant the
    qualification in the same transaction.

    Fixed length: score = correct / questions; pass iff the fraction reaches the pass mark
    (``fixed_passes``, in integers). Sequential: an attempt the test decided scores correct /
    answered and passes as the test said; any other end counts the unanswered questions as
    wrong and applies the truncation rule, i.e. ``decide`` at ``n_max`` with the correct answers
    so far — the fixed-length rule."""
    quiz = attempt.quiz
    n, k, total = attempt.answered_count, attempt.correct_count, attempt.question_count
    finished_at = now
    if end_reason == End.TIME_LIMIT and attempt.deadline is not None:
        finished_at = min(now, attempt.deadline)
    llr_value = attempt.sequential_llr
    if quiz.sequential:
        params = sprt_params(quiz)
        decision = decide(params, n, k) if end_reason == End.SEQUENTIAL else None
        if decision is not None and decision.verdict is not Verdict.CONTINUE:
            passed, score = decision.verdict is Verdict.PASS, _score(k, n)
        else:
            passed = decide(params, params.n_max, k).verdict is Verdict.PASS
            score = _score(k, total)
        llr_value = llr(params, n, k)
    else:
        passed, score = fixed_passes(k, total, float(quiz.pass_mark)), _score(k, total)

    qualification: Qualification | None = None
    if passed and quiz.kind == Quiz.Kind.QUALIFICATION and quiz.qualification_type_id:
        qualification = qualification_grant(
            actor=None,
            labeler=attempt.labeler,
            qualification_type=quiz.qualification_type,
            source=Qualification.Source.QUIZ,
            score=score,
            valid_days=quiz.validity_days,
            source_ref=f"quiz-attempt:{attempt.pk}",
            now=now,
        )
    status = A.PASSED if passed else A.FAILED
    updated = QuizAttempt.objects.filter(pk=attempt.pk, status=A.IN_PROGRESS).update(
        status=status,
        end_reason=end_reason,
        finished_at=finished_at,
        score=score,
        sequential_llr=llr_value,
        qualification=qualification,
    )
    if not updated:  # cannot happen under the lock; never grant twice
        raise Conflict(_("This attempt has ended."), code="attempt_ended")
    attempt.status, attempt.end_reason, attempt.finished_at = status, end_reason, finished_at
    attempt.score, attempt.sequential_llr, attempt.qualification = score, llr_value, qualification
    return attempt


def quiz_attempt_finish(
    *,
    actor: User | None,
    attempt: QuizAttempt,
    end_reason: str = End.FINISHED,
    now: datetime | None = None,
) -> QuizAttempt:
    """End an attempt and return it; an ended attempt is returned as it is (idempotent: the
    same result however often this is called, and at most one qualification).

    ``end_reason`` is ``finished`` (the labeler ends it) or ``time_limit`` (the overdue sweep);
    once the deadline has passed the attempt ends as ``time_limit`` at its deadline whatever the
    caller says, and ``time_limit`` before the deadline leaves the attempt open. ``actor`` is
    the labeler or an operations manager (None for system callers); anyone else gets NotFound.
    Locks the labeler's row, then the attempt's."""
    if end_reason not in (End.FINISHED, End.TIME_LIMIT):
        raise ValidationError({"end_reason": ["Use finished or time_limit."]})
    now = now or timezone.now()
    with transaction.atomic(durable=True):
        labeler = _lock_labeler(attempt.labeler_id)
        if actor is not None and labeler.user_id != actor.pk and not is_ops(actor):
            raise NotFound()
        locked = _lock_attempt(attempt.pk)
        if locked.status == A.IN_PROGRESS:
            overdue = locked.deadline is not None and locked.deadline <= now
            if overdue:
                _finish_locked(locked, end_reason=End.TIME_LIMIT, now=now)
            elif end_reason == End.FINISHED:
                _finish_locked(locked, end_reason=End.FINISHED, now=now)
    return locked


def quiz_attempts_end_overdue(*, now: datetime | None = None, limit: int = 500) -> int:
    """End up to ``limit`` attempts past their deadline (oldest deadline first), each in its own
    transaction through ``quiz_attempt_finish``. Returns how many overdue attempts it found.
    Safe to run concurrently and repeatedly: an attempt already ended is left as it is."""
    now = now or timezone.now()
    overdue = list(
        QuizAttempt.objects.filter(status=A.IN_PROGRESS, deadline__lte=now).order_by(
            "deadline", "pk"
        )[:limit]
    )
    for attempt in overdue:
        quiz_attempt_finish(actor=None, attempt=attempt, end_reason=End.TIME_LIMIT, now=now)
    return len(overdue)
