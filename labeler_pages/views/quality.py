"""The labeler pages: the labeler's own quality (routes listed in ``urlpatterns``)."""

from __future__ import annotations

from django.shortcuts import render
from django.urls import path

from labeler_pages.access import labeler_page


@labeler_page
def quality(request):
    return render(request, "labeler/home.html", {"labeler": request.labeler, "nav": "quality"})


urlpatterns = [path("quality/", quality, name="quality")]
