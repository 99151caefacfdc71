"""Reads of quizzes, attempts and qualifications, each scoped to the caller, and the gating
rules of a quiz (may this labeler start it now, and if not, why).

The gating rules are one pure function, ``quiz_gate``, over facts loaded beforehand; the quiz
list loads the facts of a whole page in a constant number of queries, and
``qc.services.quizzes.quiz_attempt_start`` loads them for one quiz under the labeler's row lock
and raises the first reason. Both therefore say the same thing.

What a labeler may read of an attempt is decided here too: ``attempt_next_question`` loads the
gold item's payload only, never its accepted answers or explanation.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta

from django.db.models import Count, QuerySet
from django.utils import timezone
from django.utils.translation import gettext as _
from django.utils.translation import ngettext

from config.errors import Conflict, Forbidden, get_or_not_found
from qc.models import (
    AttemptQuestion,
    GoldItem,
    GuideAcknowledgement,
    GuideVersion,
    Quiz,
    QuizAttempt,
)
from workforce.models import Labeler, Qualification, QualificationType, User
from workforce.selectors import is_ops, readable_labelers_q

# -- gating -------------------------------------------------------------------------------------

# Reasons a labeler may not start a quiz now, in the order they are checked (and raised).
LABELER_INACTIVE = "labeler_inactive"
GUIDE_NOT_ACKNOWLEDGED = "guide_not_acknowledged"
ALREADY_QUALIFIED = "already_qualified"
ATTEMPTS_EXHAUSTED = "attempts_exhausted"
RETRY_DELAY = "retry_delay"
NOT_ENOUGH_ITEMS = "not_enough_items"

# The status an error of each code is raised with: a matter of who the labeler is (403) or of
# the state of their attempts and of the quiz (409).
FORBIDDEN_CODES = frozenset({LABELER_INACTIVE, GUIDE_NOT_ACKNOWLEDGED})


@dataclass(frozen=True)
class AttemptFact:
    """What gating needs of one attempt. An attempt past its deadline counts as ended at the
    deadline, whether or not anything has finished it yet."""

    id: int
    number: int
    started_at: datetime
    ended_at: datetime | None
    open: bool  # in progress and before its deadline


@dataclass(frozen=True)
class QualificationFact:
    id: int
    qualification_type_id: int
    granted_at: datetime
    expires_at: datetime | None
    revoked_at: datetime | None
    superseded_at: datetime | None

    def valid_at(self, when: datetime) -> bool:
        return (
            self.revoked_at is None
            and self.superseded_at is None
            and (self.expires_at is None or self.expires_at > when)
        )

    def lapsed_at(self, when: datetime) -> datetime | None:
        """When the grant ended by revocation or expiry (as of ``when``), else None. A grant
        that was superseded by a newer one did not lapse."""
        if self.revoked_at is not None:
            return self.revoked_at
        if self.expires_at is not None and self.expires_at <= when:
            return self.expires_at
        return None


@dataclass(frozen=True)
class Blocker:
    code: str
    detail: str
    until: datetime | None = None

    def as_error(self) -> Forbidden | Conflict:
        cls = Forbidden if self.code in FORBIDDEN_CODES else Conflict
        return cls(self.detail, code=self.code)


@dataclass(frozen=True)
class Availability:
    available: bool
    blocked: list[Blocker] = field(default_factory=list)
    attempts_used: int = 0
    attempts_left: int | None = None
    next_attempt_at: datetime | None = None
    open_attempt_id: int | None = None
    holds_qualification: QualificationFact | None = None


def attempt_fact(
    *,
    id: int,
    number: int,
    status: str,
    started_at: datetime,
    deadline: datetime | None,
    finished_at: datetime | None,
    now: datetime,
) -> AttemptFact:
    in_progress = status == QuizAttempt.Status.IN_PROGRESS
    due = in_progress and deadline is not None and deadline <= now
    return AttemptFact(
        id=id,
        number=number,
        started_at=started_at,
        ended_at=deadline if due else finished_at,
        open=in_progress and not due,
    )


def quiz_gate(
    *,
    quiz: Quiz,
    labeler_status: str,
    guide_version_missing: GuideVersion | None,
    attempts: Sequence[AttemptFact],
    qualifications: Sequence[QualificationFact],
    active_items: int,
    now: datetime,
) -> Availability:
    """May the labeler start ``quiz`` at ``now``? Pure: every fact is passed in.

    * An open attempt (in progress, before its deadline) is always available again — starting
      returns it — unless the labeler is not active.
    * Attempts are counted from the latest revocation or expiry of the labeler's qualification
      of the quiz's type, so a lapsed qualification may be earned again with fresh attempts.
    * The retry delay runs from the end of the latest attempt (an attempt past its deadline
      ended at its deadline).
    * A qualification quiz is closed to a labeler who holds a valid grant of its type; that is
      then its only reason (no attempts-used or retry-delay reason beside it).
    * A quiz whose gold set has fewer active items than questions cannot be started.
    """
    blocked: list[Blocker] = []
    if labeler_status != Labeler.Status.ACTIVE:
        blocked.append(
            Blocker(
                LABELER_INACTIVE,
                _("Your labeler account is %(status)s, not active.") % {"status": labeler_status},
            )
        )

    qtype_id = quiz.qualification_type_id
    own = [q for q in qualifications if q.qualification_type_id == qtype_id] if qtype_id else []
    holds = next((q for q in own if q.valid_at(now)), None)
    lapses = [t for t in (q.lapsed_at(now) for q in own) if t is not None]
    reset = max(lapses) if lapses else None
    counted = [a for a in attempts if reset is None or a.started_at > reset]
    used = len(counted)
    left = max(quiz.max_attempts - used, 0) if quiz.max_attempts is not None else None
    open_attempt = next((a for a in attempts if a.open), None)

    if open_attempt is not None:
        return Availability(
            available=not blocked,
            blocked=blocked,
            attempts_used=used,
            attempts_left=left,
            open_attempt_id=open_attempt.id,
            holds_qualification=holds,
        )

    if guide_version_missing is not None:
        blocked.append(
            Blocker(
                GUIDE_NOT_ACKNOWLEDGED,
                _("Read and acknowledge version %(number)s of the guide first.")
                % {"number": guide_version_missing.number},
            )
        )
    qualified = quiz.kind == Quiz.Kind.QUALIFICATION and holds is not None
    if qualified:
        blocked.append(
            Blocker(
                ALREADY_QUALIFIED,
                _("You already hold this qualification (valid until %(until)s).")
                % {"until": holds.expires_at.isoformat()}
                if holds.expires_at
                else _("You already hold this qualification."),
                until=holds.expires_at,
            )
        )
    # Holding the qualification closes the quiz by itself: attempts left and the retry delay
    # would only tell a qualified labeler when they could take a test they have no need of.
    if not qualified and left is not None and left <= 0:
        blocked.append(
            Blocker(
                ATTEMPTS_EXHAUSTED,
                ngettext(
                    "You have used your only attempt at this quiz.",
                    "You have used all %(n)s attempts at this quiz.",
                    quiz.max_attempts,
                )
                % {"n": quiz.max_attempts},
            )
        )
    next_at = None
    ended = [a.ended_at for a in attempts if a.ended_at is not None]
    if quiz.retry_delay_seconds and ended and not qualified:
        next_at = max(ended) + timedelta(seconds=quiz.retry_delay_seconds)
        if next_at > now:
            blocked.append(
                Blocker(
                    RETRY_DELAY,
                    _("You may try again from %(when)s.") % {"when": next_at.isoformat()},
                    until=next_at,
                )
            )
        else:
            next_at = None
    if active_items < quiz.num_questions:
        blocked.append(
            Blocker(
                NOT_ENOUGH_ITEMS,
                _(
                    "This quiz cannot be taken at the moment: its gold set has too few active "
                    "items. Operations have to add items or lower the number of questions."
                ),
            )
        )
    return Availability(
        available=not blocked,
        blocked=blocked,
        attempts_used=used,
        attempts_left=left,
        next_attempt_at=next_at,
        holds_qualification=holds,
    )


# -- loading the facts --------------------------------------------------------------------------


def attempt_facts(*, labeler: Labeler, quiz_ids: Iterable[int], now: datetime) -> dict:
    """The labeler's attempts at each quiz, as facts: ``{quiz_id: [AttemptFact]}``. One query."""
    out: dict[int, list[AttemptFact]] = {}
    rows = QuizAttempt.objects.filter(labeler=labeler, quiz_id__in=list(quiz_ids)).values_list(
        "quiz_id", "id", "number", "status", "started_at", "deadline", "finished_at"
    )
    for quiz_id, pk, number, status, started_at, deadline, finished_at in rows:
        out.setdefault(quiz_id, []).append(
            attempt_fact(
                id=pk,
                number=number,
                status=status,
                started_at=started_at,
                deadline=deadline,
                finished_at=finished_at,
                now=now,
            )
        )
    return out


