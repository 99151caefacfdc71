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

With ``Accept: application/json`` (static/labeler/work.js), submit and release answer in one
round trip with the next task's markup (the same ``labeler/work/task.html`` the page renders)
or where to go, so the browser swaps the next item in without a page load. A labeler holds one
lease per project (a constraint), so the next task is claimed when this one is submitted, in
the same request; the browser preloads its image before the swap (the "prefetch" the issue
asks for, within one lease: docs/next-task.md).

Refusals (not qualified, guide not acknowledged, paused, project not active) come from the
service's error codes and are shown as a message with where to go, never an error page.
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
from assignments.services.review import assignment_flag
from config.errors import ApplicationError, NotFound
from labeler_pages.access import labeler_page
from labeler_pages.answers import answer_from_form

# What the service's refusal codes mean to a person, and where they can do something about it
# (their home page lists the guides to acknowledge and the quizzes open to them).
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


def _claim(request, project_id: int):
    """``(claim, None)`` or ``(None, response)``: the page that says why there is no task."""
    labeler = request.labeler
    try:
        claim = services.assignment_claim_next(labeler=labeler, project_id=project_id)
    except NotFound:
        raise Http404() from None
    except services.ClaimContended:
        return None, render(
            request, "labeler/work/contended.html", {"project_id": project_id, "nav": "home"}
        )
    except ApplicationError as exc:
        message, link = REFUSALS.get(exc.code, (None, None))
        context = {
            "reason": message() if message else exc.detail,
            "link_text": link() if link else _("Back to my home page"),
            "link_url": reverse(
                "labeler:quality" if exc.code == "paused_on_project" else "labeler:home"
            ),
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


def _next(request, project_id: int, *, notice: str, level: str = "success"):
    """After a command: redirect to the work page with ``notice`` (a form post), or, for
    work.js, the next task's markup in the same response (one round trip)."""
    if not _wants_json(request):
        getattr(messages, level)(request, notice)
        return redirect(_work_url(project_id))
    claim, _page = _claim(request, project_id)
    if claim is None:
        # Nothing to swap in (none left, a refusal, contention): the browser loads the page,
        # which says why; the notice goes with it.
        getattr(messages, level)(request, notice)
        return JsonResponse({"status": "page", "url": _work_url(project_id)})
    context = _task_context(request, claim)
    html = render_to_string("labeler/work/task.html", context, request)
    return JsonResponse(
        {
            "status": "next",
            "html": html,
            "notice": notice,
            "level": level,
            "image_url": context["image_url"],
        }
    )


def _refused(request, project_id: int, *, notice: str):
    """A command the service refused: the message on the work page (JSON: where to go)."""
    messages.error(request, notice)
    if _wants_json(request):
        return JsonResponse({"status": "page", "url": _work_url(project_id)})
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
        notice = _("Your answer was not saved: %(errors)s") % {"errors": _errors(exc)}
        if _wants_json(request):
            return JsonResponse({"status": "invalid", "notice": notice}, status=400)
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
        return _refused(request, project_id, notice=notice)
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
    path("assignments/<int:pk>/submit/", assignment_submit, name="assignment-submit"),
    path("assignments/<int:pk>/release/", assignment_release, name="assignment-release"),
    path("assignments/<int:pk>/flag/", assignment_flag_view, name="assignment-flag"),
]
