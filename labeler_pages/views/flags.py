"""The labeler pages: the labeler's flags and their answers (routes listed in ``urlpatterns``).

* ``flags/`` (``flags``) — what the API's ``me/flags/`` lists (``assignments.selectors.review.
  flag_list_for_labeler``): each flag's question, when it was raised, whether it is answered,
  the answer's note and, when the answer proposed a guide change that ops linked to the
  published version making it, that version with a link to the guide. Newest first, 20 a page
  (``?page=``). A flag on a control task shows exactly as any other: the page reads nothing
  that tells them apart (no gold, no reviewer, no reviewer's label). Two queries (the flags,
  the projects' names).
"""

from __future__ import annotations

from django.shortcuts import render
from django.urls import path
from django.views.decorators.http import require_GET

from assignments.models import Project
from assignments.selectors.review import FLAG_ANSWERED, flag_list_for_labeler, flag_status
from labeler_pages.access import labeler_page

PER_PAGE = 20
MAX_PAGE = 10_000


def _page_number(raw: str | None) -> int:
    try:
        page = int(raw or 1)
    except ValueError:
        return 1
    return min(max(page, 1), MAX_PAGE)


@require_GET
@labeler_page
def flags(request):
    labeler = request.labeler
    page = _page_number(request.GET.get("page"))
    start = (page - 1) * PER_PAGE
    found = list(flag_list_for_labeler(labeler=labeler)[start : start + PER_PAGE + 1])
    has_next = len(found) > PER_PAGE
    found = found[:PER_PAGE]
    names = dict(
        Project.objects.filter(pk__in={f.project_id for f in found}).values_list("pk", "name")
    )
    rows = []
    for review in found:
        answered = flag_status(review) == FLAG_ANSWERED
        rows.append(
            {
                "id": review.pk,
                "project": names.get(review.project_id, ""),
                "task": review.task_id,
                "question": review.question,
                "created_at": review.created_at,
                "answered": answered,
                "answer_note": review.note if answered else "",
                "answered_at": review.resolved_at if answered else None,
                "proposes_guide_change": answered and review.proposes_guide_change,
                "guide_version": review.guide_version if answered else None,
            }
        )
    return render(
        request,
        "labeler/flags/flags.html",
        {
            "labeler": labeler,
            "nav": "flags",
            "rows": rows,
            "page": page,
            "has_next": has_next,
            "has_previous": page > 1,
        },
    )


urlpatterns = [
    path("flags/", flags, name="flags"),
]
