"""The labeler pages: guides (routes listed in ``urlpatterns``)."""

urlpatterns: list = []
