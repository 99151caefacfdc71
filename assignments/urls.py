from django.urls import path

from assignments.api import imports, quality, review, rules
from assignments.api import work as api

urlpatterns = [
    *imports.urlpatterns,
    *review.urlpatterns,
    *quality.urlpatterns,
    *rules.urlpatterns,
    path("projects/", api.ProjectListApi.as_view(), name="project-list"),
    path("projects/<id:pk>/", api.ProjectDetailApi.as_view(), name="project-detail"),
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
