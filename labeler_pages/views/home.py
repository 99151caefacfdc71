"""The labeler pages: home (routes listed in ``urlpatterns``).

``/labeler/`` (``home``) — what the labeler may do next, in order: the guides to acknowledge
(with what changed since their last acknowledgement), the quizzes and qualification tests and
whether they may start each (or why not), the projects with the tasks waiting for them (or why
they cannot work there), their scorecard's headline and their earnings.

Every answer comes from the selectors the API and the services use — the guide states, the
quiz gate (``quiz_gate``), the next-task gate and the claim's own refusal (``claim_refusal``),
the scorecard's facts as of the start of the day, the earnings statements — loaded in batches so
the page costs at most ten queries whatever the number of guides, quizzes and projects:
session, user, guides, quizzes, attempts, grants, project standings, scorecard, approved pay,
pending work.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from django.shortcuts import render
from django.urls import path
from django.utils import timezone
from django.utils.translation import gettext as _
from django.utils.translation import ngettext

from assignments.selectors.gate import WAITING_CAP, Standing, project_standings
from assignments.services.claim import claim_refusal
from labeler_pages.access import labeler_page
from labeler_pages.views.quality import scorecard_figure
from payments.currency import money_text
from payments.selectors.statements import earnings_summary_for
from qc.models import Guide, Quiz
from qc.selectors import quality_facts
from qc.selectors import quizzes as gating
from qc.selectors.guides import GuideState, guide_states_readable_for
from qc.selectors.overview import (
    guides_missing_from_states,
    quiz_availability_with,
    quiz_list_with_items_for,
)
from workforce.models import Labeler


@dataclass
class Reason:
    """Why something is closed, in the labeler's words; ``until`` is a time to show with it,
    ``guide`` a guide to link to, ``quizzes`` the quizzes that would open it."""

    code: str
    text: str
    until: object = None
    guide: Guide | None = None
    quizzes: list[Quiz] = field(default_factory=list)


@dataclass
class QuizRow:
    quiz: Quiz
    availability: gating.Availability
    reasons: list[Reason]


@dataclass
class ProjectRow:
    standing: Standing
    reason: Reason | None
    waiting_text: str


def _quiz_reasons(quiz: Quiz, availability: gating.Availability) -> list[Reason]:
    """The gate's blockers (``quiz_gate``, in its order) in the labeler's words."""
    reasons = []
    for blocker in availability.blocked:
        code = blocker.code
        if code == gating.LABELER_INACTIVE:
            text = _("Opens once operations activate your account.")
        elif code == gating.GUIDE_NOT_ACKNOWLEDGED:
            text = _("Read and acknowledge the guide first.")
        elif code == gating.ALREADY_QUALIFIED:
            text = (
                _("You hold this qualification until")
                if blocker.until
                else _("You hold this qualification.")
            )
        elif code == gating.ATTEMPTS_EXHAUSTED:
            text = ngettext(
                "You have used your %(n)s attempt.",
                "You have used all %(n)s attempts.",
                quiz.max_attempts or 0,
            ) % {"n": quiz.max_attempts}
        elif code == gating.RETRY_DELAY:
            text = _("You may try again from")
        elif code == gating.NOT_ENOUGH_ITEMS:
            text = _("Not open at the moment: operations are preparing its questions.")
        else:  # a reason added to the gate later: its own words rather than nothing
            text = blocker.detail
        reasons.append(
            Reason(
                code=code,
                text=text,
                until=blocker.until,
                guide=quiz.guide if code == gating.GUIDE_NOT_ACKNOWLEDGED else None,
            )
        )
    return reasons


def _project_reason(
    standing: Standing, *, labeler: Labeler, guides: dict[int, Guide], quizzes: list[Quiz]
) -> Reason | None:
    """Why the claim would refuse the labeler here (``claim_refusal``), in their words; None
    when it would hand out work."""
    refusal = claim_refusal(standing.gate, labeler=labeler)
    if refusal is None:
        return None
    code = getattr(refusal, "code", "not_found")
    project = standing.gate.project
    if code == "project_not_active":
        return Reason(code, _("Paused: no work is handed out at the moment."))
    if code == "labeler_inactive":
        return Reason(code, _("Work opens once operations activate your account."))
    if code == "qualification_missing":
        granting = [
            q for q in quizzes if q.qualification_type_id == standing.missing_qualification_id
        ]
        text = _("You need the qualification “%(name)s”.") % {
            "name": standing.gate.missing_qualification
        }
        return Reason(code, text, quizzes=granting)
    if code == "guide_not_acknowledged":
        return Reason(
            code,
            _("Read and acknowledge the project's guide first."),
            guide=guides.get(project.guide_id),
        )
    if code == "paused_on_project":
        return Reason(
            code,
            _(
                "A quality rule paused your work on this project; your vendor manager or the "
                "operations team can tell you more."
            ),
        )
    # Any other refusal (the vendor suspended, the project closed to them, a skill or a
    # language it needs) in the claim's own words, which are marked for translation.
    return Reason(code, refusal.detail or _("You cannot work on this project."))


def _waiting_text(waiting: int) -> str:
    if waiting >= WAITING_CAP:
        return _("%(n)s or more tasks wait for you.") % {"n": WAITING_CAP}
    if waiting == 0:
        return _("No task waits for you at the moment.")
    return ngettext("%(n)s task waits for you.", "%(n)s tasks wait for you.", waiting) % {
        "n": waiting
    }


@labeler_page
def home(request):
    labeler = request.labeler
    now = timezone.now()

    guide_states: list[tuple[Guide, GuideState]] = guide_states_readable_for(actor=request.user)
    guides = {g.pk: g for g, _ in guide_states}
    to_acknowledge = [(g, s) for g, s in guide_states if s.must_acknowledge]

    quizzes = list(quiz_list_with_items_for(actor=request.user))
    availability = quiz_availability_with(
        labeler=labeler,
        quizzes=quizzes,
        guides_missing=guides_missing_from_states({g.pk: s for g, s in guide_states}),
        now=now,
    )
    quiz_rows = [
        QuizRow(q, availability[q.pk], _quiz_reasons(q, availability[q.pk])) for q in quizzes
    ]
    # Open ones first, each group in the list's own order (by title).
    quiz_rows.sort(key=lambda row: not row.availability.available)

    project_rows = []
    for standing in project_standings(labeler=labeler, now=now):
        reason = _project_reason(standing, labeler=labeler, guides=guides, quizzes=quizzes)
        if reason is not None and reason.code == "not_found":
            continue
        project_rows.append(ProjectRow(standing, reason, _waiting_text(standing.waiting)))
    project_rows.sort(key=lambda row: row.reason is not None)

    as_of = quality_facts.start_of_day(now, labeler.timezone)
    summary = quality_facts.labeler_summary(labeler_id=labeler.pk, before=as_of, now=now)
    earnings = earnings_summary_for(labeler=labeler, now=now)

    return render(
        request,
        "labeler/home.html",
        {
            "labeler": labeler,
            "nav": "home",
            "onboarding": labeler.status == Labeler.Status.ONBOARDING,
            "guides_to_acknowledge": to_acknowledge,
            "quiz_rows": quiz_rows,
            "project_rows": project_rows,
            # The start of today (server time): what was recorded since shows tomorrow.
            "as_of_date": as_of.date(),
            "gold": scorecard_figure(summary["gold"]),
            "pairwise": scorecard_figure(summary["pairwise"]),
            "with_final": scorecard_figure(summary["with_final"]),
            "summary_days": summary["days"],
            "approved": [
                (code, money_text(amount, code)) for code, amount in earnings.approved.items()
            ],
            "pending_work": earnings.pending,
        },
    )


urlpatterns = [path("", home, name="home")]
