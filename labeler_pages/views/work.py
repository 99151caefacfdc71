"""The labeler pages: labeling (routes listed in ``urlpatterns``).

``projects/<id>/work/`` claims the labeler's next task of the project (or hands back the lease
they hold) through ``assignment_claim_next`` — the API's next-task service — and shows it as
``task_for_labeler`` shapes it, the one shape of a real and a control task alike. The answer
form posts to ``assignments/<id>/submit/``; ``…/release/`` skips the task and ``…/flag/`` asks
the guide's authors a question. Every command redirects back to the work page (post, redirect,
get), so a reload never posts twice, and the services decide what a repeated post does:

* the same answer again is an idempotent retry (saved once, "already saved");
* a different answer after a submit is the service's ``already_submitted`` (the first stands);
* a submit after the lease ran out is ``lease_expired`` (nothing saved; said in words).

The next task is prefetched (docs/next-task.md, "Look-ahead lease"): once a task is shown,
static/labeler/work.js posts ``projects/<id>/work/ahead/``, which leases the labeler's next task
as their look-ahead lease (``assignment_claim_next(ahead=True)``) and answers with its markup
(the same ``labeler/work/task.html``); the browser decodes its image. On submit or skip the
browser swaps that task in at once and posts the command in the background with
``Accept: application/json``; the command's answer is one round trip too: the command, then one
``ahead=True`` claim that promotes the look-ahead lease to the current one and leases the next
look-ahead task, whose markup comes back. The browser says which task it shows (``shown``);
when the current lease is another one (the look-ahead lease ran out, say), its markup comes
back too and replaces it. A refused command says so about the *previous* task ("your previous
answer was not saved: …"), since the page already shows the next one. Without JavaScript
nothing of this runs: no look-ahead lease is taken, and the commands post and redirect.

Refusals (not qualified, guide not acknowledged, paused, project not active) come from the
service's error codes and are shown as a message with where to go, never an error page: the
guide to acknowledge, or the quiz that grants the missing qualification when one does.
"""

from __future__ import annotations

from django.contrib import messages
from django.core.exceptions import ValidationError
from django.http import Http404, JsonResponse
from django.shortcuts import redirect, render
from django.template.loader import render_to_string
from django.urls import path, reverse
from django.utils import timezone
from django.utils.translation import gettext as _
from django.views.decorators.http import require_GET, require_POST

from assignments import services
from assignments.api.work import task_for_labeler
from assignments.models import Assignment
from assignments.selectors.gate import project_standings
from assignments.services.review import assignment_flag
from config.errors import ApplicationError, NotFound
from labeler_pages.access import labeler_page
from labeler_pages.answers import answer_from_form
from qc.selectors.quizzes import quiz_list_for

# What the service's refusal codes mean to a person, and where they can do something about it
# (their home page lists the guides to acknowledge and the quizzes open to them; ``_fix``
# links the project's guide, or the quiz that grants the missing qualification, instead).
REFUSALS = {
    "qualification_missing": (
        lambda: _(
            "This project needs a qualification you do not have yet. Take the qualification "
            "test listed on your home page first."
        ),
        lambda: _("See your qualification tests"),
    ),
    "guide_not_acknowledged": (
        lambda: _("Read the project's guide and acknowledge its current version first."),
        lambda: _("Go to the guides to read"),
    ),
    "paused_on_project": (
        lambda: _(
            "A quality rule paused your work on this project. Your vendor manager or the "
            "operations team can tell you more; your quality page shows your scores."
        ),
        lambda: _("See my quality"),
    ),
    "labeler_inactive": (
        lambda: _(
            "Your account is not active yet, so no work is handed out. Finish what your home "
            "page lists first."
        ),
        lambda: _("Back to my home page"),
    ),
    "project_not_active": (
        lambda: _("This project is paused: no work is handed out for now. Try again later."),
        lambda: _("Back to my home page"),
    ),
}

