"""Who may see a labeler page, and what they see instead.

``labeler_page`` wraps every page behind the sign-in:

* not signed in → the sign-in page, coming back here afterwards;
* signed in without a labeler profile (an operations manager, a vendor manager) → a page that
  says so and where their own tools are, not an error;
* a labeler who is suspended or offboarded → a page saying why they cannot work (the reason
  recorded with the status change), never the page asked for; sign-out and the language stay;
* otherwise the view runs with ``request.labeler`` set (loaded with the user: no query).

Invited labelers cannot sign in (they have no password until they accept their invitation);
onboarding and active labelers see the pages, and each service decides what they may do there.
"""

from __future__ import annotations

from functools import wraps

from django.contrib.auth.views import redirect_to_login
from django.shortcuts import render

from workforce.models import Labeler, LabelerStatusChange

BLOCKED_STATUSES = (Labeler.Status.SUSPENDED, Labeler.Status.OFFBOARDED)


def labeler_of_user(user) -> Labeler | None:
    """The user's labeler profile, or None when they have none."""
    try:
        return user.labeler
    except Labeler.DoesNotExist:
        return None


def labeler_page(view):
    """Decorate a view of the labeler pages (see the module docstring)."""

    @wraps(view)
    def wrapped(request, *args, **kwargs):
        if not request.user.is_authenticated:
            return redirect_to_login(request.get_full_path())
        labeler = labeler_of_user(request.user)
        if labeler is None:
            return render(request, "labeler/not_a_labeler.html", status=403)
        if labeler.status in BLOCKED_STATUSES:
            change = (
                LabelerStatusChange.objects.filter(labeler=labeler, to_status=labeler.status)
                .only("reason", "created_at")
                .first()
            )
            return render(
                request,
                "labeler/blocked.html",
                {"labeler": labeler, "change": change},
                status=403,
            )
        request.labeler = labeler
        return view(request, *args, **kwargs)

    return wrapped
