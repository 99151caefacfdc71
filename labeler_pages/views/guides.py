"""The labeler pages: guides (routes listed in ``urlpatterns``).

* ``guides/<id>/`` (``guide``) — the current published version rendered (Markdown, sanitized:
  ``labeler_pages.markdown``), its number, what changed since the labeler last acknowledged the
  guide, and the acknowledge button;
* ``guides/<id>/acknowledge/`` (``guide-acknowledge``, POST) — ``qc.services.guides.
  guide_acknowledge``, idempotent; back to the home page with a message.

A guide the labeler may not read (nothing published, or no such guide) is a 404, as in the API:
both read through ``qc.selectors.guides.guide_get_for``.
"""

from __future__ import annotations

from django.contrib import messages
from django.http import Http404
from django.shortcuts import redirect, render
from django.urls import path
from django.utils.safestring import mark_safe
from django.utils.translation import gettext as _
from django.views.decorators.http import require_GET, require_POST

from config.errors import Conflict, NotFound
from labeler_pages.access import labeler_page
from labeler_pages.markdown import render_markdown
from qc.models import Guide
from qc.selectors import guides as guide_selectors
from qc.services import guides as guide_services


def _guide_or_404(request, pk: int) -> Guide:
    try:
        return guide_selectors.guide_get_for(actor=request.user, pk=pk)
    except NotFound:
        raise Http404 from None


@require_GET
@labeler_page
def guide(request, pk: int):
    """The guide's current version for the signed-in labeler. Four queries beyond the
    session's: the guide, its versions and the labeler's acknowledgements (``guide_states_for``),
    the current version's body."""
    found = _guide_or_404(request, pk)
    state = guide_selectors.guide_states_for(actor=request.user, guides=[found])[found.pk]
    try:
        version = guide_selectors.guide_version_for(actor=request.user, guide=found)
    except NotFound:  # unpublished meanwhile: there is nothing to read
        raise Http404 from None
    acknowledged = state.acknowledged_version
    return render(
        request,
        "labeler/guides/guide.html",
        {
            "guide": found,
            "version": version,
            "state": state,
            # The labeler has acknowledged exactly this version: nothing left to confirm.
            "up_to_date": acknowledged is not None and acknowledged.pk == version.pk,
            # Markdown rendered and sanitized by an allow-list (labeler_pages/markdown.py).
            "body_html": mark_safe(render_markdown(version.body)),  # noqa: S308
            "labeler": request.labeler,
        },
    )


@require_POST
@labeler_page
def guide_acknowledge(request, pk: int):
    """Acknowledge the guide's current version (again is harmless: the same row), then home."""
    found = _guide_or_404(request, pk)
    try:
        ack = guide_services.guide_acknowledge(
            actor=request.user, labeler=request.labeler, guide=found
        )
    except Conflict:
        messages.error(request, _("This guide has no published version to acknowledge."))
        return redirect("labeler:home")
    messages.success(
        request,
        _("You acknowledged version %(number)s of “%(guide)s”.")
        % {"number": ack.version.number, "guide": found.name},
    )
    return redirect("labeler:home")


urlpatterns = [
    path("guides/<id:pk>/", guide, name="guide"),
    path("guides/<id:pk>/acknowledge/", guide_acknowledge, name="guide-acknowledge"),
]