# What a refused submit means, by the service's code.
SUBMIT_CONFLICTS = {
    "lease_expired": lambda: _(
        "Your time on this task ran out before you submitted, so your answer was not saved; "
        "the task may have gone to someone else. Here is your next task."
    ),
    "slot_taken": lambda: _(
        "Your time on this task ran out and someone else took its place just before your "
        "answer arrived, so it was not saved. Here is your next task."
    ),
    "already_submitted": lambda: _(
        "You had already submitted this task with a different answer; your first answer is "
        "the one kept."
    ),
    "released": lambda: _("You skipped this task, so it can no longer be submitted."),
    "concurrent_claim": lambda: _(
        "Another tab of yours was taking a task at the same moment; this page shows it."
    ),
}


def _wants_json(request) -> bool:
    return "application/json" in request.headers.get("Accept", "")


def _work_url(project_id: int) -> str:
    return reverse("labeler:project-work", args=[project_id])


def _task_context(request, claim) -> dict:
    """What ``labeler/work/task.html`` shows: ``task_for_labeler``'s shape (the API's), with
    the seconds left on the lease. Nothing here depends on the kind of task."""
    task = task_for_labeler(claim.assignment, claim.project)
    payload = task["payload"] if isinstance(task["payload"], dict) else {}
    seconds_left = int((claim.assignment.expires_at - timezone.now()).total_seconds())
    return {
        "project": claim.project,
        "task": task,
        "image_url": payload.get("image_url") if isinstance(payload.get("image_url"), str) else "",
        "item_text": payload.get("text") if isinstance(payload.get("text"), str) else "",
        "answer_type": task["answer_type"],
        "classes": task["classes"],
        "prelabel": task.get("prelabel"),
        "prelabel_confidence": task.get("prelabel_confidence"),
        "seconds_left": max(seconds_left, 0),
        "time_left": _clock(max(seconds_left, 0)),
    }


def _clock(seconds: int) -> str:
    """``m:ss`` (``h:mm:ss`` from an hour), as the countdown shows it."""
    hours, rest = divmod(seconds, 3600)
    minutes, seconds = divmod(rest, 60)
    if hours:
        return f"{hours}:{minutes:02d}:{seconds:02d}"
    return f"{minutes}:{seconds:02d}"


def _fix(request, project_id: int, code: str) -> tuple[str, str] | None:
    """Where the labeler can lift refusal ``code`` on the project: ``(text, url)`` of the
    project's guide (not acknowledged), or of the quiz that grants the qualification they miss
    (the first by title, as the home page lists them); None when there is no such page. The
    claim's own gate, read again on this rare path (``project_standings``: one query)."""
    if code not in ("guide_not_acknowledged", "qualification_missing"):
        return None
    now = timezone.now()
    standing = next(
        (
            s
            for s in project_standings(labeler=request.labeler, now=now)
            if s.gate.project.pk == project_id
        ),
        None,
    )
    if standing is None:
        return None
    project = standing.gate.project
    if code == "guide_not_acknowledged":
        if not project.guide_id:
            return None
        return _("Read the project's guide"), reverse("labeler:guide", args=[project.guide_id])
    quiz = (
        quiz_list_for(actor=request.user)
        .filter(qualification_type_id=standing.missing_qualification_id)
        .order_by("title", "pk")
        .first()
    )
    if quiz is None:
        return None
    text = _("Take “%(title)s”, which grants it") % {"title": quiz.title}
    return text, reverse("labeler:quiz", args=[quiz.pk])


def _claim(request, project_id: int, *, ahead: bool = False):
    """``(claim, None)`` or ``(None, response)``: the page that says why there is no task.
    ``ahead``: also the look-ahead lease (``claim.ahead``)."""
    labeler = request.labeler
    try:
        claim = services.assignment_claim_next(labeler=labeler, project_id=project_id, ahead=ahead)
    except NotFound:
        raise Http404() from None
    except services.ClaimContended:
        return None, render(
            request, "labeler/work/contended.html", {"project_id": project_id, "nav": "home"}
        )
    except ApplicationError as exc:
        message, link = REFUSALS.get(exc.code, (None, None))
        link_text = link() if link else _("Back to my home page")
        link_url = reverse("labeler:quality" if exc.code == "paused_on_project" else "labeler:home")
        fix = _fix(request, project_id, exc.code)
        if fix is not None:
            link_text, link_url = fix
        context = {
            "reason": message() if message else exc.detail,
            "link_text": link_text,
            "link_url": link_url,
            "code": exc.code,
            "nav": "home",
        }
        return None, render(request, "labeler/work/refused.html", context)
    if claim is None:
        return None, render(request, "labeler/work/empty.html", {"nav": "home"})
    return claim, None


