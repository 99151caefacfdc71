"""Writes of the review flow: the review queue of senior labelers (claim, resolve), labelers'
flags, gold reviews and weekly audit sampling. A task's consensus, which sends a disagreement
here, is ``assignments.services.consensus``.

* ``review_resolve`` — a senior labeler's resolution is final: ``decided_by = review``, and no
  later consensus run overwrites it. If the task already had a final answer *from a review* (two
  reviews on one task, e.g. a flag and an audit), the first resolution stays the task's answer;
  the later one is recorded on its review (``decided_task = False``).

Claiming reviews follows the next-task pattern (docs/next-task.md): one short durable
transaction, the caller's live lease handed back, one ``SELECT … FOR NO KEY UPDATE SKIP LOCKED
LIMIT 1`` over the unresolved reviews (the partial index's predicate), in the queue's order
(``selectors.queue_order``: docs/operations.md, "Review queue"), then a guarded ``UPDATE``.
A reviewer never gets a review of a task they have an assignment on (any status).

Flags on control tasks. A senior labeler is a labeler too, so a flag on a control task reaches
the senior queue exactly like a flag on a real task — same kind, same fields, the task's payload
and the labeler's question, never the gold answer — and is resolved the same way; were it kept
from seniors (as it once was, for operations), a senior could tell control tasks apart by which
flags never come. The resolution is recorded on the review (answer, note, ``decided_task`` as
for a real task it decides) and the reviewer sees the reply of a real flag, but nothing is
applied: the control task keeps no final answer and the gold item is untouched. Operations read
these resolutions in the review list (they see which task is a control task) and quarantine or
correct the item if the senior was right. The senior is recorded as exposed to the gold item
(``qc.GoldExposure``), so it is never served to them as a control task afterwards. Gold reviews
(a quarantined item's answer) stay ``for_ops``: they ask for the gold answer itself.
"""

from __future__ import annotations

import math
import random
import zoneinfo
from collections import defaultdict
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta
from typing import Any

from django.core.exceptions import ValidationError
from django.db import IntegrityError, connection, transaction
from django.db.models import Exists, OuterRef, Q, Subquery
from django.utils import timezone
from django.utils.translation import gettext

from assignments import signals
from assignments.models import Assignment, Project, Review, Task
from assignments.selectors import review as selectors
from assignments.services.consensus import decision_and_outcomes_record, task_answers
from config.errors import Conflict, Forbidden, NotFound
from config.services import required_text
from qc.answers import AnswerError, grade, validate_answer
from qc.consensus_maths import agreement_with
from qc.models import GoldExposure, GoldItem, GoldSet, GuideVersion
from qc.services.exposures import gold_exposures_record
from workforce.models import Labeler, User, Vendor
from workforce.selectors import is_ops

# Reviews take longer than labels; a lapsed review lease goes back to the queue.
REVIEW_LEASE_SECONDS = 1800
MAX_QUESTION_CHARS = 2000
MAX_NOTE_CHARS = 5000
# A claim that loses the one-lease-per-reviewer race is tried again (then it hands back the
# lease the other call took); each try is the same short transaction.
CLAIM_TRIES = 3

# A review's active time as its client measured it is accepted up to this (a larger value is
# a 400); it is then clamped to the wall time since the lease (``review_resolve``).
MAX_ACTIVE_SECONDS = 86_400

_rng = random.SystemRandom()

S = Task.State
RS = Review.Status


# -- the review queue --------------------------------------------------------------------------


@dataclass(frozen=True)
class ReviewClaim:
    review: Review
    answers: list[dict[str, Any]]  # [{"labeler": public code, "answer": ...}] (not for flags)
    created: bool  # False when the reviewer's live lease was handed back


def _check_reviewer(reviewer: Labeler) -> bool:
    """Senior and active, of an active vendor if any, read afresh (the object may be older than
    a status change). Returns whether the reviewer is also an operations manager (an active
    staff user): only they take gold reviews (``for_ops``)."""
    standing = (
        Labeler.objects.filter(pk=reviewer.pk)
        .values_list("status", "seniority", "user__is_staff", "user__is_active", "vendor__status")
        .first()
    )
    if standing is None or standing[1] != Labeler.Seniority.SENIOR:
        raise Forbidden("Only senior labelers review.", code="not_a_reviewer")
    if standing[0] != Labeler.Status.ACTIVE:
        raise Forbidden(
            f"Your labeler account is {standing[0]}; only active labelers review.",
            code="labeler_inactive",
        )
    if standing[4] not in (None, Vendor.Status.ACTIVE):
        # The same refusal as next-task's (docs/operations.md, "Vendor status").
        raise Forbidden(
            f"Your vendor is {standing[4]}; its labelers get no work until it is reactivated.",
            code="vendor_inactive",
        )
    return bool(standing[2] and standing[3])


