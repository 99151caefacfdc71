"""The labeler pages: home (routes listed in ``urlpatterns``)."""

from __future__ import annotations

from django.shortcuts import render
from django.urls import path

from labeler_pages.access import labeler_page


@labeler_page
def home(request):
    return render(request, "labeler/home.html", {"labeler": request.labeler})


urlpatterns = [path("", home, name="home")]