def qualification_facts(
    *, labeler: Labeler, qualification_type_ids: Iterable[int]
) -> list[QualificationFact]:
    """Every grant (live or not) of these types to the labeler. One query."""
    ids = [i for i in set(qualification_type_ids) if i is not None]
    if not ids:
        return []
    rows = Qualification.objects.filter(labeler=labeler, qualification_type_id__in=ids).values_list(
        "id", "qualification_type_id", "granted_at", "expires_at", "revoked_at", "superseded_at"
    )
    return [QualificationFact(*row) for row in rows]


def guide_versions_missing(
    *, labeler: Labeler, guide_ids: Iterable[int]
) -> dict[int, GuideVersion]:
    """For many guides at once, what ``qc.selectors.guides.guide_ack_missing`` says for one:
    ``{guide_id: current version still to acknowledge}``; guides the labeler is up to date with
    (or with nothing published) are absent. Two queries whatever the number of guides."""
    ids = [i for i in set(guide_ids) if i is not None]
    if not ids:
        return {}
    current: dict[int, GuideVersion] = {}
    published = GuideVersion.objects.filter(
        guide_id__in=ids, status=GuideVersion.Status.PUBLISHED
    ).only("id", "guide_id", "major", "minor", "status")
    for version in published:
        best = current.get(version.guide_id)
        if best is None or (version.major, version.minor) > (best.major, best.minor):
            current[version.guide_id] = version
    acked = set(
        GuideAcknowledgement.objects.filter(
            labeler=labeler, version__guide_id__in=list(current)
        ).values_list("version__guide_id", "version__major")
    )
    return {g: v for g, v in current.items() if (g, v.major) not in acked}