def review_claim_next(
    *, reviewer: Labeler, project_id: int | None = None, now: datetime | None = None
) -> ReviewClaim | None:
    """Lease the reviewer the unresolved review worth most that they may take
    (``selectors.queue_order``: past the age cap first, oldest first; then the lowest
    confidence), or hand back their live lease (in ``project_id`` when given, else any).

    Raises Forbidden (``not_a_reviewer``, ``labeler_inactive``) unless the reviewer is an active
    senior labeler; NotFound for an unknown ``project_id``. Returns None when nothing is left.
    Never hands out a review of a task the reviewer has an assignment on. A flag on a control
    task is handed out like any flag (module docstring); leasing one records the reviewer's
    exposure to its gold item.
    A lapsed lease (``expires_at <= now``) is claimable by anyone; the reviewer's own lapsed
    leases go back to the queue first. One durable transaction; locks one review row
    (skip-locked). One lease per reviewer and project is a constraint: a concurrent second call
    of the same reviewer fails on it and, retried (at most ``CLAIM_TRIES`` times in all), gets
    the first call's lease back.
    """
    now = now or timezone.now()
    for _ in range(CLAIM_TRIES - 1):
        try:
            return _claim_review(reviewer=reviewer, project_id=project_id, now=now)
        except IntegrityError:
            continue
    return _claim_review(reviewer=reviewer, project_id=project_id, now=now)


def _claim_review(
    *, reviewer: Labeler, project_id: int | None, now: datetime
) -> ReviewClaim | None:
    with transaction.atomic(durable=True):
        ops = _check_reviewer(reviewer)
        if project_id is not None and not Project.objects.filter(pk=project_id).exists():
            raise NotFound()
        mine = Review.objects.filter(reviewer_id=reviewer.pk, status=RS.LEASED)
        if project_id is not None:
            mine = mine.filter(project_id=project_id)
        live = mine.filter(expires_at__gt=now).order_by("id").values_list("id", flat=True).first()
        if live is not None:
            return _claim_result(live, created=False)
        # A lapsed lease of this reviewer still holds the one-lease row: back to the queue.
        mine.filter(expires_at__lte=now).update(
            status=RS.OPEN, reviewer=None, leased_at=None, expires_at=None
        )
        claimable = Q(status=RS.OPEN) | Q(status=RS.LEASED, expires_at__lte=now)
        # Gold reviews (``for_ops``) come from this queue too, for ops managers with a senior
        # labeler profile only; everyone else's queue is the partial index's predicate.
        visible = Q(for_ops=False)
        if ops:
            visible |= Q(for_ops=True, kind=Review.Kind.GOLD)
        queue = Review.objects.filter(claimable, visible, status__in=[RS.OPEN, RS.LEASED])
        if project_id is not None:
            queue = queue.filter(project_id=project_id)
        own_work = Assignment.objects.filter(task_id=OuterRef("task_id"), labeler_id=reviewer.pk)
        row = (
            queue.exclude(Exists(own_work))
            .order_by(*selectors.queue_order(now=now))
            .select_for_update(skip_locked=True, no_key=True, of=("self",))
            .values_list("id", flat=True)[:1]
        )
        review_id = next(iter(row), None)
        if review_id is None:
            return None
        taken = Review.objects.filter(claimable, pk=review_id).update(
            status=RS.LEASED,
            reviewer_id=reviewer.pk,
            leased_at=now,
            expires_at=now + timedelta(seconds=REVIEW_LEASE_SECONDS),
        )
        if not taken:  # cannot happen under the row lock; guarded all the same
            return None
        claim = _claim_result(review_id, created=True)
        if claim.review.task.gold_item_id is not None:
            # The senior now knows this control task's payload: never serve it to them as one.
            gold_exposures_record(
                labeler_ids=[reviewer.pk],
                gold_item_ids=[claim.review.task.gold_item_id],
                reason=GoldExposure.Reason.REVIEWED,
                now=now,
            )
        return claim


def _claim_result(review_id: int, *, created: bool) -> ReviewClaim:
    review = Review.objects.select_related("task", "project").get(pk=review_id)
    return ReviewClaim(review, selectors.review_answers(review=review), created)


