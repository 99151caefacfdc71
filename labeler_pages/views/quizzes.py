"""The labeler pages: quizzes (routes listed in ``urlpatterns``)."""

urlpatterns: list = []
