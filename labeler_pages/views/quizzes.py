"""The labeler pages: quizzes and qualification tests (routes listed in ``urlpatterns``).

* ``quizzes/<id>/`` (``quiz``) — what the quiz is, whether the labeler may start it now and every
  reason they may not (``qc.selectors.quizzes.quiz_availability_for``: the gate the API and
  ``quiz_attempt_start`` apply), their earlier attempts, and the Start button;
* ``quizzes/<id>/start/`` (``quiz-start``, POST) — ``quiz_attempt_start``, then the attempt;
* ``attempts/<id>/`` (``attempt``) — the current question of an open attempt, the feedback on
  an answered training question (``?feedback=<question id>``), or the result once it has ended;
* ``attempts/<id>/answer/`` (``attempt-answer``, POST) — ``quiz_attempt_answer``, then back to
  the attempt page (post/redirect/get: a reload never posts again).

Nothing is answered or started twice. The start form carries the number of the labeler's latest
attempt the page showed (``seen``): a start posted again after that attempt has ended (the back
button, a second tab) goes to that attempt instead of starting another, and a start while one is
open gets the open one back from the service. The answer form carries the id of the question it
answers (``question``): the service refuses a question already answered (``already_answered``,
the first answer stands) or not the current one, so a repeated post never answers the next
question; the page then shows the recorded feedback (training) or where the attempt is.

Gold stays hidden until the labeler's answer is locked: the question page loads the item's
payload only (``attempt_next_question``), and feedback is read back only for an answered
question of a training attempt (``attempt_answered_feedback``). Another labeler's attempt is a
404, as in the API (``attempt_get_own``).
"""

from __future__ import annotations

from decimal import ROUND_HALF_UP, Decimal

from django.contrib import messages
from django.core.exceptions import ValidationError
from django.http import Http404
from django.shortcuts import redirect, render
from django.urls import path, reverse
from django.utils import timezone
from django.utils.translation import gettext as _
from django.utils.translation import ngettext
from django.views.decorators.http import require_GET, require_POST

from config.errors import Conflict, Forbidden, InvalidInput, NotFound
from labeler_pages.access import labeler_page
from labeler_pages.answers import answer_from_form
from qc.models import QuizAttempt
from qc.selectors import quizzes as quiz_selectors
from qc.services import quizzes as quiz_services

A = QuizAttempt.Status
End = QuizAttempt.EndReason
BIGINT_MAX = 2**63 - 1


def _or_404(selector, **kwargs):
    try:
        return selector(**kwargs)
    except NotFound:
        raise Http404 from None


def _posted_id(request, name: str) -> int | None:
    """A positive id posted as ``name``, or None when it is missing or malformed."""
    raw = request.POST.get(name, "")
    if not raw.isdigit():
        return None
    value = int(raw)
    return value if 0 <= value <= BIGINT_MAX else None


def _percent(score: Decimal | None) -> int | None:
    if score is None:
        return None
    return int((score * 100).quantize(Decimal("1"), rounding=ROUND_HALF_UP))


def _attempt_url(attempt_id: int, *, feedback: int | None = None) -> str:
    url = reverse("labeler:attempt", args=[attempt_id])
    return f"{url}?feedback={feedback}" if feedback is not None else url


# -- the quiz -----------------------------------------------------------------------------------


@require_GET
@labeler_page
def quiz(request, pk: int):
    """What the quiz is and whether the labeler may start it. At most seven queries beyond the
    session's: the quiz, its gate (``quiz_availability_for``: at most five) and the labeler's
    attempts at it."""
    found = _or_404(quiz_selectors.quiz_get_for, actor=request.user, pk=pk)
    availability = quiz_selectors.quiz_availability_for(labeler=request.labeler, quizzes=[found])[
        found.pk
    ]
    attempts = list(quiz_selectors.attempt_list_own(actor=request.user, quiz=found))
    now = timezone.now()
    for attempt in attempts:
        attempt.score_percent = _percent(attempt.score)
        attempt.time_is_up = (
            attempt.status == A.IN_PROGRESS
            and attempt.deadline is not None
            and attempt.deadline <= now
        )
    return render(
        request,
        "labeler/quizzes/quiz.html",
        {
            "quiz": found,
            "availability": availability,
            "attempts": attempts,
            "seen": attempts[0].number if attempts else 0,
            "pass_percent": _percent(found.pass_mark),
            "time_limit": _duration(found.time_limit_seconds),
            "retry_delay": _duration(found.retry_delay_seconds),
            "labeler": request.labeler,
        },
    )