@dataclass(frozen=True)
class Resolution:
    review: Review
    created: bool  # False when the same resolution was already recorded (an idempotent retry)


def review_resolve(
    *,
    reviewer: Labeler,
    review_id: int,
    answer: object,
    note: str,
    promote_to_gold: str | None = None,
    proposes_guide_change: bool = False,
    active_seconds: int | None = None,
    now: datetime | None = None,
) -> Resolution:
    """Resolve the reviewer's leased review with the final answer and a note.

    The answer is validated against the project's schema (ValidationError, field ``answer``);
    the note is required (field ``note``). A review that is not the caller's — never claimed by
    them, or since handed to someone else after their lease lapsed — is NotFound. A lapsed lease
    that nobody else took may still be resolved. A resolution is final: the same answer again is
    an idempotent retry (``created=False``), a different one is a Conflict
    (``already_resolved``).

    The task gets ``final_answer``, ``decided_by = review``, ``agreement`` (share of its labelers'
    answers that are the same as the final one), ``decided_at`` and state ``resolved`` (see the
    module docstring for a task still collecting labels, and for a second review on a task
    already decided by review, which leaves the task as it is). A flag on a control task is
    resolved alike as far as its reviewer can tell, but neither the task nor the gold item
    changes (module docstring): the returned review's ``task`` is then an unsaved copy showing
    the reviewer's answer as the task's, and ``promote_to_gold`` points the review at the task's
    own gold item instead of making one.

    ``promote_to_gold`` (a gold set slug): also create a gold item in that set from the task's
    payload with the final answer as its accepted answer and the note as its explanation,
    through ``qc.services.gold.gold_item_create``; ValidationError (field ``promote_to_gold``)
    for an unknown set, a set of another answer type, or an item the set refuses. A retry with
    ``promote_to_gold`` on a resolved review promotes it if it was not promoted yet.

    ``proposes_guide_change`` (flags only; ValidationError on that field for another kind): the
    answer says the guide should change; ops later link the published version that does
    (``flag_link_guide_version``). ``active_seconds``: the reviewer's active time as their
    client measured it, clamped to the wall time since the lease; without it, the wall time
    capped at ``REVIEW_LEASE_SECONDS`` (as a submission's). Resolving a flag sends
    ``assignments.signals.flag_resolved(review=…)`` inside the transaction — for a flag on a
    control task too, with the same review fields (the labeler hears of both alike).

    One durable transaction (all or nothing, promotion included); locks the review row, then the
    task row.
    """
    now = now or timezone.now()
    note = required_text(
        note,
        field="note",
        missing="A note is required: say why this is the answer.",
        max_chars=MAX_NOTE_CHARS,
    )
    with transaction.atomic(durable=True):
        _check_reviewer(reviewer)
        review = (
            Review.objects.select_related("project")
            .select_for_update(of=("self",), no_key=True)
            .filter(pk=review_id, reviewer_id=reviewer.pk)
            .first()
        )
        if review is None:
            raise NotFound()
        project = review.project
        try:
            canonical = validate_answer(project.answer_type, project.classes, answer)
        except AnswerError as exc:
            raise ValidationError({"answer": exc.messages}) from None
        task = (
            Task.objects.select_for_update(of=("self",), no_key=True)
            .filter(pk=review.task_id)
            .first()
        )
        control_flag = review.kind == Review.Kind.FLAG and task.gold_item_id is not None
        if proposes_guide_change and review.kind != Review.Kind.FLAG:
            raise ValidationError(
                {"proposes_guide_change": ["Only the answer to a flag proposes a guide change."]}
            )
        if review.status == RS.RESOLVED:
            if review.answer != canonical:
                raise Conflict(
                    "This review is resolved with a different answer; a resolution is final.",
                    code="already_resolved",
                )
            if promote_to_gold and review.gold_item_id is None:
                _promote(review=review, task=task, reviewer=reviewer, slug=promote_to_gold)
            review.task = _as_reviewer_sees(task, review) if control_flag else task
            return Resolution(review, created=False)

        if review.kind == Review.Kind.GOLD:
            _settle_gold(task=task, project=project, answer=canonical, reviewer=reviewer, note=note)
        decides = task.gold_item_id is None and task.decided_by != Task.DecidedBy.REVIEW
        if decides:
            _decide_by_review(
                task=task, project=project, answer=canonical, now=now, reviewer=reviewer
            )
        # A control task's flag is recorded as a real flag's would be, and applied to nothing
        # (module docstring).
        shown_decided = decides or control_flag
        active = review_active_seconds(leased_at=review.leased_at, measured=active_seconds, now=now)
        Review.objects.filter(pk=review.pk, status=RS.LEASED, reviewer_id=reviewer.pk).update(
            status=RS.RESOLVED,
            answer=canonical,
            note=note,
            resolved_at=now,
            decided_task=shown_decided,
            proposes_guide_change=proposes_guide_change,
            active_seconds=active,
        )
        review.status = RS.RESOLVED
        review.answer = canonical
        review.note = note
        review.resolved_at = now
        review.decided_task = shown_decided
        review.proposes_guide_change = proposes_guide_change
        review.active_seconds = active
        review.task = _as_reviewer_sees(task, review) if control_flag else task
        if promote_to_gold:
            _promote(review=review, task=task, reviewer=reviewer, slug=promote_to_gold)
        if review.kind == Review.Kind.FLAG:
            signals.flag_resolved.send(sender=Review, review=review)
    return Resolution(review, created=True)


