from django.urls import path

from assignments.api import drift, imports, projects, quality, review, rules
from assignments.api import work as api

# A label's two calls, matched before every other API route (config/urls.py includes these
# first): Django tries the routes in order, and walking the whole API to reach them was a tenth of
# a label's CPU (BENCHMARKS.md, "Where a label's CPU goes").
hot_urlpatterns = [
    path("projects/<id:pk>/next-task/", api.NextTaskApi.as_view(), name="project-next-task"),
    path(
        "assignments/<id:pk>/submit/", api.AssignmentSubmitApi.as_view(), name="assignment-submit"
    ),
]

urlpatterns = [
    *projects.urlpatterns,
    *imports.urlpatterns,
    *review.urlpatterns,
    *quality.urlpatterns,
    *rules.urlpatterns,
    *drift.urlpatterns,
    path("assignments/", api.AssignmentListApi.as_view(), name="assignment-list"),
    path(
        "assignments/<id:pk>/release/",
        api.AssignmentReleaseApi.as_view(),
        name="assignment-release",
    ),
]