def _duration(seconds: int | None) -> str:
    """A length of time in words, in the largest unit that reads well ("45 minutes",
    "6 hours", "3 days"); empty for none."""
    if not seconds:
        return ""
    minutes = max(1, round(seconds / 60))
    if minutes < 120:
        return ngettext("%(n)d minute", "%(n)d minutes", minutes) % {"n": minutes}
    hours = round(minutes / 60)
    if hours < 48:
        return ngettext("%(n)d hour", "%(n)d hours", hours) % {"n": hours}
    days = round(hours / 24)
    return ngettext("%(n)d day", "%(n)d days", days) % {"n": days}


@require_POST
@labeler_page
def quiz_start(request, pk: int):
    """Start an attempt, or go to the one this start was already answered with."""
    found = _or_404(quiz_selectors.quiz_get_for, actor=request.user, pk=pk)
    seen = _posted_id(request, "seen")
    if seen is not None:
        facts = quiz_selectors.attempt_facts(
            labeler=request.labeler, quiz_ids=[found.pk], now=timezone.now()
        ).get(found.pk, [])
        newer = [fact for fact in facts if fact.number > seen]
        if newer:
            # This form was shown before the labeler's latest attempt began: it is a repeat
            # (double click, back button, second tab), not a wish for one more attempt.
            latest = max(newer, key=lambda fact: fact.number)
            if not latest.open:
                messages.info(request, _("This attempt was already started from this page."))
            return redirect("labeler:attempt", latest.id)
    try:
        attempt, created = quiz_services.quiz_attempt_start(
            actor=request.user, quiz=found, labeler=request.labeler
        )
    except NotFound:
        raise Http404 from None
    except (Forbidden, Conflict):
        # The quiz page lists every reason, from the same gate.
        messages.error(request, _("You cannot start this quiz now: the reasons are below."))
        return redirect("labeler:quiz", found.pk)
    if not created:
        messages.info(request, _("You already have an attempt in progress: here it is."))
    return redirect("labeler:attempt", attempt.pk)


# -- the attempt --------------------------------------------------------------------------------


@require_GET
@labeler_page
def attempt(request, pk: int):
    """The attempt as it stands: a question, feedback on an answered training question, or the
    result. The question page is two queries beyond the session's (the attempt, its question);
    the result at most eight (the attempt, its qualification and type, and for a failed
    attempt the quiz's gate for the retry)."""
    found = _or_404(quiz_selectors.attempt_get_own, actor=request.user, pk=pk)
    now = timezone.now()
    if found.status == A.IN_PROGRESS and found.deadline is not None and found.deadline <= now:
        # It ended at its deadline; recording that (idempotent) gives it its result.
        found = quiz_services.quiz_attempt_finish(
            actor=request.user, attempt=found, end_reason=End.TIME_LIMIT, now=now
        )
        messages.warning(request, _("The time limit has passed: this attempt has ended."))
    quiz_ = found.quiz
    seconds_left = None
    if found.status == A.IN_PROGRESS and found.deadline is not None:
        seconds_left = max(0, int((found.deadline - now).total_seconds()))
    context = {
        "attempt": found,
        "quiz": quiz_,
        "labeler": request.labeler,
        "answer_type": quiz_.gold_set.answer_type,
        "classes": list(quiz_.gold_set.classes or []),
        # The answer widget's optional inputs: a quiz question starts blank, with no suggestion.
        "answer": None,
        "prelabel": None,
        # The clock runs on while the labeler reads feedback, so both pages show it.
        "seconds_left": seconds_left,
        "time_left": _clock(seconds_left),
    }

    feedback_id = request.GET.get("feedback", "")
    if feedback_id.isdigit() and int(feedback_id) <= BIGINT_MAX:
        answered = quiz_selectors.attempt_answered_feedback(
            attempt=found, question_id=int(feedback_id)
        )
        if answered is not None:
            payload = answered.gold_item.payload or {}
            context.update(
                question=answered,
                payload=payload,
                image_url=payload.get("image_url", ""),
                your_answer=_answer_words(answered.answer),
                accepted=[_answer_words(a) for a in answered.gold_item.accepted_answers],
            )
            return render(request, "labeler/quizzes/feedback.html", context)

    question = quiz_selectors.attempt_next_question(attempt=found)
    if question is not None:
        payload = question.gold_item.payload or {}
        context.update(
            question=question,
            payload=payload,
            image_url=payload.get("image_url", ""),
            progress_percent=round(100 * found.answered_count / max(found.question_count, 1)),
        )
        return render(request, "labeler/quizzes/question.html", context)

    context.update(
        passed=found.status == A.PASSED,
        score_percent=_percent(found.score),
        pass_percent=_percent(quiz_.pass_mark),
        qualification=found.qualification if found.qualification_id else None,
    )
    if found.status == A.FAILED:
        context["availability"] = quiz_selectors.quiz_availability_for(
            labeler=request.labeler, quizzes=[quiz_], now=now
        )[quiz_.pk]
    return render(request, "labeler/quizzes/result.html", context)


