from django.urls import path

from assignments.api import drift, imports, projects, quality, review, rules
from assignments.api import work as api

urlpatterns = [
    *projects.urlpatterns,
    *imports.urlpatterns,
    *review.urlpatterns,
    *quality.urlpatterns,
    *rules.urlpatterns,
    *drift.urlpatterns,
    path("projects/<id:pk>/next-task/", api.NextTaskApi.as_view(), name="project-next-task"),
    path("assignments/", api.AssignmentListApi.as_view(), name="assignment-list"),
    path(
        "assignments/<id:pk>/submit/", api.AssignmentSubmitApi.as_view(), name="assignment-submit"
    ),
    path(
        "assignments/<id:pk>/release/",
        api.AssignmentReleaseApi.as_view(),
        name="assignment-release",
    ),
]