def review_active_seconds(
    *, leased_at: datetime | None, measured: int | None, now: datetime
) -> int | None:
    """A resolution's active seconds: what the client measured (``measured``), never more than
    the wall time since the lease; nothing measured → the wall time, at most
    ``REVIEW_LEASE_SECONDS`` (a lease that lapsed and was resolved later counts its lease's
    length, like a submission). None without a lease time. Pure."""
    if leased_at is None:
        return None
    wall = max(int((now - leased_at).total_seconds()), 0)
    if measured is None:
        return min(wall, REVIEW_LEASE_SECONDS)
    return min(max(int(measured), 0), wall)


def flag_answer_by_ops(
    *,
    actor: User,
    review_id: int,
    answer: object,
    note: str,
    proposes_guide_change: bool = False,
    now: datetime | None = None,
) -> Resolution:
    """An operations manager answers a chosen flag — typically one on a control task, whose
    gold item they can see and may correct — without waiting for it in the queue. The answer
    is recorded exactly as a senior's (``review_resolve``: the same fields, the same
    ``flag_resolved`` announcement), so the labeler cannot tell who answered it or why.

    The actor must be an operations manager (Forbidden) with a labeler profile (Forbidden
    ``not_a_reviewer``: the answer is recorded under a reviewer, as every resolution is).
    NotFound unless ``review_id`` is a flag. A flag already answered is handed to
    ``review_resolve`` as a retry (the same answer again is ``created=False``; another one a
    Conflict). A flag a senior holds on a live lease is a Conflict (``flag_in_review``). The
    answer is validated before anything is written; then two durable transactions: the flag
    leased to the actor (locks its row), then ``review_resolve``."""
    now = now or timezone.now()
    if not is_ops(actor):
        raise Forbidden("Only operations managers answer flags outside the queue.")
    labeler = Labeler.objects.filter(user_id=actor.pk).first()
    if labeler is None:
        raise Forbidden(
            "Answering a flag records you as its reviewer: you need a labeler profile.",
            code="not_a_reviewer",
        )
    review = Review.objects.select_related("project").filter(pk=review_id, kind="flag").first()
    if review is None:
        raise NotFound()
    try:
        validate_answer(review.project.answer_type, review.project.classes, answer)
    except AnswerError as exc:
        raise ValidationError({"answer": exc.messages}) from None
    required_text(note, field="note", missing="A note is required.", max_chars=MAX_NOTE_CHARS)
    if review.status != RS.RESOLVED:
        try:
            _take_flag(review_id=review_id, labeler=labeler, now=now)
        except IntegrityError:  # one lease per reviewer and project
            raise Conflict(
                "You hold another review of this project: resolve it first.", code="lease_held"
            ) from None
    return review_resolve(
        reviewer=labeler,
        review_id=review_id,
        answer=answer,
        note=note,
        proposes_guide_change=proposes_guide_change,
        now=now,
    )