def _clock(seconds: int | None) -> str:
    """Seconds as a clock reads them: ``m:ss``, or ``h:mm:ss`` from an hour (as quiz.js does)."""
    if seconds is None:
        return ""
    hours, rest = divmod(seconds, 3600)
    minutes, secs = divmod(rest, 60)
    return f"{hours}:{minutes:02d}:{secs:02d}" if hours else f"{minutes}:{secs:02d}"


def _answer_words(answer) -> str:
    """An answer as a person reads it: a label, labels joined, or a count of boxes."""
    if isinstance(answer, list):
        if answer and all(isinstance(box, dict) for box in answer):
            labels = ", ".join(str(box.get("label", "")) for box in answer)
            return ngettext(
                "%(count)d box: %(labels)s", "%(count)d boxes: %(labels)s", len(answer)
            ) % {
                "count": len(answer),
                "labels": labels,
            }
        return ", ".join(str(label) for label in answer) if answer else _("(none)")
    return str(answer) if answer not in (None, "") else _("(none)")


def _posted_active_seconds(request) -> int | None:
    """The page's measure of active time on the question (quiz.js), or None when it sent none
    or something that is not a whole number in range (the service then counts the wall time)."""
    raw = request.POST.get("active_seconds", "")
    if not raw.isascii() or not raw.isdigit():
        return None
    value = int(raw)
    return value if value <= quiz_services.MAX_ACTIVE_SECONDS else None


@require_POST
@labeler_page
def attempt_answer(request, pk: int):
    """Answer the question the form names; whatever happens, back to the attempt page."""
    found = _or_404(quiz_selectors.attempt_get_own, actor=request.user, pk=pk)
    here = redirect("labeler:attempt", found.pk)
    question_id = _posted_id(request, "question")
    if question_id is None:
        messages.error(request, _("The form did not say which question it answers: try again."))
        return here
    if found.status != A.IN_PROGRESS:
        messages.info(request, _("This attempt has ended: its answers can no longer change."))
        return here
    try:
        answer = answer_from_form(request.POST, answer_type=found.quiz.gold_set.answer_type)
        outcome = quiz_services.quiz_attempt_answer(
            actor=request.user,
            attempt=found,
            question_id=question_id,
            answer=answer,
            active_seconds=_posted_active_seconds(request),
        )
    except NotFound:
        raise Http404 from None
    except ValidationError as exc:
        for message in exc.message_dict.get("answer", exc.messages):
            messages.error(request, message)
        return here
    except InvalidInput as exc:
        if "question" in exc.fields:
            messages.warning(
                request,
                _("That answer was for a question that is not the current one: nothing was "
                  "recorded. Here is the current question."),
            )  # fmt: skip
        else:
            problems = " ".join(exc.fields.get("answer", [])) or exc.detail
            messages.error(
                request,
                _("Your answer could not be recorded: %(problems)s") % {"problems": problems},
            )
        return here
    except Conflict as exc:
        if exc.code == "already_answered":
            messages.info(
                request, _("You had already answered this question: your first answer stands.")
            )
            return redirect(_attempt_url(found.pk, feedback=question_id))
        if exc.code == "time_limit_passed":
            messages.error(
                request,
                _("The time limit passed before your answer arrived, so it was not recorded. "
                  "The attempt has ended: here is your result."),
            )  # fmt: skip
        else:
            messages.info(request, _("This attempt has ended: its answers can no longer change."))
        return here
    except Forbidden:
        messages.error(request, _("Your labeler account is not active: you cannot answer now."))
        return here
    if outcome.feedback is not None:
        return redirect(_attempt_url(found.pk, feedback=outcome.question_id))
    return here


urlpatterns = [
    path("quizzes/<id:pk>/", quiz, name="quiz"),
    path("quizzes/<id:pk>/start/", quiz_start, name="quiz-start"),
    path("attempts/<id:pk>/", attempt, name="attempt"),
    path("attempts/<id:pk>/answer/", attempt_answer, name="attempt-answer"),
]