@require_GET
@labeler_page
def project_work(request, pk: int):
    """The labeler's task of project ``pk``: claimed now, or the lease they hold handed back."""
    claim, response = _claim(request, pk)
    if response is not None:
        return response
    context = _task_context(request, claim)
    context["nav"] = "home"
    return render(request, "labeler/work/work.html", context)


def _shown(request) -> int | None:
    """The assignment id of the task the browser shows (work.js posts it as ``shown``)."""
    try:
        return int(request.POST.get("shown", ""))
    except ValueError:
        return None


def _task_reply(request, claim, *, shown: int | None) -> dict:
    """One task for work.js: its id, seconds left and image, and its markup unless the browser
    already shows it."""
    context = _task_context(request, claim)
    reply = {
        "id": claim.assignment.pk,
        "seconds_left": context["seconds_left"],
        "image_url": context["image_url"],
    }
    if claim.assignment.pk != shown:
        reply["html"] = render_to_string("labeler/work/task.html", context, request)
    return reply


def _lookahead_reply(request, project_id: int, *, notice: str = "", level: str = "success"):
    """For work.js: the current task and the look-ahead one (``assignment_claim_next`` with
    ``ahead``: one claim, one gate), with ``notice`` about the command before. Nothing to show
    (none left, a refusal, contention): where to go, the page saying why, the notice with it."""
    claim, _page = _claim(request, project_id, ahead=True)
    if claim is None:
        if notice:
            getattr(messages, level)(request, notice)
        return JsonResponse({"status": "page", "url": _work_url(project_id)})
    shown = _shown(request)
    return JsonResponse(
        {
            "status": "next",
            "notice": notice,
            "level": level,
            "current": _task_reply(request, claim, shown=shown),
            "ahead": None if claim.ahead is None else _task_reply(request, claim.ahead, shown=None),
        }
    )


@require_POST
@labeler_page
def project_work_ahead(request, pk: int):
    """work.js, once a task is shown: the labeler's look-ahead task of project ``pk`` (leased
    now, or the one they hold handed back), with the current one's id (``_lookahead_reply``).
    Always JSON: only work.js posts here, so a page without JavaScript never takes a look-ahead
    lease."""
    return _lookahead_reply(request, pk)


def _next(request, project_id: int, *, notice: str, level: str = "success"):
    """After a command: redirect to the work page with ``notice`` (a form post), or, for
    work.js, the current and the look-ahead task in the same response (one round trip)."""
    if not _wants_json(request):
        getattr(messages, level)(request, notice)
        return redirect(_work_url(project_id))
    return _lookahead_reply(request, project_id, notice=notice, level=level)


def _refused(request, project_id: int, *, notice: str, skip: bool = False):
    """A command the service refused: the message on the work page. For work.js, which shows
    the next task already, the message says it is about the previous task (``skip``: a skip,
    else an answer), and the answer carries the tasks to show as after any command."""
    if _wants_json(request):
        if skip:
            notice = _("Your previous task was not skipped: %(reason)s") % {"reason": notice}
        else:
            notice = _("Your previous answer was not saved: %(reason)s") % {"reason": notice}
        return _next(request, project_id, notice=notice, level="error")
    messages.error(request, notice)
    return redirect(_work_url(project_id))


def _errors(exc: ValidationError) -> str:
    return " ".join(str(m) for messages_ in exc.message_dict.values() for m in messages_)