def _take_flag(*, review_id: int, labeler: Labeler, now: datetime) -> None:
    """Lease the flag to ``labeler`` (an operations manager) unless a senior holds it."""
    with transaction.atomic(durable=True):
        locked = (
            Review.objects.select_for_update(of=("self",), no_key=True).filter(pk=review_id).first()
        )
        held = locked.status == RS.LEASED and locked.expires_at > now
        if held and locked.reviewer_id != labeler.pk:
            raise Conflict("A senior labeler is answering this flag now.", code="flag_in_review")
        if locked.status != RS.RESOLVED and not held:
            Review.objects.filter(pk=review_id).update(
                status=RS.LEASED,
                reviewer_id=labeler.pk,
                leased_at=now,
                expires_at=now + timedelta(seconds=REVIEW_LEASE_SECONDS),
            )
            gold_item_id = Task.objects.filter(pk=locked.task_id).values_list(
                "gold_item_id", flat=True
            )[0]
            if gold_item_id is not None:
                # As a senior leasing a control flag: never served it as a control task.
                gold_exposures_record(
                    labeler_ids=[labeler.pk],
                    gold_item_ids=[gold_item_id],
                    reason=GoldExposure.Reason.REVIEWED,
                    now=now,
                )


def flag_link_guide_version(
    *, actor: User, review_id: int, guide_version_id: int, now: datetime | None = None
) -> Review:
    """Link a resolved flag that proposes a guide change to the published guide version that
    answers it (operations managers; Forbidden otherwise). NotFound for an unknown review.
    ValidationError on ``review`` unless the review is a resolved flag whose resolution
    proposes a guide change; on ``guide_version`` unless the version is a published version of
    the guide of the flag's project. Linking the same version again is a no-op; another version
    replaces the link (ops correcting it). One durable transaction; locks the review row."""
    if not is_ops(actor):
        raise Forbidden("Only operations managers link guide versions to flags.")
    with transaction.atomic(durable=True):
        review = (
            Review.objects.select_related("project")
            .select_for_update(of=("self",), no_key=True)
            .filter(pk=review_id)
            .first()
        )
        if review is None:
            raise NotFound()
        if review.kind != Review.Kind.FLAG or review.status != RS.RESOLVED:
            raise ValidationError({"review": ["Only a resolved flag is answered by the guide."]})
        if not review.proposes_guide_change:
            raise ValidationError({"review": ["This flag's answer proposes no guide change."]})
        version = GuideVersion.objects.filter(pk=guide_version_id).first()
        if version is None or version.guide_id != review.project.guide_id:
            raise ValidationError(
                {"guide_version": ["Not a version of the guide of this flag's project."]}
            )
        if version.status != GuideVersion.Status.PUBLISHED:
            raise ValidationError({"guide_version": ["Only a published version answers a flag."]})
        if review.guide_version_id != version.pk:
            Review.objects.filter(pk=review.pk).update(guide_version=version)
        review.guide_version = version
    return review


def _as_reviewer_sees(task: Task, review: Review) -> Task:
    """A control task as the reviewer of a flag on it is shown it: decided by their review, as
    a real task would be. An unsaved copy: the task itself keeps no final answer."""
    return Task(
        pk=task.pk,
        project_id=task.project_id,
        payload=task.payload,
        target=task.target,
        final_answer=review.answer,
        decided_by=Task.DecidedBy.REVIEW,
        decided_at=review.resolved_at,
        state=S.RESOLVED,
    )


def _decide_by_review(
    *, task: Task, project: Project, answer: Any, now: datetime, reviewer: Labeler
) -> None:
    submissions = task_answers(task.pk)
    previous = task.final_answer
    answers = [s.answer for s in submissions]
    agreement = agreement_with(project.answer_type, answers, answer, float(project.iou_threshold))
    # A task still collecting its planned labels keeps its state; the consensus run marks it
    # resolved when the last one arrives (it never overwrites a review's answer).
    state = task.state if task.state == S.OPEN else S.RESOLVED
    Task.objects.filter(pk=task.pk).update(
        final_answer=answer,
        decided_by=Task.DecidedBy.REVIEW,
        agreement=agreement,
        confidence=None,  # a senior's answer, not a posterior
        decided_at=now,
        state=state,
    )
    task.final_answer = answer
    task.decided_by = Task.DecidedBy.REVIEW
    task.agreement = agreement
    task.decided_at = now
    task.state = state
    decision_and_outcomes_record(
        task=task,
        project=project,
        answer=answer,
        previous=previous,
        decided_by=Task.DecidedBy.REVIEW,
        confidence=None,
        agreement=agreement,
        now=now,
        submissions=submissions,
        reviewer_id=reviewer.pk,
    )