def active_item_counts(*, gold_set_ids: Iterable[int]) -> dict[int, int]:
    """Active gold items per gold set. One query."""
    rows = (
        GoldItem.objects.filter(gold_set_id__in=list(set(gold_set_ids)), status="active")
        .values("gold_set_id")
        .annotate(n=Count("id"))
        .values_list("gold_set_id", "n")
    )
    return dict(rows)


def quiz_availability_for(
    *, labeler: Labeler, quizzes: Sequence[Quiz], now: datetime | None = None
) -> dict[int, Availability]:
    """Gating of each quiz for the labeler: ``{quiz_id: Availability}``. At most five queries
    whatever the number of quizzes (attempts, grants, guide versions, acknowledgements, item
    counts)."""
    now = now or timezone.now()
    if not quizzes:
        return {}
    return quiz_availability_given(
        labeler=labeler,
        quizzes=quizzes,
        guides_missing=guide_versions_missing(
            labeler=labeler, guide_ids=[q.guide_id for q in quizzes]
        ),
        active_items=active_item_counts(gold_set_ids=[q.gold_set_id for q in quizzes]),
        now=now,
    )


def quiz_availability_given(
    *,
    labeler: Labeler,
    quizzes: Sequence[Quiz],
    guides_missing: Mapping[int, GuideVersion],
    active_items: Mapping[int, int],
    now: datetime,
) -> dict[int, Availability]:
    """``quiz_availability_for`` with two of its facts already loaded by the caller:
    ``guides_missing`` as ``guide_versions_missing`` gives it for the quizzes' guides, and
    ``active_items`` as ``active_item_counts`` gives it for their gold sets (a gold set absent
    has none). Loads the rest — the labeler's attempts and grants — in two queries (one when
    no quiz grants a qualification)."""
    if not quizzes:
        return {}
    attempts = attempt_facts(labeler=labeler, quiz_ids=[q.pk for q in quizzes], now=now)
    grants = qualification_facts(
        labeler=labeler, qualification_type_ids=[q.qualification_type_id for q in quizzes]
    )
    return {
        quiz.pk: quiz_gate(
            quiz=quiz,
            labeler_status=labeler.status,
            guide_version_missing=guides_missing.get(quiz.guide_id) if quiz.guide_id else None,
            attempts=attempts.get(quiz.pk, []),
            qualifications=grants,
            active_items=active_items.get(quiz.gold_set_id, 0),
            now=now,
        )
        for quiz in quizzes
    }