@require_POST
@labeler_page
def assignment_submit(request, pk: int):
    """Submit the answer posted (``labeler_pages.answers``) with ``assignment_submit``."""
    project_id, answer_type = _own_assignment(request, pk, "project_id", "project__answer_type")
    try:
        answer = answer_from_form(request.POST, answer_type=answer_type)
        result = services.assignment_submit(
            labeler=request.labeler, assignment_id=pk, answer=answer
        )
    except ValidationError as exc:
        if _wants_json(request):
            # The page shows the next task already; the current lease is still this one, so
            # the answer brings it back (``current``) with the reason.
            return _refused(request, project_id, notice=_errors(exc))
        notice = _("Your answer was not saved: %(errors)s") % {"errors": _errors(exc)}
        messages.error(request, notice)
        return redirect(_work_url(project_id))
    except NotFound:
        raise Http404() from None
    except ApplicationError as exc:
        message = SUBMIT_CONFLICTS.get(exc.code)
        return _refused(request, project_id, notice=message() if message else exc.detail)
    notice = _("Saved.") if result.created else _("This answer was already saved.")
    return _next(request, project_id, notice=notice)


@require_POST
@labeler_page
def assignment_release(request, pk: int):
    """Skip the task (``assignment_release``): its place goes back to the queue at once."""
    try:
        assignment = services.assignment_release(labeler=request.labeler, assignment_id=pk)
    except NotFound:
        raise Http404() from None
    except ApplicationError as exc:
        (project_id,) = _own_assignment(request, pk, "project_id")
        if exc.code == "already_submitted":
            notice = _("This task was already submitted, so it cannot be skipped.")
        else:
            notice = exc.detail
        return _refused(request, project_id, notice=notice, skip=True)
    return _next(request, assignment.project_id, notice=_("Skipped. Here is another task."))


@require_POST
@labeler_page
def assignment_flag_view(request, pk: int):
    """Ask the guide's authors a question about the task (``assignment_flag``); the lease
    stays, so the labeler can answer the task afterwards."""
    question = request.POST.get("question", "")
    try:
        flag = assignment_flag(labeler=request.labeler, assignment_id=pk, question=question)
    except NotFound:
        raise Http404() from None
    except ValidationError as exc:
        project_id = _project_of(request, pk)
        notice = _("Your question was not sent: %(errors)s") % {"errors": _errors(exc)}
        return _flag_reply(request, project_id, notice=notice, level="error", status=400)
    except ApplicationError as exc:
        project_id = _project_of(request, pk)
        if exc.code == "already_flagged":
            notice = _("You already asked a question about this task.")
        else:
            notice = exc.detail
        return _flag_reply(request, project_id, notice=notice, level="error", status=409)
    notice = (
        _("Your question was sent to the guide's authors. You can go on with this task.")
        if flag.created
        else _("This question was already sent.")
    )
    return _flag_reply(request, flag.review.project_id, notice=notice, level="success")


def _project_of(request, assignment_id: int) -> int:
    (project_id,) = _own_assignment(request, assignment_id, "project_id")
    return project_id


def _own_assignment(request, assignment_id: int, *fields: str) -> tuple:
    """``fields`` of the signed-in labeler's own assignment, or a 404 (someone else's is not
    theirs to see: the services answer NotFound alike). One query on the assignment's primary
    key, scoped to the labeler — not ``assignment_list_for``, whose vendor-manager and ops
    branches cost three queries more on every submit and never apply to one's own work."""
    row = (
        Assignment.objects.filter(pk=assignment_id, labeler_id=request.labeler.pk)
        .values_list(*fields)
        .first()
    )
    if row is None:
        raise Http404()
    return row


def _flag_reply(request, project_id: int, *, notice: str, level: str, status: int = 200):
    if _wants_json(request):
        return JsonResponse({"status": level, "notice": notice}, status=status)
    getattr(messages, level)(request, notice)
    return redirect(_work_url(project_id))


urlpatterns = [
    path("projects/<int:pk>/work/", project_work, name="project-work"),
    path("projects/<int:pk>/work/ahead/", project_work_ahead, name="project-work-ahead"),
    path("assignments/<int:pk>/submit/", assignment_submit, name="assignment-submit"),
    path("assignments/<int:pk>/release/", assignment_release, name="assignment-release"),
    path("assignments/<int:pk>/flag/", assignment_flag_view, name="assignment-flag"),
]