def _promote(*, review: Review, task: Task, reviewer: Labeler, slug: str) -> None:
    # qc owns gold items and their creation rules (payload, accepted answers, history row).
    from qc.services.gold import gold_item_create

    def refuse(message: str) -> ValidationError:
        return ValidationError({"promote_to_gold": [message]})

    gold_set = GoldSet.objects.filter(slug=slug).first()
    if gold_set is None:
        raise refuse("No gold set with this slug.")
    if gold_set.answer_type != review.project.answer_type:
        raise refuse("That gold set has another answer type than this project.")
    if review.kind == Review.Kind.FLAG and task.gold_item_id is not None:
        # A control task is gold already: the review points at its item, as a promoted real
        # task's review points at its new one; no item is made, none changes (the senior sees
        # gold ids nowhere else, and gold never takes a senior's answer unreviewed).
        Review.objects.filter(pk=review.pk).update(gold_item_id=task.gold_item_id)
        review.gold_item_id = task.gold_item_id
        return
    if task.gold_item_id is not None or task.final_answer != review.answer:
        raise refuse("Only the resolution that decided the task can promote it to gold.")
    payload = task.payload if isinstance(task.payload, dict) else {}
    metadata = dict(payload.get("metadata") or {})
    # Gold payloads hold image_url and metadata only; anything else of the task's payload is kept
    # in the metadata so nothing the labeler saw is lost.
    metadata.update({k: v for k, v in payload.items() if k not in ("image_url", "metadata")})
    external_id = f"{review.project.slug}/{task.external_id or f'task-{task.pk}'}"
    try:
        item = gold_item_create(
            actor=reviewer.user,
            gold_set=gold_set,
            external_id=external_id,
            payload={"image_url": payload.get("image_url"), "metadata": metadata},
            accepted_answers=[review.answer],
            explanation=review.note,
        )
    except ValidationError as exc:
        messages = (
            [f"{field}: {m}" for field, ms in exc.message_dict.items() for m in ms]
            if hasattr(exc, "error_dict")
            else exc.messages
        )
        raise ValidationError({"promote_to_gold": messages}) from None
    Review.objects.filter(pk=review.pk).update(gold_item=item)
    review.gold_item = item
    # The reviewer wrote the item's answer and the task's labelers have seen its payload (and
    # may remember their answer): serving it to any of them as a control task would give it
    # away — a real task never comes back to a labeler.
    gold_exposures_record(
        labeler_ids=[reviewer.pk], gold_item_ids=[item.pk], reason=GoldExposure.Reason.AUTHORED
    )
    gold_exposures_record(
        labeler_ids=Assignment.objects.filter(task_id=task.pk).values_list("labeler_id", flat=True),
        gold_item_ids=[item.pk],
        reason=GoldExposure.Reason.LABELED_SOURCE,
    )


# -- gold reviews ----------------------------------------------------------------------------
#
# A quarantined gold item (its answer is in doubt) goes to review: one review of kind ``gold``
# per control task serving it. Gold reviews are ``for_ops``: senior labelers label too, and a
# control task must stay indistinguishable to every labeler, so only operations managers with
# a senior labeler profile take them (see ``_claim_review``). qc cannot call up into this app,
# so the reviews are opened by a beat job rather than by the quarantine itself.

# Any fixed key: concurrent ``gold_reviews_open`` runs take turns (PostgreSQL advisory lock).
GOLD_REVIEWS_LOCK = 0x601D_4E71


def gold_reviews_open() -> int:
    """Open one gold review (kind ``gold``, ``for_ops``) for each control task whose gold item is
    quarantined, that has a submitted answer (the review's ``assignment``: the latest one) and
    no live (open or leased) gold review; and withdraw — delete — open, never-claimed gold
    reviews whose item is no longer quarantined (ops settled it in the admin meanwhile; the
    item's status history keeps the record). Set-based: one SELECT of the candidates, one bulk
    INSERT, one DELETE. Idempotent; concurrent runs serialize on a transaction-level advisory
    lock on PostgreSQL (SQLite serializes writers anyway). Run every minute by the beat task
    ``assignments.gold_reviews_open``, so a quarantine reaches the queue within about a minute.
    Returns how many reviews it opened."""
    with transaction.atomic(durable=True):
        if connection.vendor == "postgresql":
            with connection.cursor() as cursor:
                cursor.execute("SELECT pg_advisory_xact_lock(%s)", [GOLD_REVIEWS_LOCK])
        quarantined = GoldItem.Status.QUARANTINED
        live = Review.objects.filter(
            task_id=OuterRef("pk"), kind=Review.Kind.GOLD, status__in=[RS.OPEN, RS.LEASED]
        )
        latest = (
            Assignment.objects.filter(task_id=OuterRef("pk"), status=Assignment.Status.SUBMITTED)
            .order_by("-submitted_at", "-id")
            .values("id")[:1]
        )
        rows = (
            Task.objects.filter(gold_item__status=quarantined)
            .exclude(Exists(live))
            .annotate(subject=Subquery(latest))
            .filter(subject__isnull=False)
            .order_by("id")
            .values_list("id", "project_id", "subject")
        )
        new = [
            Review(
                task_id=task_id,
                project_id=project_id,
                kind=Review.Kind.GOLD,
                assignment_id=assignment_id,
                for_ops=True,
            )
            for task_id, project_id, assignment_id in rows
        ]
        Review.objects.bulk_create(new)
        Review.objects.filter(kind=Review.Kind.GOLD, status=RS.OPEN).exclude(
            task__gold_item__status=quarantined
        ).delete()
    return len(new)


