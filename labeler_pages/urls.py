"""The labeler pages at /labeler/: each module of ``labeler_pages.views`` lists its own routes."""

from labeler_pages.views import (
    account,
    flags,
    guides,
    home,
    notifications,
    quality,
    quizzes,
    work,
)

app_name = "labeler"

urlpatterns = [
    *account.urlpatterns,
    *home.urlpatterns,
    *guides.urlpatterns,
    *quizzes.urlpatterns,
    *work.urlpatterns,
    *quality.urlpatterns,
    *flags.urlpatterns,
    *notifications.urlpatterns,
]