# -- quizzes ------------------------------------------------------------------------------------


def quiz_list_for(*, actor: User) -> QuerySet[Quiz]:
    """Every quiz for operations; the active ones for everyone else (labelers take them, vendor
    managers see what their labelers can take)."""
    qs = Quiz.objects.select_related("gold_set", "guide", "qualification_type")
    return qs if is_ops(actor) else qs.filter(is_active=True)


def quiz_get_for(*, actor: User, pk: int) -> Quiz:
    return get_or_not_found(quiz_list_for(actor=actor), pk=pk)


# -- attempts -----------------------------------------------------------------------------------


def attempt_list_for(*, actor: User) -> QuerySet[QuizAttempt]:
    """Attempts the caller may read: all for ops, their vendors' labelers' for vendor managers,
    their own for a labeler."""
    qs = QuizAttempt.objects.select_related("quiz__gold_set", "labeler")
    return qs if is_ops(actor) else qs.filter(readable_labelers_q(actor))


def attempt_get_for(*, actor: User, pk: int) -> QuizAttempt:
    return get_or_not_found(attempt_list_for(actor=actor), pk=pk)


def attempt_get_own(*, actor: User, pk: int) -> QuizAttempt:
    """The caller's own attempt, for answering and finishing: anyone else's is a 404, whoever
    the caller is."""
    return get_or_not_found(
        QuizAttempt.objects.select_related("quiz__gold_set", "labeler"),
        pk=pk,
        labeler__user_id=actor.pk,
    )


def attempt_list_own(*, actor: User, quiz: Quiz | int) -> QuerySet[QuizAttempt]:
    """The caller's own attempts at ``quiz``, latest first: what a labeler's own page lists of
    them. Nobody else's, whoever the caller is. One query (no permission lookups, unlike
    ``attempt_list_for``)."""
    quiz_id = quiz if isinstance(quiz, int) else quiz.pk
    return QuizAttempt.objects.filter(quiz_id=quiz_id, labeler__user_id=actor.pk).order_by(
        "-number"
    )


def attempt_next_question(*, attempt: QuizAttempt) -> AttemptQuestion | None:
    """The first unanswered question of an open attempt, or None. Loads of the gold item only
    what a labeler may see (its payload): the accepted answers and the explanation are not even
    read from the database here. One query."""
    if attempt.status != QuizAttempt.Status.IN_PROGRESS:
        return None
    return (
        AttemptQuestion.objects.filter(attempt_id=attempt.pk, answered_at__isnull=True)
        .select_related("gold_item")
        .only("id", "position", "attempt_id", "gold_item__id", "gold_item__payload")
        .order_by("position")
        .first()
    )


def attempt_answered_feedback(*, attempt: QuizAttempt, question_id: int) -> AttemptQuestion | None:
    """The feedback a labeler may read again about one question of their training attempt: the
    question with its answer, whether it was right, and its gold item in full (accepted answers,
    explanation). The same facts ``qc.services.quizzes`` returns as ``Feedback`` right after
    the answer, for a page that shows them after a redirect or a reload.

    None unless the quiz is a training quiz and the question is this attempt's and answered —
    an answer, once written, is locked, so the gold shown can no longer change it. A
    qualification quiz never tells anything per question. The caller has checked that the
    attempt is the labeler's own (``attempt_get_own``). One query (none for a qualification
    quiz)."""
    if attempt.quiz.kind != Quiz.Kind.TRAINING:
        return None
    return (
        AttemptQuestion.objects.filter(
            attempt_id=attempt.pk, pk=question_id, answered_at__isnull=False
        )
        .select_related("gold_item")
        .first()
    )


def attempt_questions_for_staff(*, attempt: QuizAttempt) -> QuerySet[AttemptQuestion]:
    """Every question of an attempt with its gold item: for operations only (the admin and the
    API's ``?include=questions``)."""
    return attempt.questions.select_related("gold_item").order_by("position")


# -- qualifications -----------------------------------------------------------------------------


def qualification_type_list() -> QuerySet[QualificationType]:
    return QualificationType.objects.order_by("slug")