def _settle_gold(
    *, task: Task, project: Project, answer: Any, reviewer: Labeler, note: str
) -> None:
    """A gold review's resolution decides its quarantined gold item (qc owns the change): the
    gold's own answer → reinstated unchanged (open contests upheld); another answer → corrected
    to it (every check re-graded, contests resolved by whether their verdict changed). An item
    no longer quarantined — settled meanwhile in the admin or by another gold review of the
    same item — is left alone; the resolution is recorded all the same."""
    from qc.services.gold_health import gold_item_correct, gold_item_reinstate

    item = GoldItem.objects.select_related("gold_set").filter(pk=task.gold_item_id).first()
    if item is None or item.status != GoldItem.Status.QUARANTINED:
        return
    reason = f"Gold review of task {task.pk}: {note}"
    actor = reviewer.user
    # The reviewer decides the item's answer: never serve it to them as a control task.
    gold_exposures_record(
        labeler_ids=[reviewer.pk], gold_item_ids=[item.pk], reason=GoldExposure.Reason.AUTHORED
    )
    if grade(project.answer_type, answer, item.accepted_answers, float(project.iou_threshold)):
        gold_item_reinstate(actor=actor, item=item, reason=reason)
    else:
        gold_item_correct(actor=actor, item=item, accepted_answers=[answer], reason=reason)


# -- flags -------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Flag:
    review: Review
    created: bool  # False when the same flag was already raised (an idempotent retry)


def assignment_flag(
    *, labeler: Labeler, assignment_id: int, question: str, now: datetime | None = None
) -> Flag:
    """The labeler flags their own assignment as ambiguous, with a question for the guide's
    authors: a review of kind ``flag``, once per assignment (a constraint). The same question
    again returns the flag (``created=False``); a different one is a Conflict
    (``already_flagged``). Someone else's assignment is NotFound. Works alike on real and control
    tasks, whatever the assignment's status: both go to the senior queue (module docstring).
    ValidationError (field ``question``) for a blank or overlong question. One durable
    transaction."""
    question = required_text(
        question,
        field="question",
        missing=gettext("Ask your question about this task."),
        max_chars=MAX_QUESTION_CHARS,
    )
    try:
        return _flag(labeler=labeler, assignment_id=assignment_id, question=question)
    except IntegrityError:
        # The same labeler's concurrent call flagged first: compare with that flag.
        return _flag(labeler=labeler, assignment_id=assignment_id, question=question)


def _flag(*, labeler: Labeler, assignment_id: int, question: str) -> Flag:
    with transaction.atomic(durable=True):
        assignment = (
            Assignment.objects.filter(pk=assignment_id, labeler_id=labeler.pk)
            .values("id", "task_id", "project_id", "is_control")
            .first()
        )
        if assignment is None:
            raise NotFound()
        existing = Review.objects.filter(kind=Review.Kind.FLAG, assignment_id=assignment_id).first()
        if existing is not None:
            if existing.question == question:
                return Flag(existing, created=False)
            raise Conflict(gettext("You already flagged this assignment."), code="already_flagged")
        review = Review.objects.create(
            task_id=assignment["task_id"],
            project_id=assignment["project_id"],
            kind=Review.Kind.FLAG,
            assignment_id=assignment_id,
            question=question,
        )
    return Flag(review, created=True)


# -- audit sampling ----------------------------------------------------------------------------


def _zone(name: str) -> zoneinfo.ZoneInfo:
    try:
        return zoneinfo.ZoneInfo(name or "UTC")
    except (zoneinfo.ZoneInfoNotFoundError, ValueError):
        return zoneinfo.ZoneInfo("UTC")


