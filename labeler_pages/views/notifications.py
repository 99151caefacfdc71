"""The labeler pages: which e-mails the labeler receives (routes listed in ``urlpatterns``).

* ``notifications/`` (``notifications``) — a checkbox per event the labeler may be e-mailed
  about (``notifications.services.events_for``), ticked unless they turned it off; saving calls
  ``notifications.services.preferences_set``, the service behind the API's
  ``PUT /api/v1/me/notifications/``.
"""

from __future__ import annotations

from django.contrib import messages
from django.shortcuts import redirect, render
from django.urls import path
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy
from django.views.decorators.http import require_http_methods

from labeler_pages.access import labeler_page
from notifications import services
from notifications.models import Event

LABELS = {
    Event.RULE_FIRED: gettext_lazy("A quality rule warns, pauses or suspends me"),
    Event.LABELER_STATUS_CHANGED: gettext_lazy("My account's status changes"),
    Event.GUIDE_VERSION_MAJOR: gettext_lazy("A guide I work with has a new version to read"),
    Event.QUALIFICATION_EXPIRING: gettext_lazy("A qualification of mine expires within 7 days"),
    Event.FLAG_ANSWERED: gettext_lazy("A reviewer answers a task I flagged"),
}


@labeler_page
@require_http_methods(["GET", "POST"])
def notifications(request):
    user = request.user
    if request.method == "POST":
        wanted = set(request.POST.getlist("on"))
        choices = {event: event in wanted for event in services.events_for(user)}
        services.preferences_set(user=user, choices=choices)
        messages.success(request, _("Your e-mail choices are saved."))
        return redirect("labeler:notifications")
    current = services.preferences_get(user=user)
    rows = [
        {"event": event, "label": LABELS.get(event, Event(event).label), "on": on}
        for event, on in current.items()
    ]
    return render(
        request,
        "labeler/notifications/notifications.html",
        {"rows": rows, "email": user.email, "nav": "notifications"},
    )


urlpatterns = [path("notifications/", notifications, name="notifications")]