def _week_bounds(week_start: date, zone: zoneinfo.ZoneInfo) -> tuple[datetime, datetime]:
    """Monday 00:00 to the next Monday 00:00, wall-clock time in the project's zone (a week
    with a daylight saving change is 167 or 169 hours long)."""
    start = datetime.combine(week_start, time.min, tzinfo=zone)
    end = datetime.combine(week_start + timedelta(days=7), time.min, tzinfo=zone)
    return start, end


def audit_sample_week(
    *, project_id: int, week_start: date, rng: random.Random | None = None
) -> int:
    """Send ``project.audit_percent`` % of each labeler's accepted work of one week to review.

    A labeler's accepted work that week: their submissions on real tasks of the project whose
    final answer was decided by consensus in ``[week_start, week_start + 7 days)``, from Monday
    00:00 in the project's time zone (``Project.timezone``; docs/quality.md, "Time zones").
    For each labeler not yet sampled for that week, ``ceil(percent * count / 100)`` of those
    tasks are picked at random (fewer if not enough remain) into reviews of kind ``audit``,
    skipping tasks already under audit (one audit per task is a constraint: a task two sampled
    labelers share is audited once, attributed to the first one drawn).

    Idempotent per (project, labeler, week): a labeler with an audit of that week is skipped,
    so a second run adds nothing. Concurrent runs for one project serialize on the project row
    (``FOR NO KEY UPDATE``, which does not block claims or submissions). Returns how many
    reviews it created. One durable transaction.
    """
    rng = rng or _rng
    with transaction.atomic(durable=True):
        project = (
            Project.objects.select_for_update(no_key=True)
            .filter(pk=project_id)
            .only("id", "audit_percent", "timezone")
            .first()
        )
        if project is None:
            raise NotFound()
        percent = project.audit_percent
        if percent <= 0:
            return 0
        start, end = _week_bounds(week_start, _zone(project.timezone))
        rows = (
            Assignment.objects.filter(
                project_id=project.pk,
                status=Assignment.Status.SUBMITTED,
                is_control=False,
                # Accepted without a senior: by consensus or by the model.
                task__decided_by__in=[Task.DecidedBy.CONSENSUS, Task.DecidedBy.MODEL],
                task__decided_at__gte=start,
                task__decided_at__lt=end,
            )
            .annotate(
                audited=Exists(
                    Review.objects.filter(task_id=OuterRef("task_id"), kind=Review.Kind.AUDIT)
                )
            )
            .order_by("labeler_id", "id")
            .values_list("labeler_id", "id", "task_id", "audited")
        )
        work: dict[int, list[tuple[int, int, bool]]] = defaultdict(list)
        for labeler_id, assignment_id, task_id, audited in rows:
            work[labeler_id].append((assignment_id, task_id, audited))
        sampled = set(
            Review.objects.filter(
                project_id=project.pk, kind=Review.Kind.AUDIT, audit_week=week_start
            ).values_list("assignment__labeler_id", flat=True)
        )
        taken: set[int] = set()
        new: list[Review] = []
        for labeler_id in sorted(work):
            if labeler_id in sampled:
                continue
            items = work[labeler_id]
            want = math.ceil(percent * len(items) / 100)
            pool = [(a, t) for a, t, audited in items if not audited and t not in taken]
            for assignment_id, task_id in rng.sample(pool, min(want, len(pool))):
                taken.add(task_id)
                new.append(
                    Review(
                        task_id=task_id,
                        project_id=project.pk,
                        kind=Review.Kind.AUDIT,
                        assignment_id=assignment_id,
                        audit_week=week_start,
                    )
                )
        Review.objects.bulk_create(new)
    return len(new)


def last_week_start(today: date | None = None) -> date:
    """The Monday of the week before ``today`` (default: today's date in the server's zone)."""
    today = today or timezone.localdate()
    return today - timedelta(days=today.weekday() + 7)


def audit_sample_all(*, week_start: date | None = None, now: datetime | None = None) -> int:
    """``audit_sample_week`` for every project with an audit percent, for ``week_start``
    (default: each project's last complete week — the week before the one ``now`` falls in,
    in the project's time zone). One transaction per project. Returns the reviews created.
    The beat job runs it on Mondays at 12:00 UTC, when the previous week has ended in every
    zone (UTC-12 to UTC+14)."""
    now = now or timezone.now()
    projects = (
        Project.objects.filter(audit_percent__gt=0).order_by("id").values_list("id", "timezone")
    )
    return sum(
        audit_sample_week(
            project_id=pk,
            week_start=week_start or last_week_start(timezone.localdate(now, _zone(name))),
        )
        for pk, name in projects
    )
